//go:build amd64 && !purego

package fastblas

//go:noescape
func dotSAVX2(n int, a, x *float32) float32

//go:noescape
func dotDAVX2(n int, a, x *float64) float64

//go:noescape
func axpySAVX2(n int, alpha float32, x, y *float32)

//go:noescape
func axpyDAVX2(n int, alpha float64, x, y *float64)

// dot returns Σ a[i]*x[i] for len(a) == len(x).
func dot[T float](a, x []T, simd bool) T {
	if simd && len(a) > 0 {
		x = x[:len(a)]
		switch a := any(a).(type) {
		case []float32:
			return T(dotSAVX2(len(a), &a[0], &any(x).([]float32)[0]))
		case []float64:
			return T(dotDAVX2(len(a), &a[0], &any(x).([]float64)[0]))
		}
	}
	return dotGo(a, x)
}

// axpy does y[i] += alpha*x[i] for len(x) == len(y).
func axpy[T float](alpha T, x, y []T, simd bool) {
	if simd && len(x) > 0 {
		y = y[:len(x)]
		switch x := any(x).(type) {
		case []float32:
			axpySAVX2(len(x), float32(alpha), &x[0], &any(y).([]float32)[0])
			return
		case []float64:
			axpyDAVX2(len(x), float64(alpha), &x[0], &any(y).([]float64)[0])
			return
		}
	}
	axpyGo(alpha, x, y)
}
