package fastblas

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// benchShapes are the RNN training GEMM shapes (m×n×k) with the transposes
// they are used with.
var benchShapes = []struct {
	name    string
	tA, tB  blas.Transpose
	m, n, k int
}{
	{"32x1024x256_NN", blas.NoTrans, blas.NoTrans, 32, 1024, 256},     // batch × gates (hidden step)
	{"32x1024x256_NT", blas.NoTrans, blas.Trans, 32, 1024, 256},       // same with W stored out×in
	{"256x32x1024_TN", blas.Trans, blas.NoTrans, 256, 32, 1024},       // weight gradient
	{"32x256x1024_NN", blas.NoTrans, blas.NoTrans, 32, 256, 1024},     // input gradient
	{"2048x1024x256_NN", blas.NoTrans, blas.NoTrans, 2048, 1024, 256}, // whole-sequence input projection
	{"2048x1024x256_NT", blas.NoTrans, blas.Trans, 2048, 1024, 256},
	{"64x3000x256_NT", blas.NoTrans, blas.Trans, 64, 3000, 256}, // output layer
	{"256x3000x64_TN", blas.Trans, blas.NoTrans, 256, 3000, 64}, // output-layer weight gradient
	// Whole-sequence weight gradient dW = dGᵀ·h: A is the 2048×1024 gate
	// gradient read transposed (rows 4 KiB apart), the packing that ran
	// 25× slower on an Intel CPU than here (issue 15).
	{"1024x256x2048_TN", blas.Trans, blas.NoTrans, 1024, 256, 2048},
	{"1024x64x2048_TN", blas.Trans, blas.NoTrans, 1024, 64, 2048}, // the same for 64 inputs (an embedding)
}

type gemmFn[T float] func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)

func benchGemm[T float](b *testing.B, f gemmFn[T]) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(1, 1))
			lda, ldb := s.k, s.n
			if s.tA != blas.NoTrans {
				lda = s.m
			}
			if s.tB != blas.NoTrans {
				ldb = s.k
			}
			a := randMat[T](rnd, s.m*s.k)
			bb := randMat[T](rnd, s.k*s.n)
			c := randMat[T](rnd, s.m*s.n)
			b.ResetTimer()
			for b.Loop() {
				f(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkSgemm(b *testing.B)      { benchGemm(b, Implementation{}.Sgemm) }
func BenchmarkDgemm(b *testing.B)      { benchGemm(b, Implementation{}.Dgemm) }
func BenchmarkSgemmGonum(b *testing.B) { benchGemm(b, ref.Sgemm) }
func BenchmarkDgemmGonum(b *testing.B) { benchGemm(b, ref.Dgemm) }

// BenchmarkSgemmPaths compares the kernel paths on one mid-size shape.
func BenchmarkSgemmPaths(b *testing.B) {
	for _, p := range availablePaths() {
		b.Run(p, func(b *testing.B) {
			old := setPath(p)
			defer setPath(old)
			benchGemm(b, Implementation{}.Sgemm)
		})
	}
}

var _ = fmt.Sprint

// BenchmarkSgemmDirect compares packed and in-place operand reading.
func BenchmarkSgemmDirect(b *testing.B) {
	for name, mode := range map[string]int{"always": directAlways, "never": directNever} {
		b.Run(name, func(b *testing.B) {
			directModeA, directModeB = mode, mode
			defer func() { directModeA, directModeB = directAuto, directAuto }()
			benchGemm(b, Implementation{}.Sgemm)
		})
	}
}
