package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSampleSoftmaxMatchesSoftmax checks that SampleSoftmax draws exactly
// what Softmax followed by an inverse-CDF walk draws, for float32 and
// float64 logits, several temperatures and the same stream of uniforms.
func TestSampleSoftmaxMatchesSoftmax(t *testing.T) {
	rng := testRNG()
	for _, n := range []int{1, 2, 65} {
		l64 := make([]float64, n)
		l32 := make([]float32, n)
		for i := range l64 {
			l64[i] = 4 * rng.NormFloat64()
			l32[i] = float32(l64[i])
		}
		if n > 1 {
			l64[n-1], l32[n-1] = math.Inf(-1), float32(math.Inf(-1)) // a character never drawn
		}
		for _, temp := range []float64{0.3, 0.8, 1, 2.5} {
			checkSampleSoftmax(t, l64, temp)
			checkSampleSoftmax(t, l32, temp)
		}
	}
}

func checkSampleSoftmax[T Float](t *testing.T, logits []T, temp float64) {
	t.Helper()
	probs := make([]float64, len(logits))
	scratch := make([]float64, len(logits))
	a, b := rand.New(rand.NewPCG(5, 6)), rand.New(rand.NewPCG(5, 6))
	for k := 0; k < 2000; k++ {
		Softmax(logits, temp, probs)
		want := len(probs) - 1
		u := a.Float64()
		for i, p := range probs {
			if u < p {
				want = i
				break
			}
			u -= p
		}
		if got := SampleSoftmax(logits, temp, scratch, b); got != want {
			t.Fatalf("%d logits, temperature %g, draw %d: got %d, want %d", len(logits), temp, k, got, want)
		}
	}
}
