package tasks

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/nn"
)

// benchCharLM builds the char-LM of the speed issue's reference table:
// vocabulary 65, embedding 64, hidden 256, one layer, batch 32, seq 64.
func benchCharLM(b *testing.B, cell, precision string) *CharLM[float32] {
	b.Helper()
	text, err := datasets.ReadText("../data/charlm/tinyshakespeare.txt")
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.DefaultFor("charlm")
	cfg.Data.SeqLen = 64
	cfg.Decoder = config.Decoder{Cell: cell, Hidden: 256, Layers: 1, Embed: 64, Init: "default"}
	cfg.Train.Batch = 32
	cfg.Train.Precision = precision
	m, err := NewCharLMFromText[float32](&cfg, datasets.CharVocab(text), text[:200000], text[200000:210000], rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkCharLMTrainStep measures one Adam training step (forward,
// backward, clipping, update) in tokens per second; suffix -bf16: with
// train.precision: bf16.
func BenchmarkCharLMTrainStep(b *testing.B) {
	fastblas.Install()
	for _, name := range []string{"rnn", "lstm", "gru", "rnn-bf16", "lstm-bf16", "gru-bf16"} {
		cell, precision := precisionSuffix(name)
		b.Run(name, func(b *testing.B) { benchTrainSteps(b, benchCharLM(b, cell, precision), 0.002, "tokens/s") })
	}
}

// precisionSuffix splits a benchmark name such as "lstm-bf16" into its
// first part and train.precision (float32 without a suffix).
func precisionSuffix(name string) (string, string) {
	first, precision, _ := strings.Cut(name, "-")
	if precision == "" {
		precision = "float32"
	}
	return first, precision
}

// benchTrainSteps times b.N Adam steps of task (forward, backward,
// clipping at 5, update) and reports the targets trained on per second.
func benchTrainSteps(b *testing.B, task Task[float32], lr float64, unit string) {
	params := task.Params()
	benchSteps(b, params, func(step int, rng *rand.Rand) (float64, int, error) {
		params.ZeroGrad()
		return task.TrainStep(step, rng)
	}, lr, unit)
}

// benchSteps measures Adam steps of params whose gradients step sets,
// after warmUp untimed steps.
func benchSteps(b *testing.B, params nn.Params[float32], step func(int, *rand.Rand) (float64, int, error), lr float64, unit string) {
	opt, _ := nn.NewOptimizer(nn.OptimizerConfig{Kind: "adam"}, params)
	rng := rand.New(rand.NewPCG(2, 2))
	adamStep := func(i int) int {
		_, n, err := step(i, rng)
		if err != nil {
			b.Fatal(err)
		}
		params.ClipGradNorm(5)
		opt.Step(params, lr)
		return n
	}
	for i := range warmUp {
		adamStep(i)
	}
	targets := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		targets += adamStep(warmUp + i)
	}
	b.ReportMetric(float64(targets)/b.Elapsed().Seconds(), unit)
}

// warmUp is the untimed calls a benchmark makes on its fresh model before
// the timed ones, as bench/torch_bench.py does on PyTorch's side (three
// training steps): the first call lays out what the model keeps between
// calls (caches, optimizer moments, packed weights, a sampler's tables)
// and starts the spinning helper, costs that the later calls do not pay.
const warmUp = 3

// BenchmarkCharLMSample measures greedy-free sampling at batch 1, one step
// per character, in characters per second; suffix -bf16: with
// eval.sample.precision: bf16.
func BenchmarkCharLMSample(b *testing.B) {
	fastblas.Install()
	for _, name := range []string{"lstm", "gru", "lstm-bf16", "gru-bf16"} {
		b.Run(name, func(b *testing.B) {
			cell, precision := precisionSuffix(name)
			m := benchCharLM(b, cell, "float32")
			m.Params().DropGrads() // as -mode predict and serve hold a model
			m.cfg.Eval.Sample.Precision = precision
			rng := rand.New(rand.NewPCG(3, 3))
			const length = 200
			generate := func() {
				if err := m.Generate("\n", length, 1, rng, func(string) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			for range warmUp {
				generate()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				generate()
			}
			b.ReportMetric(float64(b.N*length)/b.Elapsed().Seconds(), "chars/s")
		})
	}
}

// benchTranslation builds the speed issue's seq2seq: vocabularies of 3000,
// embedding and hidden 256, a GRU encoder, a GRU decoder with general
// attention, batch 64, sources and targets of 10 words, on random words.
func benchTranslation(b *testing.B, precision string) *Translation[float32] {
	b.Helper()
	words := make([]string, 0, 3000)
	words = append(words, datasets.Specials...)
	for len(words) < 3000 {
		words = append(words, fmt.Sprintf("w%d", len(words)))
	}
	vocab, _ := datasets.NewVocab(words)
	vj, _ := json.Marshal(vocab)
	cfg := config.DefaultFor("translation")
	cfg.Encoder = &config.Encoder{Kind: "rnn", Cell: "gru", Embed: 256, Hidden: 256, Layers: 1}
	cfg.Decoder = config.Decoder{Cell: "gru", Embed: 256, Hidden: 256, Layers: 1, Init: "default", Attention: "general"}
	cfg.Train.Batch = 64
	cfg.Train.Precision = precision
	task, err := NewTranslation[float32](&cfg, Env{Meta: map[string]string{"source_vocab": string(vj), "target_vocab": string(vj)}, RNG: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		b.Fatal(err)
	}
	m := task.(*Translation[float32])
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 2000; i++ {
		e := datasets.Example{Src: make([]int, 10), Tgt: make([]int, 12)}
		for j := range e.Src {
			e.Src[j] = 4 + rng.IntN(2996)
		}
		e.Tgt[0], e.Tgt[11] = datasets.BOSID, datasets.EOSID
		for j := 1; j < 11; j++ {
			e.Tgt[j] = 4 + rng.IntN(2996)
		}
		m.train = append(m.train, e)
	}
	m.buckets = datasets.NewBuckets(sourceLengths(m.train), 1)
	return m
}

// BenchmarkSeq2SeqTrainStep measures a teacher-forced Adam step in target
// tokens (words and <eos>) per second, in float32 and with train.precision:
// bf16.
func BenchmarkSeq2SeqTrainStep(b *testing.B) {
	fastblas.Install()
	for _, precision := range []string{"float32", "bf16"} {
		b.Run(precision, func(b *testing.B) { benchTrainSteps(b, benchTranslation(b, precision), 0.001, "tokens/s") })
	}
}

// BenchmarkTrainStepWorkers measures the training steps of
// BenchmarkCharLMTrainStep and BenchmarkSeq2SeqTrainStep split over
// train.workers = GOMAXPROCS copies of the model (data parallel), so that
// "go test -bench TrainStepWorkers -cpu 1,2" gives the speed-up from one
// core to two (and -cpu 1,2,4,8 on a bigger machine); suffix -bf16: with
// train.precision: bf16.
func BenchmarkTrainStepWorkers(b *testing.B) {
	fastblas.Install()
	workers := runtime.GOMAXPROCS(0)
	run := func(b *testing.B, task Task[float32], batch int, lr float64) {
		step, err := ParallelTrainStep(task, workers, batch)
		if err != nil {
			b.Fatal(err)
		}
		benchSteps(b, task.Params(), step, lr, "tokens/s")
	}
	for _, precision := range []string{"float32", "bf16"} {
		suffix := ""
		if precision != "float32" {
			suffix = "-" + precision
		}
		for _, cell := range []string{"rnn", "lstm", "gru"} {
			b.Run("charlm-"+cell+suffix, func(b *testing.B) { run(b, benchCharLM(b, cell, precision), 32, 0.002) })
		}
		b.Run("seq2seq"+suffix, func(b *testing.B) { run(b, benchTranslation(b, precision), 64, 0.001) })
	}
}

// BenchmarkSeq2SeqDecode measures translation speed in sentences per
// second, greedy and beam search of width 5, 64 sentences per batch, with
// the output layer in float32 and (suffix -bf16) in bfloat16.
func BenchmarkSeq2SeqDecode(b *testing.B) {
	fastblas.Install()
	m := benchTranslation(b, "float32")
	m.Params().DropGrads() // as -mode predict and serve hold a model
	srcs := make([][]int, 64)
	for i := range srcs {
		srcs[i] = m.train[i].Src
	}
	for _, name := range []string{"greedy", "beam", "greedy-bf16", "beam-bf16"} {
		b.Run(name, func(b *testing.B) {
			strategy, precision, _ := strings.Cut(name, "-")
			opt := DecodeOptions{Strategy: strategy, Beam: 5, NBest: 1, MaxLen: 12, Temperature: 1, Precision: "float32"}
			if precision != "" {
				opt.Precision = precision
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.translateIDs(srcs, opt, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(srcs))/b.Elapsed().Seconds(), "sentences/s")
		})
	}
}

// benchVideo builds the video task of configs/video.yaml (CNN 16-32 on
// 64×64 gray frames, projection 128, GRU 128, 5 labels) on random clips of
// 20 frames, batch 8.
func benchVideo(b *testing.B) *Video[float32] {
	b.Helper()
	cfg := config.DefaultFor("video")
	cfg.Encoder = &config.Encoder{Kind: "cnn", Channels: []int{16, 32}, Kernel: 3, Out: 128}
	cfg.Decoder = config.Decoder{Cell: "gru", Hidden: 128, Layers: 1, Embed: 1, Init: "default"}
	cfg.Train.Batch = 8
	labels, _ := json.Marshal(datasets.DirectionNames)
	task, err := NewVideo[float32](&cfg, Env{Meta: map[string]string{"labels": string(labels)}, RNG: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		b.Fatal(err)
	}
	v := task.(*Video[float32])
	rng := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 16; i++ {
		c := datasets.Clip{Frames: make([][]float32, 20), Labels: make([]int, 20)}
		for t := range c.Frames {
			c.Frames[t] = make([]float32, 64*64)
			for j := range c.Frames[t] {
				c.Frames[t][j] = rng.Float32()
			}
			c.Labels[t] = rng.IntN(5)
		}
		v.train = append(v.train, c)
	}
	v.byLen = datasets.NewBuckets(frameCounts(v.train), 1)
	return v
}

// BenchmarkVideoTrainStep measures an Adam step in frames per second.
func BenchmarkVideoTrainStep(b *testing.B) {
	fastblas.Install()
	benchTrainSteps(b, benchVideo(b), 0.001, "frames/s")
}

// BenchmarkVideoLabel measures labelling (forward only) in frames per second.
func BenchmarkVideoLabel(b *testing.B) {
	fastblas.Install()
	v := benchVideo(b)
	v.Params().DropGrads() // as -mode predict and serve hold a model
	clips := make([][][]float32, 8)
	for i := range clips {
		clips[i] = v.train[i].Frames
	}
	for range warmUp {
		v.predict(clips, nil)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v.predict(clips, nil)
	}
	b.ReportMetric(float64(b.N*8*20)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkCharLM15mStep measures the training step of
// configs/charlm-15m.yaml (two LSTM layers of 640 in bfloat16, batch 32 ×
// 100 characters, its train.workers) in characters per second: what
// decides how far the 15-minute run gets. Run it with -cpu 2, the cores
// the config was made for. Suffix weight-drop: with decoder.weight_drop
// (each worker masks and rounds its own copy of W_hh).
func BenchmarkCharLM15mStep(b *testing.B) {
	fastblas.Install()
	text, err := datasets.ReadText("../data/charlm/tinyshakespeare.txt")
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, set string }{{"config", ""}, {"weight-drop", "decoder.weight_drop=0.25"}} {
		b.Run(tc.name, func(b *testing.B) {
			var sets []string
			if tc.set != "" {
				sets = append(sets, tc.set)
			}
			cfg, err := config.Load("../configs/charlm-15m.yaml", sets)
			if err != nil {
				b.Fatal(err)
			}
			m, err := NewCharLMFromText[float32](cfg, datasets.CharVocab(text), text[:200000], text[200000:210000], rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				b.Fatal(err)
			}
			step, err := ParallelTrainStep(Task[float32](m), cfg.Train.Workers, cfg.Train.Batch)
			if err != nil {
				b.Fatal(err)
			}
			benchSteps(b, m.Params(), step, cfg.Train.Optimizer.LR, "chars/s")
		})
	}
}
