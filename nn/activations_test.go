package nn

import (
	"math"
	"testing"
)

// TestFloat32Activations bounds the error of the single-precision sigmoid
// and tanh against float64 math over the range the cells see.
func TestFloat32Activations(t *testing.T) {
	var worstSig, worstTanh float64
	for x := -30.0; x <= 30; x += 0.00173 {
		f := float32(x)
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
	t.Logf("worst: sigmoid %.2g absolute, tanh %.2g absolute", worstSig, worstTanh)
	if worstSig > 2e-7 || worstTanh > 3e-7 {
		t.Errorf("float32 activations too far from float64: sigmoid %.2g, tanh %.2g", worstSig, worstTanh)
	}
	th := make([]float32, 2)
	tanhSlice(th, []float32{20, -20})
	if th[0] != 1 || th[1] != -1 {
		t.Errorf("tanh(±20) = %v, want ±1", th)
	}
}

// TestFloat32SlicesMatchScalar checks that the vectorised float32 paths of
// sigmoidSlice, tanhSlice, expShifted and LogSumExp agree with float64 math
// element by element (relative 1e-6) over a range with saturated values and
// a length with a partial vector at the end.
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
		check("sigmoid", i, sig[i], float32(1/(1+math.Exp(-float64(x)))))
		check("tanh", i, th[i], float32(math.Tanh(float64(x))))
	}
	var m float32
	for _, x := range src {
		m = max(m, x)
	}
	e := make([]float32, n)
	z := expShifted(e, src, m)
	var want float64
	for i, x := range src {
		s := float32(math.Exp(float64(x - m)))
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
