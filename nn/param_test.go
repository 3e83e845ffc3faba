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
