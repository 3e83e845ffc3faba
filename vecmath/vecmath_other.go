//go:build !amd64 || purego

package vecmath

// Without the assembly kernels only the pure-Go loops run.
var use = kernelGo

func availableKernels() []kernel { return []kernel{kernelGo} }

func exp32Slice(dst, src []float32)     { exp32Go(dst, src) }
func sigmoid32Slice(dst, src []float32) { sigmoid32Go(dst, src) }
func tanh32Slice(dst, src []float32)    { tanh32Go(dst, src) }

func sumExpShifted32Slice(dst, src []float32, shift float32) float64 {
	return sumExpShifted32Go(dst, src, shift)
}

func gruCell32Slice(h, hnPre, gates, hh, hPrev []float32) { gruCell32Go(h, hnPre, gates, hh, hPrev) }

func lstmCell32Slice(c, tc, h, gates, cPrev []float32) { lstmCell32Go(c, tc, h, gates, cPrev) }

func lstmCellGrad32Slice(dg, dcPrev, gates, tc, cPrev, dh, dc []float32) {
	lstmCellGrad32Go(dg, dcPrev, gates, tc, cPrev, dh, dc, 0)
}

func gruCellGrad32Slice(di, dhh, dhPrev, gates, hnPre, hPrev, dh []float32) {
	gruCellGrad32Go(di, dhh, dhPrev, gates, hnPre, hPrev, dh, 0)
}

func max32Slice(x []float32) float32 { return max32Go(x) }

func relu32Slice(x []float32) { relu32Go(x) }

func reluGrad32Slice(dy, y []float32) { reluGrad32Go(dy, y) }

func sum32Slice(x []float32) float32 { return sum32Go(x) }

func sumSquares32Slice(x []float32) float64 { return sumSquares32Go(x) }

func maxPool2Row32Slice(x, y []float32, arg []int32, start, w, s int) {
	maxPool2RowGo(x, y, arg, start, w, s, 0)
}

func add32Slice(dst, src []float32) { add32Go(dst, src) }

func adam32Slice(w, g, m, v []float32, c *AdamCoefs) { adam32Go(w, g, m, v, c) }
