package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/nn"
)

func charCfg(cell string, hidden, seqLen int) *config.Config {
	cfg := config.DefaultFor("charlm")
	cfg.Data.SeqLen = seqLen
	cfg.Decoder = config.Decoder{Cell: cell, Hidden: hidden, Layers: 1, Embed: 4, Init: "default"}
	cfg.Train.Batch = 1
	cfg.Eval.Batches = 1
	return &cfg
}

// TestHello is the classic first example: a vanilla RNN over the vocabulary
// [h,e,l,o] learns from "hello" to predict "ello" from "hell", and sampling
// greedily from "h" reproduces "hello".
func TestHello(t *testing.T) {
	vocab, err := datasets.NewVocab([]string{"h", "e", "l", "o"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range []string{"rnn", "lstm", "gru"} {
		t.Run(cell, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 1))
			m, err := NewCharLMFromText[float64](charCfg(cell, 8, 4), vocab, "hello", "hello", rng)
			if err != nil {
				t.Fatal(err)
			}
			if loss := trainSteps(t, m, 300, 0.05, rng); loss > 0.05 {
				t.Fatalf("loss after training %.4f, want < 0.05", loss)
			}
			// Next-character predictions for every prefix of "hell".
			ids, _ := datasets.EncodeChars(vocab, "hell")
			logits, err := m.dec.Forward(&m.decC, ids, nn.Mat[float64]{}, 4, 1, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for i := 0; i < 4; i++ {
				got.WriteString(vocab.Token(nn.Argmax(logits.Row(i))))
			}
			if got.String() != "ello" {
				t.Errorf("predictions after \"hell\" = %q, want \"ello\"", got.String())
			}
			var sample strings.Builder
			sample.WriteString("h")
			err = m.Generate("h", 4, 0, nil, func(c string) error { sample.WriteString(c); return nil })
			if err != nil || sample.String() != "hello" {
				t.Errorf("greedy sample from \"h\" = %q (%v), want \"hello\"", sample.String(), err)
			}
		})
	}
}

// TestCharLMGradients checks the whole model (embedding, LSTM, dropout,
// head, cross-entropy) against finite differences, with and without
// weight drop on the recurrent weights.
func TestCharLMGradients(t *testing.T) {
	for _, weightDrop := range []float64{0, 0.3} {
		t.Run(fmt.Sprintf("weight drop %g", weightDrop), func(t *testing.T) {
			vocab, _ := datasets.NewVocab([]string{"h", "e", "l", "o"})
			cfg := charCfg("lstm", 5, 6)
			cfg.Decoder.Layers, cfg.Decoder.Dropout, cfg.Train.Batch = 2, 0.2, 2
			cfg.Decoder.WeightDrop = weightDrop
			m, err := NewCharLMFromText[float64](cfg, vocab, "hellohellohello", "hello", rand.New(rand.NewPCG(2, 2)))
			if err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				sum, n, err := m.TrainStep(0, rand.New(rand.NewPCG(9, 9)))
				if err != nil {
					t.Fatal(err)
				}
				return sum / float64(n)
			}
			params := m.Params()
			params.ZeroGrad()
			loss()
			res := nn.GradCheck(loss, params, 1e-6, 1e-8, 1e-6, 30, rand.New(rand.NewPCG(3, 3)))
			if !res.OK() {
				t.Fatalf("gradient check: %v", res)
			}
			t.Log(res)
		})
	}
}

