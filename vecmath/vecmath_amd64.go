//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

// haveAVX512 reports whether the CPU and OS support the AVX-512F kernels;
// useAVX512 selects them (tests switch it off to compare with the pure-Go
// path).
var (
	haveAVX512 = cpu.X86.HasAVX512F
	useAVX512  = haveAVX512
)

// The kernels process n > 0 elements, sixteen per iteration and the rest
// under a mask. dst may equal src; for sumExpShifted32AVX512 it may be nil.

//go:noescape
func exp32AVX512(dst, src *float32, n int)

//go:noescape
func sigmoid32AVX512(dst, src *float32, n int)

//go:noescape
func tanh32AVX512(dst, src *float32, n int)

//go:noescape
func sumExpShifted32AVX512(dst, src *float32, n int, shift float32) float64

func exp32Slice(dst, src []float32) {
	if useAVX512 {
		exp32AVX512(&dst[0], &src[0], len(src))
		return
	}
	exp32Go(dst, src)
}

func sigmoid32Slice(dst, src []float32) {
	if useAVX512 {
		sigmoid32AVX512(&dst[0], &src[0], len(src))
		return
	}
	sigmoid32Go(dst, src)
}

func tanh32Slice(dst, src []float32) {
	if useAVX512 {
		tanh32AVX512(&dst[0], &src[0], len(src))
		return
	}
	tanh32Go(dst, src)
}

func sumExpShifted32Slice(dst, src []float32, shift float32) float64 {
	if !useAVX512 {
		return sumExpShifted32Go(dst, src, shift)
	}
	var d *float32
	if dst != nil {
		d = &dst[0]
	}
	return sumExpShifted32AVX512(d, &src[0], len(src), shift)
}

func haveAVX512Kernels() bool { return haveAVX512 }

//go:noescape
func lstmCell32AVX512(c, tc, h, gates, cPrev *float32, n int)

//go:noescape
func gruCell32AVX512(h, hnPre, gates, hh, hPrev *float32, n int)

func gruCell32Slice(h, hnPre, gates, hh, hPrev []float32) {
	if useAVX512 {
		gruCell32AVX512(&h[0], &hnPre[0], &gates[0], &hh[0], &hPrev[0], len(h))
		return
	}
	gruCell32Go(h, hnPre, gates, hh, hPrev)
}

//go:noescape
func lstmCellGrad32AVX512(dg, dcPrev, gates, tc, cPrev, dh, dc *float32, n int)

//go:noescape
func gruCellGrad32AVX512(di, dhh, dhPrev, gates, hnPre, hPrev, dh *float32, n int)

func lstmCellGrad32Slice(dg, dcPrev, gates, tc, cPrev, dh, dc []float32) {
	if useAVX512 {
		lstmCellGrad32AVX512(&dg[0], &dcPrev[0], &gates[0], &tc[0], &cPrev[0], &dh[0], &dc[0], len(dh))
		return
	}
	lstmCellGrad32Go(dg, dcPrev, gates, tc, cPrev, dh, dc)
}

func gruCellGrad32Slice(di, dhh, dhPrev, gates, hnPre, hPrev, dh []float32) {
	if useAVX512 {
		gruCellGrad32AVX512(&di[0], &dhh[0], &dhPrev[0], &gates[0], &hnPre[0], &hPrev[0], &dh[0], len(dh))
		return
	}
	gruCellGrad32Go(di, dhh, dhPrev, gates, hnPre, hPrev, dh)
}

func lstmCell32Slice(c, tc, h, gates, cPrev []float32) {
	if useAVX512 {
		lstmCell32AVX512(&c[0], &tc[0], &h[0], &gates[0], &cPrev[0], len(c))
		return
	}
	lstmCell32Go(c, tc, h, gates, cPrev)
}

//go:noescape
func max32AVX512(x *float32, n int) float32

func max32Slice(x []float32) float32 {
	if useAVX512 {
		return max32AVX512(&x[0], len(x))
	}
	return max32Go(x)
}

//go:noescape
func relu32AVX512(x *float32, n int)

//go:noescape
func reluGrad32AVX512(dy, y *float32, n int)

func relu32Slice(x []float32) {
	if useAVX512 && len(x) > 0 {
		relu32AVX512(&x[0], len(x))
		return
	}
	relu32Go(x)
}

func reluGrad32Slice(dy, y []float32) {
	if useAVX512 && len(dy) > 0 {
		reluGrad32AVX512(&dy[0], &y[0], len(dy))
		return
	}
	reluGrad32Go(dy, y)
}

//go:noescape
func sum32AVX512(x *float32, n int) float32

func sum32Slice(x []float32) float32 {
	if useAVX512 && len(x) > 0 {
		return sum32AVX512(&x[0], len(x))
	}
	return sum32Go(x)
}

//go:noescape
func sumSquares32AVX512(x *float32, n int) float64

func sumSquares32Slice(x []float32) float64 {
	if useAVX512 && len(x) > 0 {
		return sumSquares32AVX512(&x[0], len(x))
	}
	return sumSquares32Go(x)
}

//go:noescape
func maxPool2x2Row32AVX512(r0, r1, y *float32, arg *int32, start, w, n int)

// maxPool2Row32Slice runs the vector kernel on the whole sixteens of windows
// of a stride-2 row and pools the rest in Go.
func maxPool2Row32Slice(x, y []float32, arg []int32, start, w, s int) {
	done := 0
	if useAVX512 && s == 2 && len(y) >= 16 {
		done = len(y) &^ 15
		maxPool2x2Row32AVX512(&x[start], &x[start+w], &y[0], &arg[0], start, w, done)
	}
	maxPool2RowGo(x, y, arg, start, w, s, done)
}

//go:noescape
func add32AVX512(dst, src *float32, n int)

//go:noescape
func adam32AVX512(w, grad, mom, vel *float32, n int, c *AdamCoefs)

func add32Slice(dst, src []float32) {
	if useAVX512 && len(dst) > 0 {
		add32AVX512(&dst[0], &src[0], len(dst))
		return
	}
	add32Go(dst, src)
}

func adam32Slice(w, g, m, v []float32, c *AdamCoefs) {
	if useAVX512 && len(w) > 0 {
		adam32AVX512(&w[0], &g[0], &m[0], &v[0], len(w), c)
		return
	}
	adam32Go(w, g, m, v, c)
}
