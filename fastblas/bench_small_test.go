package fastblas

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// smallMShapes are the recurrent-network GEMMs with few rows: batch-1
// sampling (m = 1) and per-time-step products with a fixed weight (m = 32).
func smallMShapes() []struct {
	tB      blas.Transpose
	m, n, k int
} {
	var s []struct {
		tB      blas.Transpose
		m, n, k int
	}
	add := func(tB blas.Transpose, m, n, k int) {
		s = append(s, struct {
			tB      blas.Transpose
			m, n, k int
		}{tB, m, n, k})
	}
	for _, m := range []int{1, 4, 32, 64} {
		for _, nk := range [][2]int{{1024, 256}, {65, 256}, {1024, 64}, {2048, 512}, {256, 1024}, {512, 2048}} {
			add(blas.Trans, m, nk[0], nk[1])
			add(blas.NoTrans, m, nk[0], nk[1])
		}
	}
	return s
}

func benchSmallM[T float](b *testing.B, f gemmFn[T]) {
	for _, s := range smallMShapes() {
		b.Run(fmt.Sprintf("m%d_n%d_k%d_N%c", s.m, s.n, s.k, s.tB), func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(1, 1))
			ldb := s.n
			if s.tB != blas.NoTrans {
				ldb = s.k
			}
			a := randMat[T](rnd, s.m*s.k)
			bb := randMat[T](rnd, s.k*s.n)
			c := randMat[T](rnd, s.m*s.n)
			for b.Loop() {
				f(blas.NoTrans, s.tB, s.m, s.n, s.k, 1, a, s.k, bb, ldb, 1, c, s.n)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmSmallM covers m ∈ {1, 4, 32, 64} with both layouts of B.
func BenchmarkSgemmSmallM(b *testing.B) { benchSmallM(b, Implementation{}.Sgemm) }
func BenchmarkDgemmSmallM(b *testing.B) { benchSmallM(b, Implementation{}.Dgemm) }

// BenchmarkSgemmSmallMModes compares the small-m paths with the packed GEMM
// (smallNever) and, for the small-m paths, one worker against the default.
func BenchmarkSgemmSmallMModes(b *testing.B) {
	for _, mode := range []struct {
		name    string
		small   int
		workers int
	}{{"small", smallAlways, 0}, {"small1", smallAlways, 1}, {"packed", smallNever, 0}} {
		b.Run(mode.name, func(b *testing.B) {
			oldMode, oldW := smallMode, maxWorkers
			smallMode, maxWorkers = mode.small, mode.workers
			defer func() { smallMode, maxWorkers = oldMode, oldW }()
			benchSmallM(b, Implementation{}.Sgemm)
		})
	}
}

// BenchmarkSgemmSmallMPaths compares, for every kernel path, the small-m
// tiles with the packed GEMM at m = 1 and m = 4 (one worker).
func BenchmarkSgemmSmallMPaths(b *testing.B) {
	for _, p := range availablePaths() {
		for _, mode := range []struct {
			name string
			v    int
		}{{"small", smallAlways}, {"packed", smallNever}} {
			b.Run(p+"/"+mode.name, func(b *testing.B) {
				old := setPath(p)
				oldMode, oldW := smallMode, maxWorkers
				smallMode, maxWorkers = mode.v, 1
				defer func() { setPath(old); smallMode, maxWorkers = oldMode, oldW }()
				for _, s := range smallMShapes() {
					if s.m > 4 || s.n != 1024 {
						continue
					}
					b.Run(fmt.Sprintf("m%d_n%d_k%d_N%c", s.m, s.n, s.k, s.tB), func(b *testing.B) {
						rnd := rand.New(rand.NewPCG(1, 1))
						ldb := s.n
						if s.tB != blas.NoTrans {
							ldb = s.k
						}
						a := randMat[float32](rnd, s.m*s.k)
						bb := randMat[float32](rnd, s.k*s.n)
						c := randMat[float32](rnd, s.m*s.n)
						for b.Loop() {
							Implementation{}.Sgemm(blas.NoTrans, s.tB, s.m, s.n, s.k, 1, a, s.k, bb, ldb, 1, c, s.n)
						}
					})
				}
			})
		}
	}
}

// BenchmarkSgemmSmallN compares the transposed small-m path (gemmSmallN)
// with the blocked GEMM on weight-gradient shapes Aᵀ·B with few columns.
func BenchmarkSgemmSmallN(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{256, 32, 1024}, {1024, 32, 2048}, {512, 16, 512}, {128, 32, 256}, {3000, 32, 704}, {1024, 64, 2048}} {
		for _, mode := range []struct {
			name  string
			small int
		}{{"transposed", smallAuto}, {"blocked", smallNever}} {
			b.Run(fmt.Sprintf("%dx%dx%d_TN/%s", s.m, s.n, s.k, mode.name), func(b *testing.B) {
				old := smallMode
				smallMode = mode.small
				defer func() { smallMode = old }()
				rnd := rand.New(rand.NewPCG(1, 1))
				a, bb, c := randMat[float32](rnd, s.k*s.m), randMat[float32](rnd, s.k*s.n), make([]float32, s.m*s.n)
				for b.Loop() {
					Implementation{}.Sgemm(blas.Trans, blas.NoTrans, s.m, s.n, s.k, 1, a, s.m, bb, s.n, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
