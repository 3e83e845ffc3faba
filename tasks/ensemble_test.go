package tasks

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/nn"
)

// TestCaptioningEnsemble: a model ensembled with an exact copy of itself
// captions as it does alone (the same words, scores and attention), on
// the evaluation path and the serving one; ensembled with another model it
// scores otherwise, the same whichever comes first; members of another
// vocabulary, photo size or task are refused.
func TestCaptioningEnsemble(t *testing.T) {
	cfg := captioningCfg("lstm", "general")
	build := func(seed uint64) *Captioning[float64] {
		t.Helper()
		task, err := New[float64](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(seed, 1))})
		if err != nil {
			t.Fatal(err)
		}
		return task.(*Captioning[float64])
	}
	paths := build(1).dev.Paths()[:6]
	opt := DecodeOptions{Strategy: "beam", Beam: 3, NBest: 3, MaxLen: 6, LengthPenalty: 0.6, Temperature: 1, Precision: "float32"}
	captions := func(m *Captioning[float64]) [][]decoding.Hypothesis {
		t.Helper()
		hyps, err := m.captionPaths(paths, opt, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return hyps
	}
	alone := captions(build(1))

	twins := build(1)
	if err := twins.Ensemble([]Task[float64]{build(1)}); err != nil {
		t.Fatal(err)
	}
	sameHypotheses(t, "a model and its copy", captions(twins), alone, 1e-12)
	tensors, err := twins.imagesOf(paths)
	if err != nil {
		t.Fatal(err)
	}
	served, err := twins.Caption(tensors, opt, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range served {
		if want := twins.text(alone[i][0].Tokens); c.Text != want || math.Abs(c.Score-alone[i][0].Score) > 1e-12 || c.Attention == nil {
			t.Errorf("served caption %d: %q (%g, attention %v), want %q (%g) with attention", i, c.Text, c.Score, c.Attention != nil, want, alone[i][0].Score)
		}
	}

	ab, ba := build(1), build(2)
	if err := ab.Ensemble([]Task[float64]{build(2)}); err != nil {
		t.Fatal(err)
	}
	if err := ba.Ensemble([]Task[float64]{build(1)}); err != nil {
		t.Fatal(err)
	}
	mixed := captions(ab)
	sameHypotheses(t, "models 1+2 against 2+1", mixed, captions(ba), 1e-9)
	if mixed[0][0].Score == alone[0][0].Score {
		t.Errorf("the ensemble of two models scores its first caption %g, as the first model alone", mixed[0][0].Score)
	}

	for _, tc := range []struct {
		name   string
		member Task[float64]
		want   string
	}{
		{"another vocabulary", func() Task[float64] {
			c := *cfg
			c.Data.Captions.MinFreq = 3
			task, err := New[float64](&c, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1))})
			if err != nil {
				t.Fatal(err)
			}
			return task
		}(), "model 2 of the ensemble has another vocabulary"},
		{"another photo size", func() Task[float64] {
			c := *cfg
			c.Data.ImageSize = 16
			task, err := New[float64](&c, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1))})
			if err != nil {
				t.Fatal(err)
			}
			return task
		}(), "model 2 of the ensemble reads 16×16 rgb photos, model 1 8×8 rgb"},
		{"another task", &CharLM[float64]{}, "model 2 of the ensemble is not a captioning model"},
	} {
		err := build(1).Ensemble([]Task[float64]{tc.member})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// sameHypotheses fails unless got holds want's hypotheses for every item:
// the same tokens, and scores and attention within tol.
func sameHypotheses(t *testing.T, what string, got, want [][]decoding.Hypothesis, tol float64) {
	t.Helper()
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s, item %d: %d hypotheses, want %d", what, i, len(got[i]), len(want[i]))
		}
		for j, w := range want[i] {
			g := got[i][j]
			if !slices.Equal(g.Tokens, w.Tokens) || math.Abs(g.Score-w.Score) > tol || len(g.Attention) != len(w.Attention) {
				t.Fatalf("%s, item %d hypothesis %d: %v (%g), want %v (%g)", what, i, j, g.Tokens, g.Score, w.Tokens, w.Score)
			}
			for s := range w.Attention {
				for r := range w.Attention[s] {
					if math.Abs(g.Attention[s][r]-w.Attention[s][r]) > tol {
						t.Fatalf("%s, item %d hypothesis %d: attention differs at step %d", what, i, j, s)
					}
				}
			}
		}
	}
}

