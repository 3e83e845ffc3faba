package nn

import (
	"slices"
	"strings"
	"testing"
)

func TestShareValues(t *testing.T) {
	rng := testRNG()
	a := NewLinear[float64]("fc", 5, 3, rng)
	b := NewLinear[float64]("fc", 5, 3, rng)
	x := randomParam("x", rng, 4, 5).Mat()
	var ca, cb LinearCache[float64]
	if slices.Equal(a.Forward(&ca, x).Data, b.Forward(&cb, x).Data) {
		t.Fatal("two differently initialised layers agree before sharing")
	}
	if err := b.Params().ShareValues(a.Params()); err != nil {
		t.Fatal(err)
	}
	if got, want := b.Forward(&cb, x).Data, a.Forward(&ca, x).Data; !slices.Equal(got, want) {
		t.Fatalf("after sharing: %v, want %v", got, want)
	}
	// One set of values: an update through either copy is seen by both.
	a.Weight.Value[0] += 1
	if b.Weight.Value[0] != a.Weight.Value[0] {
		t.Error("an update to the source's values is not seen by the sharing copy")
	}
	// Gradients stay apart.
	a.Params().ZeroGrad()
	b.Params().ZeroGrad()
	dy := randomParam("dy", rng, 4, 3).Mat()
	b.Backward(&cb, dy, Mat[float64]{})
	if a.Weight.Grad[0] != 0 || b.Weight.Grad[0] == 0 {
		t.Errorf("gradients shared: source %v, copy %v", a.Weight.Grad[0], b.Weight.Grad[0])
	}

	for _, tc := range []struct {
		name string
		to   Params[float64]
		want string
	}{
		{"fewer", Params[float64]{NewParam[float64]("fc.weight", 3, 5)}, "1 parameters, the source has 2"},
		{"shape", NewLinear[float64]("fc", 4, 3, rng).Params(), "fc.weight [3 4], the source's is fc.weight [3 5]"},
		{"name", NewLinear[float64]("out", 5, 3, rng).Params(), "out.weight"},
	} {
		err := tc.to.ShareValues(a.Params())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestDropGrads checks that a model without gradients still predicts, and
// that ZeroGrad gives it zeroed gradients of the right sizes again, which a
// backward pass then fills as it fills a model that never dropped them.
func TestDropGrads(t *testing.T) {
	rng := testRNG()
	kept := NewLinear[float64]("fc", 5, 3, rng)
	dropped := NewLinear[float64]("fc", 5, 3, rng)
	if err := dropped.Params().ShareValues(kept.Params()); err != nil {
		t.Fatal(err)
	}
	x := randomParam("x", rng, 4, 5).Mat()
	dy := randomParam("dy", rng, 4, 3).Mat()
	dropped.Params().DropGrads()
	for _, p := range dropped.Params() {
		if p.Grad != nil {
			t.Fatalf("%s: gradient of %d kept", p.Name, len(p.Grad))
		}
	}
	var ck, cd LinearCache[float64]
	if !slices.Equal(kept.Forward(&ck, x).Data, dropped.Forward(&cd, x).Data) {
		t.Fatal("a model without gradients predicts differently")
	}
	for _, l := range []*Linear[float64]{kept, dropped} {
		l.Params().ZeroGrad()
	}
	kept.Backward(&ck, dy, Mat[float64]{})
	dropped.Backward(&cd, dy, Mat[float64]{})
	for i, p := range dropped.Params() {
		if q := kept.Params()[i]; len(p.Grad) != len(p.Value) || !slices.Equal(p.Grad, q.Grad) {
			t.Errorf("%s: gradient %v after ZeroGrad and Backward, want %v", p.Name, p.Grad, q.Grad)
		}
	}
}

// TestPredictingSince checks the name of a predicting model's weights:
// none while it trains, the same over calls while it predicts, and a new
// one once it has trained again.
func TestPredictingSince(t *testing.T) {
	ps := NewLinear[float32]("fc", 3, 2, testRNG()).Params()
	if ps.PredictingSince() != nil {
		t.Fatal("a training model's weights are named as predicting")
	}
	ps.DropGrads()
	first := ps.PredictingSince()
	if first == nil || ps.PredictingSince() != first {
		t.Fatalf("predicting: %v, then %v; want the same, not nil", first, ps.PredictingSince())
	}
	ps.ZeroGrad()
	if ps.PredictingSince() != nil {
		t.Fatal("training again: still named as predicting")
	}
	ps.DropGrads()
	if again := ps.PredictingSince(); again == nil || again == first {
		t.Fatalf("predicting after training again: %v, first %v; want a new name", again, first)
	}
}

// TestInferenceCopiesShared checks that a model that only predicts rounds
// and packs each weight once for all its caches, computing what a
// trainable model computes, and that after ZeroGrad (training again) new
// caches make copies of the values as they are then.
func TestInferenceCopiesShared(t *testing.T) {
	rng := testRNG()
	l := NewLinear[float32]("fc", 40, 48, rng)
	trainable := NewLinear[float32]("fc", 40, 48, rng)
	if err := trainable.Params().ShareValues(l.Params()); err != nil {
		t.Fatal(err)
	}
	x := NewMat[float32](64, 40) // 64 rows: the packed kernel's path
	InitNormal(x.Data, 1, rng)
	l.Params().DropGrads()
	modes := map[string]func(c *WeightProducts[float32]){
		"bf16":   (*WeightProducts[float32]).UseBF16,
		"packed": (*WeightProducts[float32]).UsePacked,
	}
	copyOf := func(c *LinearCache[float32], w *Param[float32]) any {
		if r := c.rounded[w]; r != nil {
			return r
		}
		return c.packs[w]
	}
	for name, use := range modes {
		var c1, c2, ct LinearCache[float32]
		use(&c1.WeightProducts)
		use(&c2.WeightProducts)
		use(&ct.WeightProducts)
		y1 := slices.Clone(l.Forward(&c1, x).Data)
		y2 := l.Forward(&c2, x).Data
		if copyOf(&c1, l.Weight) == nil || copyOf(&c1, l.Weight) != copyOf(&c2, l.Weight) {
			t.Fatalf("%s: two caches of a predicting model hold different copies", name)
		}
		if !slices.Equal(y1, y2) || !slices.Equal(y1, trainable.Forward(&ct, x).Data) {
			t.Fatalf("%s: the shared copy computes differently", name)
		}
		if copyOf(&ct, trainable.Weight) == copyOf(&c1, l.Weight) {
			t.Fatalf("%s: a trainable model used the predicting model's copy", name)
		}
		// A replica (shared values, no gradients) shares the copy too.
		replica := NewLinear[float32]("fc", 40, 48, rng)
		if err := replica.Params().ShareValues(l.Params()); err != nil {
			t.Fatal(err)
		}
		replica.Params().DropGrads()
		var cr LinearCache[float32]
		use(&cr.WeightProducts)
		replica.Forward(&cr, x)
		if !replica.Params().Predicting() || copyOf(&cr, replica.Weight) != copyOf(&c1, l.Weight) {
			t.Fatalf("%s: a replica of a predicting model made a copy of its own", name)
		}
	}
	if trainable.Params().Predicting() {
		t.Fatal("a model with gradients reports that it only predicts")
	}
	l.Params().ZeroGrad()
	l.Weight.Value[0] += 1 // trained
	for name, use := range modes {
		var before, after LinearCache[float32]
		use(&after.WeightProducts)
		use(&before.WeightProducts)
		got := slices.Clone(l.Forward(&after, x).Data)
		if want := trainable.Forward(&before, x).Data; !slices.Equal(got, want) {
			t.Fatalf("%s: after ZeroGrad the products do not follow the new values", name)
		}
	}
}