// TestCharLMLearnsShakespeare trains a small LSTM for a few hundred steps on
// the start of tiny-shakespeare and requires the validation loss to beat the
// best context-free model (the unigram entropy) by a clear margin, in
// float32 and with bfloat16 products (train.precision: bf16), whose loss
// must match float32's within noise.
func TestCharLMLearnsShakespeare(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	text, err := datasets.ReadText("../data/charlm/tinyshakespeare.txt")
	if err != nil {
		t.Fatal(err)
	}
	text = text[:60000]
	counts := map[rune]float64{}
	for _, r := range text[54000:] {
		counts[r]++
	}
	var unigram float64
	for _, c := range counts {
		p := c / float64(len(text)-54000)
		unigram -= p * math.Log(p)
	}
	losses := map[string]float64{}
	for _, precision := range []string{"float32", "bf16"} {
		cfg := charCfg("lstm", 64, 32)
		cfg.Decoder.Embed, cfg.Train.Batch, cfg.Eval.Batches = 16, 16, 10
		cfg.Train.Precision = precision
		vocab := datasets.CharVocab(text)
		m, err := NewCharLMFromText[float32](cfg, vocab, text[:54000], text[54000:], rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		trainSteps(t, m, 400, 0.01, rand.New(rand.NewPCG(5, 5)))
		metrics, err := m.Evaluate()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: validation loss %.4f nats/char, unigram entropy %.3f", precision, metrics["loss"], unigram)
		if metrics["loss"] > unigram-0.5 {
			t.Errorf("%s: validation loss %.3f does not beat the unigram entropy %.3f by 0.5 nats", precision, metrics["loss"], unigram)
		}
		if math.Abs(metrics["bits"]-metrics["loss"]/math.Ln2) > 1e-9 {
			t.Errorf("bits %.4f inconsistent with nats %.4f", metrics["bits"], metrics["loss"])
		}
		losses[precision] = metrics["loss"]
	}
	if d := losses["bf16"] - losses["float32"]; d == 0 || math.Abs(d) > 0.03 {
		t.Errorf("validation loss %.4f with bfloat16 products, %.4f in float32: want different (rounded) but within 0.03", losses["bf16"], losses["float32"])
	}
}

func TestCharLMBadInput(t *testing.T) {
	vocab, _ := datasets.NewVocab([]string{"h", "e", "l", "o"})
	m, err := NewCharLMFromText[float32](charCfg("rnn", 3, 4), vocab, "hello", "hello", rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	noop := func(string) error { return nil }
	if err := m.Generate("hex", 3, 1, rand.New(rand.NewPCG(1, 1)), noop); err == nil || !strings.Contains(err.Error(), `'x'`) {
		t.Errorf("prime with an unknown character: %v", err)
	}
	if err := m.Generate("", 3, 1, rand.New(rand.NewPCG(1, 1)), noop); err == nil {
		t.Error("empty prime accepted")
	}
	if _, err := NewCharLMFromText[float32](charCfg("rnn", 3, 8), vocab, "hello", "hello", nil); err == nil {
		t.Error("text shorter than seq_len accepted")
	}
	cfg := charCfg("rnn", 3, 4)
	cfg.Data.Path = "does/not/exist.txt"
	if _, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: os.Stderr}); err == nil || !strings.Contains(err.Error(), "does/not/exist.txt") {
		t.Errorf("missing data file: %v", err)
	}
}

