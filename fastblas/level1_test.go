package fastblas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLevel1 checks Sdot, Ddot, Saxpy and Daxpy against gonum's on every
// kernel path, for lengths around the AVX2 loop's 32-element blocks, unit
// and other strides (which go to gonum) and alpha = 0.
func TestLevel1(t *testing.T) {
	rnd := rand.New(rand.NewPCG(41, 42))
	impl := Implementation{}
	for _, path := range availablePaths() {
		old := setPath(path)
		for _, n := range []int{1, 3, 8, 31, 32, 33, 64, 100, 256, 257} {
			for _, inc := range []int{1, 2} {
				x32, y32 := randMat[float32](rnd, n*inc), randMat[float32](rnd, n*inc)
				x64, y64 := randMat[float64](rnd, n*inc), randMat[float64](rnd, n*inc)
				scale := 0.0 // Σ|x·y|, what the error of a float32 sum is relative to
				for i := range n {
					scale += math.Abs(float64(x32[i*inc]) * float64(y32[i*inc]))
				}
				if got, want := impl.Sdot(n, x32, inc, y32, inc), ref.Sdot(n, x32, inc, y32, inc); math.Abs(float64(got-want)) > 1e-6*scale {
					t.Errorf("%s: Sdot n=%d inc=%d: %v, gonum %v", path, n, inc, got, want)
				}
				if got, want := impl.Ddot(n, x64, inc, y64, inc), ref.Ddot(n, x64, inc, y64, inc); math.Abs(got-want) > 1e-12*float64(n) {
					t.Errorf("%s: Ddot n=%d inc=%d: %v, gonum %v", path, n, inc, got, want)
				}
				for _, alpha := range []float64{0, -1.5} {
					got32, want32 := append([]float32(nil), y32...), append([]float32(nil), y32...)
					impl.Saxpy(n, float32(alpha), x32, inc, got32, inc)
					ref.Saxpy(n, float32(alpha), x32, inc, want32, inc)
					got64, want64 := append([]float64(nil), y64...), append([]float64(nil), y64...)
					impl.Daxpy(n, alpha, x64, inc, got64, inc)
					ref.Daxpy(n, alpha, x64, inc, want64, inc)
					for i := range got32 { // one rounding per element either way
						if math.Abs(float64(got32[i]-want32[i])) > 1e-6*(1+math.Abs(float64(want32[i]))) || math.Abs(got64[i]-want64[i]) > 1e-14*(1+math.Abs(want64[i])) {
							t.Errorf("%s: axpy n=%d inc=%d alpha=%v: element %d is %v / %v, gonum %v / %v", path, n, inc, alpha, i, got32[i], got64[i], want32[i], want64[i])
							break
						}
					}
				}
			}
		}
		setPath(old)
	}
	// What gonum rejects, it still rejects.
	defer func() {
		if recover() == nil {
			t.Error("Sdot with x shorter than n did not panic")
		}
	}()
	impl.Sdot(4, make([]float32, 3), 1, make([]float32, 4), 1)
}
