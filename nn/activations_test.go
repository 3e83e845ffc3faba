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

// tanh32 is the scalar single-precision tanh the slice kernels implement:
// an odd polynomial near zero, where 1-2/(e^2x+1) would lose digits to
// cancellation, the exp form beyond, and ±1 past 9.1.
func tanh32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a < 0.625 {
		z := x * x
		return ((((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z-3.33332819422e-1)*z*x + x
	}
	if a > 9.1 { // tanh rounds to ±1 in float32
		if x < 0 {
			return -1
		}
		return 1
	}
	t := 1 - 2/(exp32(2*a)+1)
	if x < 0 {
		return -t
	}
	return t
}

// TestFloat32SlicesMatchScalar checks that the vectorised float32 paths of
// sigmoidSlice, tanhSlice, expShifted and LogSumExp agree with the scalar
// exp32/tanh32 element by element (relative 1e-6) over a range with
// saturated values and a length with a partial vector at the end.
func TestFloat32SlicesMatchScalar(t *testing.T) {
	const n = 4099
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(math.Sin(float64(i)*0.731)) * 60
	}
	src[5], src[6] = 120, -120 // beyond exp's range after shifting
	check := func(what string, i int, got, want float32) {
		t.Helper()
		if d := math.Abs(float64(got) - float64(want)); d > 1e-6*math.Abs(float64(want)) && d > 1e-30 {
			t.Fatalf("%s[%d] (x=%g) = %g, scalar %g", what, i, src[i], got, want)
		}
	}
	sig := append([]float32(nil), src...)
	sigmoidSlice(sig)
	th := make([]float32, n)
	tanhSlice(th, src)
	for i, x := range src {
		check("sigmoid", i, sig[i], 1/(1+exp32(-x)))
		check("tanh", i, th[i], tanh32(x))
	}
	var m float32
	for _, x := range src {
		m = max(m, x)
	}
	e := make([]float32, n)
	z := expShifted(e, src, m)
	var want float64
	for i, x := range src {
		s := exp32(x - m)
		check("expShifted", i, e[i], s)
		want += float64(s)
	}
	if math.Abs(z-want) > 1e-6*want {
		t.Errorf("expShifted sum %g, scalar %g", z, want)
	}
	if lse, w := LogSumExp(src), math.Log(want)+float64(m); math.Abs(lse-w) > 1e-6 {
		t.Errorf("LogSumExp %g, scalar %g", lse, w)
	}
	if lse, w := LogSumExp([]float64{1, 3, -2}), math.Log(math.E+math.Exp(3)+math.Exp(-2)); math.Abs(lse-w) > 1e-15 {
		t.Errorf("float64 LogSumExp %g, want %g", lse, w)
	}
	if lse := LogSumExp([]float32{}); !math.IsInf(lse, -1) {
		t.Errorf("LogSumExp of nothing = %g, want -Inf", lse)
	}
}
