package fastblas

import (
	"gonum.org/v1/gonum/blas"
)

// Sgemv computes
//
//	y = alpha * A * x + beta * y   if tA == blas.NoTrans
//	y = alpha * Aᵀ * x + beta * y  otherwise
//
// where A is an m×n row-major matrix. Arguments are validated exactly as
// gonum does. Large problems are split across goroutines by rows (NoTrans)
// or columns (Trans) of A; each element of y has a fixed summation order.
func (impl Implementation) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	impl.Implementation.Sgemv(tA, m, n, 0, a, lda, x, incX, 1, y, incY)
	if m == 0 || n == 0 || alpha == 0 {
		impl.Implementation.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	gemv(tA != blas.NoTrans, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// Dgemv computes
//
//	y = alpha * A * x + beta * y   if tA == blas.NoTrans
//	y = alpha * Aᵀ * x + beta * y  otherwise
//
// where A is an m×n row-major matrix. Arguments are validated exactly as
// gonum does. Large problems are split across goroutines by rows (NoTrans)
// or columns (Trans) of A; each element of y has a fixed summation order.
func (impl Implementation) Dgemv(tA blas.Transpose, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	impl.Implementation.Dgemv(tA, m, n, 0, a, lda, x, incX, 1, y, incY)
	if m == 0 || n == 0 || alpha == 0 {
		impl.Implementation.Dgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	gemv(tA != blas.NoTrans, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// gemvParallelMin is the smallest m·n split across goroutines.
const gemvParallelMin = 1 << 18

// gather copies the n strided elements of v into a contiguous slice (v
// itself when inc == 1).
func gather[T float](v []T, n, inc int) []T {
	if inc == 1 {
		return v[:n]
	}
	s := make([]T, n)
	k := 0
	if inc < 0 {
		k = -(n - 1) * inc
	}
	for i := range s {
		s[i] = v[k]
		k += inc
	}
	return s
}

func scatter[T float](dst []T, s []T, inc int) {
	k := 0
	if inc < 0 {
		k = -(len(s) - 1) * inc
	}
	for _, v := range s {
		dst[k] = v
		k += inc
	}
}

func gemv[T float](trans bool, m, n int, alpha T, a []T, lda int, x []T, incX int, beta T, y []T, incY int) {
	simd := current.Load().name != pathGeneric
	lenX, lenY := n, m
	if trans {
		lenX, lenY = m, n
	}
	xs := gather(x, lenX, incX)
	ys := gather(y, lenY, incY)
	if incY != 1 {
		ys = append([]T(nil), ys...)
	}
	// With AVX-512 the small-m GEMM tiles do the work: y = A·x is a 1×m
	// product with Aᵀ (dot tiles over rows of A), y = Aᵀ·x a 1×n product
	// with A (axpy tiles over rows of A).
	if sk := smallFor[T](current.Load()); sk != nil && sk.name == "avx512" {
		var done bool
		if trans {
			done = gemmSmall(sk, false, false, 1, n, m, alpha, xs, m, a, lda, beta, ys, n)
		} else {
			done = gemmSmall(sk, false, true, 1, m, n, alpha, xs, n, a, lda, beta, ys, m)
		}
		if done {
			if incY != 1 {
				scatter(y, ys, incY)
			}
			return
		}
	}
	workers := callWorkers(m*n, gemvParallelMin)
	// Work is split into chunks of whole 64-element groups of y.
	const group = 64
	groups := (lenY + group - 1) / group
	workers = max(1, min(workers, groups))
	run := func(w int) {
		lo := groups * w / workers * group
		hi := min(groups*(w+1)/workers*group, lenY)
		if lo >= hi {
			return
		}
		if !trans {
			for i := lo; i < hi; i++ {
				d := alpha * dot(a[i*lda:i*lda+n], xs, simd)
				if beta == 0 {
					ys[i] = d
				} else {
					ys[i] = d + beta*ys[i]
				}
			}
			return
		}
		yc := ys[lo:hi]
		if beta == 0 {
			clear(yc)
		} else if beta != 1 {
			for j := range yc {
				yc[j] *= beta
			}
		}
		for i := 0; i < m; i++ {
			axpy(alpha*xs[i], a[i*lda+lo:i*lda+hi], yc, simd)
		}
	}
	Parallel(workers, run)
	if incY != 1 {
		scatter(y, ys, incY)
	}
}

func dotGo[T float](a, x []T) T {
	x = x[:len(a)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * x[i]
		s1 += a[i+1] * x[i+1]
		s2 += a[i+2] * x[i+2]
		s3 += a[i+3] * x[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGo[T float](alpha T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}
