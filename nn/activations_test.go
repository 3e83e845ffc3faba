package nn

import (
	"math"
	"testing"
)

// TestFloat32Activations bounds the error of the single-precision exp,
// sigmoid and tanh against float64 math over the range the cells see.
func TestFloat32Activations(t *testing.T) {
	var worstExp, worstSig, worstTanh float64
	for x := -30.0; x <= 30; x += 0.00173 {
		f := float32(x)
		want := math.Exp(float64(f))
		if e := math.Abs(float64(exp32(f))-want) / want; e > worstExp {
			worstExp = e
		}
		s := []float32{f}
		sigmoidSlice(s)
		if e := math.Abs(float64(s[0]) - 1/(1+math.Exp(-float64(f)))); e > worstSig {
			worstSig = e
		}
		tanhSlice(s, []float32{f})
		if e := math.Abs(float64(s[0]) - math.Tanh(float64(f))); e > worstTanh {
			worstTanh = e
		}
	}
	t.Logf("worst: exp %.2g relative, sigmoid %.2g absolute, tanh %.2g absolute", worstExp, worstSig, worstTanh)
	if worstExp > 3e-7 || worstSig > 2e-7 || worstTanh > 3e-7 {
		t.Errorf("float32 activations too far from float64: exp %.2g, sigmoid %.2g, tanh %.2g", worstExp, worstSig, worstTanh)
	}
	for _, tc := range []struct{ x, want float32 }{
		{100, float32(math.Inf(1))}, {-200, 0}, {0, 1},
	} {
		if got := exp32(tc.x); got != tc.want {
			t.Errorf("exp32(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
	if nan := exp32(float32(math.NaN())); nan == nan {
		t.Error("exp32(NaN) is not NaN")
	}
	if tanh32(20) != 1 || tanh32(-20) != -1 {
		t.Error("tanh32 does not saturate to ±1")
	}
}
