package tasks

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/nn"
)

// translationCfg is a small translation model over testdata/pairs.tsv.
func translationCfg(cell, attention string) *config.Config {
	cfg := config.DefaultFor("translation")
	cfg.Data.Path = "testdata/pairs.tsv"
	cfg.Data.ValFraction = 0.2
	cfg.Data.Pairs.MaxLen = 6
	cfg.Data.Pairs.MinFreq = 1
	cfg.Encoder = &config.Encoder{Kind: "rnn", Cell: cell, Embed: 5, Hidden: 4, Layers: 1, Bidirectional: true}
	cfg.Decoder = config.Decoder{Cell: cell, Hidden: 6, Layers: 1, Embed: 5, Init: "default", Attention: attention}
	cfg.Train.Batch = 3
	return &cfg
}

func newTranslation[T nn.Float](t *testing.T, cfg *config.Config) *Translation[T] {
	t.Helper()
	task, err := New[T](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	return task.(*Translation[T])
}

// drawBatch draws a training batch as TrainStep does.
func drawBatch[T nn.Float](m *Translation[T], rng *rand.Rand) (encoders.Batch[T], [][]int) {
	var ex []datasets.Example
	for _, i := range m.buckets.Draw(rng, m.cfg.Train.Batch) {
		ex = append(ex, m.train[i])
	}
	return batchOf[T](ex)
}

// TestTranslationGradients checks the whole seq2seq model — encoder,
// bridge, step-wise decoder with each attention, input feeding, tied
// embeddings, stacked layers, scheduled sampling — against finite
// differences.
func TestTranslationGradients(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
	}{
		{"gru, no attention", func(c *config.Config) { c.Decoder.Attention = "none" }},
		{"lstm, dot, input feeding", func(c *config.Config) {
			c.Encoder.Cell, c.Decoder.Cell, c.Decoder.Attention, c.Decoder.InputFeeding = "lstm", "lstm", "dot", true
			c.Encoder.Hidden = 3 // dot needs the key width (2×3) to equal the decoder's hidden 6
		}},
		{"gru, general, 2 layers", func(c *config.Config) { c.Decoder.Attention, c.Decoder.Layers = "general", 2 }},
		{"rnn, additive (Bahdanau)", func(c *config.Config) { c.Encoder.Cell, c.Decoder.Cell, c.Decoder.Attention = "rnn", "rnn", "additive" }},
		{"gru, general, tied embeddings, dropout", func(c *config.Config) {
			c.Decoder.Attention, c.Decoder.TieEmbeddings, c.Decoder.Embed, c.Decoder.Dropout = "general", true, 6, 0.3
		}},
		{"lstm, additive, scheduled sampling", func(c *config.Config) {
			c.Encoder.Cell, c.Decoder.Cell, c.Decoder.Attention = "lstm", "lstm", "additive"
			c.Train.TeacherForcing, c.Train.TeacherForcingEnd = 0.5, 0.5
		}},
		{"lstm, general, bpe, padded sources of mixed lengths", func(c *config.Config) {
			c.Encoder.Cell, c.Decoder.Cell = "lstm", "lstm"
			c.Data.Pairs.Tokenizer = config.Tokenizer{Kind: "bpe", Normalization: "nfc", VocabSize: 300, Joint: true}
			c.Data.Pairs.MaxLen, c.Data.Pairs.Bucket = 30, 6
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := translationCfg("gru", "general")
			tc.change(cfg)
			m := newTranslation[float64](t, cfg)
			in, tgts := drawBatch(m, rand.New(rand.NewPCG(4, 4)))
			if cfg.Data.Pairs.Bucket > 1 && in.Lengths == nil {
				t.Fatal("the batch holds no padded source: the case tests nothing")
			}
			loss := func() float64 {
				sum, n, err := m.model.trainOn(in, tgts, m.model.teacherForcing(0), rand.New(rand.NewPCG(5, 5)))
				if err != nil {
					t.Fatal(err)
				}
				return sum / float64(n)
			}
			params := m.Params()
			if _, err := params.ByName(); err != nil {
				t.Fatal(err)
			}
			params.ZeroGrad()
			loss()
			res := nn.GradCheck(loss, params, 1e-6, 1e-8, 1e-5, 12, rand.New(rand.NewPCG(6, 6)))
			if !res.OK() {
				t.Fatalf("gradient check: %v", res)
			}
			t.Log(res)
		})
	}
}