// TestSampleBF16 checks eval.sample.precision: bf16 on a float32 model:
// the trained "hello" model still samples "hello" greedily, and the logits
// its sampling steps compute are within bfloat16's rounding of float32's
// but not equal to them, so the setting is in effect.
func TestSampleBF16(t *testing.T) {
	vocab, err := datasets.NewVocab([]string{"h", "e", "l", "o"})
	if err != nil {
		t.Fatal(err)
	}
	models := map[string]*CharLM[float32]{}
	for _, precision := range []string{"float32", "bf16"} {
		cfg := charCfg("lstm", 64, 4)
		cfg.Eval.Sample.Precision = precision
		m, err := NewCharLMFromText[float32](cfg, vocab, "hello", "hello", rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if loss := trainSteps(t, m, 300, 0.05, rand.New(rand.NewPCG(1, 1))); loss > 0.05 {
			t.Fatalf("%s: loss after training %.4f, want < 0.05", precision, loss)
		}
		var b strings.Builder
		if err := m.Generate("h", 4, 0, nil, func(c string) error { b.WriteString(c); return nil }); err != nil {
			t.Fatal(err)
		}
		if got := "h" + b.String(); got != "hello" {
			t.Errorf("%s: greedy sample from \"h\" = %q, want \"hello\"", precision, got)
		}
		models[precision] = m
	}
	logits := func(m *CharLM[float32]) []float32 {
		return append([]float32(nil), m.dec.StepLogits(&m.headC, m.stepper.StepToken(0)).Row(0)...)
	}
	exact, rounded := logits(models["float32"]), logits(models["bf16"])
	same := true
	for i, v := range exact {
		if math.Abs(float64(rounded[i]-v)) > 0.05*(1+math.Abs(float64(v))) {
			t.Fatalf("logit %d: %g with bf16 products, %g in float32", i, rounded[i], v)
		}
		same = same && rounded[i] == v
	}
	if same {
		t.Error("the logits are the same with bf16 products: the setting had no effect")
	}
}

// TestGenerateFollowsWeights checks that sampling uses the current
// weights: after training steps, and after the model is made to only
// predict (when the stepper stops reloading), the logits of Generate's
// stepper and output layer equal those of a stepper built afresh.
func TestGenerateFollowsWeights(t *testing.T) {
	vocab, err := datasets.NewVocab([]string{"h", "e", "l", "o"})
	if err != nil {
		t.Fatal(err)
	}
	for _, precision := range []string{"float32", "bf16"} {
		cfg := charCfg("lstm", 16, 4)
		cfg.Eval.Sample.Precision = precision
		m, err := NewCharLMFromText[float32](cfg, vocab, "hello", "hello", rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		logits := func() []float32 {
			if err := m.Generate("h", 1, 0, nil, func(string) error { return nil }); err != nil {
				t.Fatal(err)
			}
			return slices.Clone(m.dec.StepLogits(&m.headC, m.stepper.StepToken(0)).Row(0))
		}
		fresh := func() []float32 {
			m.stepper, m.headC = nil, nn.LinearCache[float32]{}
			return logits()
		}
		rng := rand.New(rand.NewPCG(2, 2))
		before := logits()
		trainSteps(t, m, 20, 0.05, rng)
		trained := logits()
		if slices.Equal(trained, before) {
			t.Fatalf("%s: the logits did not change with the weights", precision)
		}
		if want := fresh(); !slices.Equal(trained, want) {
			t.Errorf("%s: after training, Generate's logits %v, a fresh stepper's %v", precision, trained, want)
		}
		trainSteps(t, m, 20, 0.05, rng)
		m.Params().DropGrads()
		for i := range 2 { // the first call loads the frozen weights, the second keeps them
			got := logits()
			if want := fresh(); !slices.Equal(got, want) {
				t.Errorf("%s: predicting, call %d: Generate's logits %v, a fresh stepper's %v", precision, i+1, got, want)
			}
		}
		// Trained again without sampling in between, and predicting again:
		// the stepper must not keep the weights it froze before.
		trainSteps(t, m, 20, 0.05, rng)
		m.Params().DropGrads()
		got := logits()
		if want := fresh(); !slices.Equal(got, want) {
			t.Errorf("%s: predicting after training again: Generate's logits %v, a fresh stepper's %v", precision, got, want)
		}
	}
}

// TestStreamLoss checks stream_loss, the validation loss read as
// eval.streams streams whose windows carry their states on: it equals one
// forward over each whole stream (reading on is carrying the states), and
// loss, which restarts every window, wherever each stream is a single
// window. Across windows it must differ from loss, or carrying would be
// untested. Without eval.streams it is not computed.
func TestStreamLoss(t *testing.T) {
	vocab, _ := datasets.NewVocab([]string{"h", "e", "l", "o"})
	rng := rand.New(rand.NewPCG(1, 1))
	text := strings.Repeat("hellohelloolleh", 4)
	m, err := NewCharLMFromText[float64](charCfg("lstm", 6, 4), vocab, text, text, rng)
	if err != nil {
		t.Fatal(err)
	}
	trainSteps(t, m, 50, 0.05, rng)
	windowed, err := m.streamLoss(24, 4, 2) // two streams of 12: three windows each
	if err != nil {
		t.Fatal(err)
	}
	whole, err := m.streamLoss(24, 12, 2) // the same streams in one window each
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(windowed-whole) > 1e-12 {
		t.Errorf("stream loss over windows of 4: %.15f, over whole streams: %.15f", windowed, whole)
	}

	// The 59 scorable characters make five windows of 10, batch 2 at a time.
	m.cfg.Data.SeqLen, m.cfg.Train.Batch, m.cfg.Eval.Batches = 10, 2, 3
	got, err := m.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["stream_loss"]; ok {
		t.Error("stream_loss reported without eval.streams")
	}
	m.cfg.Train.Batch, m.cfg.Eval.Streams = 8, 8 // more than the windows: five streams of one window
	if got, err = m.Evaluate(); err != nil {
		t.Fatal(err)
	}
	if math.Abs(got["stream_loss"]-got["loss"]) > 1e-12 {
		t.Errorf("one window per stream: stream_loss %.15f, loss %.15f, want equal", got["stream_loss"], got["loss"])
	}
	m.cfg.Train.Batch, m.cfg.Eval.Streams = 2, 2 // two streams of 25: three windows each
	if got, err = m.Evaluate(); err != nil {
		t.Fatal(err)
	}
	if math.Abs(got["stream_loss"]-got["loss"]) < 1e-6 {
		t.Errorf("three windows per stream: stream_loss %.6f equals loss %.6f", got["stream_loss"], got["loss"])
	}
}

// TestHigherIsBetter ranks every metric a task reports the way eval.select
// must: a loss (stream_loss, captioning's words_loss) kept low, BLEU and
// accuracies high.
func TestHigherIsBetter(t *testing.T) {
	for metric, want := range map[string]bool{
		"loss": false, "bits": false, "perplexity": false, "stream_loss": false, "words_loss": false, "words_prior_loss": false,
		"bleu": true, "bleu4": true, "cider": true, "frame_accuracy": true, "distinct": true,
	} {
		if got := HigherIsBetter(metric); got != want {
			t.Errorf("HigherIsBetter(%q) = %v, want %v", metric, got, want)
		}
	}
}
