package nn

import (
	"math"

	"github.com/seqtask/seqtask/vecmath"
)

// The recurrent cells spend much of their time in exp: for float32 models
// a Cephes-style single-precision exp (range reduction by ln 2 and a
// degree-6 polynomial, about 1 ulp) replaces the float64 math.Exp, which is
// several times slower. The slice functions below run it through package
// vecmath (sixteen lanes at a time with AVX-512, the same algorithm in pure
// Go elsewhere). float64 models keep math's functions exactly, so the
// PyTorch parity tests hold to 1e-9.

// sigmoidSlice sets v[i] = 1/(1+exp(-v[i])).
func sigmoidSlice[T Float](v []T) {
	switch x := any(v).(type) {
	case []float32:
		vecmath.Sigmoid32(x, x)
	case []float64:
		for i, a := range x {
			x[i] = 1 / (1 + math.Exp(-a))
		}
	}
}

// tanhSlice sets dst[i] = tanh(src[i]); dst and src may be the same slice.
func tanhSlice[T Float](dst, src []T) {
	switch x := any(src).(type) {
	case []float32:
		vecmath.Tanh32(any(dst).([]float32), x)
	case []float64:
		d := any(dst).([]float64)
		for i, a := range x {
			d[i] = math.Tanh(a)
		}
	}
}

// Tanh sets dst[i] = tanh(src[i]) (dst and src may be the same slice), with
// the single-precision kernel for float32.
func Tanh[T Float](dst, src []T) { tanhSlice(dst, src) }

// expShifted sets dst[i] = exp(src[i] - shift) and returns the sum, in
// float64: the softmax numerator and denominator of cross-entropy.
func expShifted[T Float](dst, src []T, shift T) float64 {
	var z float64
	switch x := any(src).(type) {
	case []float32:
		z = vecmath.SumExpShifted32(any(dst).([]float32), x, float32(shift))
	case []float64:
		d, s := any(dst).([]float64), float64(shift)
		for i, v := range x {
			e := math.Exp(v - s)
			d[i] = e
			z += e
		}
	}
	return z
}

// LogSumExp is log Σ exp(x[i]), computed stably (shifted by the maximum) in
// float64 with the single-precision exp for float32: the normaliser of a
// log-softmax, which decoders evaluate over the whole vocabulary per step.
func LogSumExp[T Float](x []T) float64 {
	if len(x) == 0 {
		return math.Inf(-1)
	}
	switch s := any(x).(type) {
	case []float32:
		m := vecmath.Max32(s)
		return math.Log(vecmath.SumExpShifted32(nil, s, m)) + float64(m)
	case []float64:
		m := s[0]
		for _, v := range s[1:] {
			if v > m {
				m = v
			}
		}
		var z float64
		for _, v := range s {
			z += math.Exp(v - m)
		}
		return math.Log(z) + m
	}
	panic("unreachable")
}