// TestTranslationLearnsPairs overfits the small training split (the
// "overfit a few examples" check): training loss near zero, and greedy
// translations of training sources reproduce their references (BLEU).
// Beam search of width 1 must give exactly greedy's output.
func TestTranslationLearnsPairs(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	m, items := learnPairs(t, "float32")
	srcs := make([][]int, len(items))
	for i, it := range items {
		srcs[i] = it.src
	}
	dopt := decodeDefaults(m.cfg.Eval.Decode)
	greedy, err := m.translateIDs(srcs, dopt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dopt.Strategy, dopt.Beam = "beam", 1
	beam, err := m.translateIDs(srcs, dopt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range greedy {
		if a, b := m.detokenize(greedy[i][0].Tokens), m.detokenize(beam[i][0].Tokens); a != b {
			t.Fatalf("sentence %d: greedy %q, beam width 1 %q", i, a, b)
		}
	}
	// Decoding on three copies of the model at once (the twenty sources,
	// in groups of train.batch 16, split into 8, 8 and 4) translates as one
	// does.
	for _, strategy := range []string{"greedy", "beam"} {
		dopt.Strategy, dopt.Beam = strategy, 4
		var got [2][][]decoding.Hypothesis
		for i, workers := range []int{1, 3} {
			dopt.Workers = workers
			if got[i], err = m.translateIDs(srcs[:20], dopt, nil, nil); err != nil {
				t.Fatalf("%s on %d workers: %v", strategy, workers, err)
			}
		}
		for i := range got[0] {
			one, three := got[0][i][0], got[1][i][0]
			if a, b := m.detokenize(one.Tokens), m.detokenize(three.Tokens); a != b || math.Abs(one.Score-three.Score) > 1e-4 {
				t.Fatalf("%s, sentence %d: %q (%g) on one worker, %q (%g) on three", strategy, i, a, one.Score, b, three.Score)
			}
		}
	}
	if len(m.decodeCopies) != 2 {
		t.Fatalf("%d further copies of the model decoded, want 2", len(m.decodeCopies))
	}
	dopt.Workers = 0
	// With the output layer in bfloat16 the learned translations stay the
	// same (their margins dwarf bfloat16's rounding) while the scores move.
	dopt.Strategy, dopt.Precision = "greedy", "bf16"
	rounded, err := m.translateIDs(srcs, dopt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for i := range greedy {
		if a, b := m.detokenize(greedy[i][0].Tokens), m.detokenize(rounded[i][0].Tokens); a != b {
			t.Fatalf("sentence %d: float32 %q, bf16 output layer %q", i, a, b)
		}
		if d := math.Abs(greedy[i][0].Score - rounded[i][0].Score); d > 0.05*math.Abs(greedy[i][0].Score)+0.05 {
			t.Fatalf("sentence %d: score %g in float32, %g with the bf16 output layer", i, greedy[i][0].Score, rounded[i][0].Score)
		} else if d > 0 {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no score changed with the bf16 output layer: it was not used")
	}
	metrics, err := m.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := metrics["bleu"]; !ok || metrics["perplexity"] <= 1 {
		t.Errorf("dev metrics %v", metrics)
	}
	// Prediction streams one line per input line; an empty line stays
	// empty, and the attention maps are drawn.
	var out, log bytes.Buffer
	dir := t.TempDir()
	in := Input{Reader: strings.NewReader("Go away.\n\nThanks.\n"), AttentionDir: dir, Log: &log}
	if err := m.Predict(in, &out, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 4 || lines[1] != "" || lines[0] == "" {
		t.Errorf("predict output %q, want three lines with the middle one empty", out.String())
	}
	if pngs, _ := filepath.Glob(filepath.Join(dir, "*.png")); len(pngs) != 2 {
		t.Errorf("attention maps %v, want two", pngs)
	}
	// A file is translated in batches, stdin one line at a time: the same
	// lines, blank and refused lines in their places.
	var inputs []string
	for i := 0; i < predictBatch+10; i++ {
		switch {
		case i%17 == 5:
			inputs = append(inputs, "")
		case i == 40:
			inputs = append(inputs, strings.Repeat("go ", maxSourceTokens+1))
		default:
			inputs = append(inputs, []string{"Go away.", "Thanks.", "Hello!", "I see."}[i%4])
		}
	}
	text := strings.Join(inputs, "\n") + "\n"
	file := filepath.Join(dir, "sentences.txt")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var streamed, batched, streamLog, batchLog bytes.Buffer
	if err := m.Predict(Input{Reader: strings.NewReader(text), Log: &streamLog}, &streamed, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Predict(Input{Path: file, Log: &batchLog}, &batched, nil); err != nil {
		t.Fatal(err)
	}
	if streamed.String() != batched.String() {
		t.Errorf("file predict (batched)\n%q\ndiffers from stdin predict\n%q", batched.String(), streamed.String())
	}
	if !strings.Contains(batchLog.String(), "line 41: skipped") || batchLog.String() != streamLog.String() {
		t.Errorf("reports: batched %q, streamed %q; want line 41 skipped in both", batchLog.String(), streamLog.String())
	}
	if out := strings.Split(batched.String(), "\n"); len(out) != len(inputs)+1 || out[40] != "" || out[5] != "" || out[6] == "" {
		t.Errorf("batched output has %d lines (want %d), the refused and blank lines not empty or a translation missing", len(out)-1, len(inputs))
	}
	got, err := m.EvaluateFile("testdata/pairs.tsv")
	if err != nil || got["sentences"] < 100 {
		t.Errorf("EvaluateFile: %v, %v", got, err)
	}
}

// TestTranslationLearnsPairsBF16 trains TestTranslationLearnsPairs' model
// with bfloat16 products (train.precision: bf16: the token encoder, the
// step-wise attention decoder's recurrent stack, its combine and output
// layers): it must learn the pairs as well.
func TestTranslationLearnsPairsBF16(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	learnPairs(t, "bf16")
}

// learnPairs trains a GRU translation model with attention and input
// feeding for 400 steps on the small training split in precision, checks
// that it overfits the pairs (training loss near zero, greedy translations
// of the sources reproduce their references), and returns the model and
// the pairs as dev items.
func learnPairs(t *testing.T, precision string) (*Translation[float32], []devItem) {
	t.Helper()
	cfg := translationCfg("gru", "general")
	cfg.Encoder.Embed, cfg.Encoder.Hidden = 32, 32
	cfg.Decoder.Embed, cfg.Decoder.Hidden, cfg.Decoder.InputFeeding = 32, 64, true
	cfg.Train.Batch = 16
	cfg.Train.Precision = precision
	m := newTranslation[float32](t, cfg)
	loss := trainSteps[float32](t, m, 400, 0.01, rand.New(rand.NewPCG(2, 2)))
	var items []devItem
	for _, e := range m.train {
		words, _ := m.tgt.Decode(e.Tgt)
		items = append(items, devItem{src: e.Src, refs: []string{strings.Join(words[1:len(words)-1], " ")}})
	}
	scores, err := m.bleuScores(items)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: training loss %.3f, BLEU on the training pairs %.1f", precision, loss, scores["bleu"])
	if loss > 0.3 || scores["bleu"] < 60 {
		t.Errorf("%s: training loss %.3f (want < 0.3), BLEU on training pairs %.1f (want ≥ 60)", precision, loss, scores["bleu"])
	}
	return m, items
}

func TestTranslationBadInput(t *testing.T) {
	cfg := translationCfg("gru", "dot")
	cfg.Encoder.Hidden = 3
	cfg.Data.Path = filepath.Join(t.TempDir(), "missing.tsv")
	if _, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &bytes.Buffer{}}); err == nil || !strings.Contains(err.Error(), "missing.tsv") {
		t.Errorf("missing pairs file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.tsv")
	os.WriteFile(bad, []byte("no tab here\nHello.\tBonjour.\n\tvide\n"), 0o644)
	cfg.Data.Path = bad
	var log bytes.Buffer
	_, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &log})
	if err == nil {
		t.Error("a file with one usable pair trained")
	}
	if !strings.Contains(log.String(), "no tab") || !strings.Contains(log.String(), "empty side") {
		t.Errorf("malformed lines not reported: %q", log.String())
	}
	m := newTranslation[float32](t, translationCfg("gru", "none"))
	var out bytes.Buffer
	long := strings.Repeat("go ", maxSourceTokens+1)
	log.Reset()
	if err := m.Predict(Input{Reader: strings.NewReader(long + "\nGo.\n"), Log: &log}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "line 1: skipped") || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("over-long line: output %q, log %q", out.String(), log.String())
	}
	if err := m.Predict(Input{Reader: strings.NewReader("Go.\n"), AttentionDir: t.TempDir()}, &out, nil); err == nil {
		t.Error("-attention accepted for a model without attention")
	}
}

// TestTranslationWholeSequencePath checks that the fast path (the decoder
// over the whole sequence at once) computes exactly the step-wise path's
// loss and gradients.
func TestTranslationWholeSequencePath(t *testing.T) {
	for _, attention := range []string{"none", "general", "dot"} {
		cfg := translationCfg("lstm", attention)
		cfg.Encoder.Hidden = 3
		cfg.Decoder.Layers = 2
		m := newTranslation[float64](t, cfg)
		in, tgts := drawBatch(m, rand.New(rand.NewPCG(4, 4)))
		run := func(stepwise bool) (float64, map[string][]float64) {
			dec := m.model.dec.RNN
			dec.Stepwise = stepwise
			m.Params().ZeroGrad()
			sum, _, err := m.model.trainOn(in, tgts, 1, rand.New(rand.NewPCG(5, 5)))
			if err != nil {
				t.Fatal(err)
			}
			if dec.Whole() == stepwise {
				t.Fatalf("%s: stepwise=%v but the whole-sequence path was %v", attention, stepwise, dec.Whole())
			}
			g := map[string][]float64{}
			for _, p := range m.Params() {
				g[p.Name] = append([]float64(nil), p.Grad...)
			}
			return sum, g
		}
		lw, gw := run(false)
		ls, gs := run(true)
		if d := lw - ls; d > 1e-10 || d < -1e-10 {
			t.Errorf("%s: loss %v whole, %v step-wise", attention, lw, ls)
		}
		for name, g := range gw {
			for i := range g {
				if d := g[i] - gs[name][i]; d > 1e-10 || d < -1e-10 {
					t.Fatalf("%s: %s[%d] = %v whole, %v step-wise", attention, name, i, g[i], gs[name][i])
				}
			}
		}
	}
}

// TestTranslationTokenizers: every tokenizer kind trains (sources of mixed
// lengths padded within data.pairs.bucket), translates into plain text
// without subword marks, keeps its tokenizer in the checkpoint's metadata
// (a model restored from it translates the same), and the subword kinds
// read a word they never saw without <unk>.
func TestTranslationTokenizers(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		change func(*config.Config)
		unk    bool // an unseen word may become <unk>
	}{
		{"words", func(c *config.Config) {}, true},
		{"bpe", func(c *config.Config) {
			c.Data.Pairs.Tokenizer = config.Tokenizer{Kind: "bpe", Normalization: "nfc", VocabSize: 320, Joint: true}
			c.Data.Pairs.MaxLen, c.Data.Pairs.Bucket = 30, 3
		}, false},
		{"per-side bpe", func(c *config.Config) {
			c.Data.Pairs.Tokenizer = config.Tokenizer{Kind: "bpe", Normalization: "nfkc", VocabSize: 300}
			c.Data.Pairs.MaxLen, c.Data.Pairs.Bucket = 30, 3
		}, false},
		{"sentencepiece", func(c *config.Config) {
			c.Data.Pairs.Tokenizer = config.Tokenizer{Kind: "sentencepiece", Normalization: "nfc", Model: "../tokenizers/testdata/spm-bpe600-exact.model"}
			c.Data.Pairs.MaxLen, c.Data.Pairs.Bucket = 40, 4
		}, false},
		{"chars", func(c *config.Config) {
			c.Data.Pairs.Tokenizer = config.Tokenizer{Kind: "chars", Normalization: "nfc"}
			c.Data.Pairs.MaxLen, c.Data.Pairs.Bucket = 60, 5
		}, true}, // characters never seen in training have no id
	} {
		t.Run(tc.kind, func(t *testing.T) {
			cfg := translationCfg("gru", "general")
			tc.change(cfg)
			m := newTranslation[float64](t, cfg)
			rng := rand.New(rand.NewPCG(3, 3))
			for step := range 3 {
				if _, _, err := m.TrainStep(step, rng); err != nil {
					t.Fatal(err)
				}
			}
			sentences := []string{"Go away.", "Xylophones zigzag quietly."}
			got, err := m.Translate(sentences, m.DecodeDefaults(), false, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range got {
				if strings.Contains(g.Text, "▁") {
					t.Errorf("output %q holds a subword mark", g.Text)
				}
			}
			if ids, _ := m.src.Encode(m.srcTok.Encode(sentences[1])); slices.Contains(ids, datasets.UNKID) != tc.unk {
				t.Errorf("unseen words encode to %v: <unk> %v, want %v", ids, !tc.unk, tc.unk)
			}
			// A model restored from the checkpoint's metadata, with the same
			// weights, translates the same.
			restored, err := NewTranslation[float64](cfg, Env{Meta: m.Meta(), RNG: rand.New(rand.NewPCG(1, 1))})
			if err != nil {
				t.Fatal(err)
			}
			r := restored.(*Translation[float64])
			for i, p := range r.Params() {
				copy(p.Value, m.Params()[i].Value)
			}
			again, err := r.Translate(sentences, r.DecodeDefaults(), false, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i].Text != again[i].Text {
					t.Errorf("restored model: %q, original %q", again[i].Text, got[i].Text)
				}
			}
		})
	}
}

// TestCharacterLevelTranslationLearns is the composition the issue asked
// for, made by configuration alone: translation at the character level
// (data.pairs.tokenizer.kind chars), the same encoder and decoder kinds,
// overfitting the small training split.
func TestCharacterLevelTranslationLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	cfg := translationCfg("gru", "general")
	cfg.Data.Pairs.Tokenizer = config.Tokenizer{Kind: "chars", Normalization: "nfc"}
	cfg.Data.Pairs.MaxLen, cfg.Data.Pairs.Bucket = 40, 4
	cfg.Encoder.Embed, cfg.Encoder.Hidden = 16, 48
	cfg.Decoder.Embed, cfg.Decoder.Hidden = 16, 96
	cfg.Train.Batch = 16
	cfg.Eval.Decode.MaxLen = 50
	m := newTranslation[float32](t, cfg)
	m.train = m.train[:24]
	m.buckets = datasets.NewBuckets(sourceLengths(m.train), cfg.Data.Pairs.Bucket)
	loss := trainSteps[float32](t, m, 600, 0.01, rand.New(rand.NewPCG(2, 2)))
	var items []devItem
	for _, e := range m.train {
		items = append(items, devItem{src: e.Src, refs: []string{m.detokenize(e.Tgt)}})
	}
	scores, err := m.bleuScores(items)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("character-level: training loss %.3f, BLEU on its training pairs %.1f", loss, scores["bleu"])
	if loss > 0.3 || scores["bleu"] < 50 {
		t.Errorf("training loss %.3f (want < 0.3), BLEU %.1f (want ≥ 50)", loss, scores["bleu"])
	}
}

// TestSampleShowsText: the run log's samples show each source as its text
// (lowercased, as the config says), not as the subword pieces the model
// reads.
func TestSampleShowsText(t *testing.T) {
	cfg := translationCfg("gru", "general")
	cfg.Data.Pairs.Tokenizer = config.Tokenizer{Kind: "bpe", VocabSize: 400, Joint: true, Normalization: "nfc"}
	cfg.Data.Pairs.MaxLen = 30
	m := newTranslation[float32](t, cfg)
	out, err := m.Sample(rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cfg.Data.Path)
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		src, _, _ := strings.Cut(line, "\t")
		texts[strings.ToLower(src)] = true
	}
	var sources int
	for _, line := range strings.Split(out, "\n") {
		if src, ok := strings.CutPrefix(line, "source:    "); ok {
			sources++
			if !texts[src] {
				t.Errorf("sample source %q is not the text of a source in %s", src, cfg.Data.Path)
			}
		}
	}
	if sources == 0 {
		t.Fatalf("no sources in the samples:\n%s", out)
	}
}
