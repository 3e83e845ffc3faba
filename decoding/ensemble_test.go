package decoding

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestEnsembleIsTheMeanModel: beam search over an ensemble of two random
// Markov models finds what it finds over the one model whose probabilities
// are their mean, with the same log-probabilities and attention; and an
// ensemble of one model is that model.
func TestEnsembleIsTheMeanModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := range 200 {
		batch, v, maxLen, a := randomCase(r)
		b := randomTable(r, batch, v, maxLen)
		mean := func(item, last, pos int) []float64 {
			pa, pb := a(item, last, pos), b(item, last, pos)
			out := make([]float64, len(pa))
			for k := range out {
				out[k] = math.Log((math.Exp(pa[k]) + math.Exp(pb[k])) / 2)
			}
			return out
		}
		width := 1 + r.IntN(4)
		want, err := Beam(newMarkov(batch, v, mean).stepper(true), batch, v, 0, maxLen, width, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Ensemble(newMarkov(batch, v, a).stepper(true), newMarkov(batch, v, b).stepper(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := e.(AttentionStepper); !ok {
			t.Fatal("an ensemble of models that report attention does not")
		}
		got, err := Beam(e, batch, v, 0, maxLen, width, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		sameHyps(t, n, got, want, 1e-9)

		alone, err := Beam(newMarkov(batch, v, a).stepper(true), batch, v, 0, maxLen, width, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		one, err := Ensemble(newMarkov(batch, v, a).stepper(true))
		if err != nil {
			t.Fatal(err)
		}
		got, err = Beam(one, batch, v, 0, maxLen, width, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		sameHyps(t, n, got, alone, 0)
	}
}

func sameHyps(t *testing.T, n int, got, want [][]Hypothesis, tol float64) {
	t.Helper()
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("case %d item %d: %d hypotheses, want %d", n, i, len(got[i]), len(want[i]))
		}
		for j, w := range want[i] {
			g := got[i][j]
			if !slices.Equal(g.Tokens, w.Tokens) || g.Finished != w.Finished || math.Abs(g.LogProb-w.LogProb) > tol || math.Abs(g.Score-w.Score) > tol {
				t.Fatalf("case %d item %d hypothesis %d: %+v, want %+v", n, i, j, g, w)
			}
			if len(g.Attention) != len(w.Attention) {
				t.Fatalf("case %d item %d hypothesis %d: %d attention rows, want %d", n, i, j, len(g.Attention), len(w.Attention))
			}
			for s := range w.Attention {
				if !slices.Equal(g.Attention[s], w.Attention[s]) {
					t.Fatalf("case %d item %d hypothesis %d step %d: attention %v, want %v", n, i, j, s, g.Attention[s], w.Attention[s])
				}
			}
		}
	}
}

// TestEnsembleHandWorked: where one model prefers token 1 and the other
// token 2, the ensemble prefers token 3, which both rank second.
func TestEnsembleHandWorked(t *testing.T) {
	const v, bos, eos = 4, 4, 0
	a := fixed(map[int][]float64{bos: {0.05, 0.5, 0.05, 0.4}, 3: {1, 0, 0, 0}, 1: {1, 0, 0, 0}})
	b := fixed(map[int][]float64{bos: {0.05, 0.05, 0.5, 0.4}, 3: {1, 0, 0, 0}, 2: {1, 0, 0, 0}})
	e, err := Ensemble(newMarkov(1, v, a), newMarkov(1, v, b))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(AttentionStepper); ok {
		t.Error("an ensemble of models without attention reports attention")
	}
	hs, err := Greedy(e, 1, bos, eos, 5)
	if err != nil {
		t.Fatal(err)
	}
	if h := hs[0]; !slices.Equal(h.Tokens, []int{3}) || !h.Finished || math.Abs(h.LogProb-math.Log(0.4)) > 1e-12 {
		t.Errorf("greedy over the ensemble: %+v, want [3] finished with log-prob log 0.4", h)
	}
}

// TestEnsembleErrors: models that disagree on the vocabulary or the
// attended positions, and a model's failures, are errors that name the
// model; an empty ensemble is an invalid argument.
func TestEnsembleErrors(t *testing.T) {
	if _, err := Ensemble(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty ensemble: %v", err)
	}
	uniform := func(v int) func(item, last, pos int) []float64 {
		return func(_, _, _ int) []float64 { return logs(slices.Repeat([]float64{1 / float64(v)}, v)) }
	}
	e, _ := Ensemble(newMarkov(2, 3, uniform(3)), newMarkov(2, 4, uniform(4)))
	if _, err := Beam(e, 2, 3, 0, 4, 2, 0); err == nil || !strings.Contains(err.Error(), "model 2 of the ensemble returned 8 log-probabilities, model 1 6: the models' vocabularies differ") {
		t.Errorf("vocabularies of 3 and 4: %v", err)
	}

	errModel := errors.New("model failed")
	rarelyEOS := func(_, _, _ int) []float64 { return logs([]float64{0.1, 0.45, 0.45}) }
	failing := newMarkov(2, 3, rarelyEOS)
	failing.failStep, failing.err = 2, errModel
	e, _ = Ensemble(newMarkov(2, 3, rarelyEOS), failing)
	if _, err := Beam(e, 2, 3, 0, 4, 2, 0); !errors.Is(err, errModel) || !strings.Contains(err.Error(), "model 2 of the ensemble") {
		t.Errorf("a failing step: %v", err)
	}
	failing = newMarkov(2, 3, rarelyEOS)
	failing.failReorder, failing.err = 1, errModel
	e, _ = Ensemble(failing, newMarkov(2, 3, rarelyEOS))
	if _, err := Beam(e, 2, 3, 0, 4, 2, 0); !errors.Is(err, errModel) || !strings.Contains(err.Error(), "model 1 of the ensemble") {
		t.Errorf("a failing reorder: %v", err)
	}

	wide := newMarkov(2, 3, uniform(3))
	wide.pool = [][]float64{make([]float64, 5), make([]float64, 5)}
	e, _ = Ensemble(newMarkov(2, 3, uniform(3)).stepper(true), attMarkov{wide})
	if _, err := Beam(e, 2, 3, 0, 4, 2, 0); err == nil || !strings.Contains(err.Error(), "model 2 of the ensemble attends over 5 positions, model 1 over 4") {
		t.Errorf("attention over 4 and 5 positions: %v", err)
	}
}
