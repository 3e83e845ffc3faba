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
