//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

// The kernels this CPU and OS can run, detected once: AVX-512F ones where
// available, else AVX2+FMA ones (vecmath_avx2_amd64.s), else the pure-Go
// loops. use selects the kernels the slice functions call; tests set it to
// compare the paths.
var (
	haveAVX512 = cpu.X86.HasAVX512F
	haveAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	use        = bestKernel()
)

func bestKernel() kernel {
	switch {
	case haveAVX512:
		return kernelAVX512
	case haveAVX2:
		return kernelAVX2
	}
	return kernelGo
}

func availableKernels() []kernel {
	ks := []kernel{kernelGo}
	if haveAVX2 {
		ks = append(ks, kernelAVX2)
	}
	if haveAVX512 {
		ks = append(ks, kernelAVX512)
	}
	return ks
}

// The kernels process n > 0 elements: sixteen (AVX-512) or eight (AVX2)
// per iteration and the rest under a mask. dst may equal src; for the
// exp-sum kernels it may be nil.

//go:noescape
func exp32AVX512(dst, src *float32, n int)

//go:noescape
func sigmoid32AVX512(dst, src *float32, n int)

//go:noescape
func tanh32AVX512(dst, src *float32, n int)

//go:noescape
func sumExpShifted32AVX512(dst, src *float32, n int, shift float32) float64

//go:noescape
func exp32AVX2(dst, src *float32, n int)

//go:noescape
func sigmoid32AVX2(dst, src *float32, n int)

//go:noescape
func tanh32AVX2(dst, src *float32, n int)

//go:noescape
func sumExpShifted32AVX2(dst, src *float32, n int, shift float32) float64

func exp32Slice(dst, src []float32) {
	switch use {
	case kernelAVX512:
		exp32AVX512(&dst[0], &src[0], len(src))
	case kernelAVX2:
		exp32AVX2(&dst[0], &src[0], len(src))
	default:
		exp32Go(dst, src)
	}
}

func sigmoid32Slice(dst, src []float32) {
	switch use {
	case kernelAVX512:
		sigmoid32AVX512(&dst[0], &src[0], len(src))
	case kernelAVX2:
		sigmoid32AVX2(&dst[0], &src[0], len(src))
	default:
		sigmoid32Go(dst, src)
	}
}

func tanh32Slice(dst, src []float32) {
	switch use {
	case kernelAVX512:
		tanh32AVX512(&dst[0], &src[0], len(src))
	case kernelAVX2:
		tanh32AVX2(&dst[0], &src[0], len(src))
	default:
		tanh32Go(dst, src)
	}
}

func sumExpShifted32Slice(dst, src []float32, shift float32) float64 {
	if use == kernelGo {
		return sumExpShifted32Go(dst, src, shift)
	}
	var d *float32
	if dst != nil {
		d = &dst[0]
	}
	if use == kernelAVX512 {
		return sumExpShifted32AVX512(d, &src[0], len(src), shift)
	}
	return sumExpShifted32AVX2(d, &src[0], len(src), shift)
}

//go:noescape
func lstmCell32AVX512(c, tc, h, gates, cPrev *float32, n int)

//go:noescape
func gruCell32AVX512(h, hnPre, gates, hh, hPrev *float32, n int)

//go:noescape
func lstmCell32AVX2(c, tc, h, gates, cPrev *float32, n int)

//go:noescape
func gruCell32AVX2(h, hnPre, gates, hh, hPrev *float32, n int)

func lstmCell32Slice(c, tc, h, gates, cPrev []float32) {
	switch use {
	case kernelAVX512:
		lstmCell32AVX512(&c[0], &tc[0], &h[0], &gates[0], &cPrev[0], len(c))
	case kernelAVX2:
		lstmCell32AVX2(&c[0], &tc[0], &h[0], &gates[0], &cPrev[0], len(c))
	default:
		lstmCell32Go(c, tc, h, gates, cPrev)
	}
}

func gruCell32Slice(h, hnPre, gates, hh, hPrev []float32) {
	switch use {
	case kernelAVX512:
		gruCell32AVX512(&h[0], &hnPre[0], &gates[0], &hh[0], &hPrev[0], len(h))
	case kernelAVX2:
		gruCell32AVX2(&h[0], &hnPre[0], &gates[0], &hh[0], &hPrev[0], len(h))
	default:
		gruCell32Go(h, hnPre, gates, hh, hPrev)
	}
}

//go:noescape
func lstmCellGrad32AVX512(dg, dcPrev, gates, tc, cPrev, dh, dc *float32, n int)

//go:noescape
func gruCellGrad32AVX512(di, dhh, dhPrev, gates, hnPre, hPrev, dh *float32, n int)

// The AVX2 gradient kernels compute the first count elements, a multiple of
// eight, of blocks n apart; the Go loops finish the rest (they round every
// operation as the kernels do, so the bits are the same either way).

//go:noescape
func lstmCellGrad32AVX2(dg, dcPrev, gates, tc, cPrev, dh, dc *float32, n, count int)

//go:noescape
func gruCellGrad32AVX2(di, dhh, dhPrev, gates, hnPre, hPrev, dh *float32, n, count int)

func lstmCellGrad32Slice(dg, dcPrev, gates, tc, cPrev, dh, dc []float32) {
	n := len(dh)
	switch use {
	case kernelAVX512:
		lstmCellGrad32AVX512(&dg[0], &dcPrev[0], &gates[0], &tc[0], &cPrev[0], &dh[0], &dc[0], n)
		return
	case kernelAVX2:
		done := n &^ 7
		if done > 0 {
			lstmCellGrad32AVX2(&dg[0], &dcPrev[0], &gates[0], &tc[0], &cPrev[0], &dh[0], &dc[0], n, done)
		}
		lstmCellGrad32Go(dg, dcPrev, gates, tc, cPrev, dh, dc, done)
	default:
		lstmCellGrad32Go(dg, dcPrev, gates, tc, cPrev, dh, dc, 0)
	}
}