// TestTranslationEnsemble: a translation model ensembled with an exact copy
// of itself translates as it does alone (greedy, which alone takes the
// search's argmax path, and beam), even when asked to decode on several
// cores; ensembled with another model it agrees whichever comes first;
// members of other vocabularies or tasks are refused.
func TestTranslationEnsemble(t *testing.T) {
	cfg := translationCfg("gru", "general")
	// seeded builds the model of seed (weights and, unless splitSeed is
	// given, dev split); build, of seed on the config's split.
	seeded := func(seed uint64, splitSeed *uint64) *Translation[float64] {
		t.Helper()
		c := *cfg
		c.Seed, c.Data.Pairs.SplitSeed = seed, splitSeed
		task, err := New[float64](&c, Env{NeedData: true, RNG: rand.New(rand.NewPCG(seed, 1))})
		if err != nil {
			t.Fatal(err)
		}
		return task.(*Translation[float64])
	}
	configSplit := cfg.Seed
	build := func(seed uint64) *Translation[float64] { return seeded(seed, &configSplit) }
	m := build(1)
	srcs := make([][]int, 0, len(m.devRefs))
	for _, it := range m.devRefs {
		srcs = append(srcs, it.src)
	}
	for _, strategy := range []string{"greedy", "beam"} {
		opt := DecodeOptions{Strategy: strategy, Beam: 3, NBest: 1, MaxLen: 8, LengthPenalty: 0.6, Temperature: 1, Precision: "float32", Workers: 2}
		translate := func(m *Translation[float64]) [][]decoding.Hypothesis {
			t.Helper()
			hyps, err := m.translateIDs(srcs, opt, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return hyps
		}
		twins := build(1)
		if err := twins.Ensemble([]Task[float64]{build(1)}); err != nil {
			t.Fatal(err)
		}
		sameHypotheses(t, strategy+", a model and its copy", translate(twins), translate(build(1)), 1e-12)
		ab, ba := build(1), build(2)
		if err := ab.Ensemble([]Task[float64]{build(2)}); err != nil {
			t.Fatal(err)
		}
		if err := ba.Ensemble([]Task[float64]{build(1)}); err != nil {
			t.Fatal(err)
		}
		sameHypotheses(t, strategy+", models 1+2 against 2+1", translate(ab), translate(ba), 1e-9)
	}

	// Another seed draws another dev split, and so other vocabularies,
	// unless both keep one split seed: then it draws only other weights.
	split := uint64(1)
	one, two := seeded(1, nil), seeded(2, nil)
	if slices.Equal(one.src.Tokens(), two.src.Tokens()) {
		t.Fatal("seeds 1 and 2 drew dev splits that leave the same source vocabulary: the test data cannot tell splits apart")
	}
	if err := one.Ensemble([]Task[float64]{two}); err == nil || !strings.Contains(err.Error(), "need one data.pairs.split_seed") {
		t.Errorf("seeds 1 and 2 on their own splits: %v", err)
	}
	two = seeded(2, &split)
	if err := seeded(1, nil).Ensemble([]Task[float64]{two}); err != nil {
		t.Errorf("seeds 1 and 2 on split 1: %v", err)
	}
	if len(two.devRefs) != len(one.devRefs) || !slices.EqualFunc(two.devRefs, one.devRefs, func(a, b devItem) bool { return slices.Equal(a.src, b.src) }) {
		t.Error("data.pairs.split_seed 1 with seed 2 drew another dev split than seed 1")
	}

	other := *cfg
	other.Data.Pairs.MinFreq = 2
	task, err := New[float64](&other, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	if err := build(1).Ensemble([]Task[float64]{task}); err == nil || !strings.Contains(err.Error(), "model 2 of the ensemble has other vocabularies") {
		t.Errorf("another vocabulary: %v", err)
	}
	if err := build(1).Ensemble([]Task[float64]{&Captioning[float64]{}}); err == nil || !strings.Contains(err.Error(), "model 2 of the ensemble is not a translation model") {
		t.Errorf("a captioning member: %v", err)
	}
}

// TestCharLMEnsemble: a char LM ensembled with an exact copy of itself
// scores and samples as it does alone; ensembled with another model its
// validation loss (windowed and streamed) is the negative log of the two
// models' mean probability of each character, computed here from their
// logits; a model over other characters, or of another task, is refused.
func TestCharLMEnsemble(t *testing.T) {
	text := strings.Repeat("hello world, hello there. ", 12)
	vocab := datasets.CharVocab(text)
	cfg := charCfg("lstm", 8, 10)
	cfg.Train.Batch, cfg.Eval.Batches, cfg.Eval.Streams = 4, 3, 3
	build := func(seed uint64) *CharLM[float64] {
		t.Helper()
		rng := rand.New(rand.NewPCG(seed, 1))
		m, err := NewCharLMFromText[float64](cfg, vocab, text[:200], text[200:], rng)
		if err != nil {
			t.Fatal(err)
		}
		trainSteps(t, m, 30, 0.02, rng)
		return m
	}
	evaluate := func(m *CharLM[float64]) Metrics {
		t.Helper()
		metrics, err := m.Evaluate()
		if err != nil {
			t.Fatal(err)
		}
		return metrics
	}
	sample := func(m *CharLM[float64], temperature float64) string {
		t.Helper()
		var b strings.Builder
		err := m.Generate("he", 40, temperature, rand.New(rand.NewPCG(3, 3)), func(s string) error { b.WriteString(s); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}

	a, twins := build(1), build(1)
	if err := twins.Ensemble([]Task[float64]{build(1)}); err != nil {
		t.Fatal(err)
	}
	alone, twice := evaluate(a), evaluate(twins)
	for _, key := range []string{"loss", "stream_loss"} {
		if math.Abs(alone[key]-twice[key]) > 1e-12 {
			t.Errorf("%s: %v for a model and its copy, %v alone", key, twice[key], alone[key])
		}
	}
	for _, temperature := range []float64{0, 0.8} {
		if got, want := sample(twins, temperature), sample(a, temperature); got != want {
			t.Errorf("temperature %g: a model and its copy sample %q, alone %q", temperature, got, want)
		}
	}

	b := build(2)
	ab := build(1)
	if err := ab.Ensemble([]Task[float64]{b}); err != nil {
		t.Fatal(err)
	}
	// The reference: each model's probabilities of the validation windows'
	// characters, from its own logits, averaged in probability space.
	steps, batch := cfg.Data.SeqLen, cfg.Train.Batch
	windows := min((len(a.val)-1)/steps, cfg.Eval.Batches*batch)
	var sum float64
	for w := 0; w < windows; w += batch {
		nb := min(batch, windows-w)
		offsets := make([]int, nb)
		for i := range offsets {
			offsets[i] = (w + i) * steps
		}
		var probs [2][]float64 // per model, of each target
		for k, m := range []*CharLM[float64]{a, b} {
			m.window(m.val, offsets, steps)
			logits, err := m.dec.Forward(&m.decC, m.ids, nn.Mat[float64]{}, steps, nb, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			probs[k] = append(probs[k], targetProbs(logits, m.targets)...)
		}
		sum += meanLoss(probs) * float64(len(probs[0]))
	}
	want := sum / float64(windows*steps)
	// And streamed: each model carries its own states from window to window.
	streams := min(cfg.Eval.Streams, windows)
	per := windows * steps / streams
	var streamed [2][]float64
	for k, m := range []*CharLM[float64]{a, b} {
		var h, c nn.Mat[float64]
		for t0 := 0; t0 < per; t0 += steps {
			n := min(steps, per-t0)
			offsets := make([]int, streams)
			for i := range offsets {
				offsets[i] = i*per + t0
			}
			m.window(m.val, offsets, n)
			logits, hn, cn, err := m.dec.ForwardFrom(&m.decC, m.ids, nn.Mat[float64]{}, n, streams, h, c, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			streamed[k] = append(streamed[k], targetProbs(logits, m.targets)...)
			h, c = hn.Clone(), cn.Clone()
		}
	}
	wantStream := meanLoss(streamed)
	mixed, alsoB := evaluate(ab), evaluate(b)
	if math.Abs(mixed["loss"]-want) > 1e-9 || math.Abs(mixed["stream_loss"]-wantStream) > 1e-9 {
		t.Errorf("ensemble loss %.12f and stream_loss %.12f, want %.12f and %.12f", mixed["loss"], mixed["stream_loss"], want, wantStream)
	}
	if mixed["loss"] >= (alone["loss"]+alsoB["loss"])/2 || mixed["stream_loss"] >= (alone["stream_loss"]+alsoB["stream_loss"])/2 {
		t.Errorf("ensemble %v scores no better than the mean of its members (%v, %v)", mixed, alone, alsoB)
	}

	other, err := NewCharLMFromText[float64](cfg, datasets.CharVocab("abc"), "abcabcabcabcabcabc", "abcabcabcabc", rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	captioning, err := New[float64](captioningCfg("lstm", "general"), Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		member Task[float64]
		want   string
	}{
		{"other characters", other, "model 2's characters differ"},
		{"another task", captioning, "model 2 is not a char LM"},
		{"itself", a, "model 2 is a model already in the ensemble"},
	} {
		if err := a.Ensemble([]Task[float64]{tc.member}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// targetProbs is each row's softmax probability of its target.
func targetProbs(logits nn.Mat[float64], targets []int) []float64 {
	out := make([]float64, len(targets))
	for r, target := range targets {
		row := logits.Row(r)
		var z float64
		for _, x := range row {
			z += math.Exp(x)
		}
		out[r] = math.Exp(row[target]) / z
	}
	return out
}

// meanLoss is the mean negative log of two models' mean probabilities.
func meanLoss(probs [2][]float64) float64 {
	var sum float64
	for i := range probs[0] {
		sum -= math.Log((probs[0][i] + probs[1][i]) / 2)
	}
	return sum / float64(len(probs[0]))
}

// TestEnsembles: a task's registration says whether it ensembles (what a
// sweep checks before training) as its type does.
func TestEnsembles(t *testing.T) {
	for _, tc := range []struct {
		task string
		want bool
	}{
		{"captioning", true},
		{"translation", true},
		{"charlm", true},
		{"video", false},
		{"no such task", false},
	} {
		if got := Ensembles(tc.task); got != tc.want {
			t.Errorf("Ensembles(%q) = %v, want %v", tc.task, got, tc.want)
		}
	}
}