func gruCellGrad32Slice(di, dhh, dhPrev, gates, hnPre, hPrev, dh []float32) {
	m := len(dh)
	switch use {
	case kernelAVX512:
		gruCellGrad32AVX512(&di[0], &dhh[0], &dhPrev[0], &gates[0], &hnPre[0], &hPrev[0], &dh[0], m)
		return
	case kernelAVX2:
		done := m &^ 7
		if done > 0 {
			gruCellGrad32AVX2(&di[0], &dhh[0], &dhPrev[0], &gates[0], &hnPre[0], &hPrev[0], &dh[0], m, done)
		}
		gruCellGrad32Go(di, dhh, dhPrev, gates, hnPre, hPrev, dh, done)
	default:
		gruCellGrad32Go(di, dhh, dhPrev, gates, hnPre, hPrev, dh, 0)
	}
}

//go:noescape
func max32AVX512(x *float32, n int) float32

//go:noescape
func max32AVX2(x *float32, n int) float32

func max32Slice(x []float32) float32 {
	switch use {
	case kernelAVX512:
		return max32AVX512(&x[0], len(x))
	case kernelAVX2:
		return max32AVX2(&x[0], len(x))
	}
	return max32Go(x)
}

//go:noescape
func relu32AVX512(x *float32, n int)

//go:noescape
func reluGrad32AVX512(dy, y *float32, n int)

//go:noescape
func relu32AVX2(x *float32, n int)

//go:noescape
func reluGrad32AVX2(dy, y *float32, n int)

func relu32Slice(x []float32) {
	switch {
	case len(x) == 0:
	case use == kernelAVX512:
		relu32AVX512(&x[0], len(x))
	case use == kernelAVX2:
		relu32AVX2(&x[0], len(x))
	default:
		relu32Go(x)
	}
}

func reluGrad32Slice(dy, y []float32) {
	switch {
	case len(dy) == 0:
	case use == kernelAVX512:
		reluGrad32AVX512(&dy[0], &y[0], len(dy))
	case use == kernelAVX2:
		reluGrad32AVX2(&dy[0], &y[0], len(dy))
	default:
		reluGrad32Go(dy, y)
	}
}

//go:noescape
func sum32AVX512(x *float32, n int) float32

//go:noescape
func sum32AVX2(x *float32, n int) float32

func sum32Slice(x []float32) float32 {
	switch {
	case len(x) == 0:
		return 0
	case use == kernelAVX512:
		return sum32AVX512(&x[0], len(x))
	case use == kernelAVX2:
		return sum32AVX2(&x[0], len(x))
	}
	return sum32Go(x)
}

//go:noescape
func sumSquares32AVX512(x *float32, n int) float64

//go:noescape
func sumSquares32AVX2(x *float32, n int) float64

func sumSquares32Slice(x []float32) float64 {
	switch {
	case len(x) == 0:
		return 0
	case use == kernelAVX512:
		return sumSquares32AVX512(&x[0], len(x))
	case use == kernelAVX2:
		return sumSquares32AVX2(&x[0], len(x))
	}
	return sumSquares32Go(x)
}

//go:noescape
func maxPool2x2Row32AVX512(r0, r1, y *float32, arg *int32, start, w, n int)

//go:noescape
func maxPool2x2Row32AVX2(r0, r1, y *float32, arg *int32, start, w, n int)

// maxPool2Row32Slice runs the vector kernel on the whole sixteens (AVX2:
// eights) of windows of a stride-2 row and pools the rest in Go.
func maxPool2Row32Slice(x, y []float32, arg []int32, start, w, s int) {
	done := 0
	switch {
	case s != 2:
	case use == kernelAVX512 && len(y) >= 16:
		done = len(y) &^ 15
		maxPool2x2Row32AVX512(&x[start], &x[start+w], &y[0], &arg[0], start, w, done)
	case use == kernelAVX2 && len(y) >= 8:
		done = len(y) &^ 7
		maxPool2x2Row32AVX2(&x[start], &x[start+w], &y[0], &arg[0], start, w, done)
	}
	maxPool2RowGo(x, y, arg, start, w, s, done)
}

//go:noescape
func add32AVX512(dst, src *float32, n int)

//go:noescape
func adam32AVX512(w, grad, mom, vel *float32, n int, c *AdamCoefs)

//go:noescape
func add32AVX2(dst, src *float32, n int)

//go:noescape
func adam32AVX2(w, grad, mom, vel *float32, n int, c *AdamCoefs)

func add32Slice(dst, src []float32) {
	switch {
	case len(dst) == 0:
	case use == kernelAVX512:
		add32AVX512(&dst[0], &src[0], len(dst))
	case use == kernelAVX2:
		add32AVX2(&dst[0], &src[0], len(dst))
	default:
		add32Go(dst, src)
	}
}

func adam32Slice(w, g, m, v []float32, c *AdamCoefs) {
	switch {
	case len(w) == 0:
	case use == kernelAVX512:
		adam32AVX512(&w[0], &g[0], &m[0], &v[0], len(w), c)
	case use == kernelAVX2:
		adam32AVX2(&w[0], &g[0], &m[0], &v[0], len(w), c)
	default:
		adam32Go(w, g, m, v, c)
	}
}
