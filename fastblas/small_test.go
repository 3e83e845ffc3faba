package fastblas

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// smallCases covers the small-m paths: every m in 1..8 plus 31, 33 and 64,
// odd and even n and k (including k not a multiple of the vector width and
// n not a multiple of the tile), all transposes, padded leading dimensions
// and alpha/beta including 0 with NaN-filled C.
func smallCases(rnd *rand.Rand) []gemmCase {
	var cases []gemmCase
	ms := []int{1, 2, 3, 4, 5, 6, 7, 8, 31, 33, 64}
	nks := []int{1, 2, 7, 8, 15, 16, 17, 63, 64, 65, 130}
	for _, m := range ms {
		for i := 0; i < 12; i++ {
			n, k := nks[rnd.IntN(len(nks))], nks[rnd.IntN(len(nks))]
			if i == 0 {
				n, k = 257, 67 // more than one axpy panel and dot block
			}
			tc := gemmCase{tA: trans[rnd.IntN(2)], tB: trans[rnd.IntN(2)], m: m, n: n, k: k,
				alpha: alphas[rnd.IntN(len(alphas)-1)], beta: betas[rnd.IntN(len(betas))],
				padA: rnd.IntN(3) * rnd.IntN(5), padB: rnd.IntN(3) * rnd.IntN(5), padC: rnd.IntN(3) * rnd.IntN(5)}
			tc.nanC = tc.beta == 0 && i%2 == 0
			cases = append(cases, tc)
		}
	}
	return cases
}

func TestSmallGemm(t *testing.T) {
	for _, p := range availablePaths() {
		t.Run(p, func(t *testing.T) {
			old := setPath(p)
			defer setPath(old)
			smallMode = smallAlways
			defer func() { smallMode = smallAuto }()
			for _, workers := range []int{1, 0} {
				oldMin, oldW := smallParallelMin, maxWorkers
				smallParallelMin, maxWorkers = 1, workers
				rnd := rand.New(rand.NewPCG(11, uint64(workers)))
				for _, tc := range smallCases(rnd) {
					checkGemm(t, rnd, tc, Implementation{}.Sgemm, ref.Sgemm)
					checkGemm(t, rnd, tc, Implementation{}.Dgemm, ref.Dgemm)
				}
				smallParallelMin, maxWorkers = oldMin, oldW
			}
		})
	}
}

// TestSmallDeterminism checks that the small-m paths give bitwise identical
// results between calls and for any number of workers.
func TestSmallDeterminism(t *testing.T) {
	for _, p := range availablePaths() {
		t.Run(p, func(t *testing.T) {
			old := setPath(p)
			defer setPath(old)
			rnd := rand.New(rand.NewPCG(13, 14))
			for _, sh := range [][3]int{{1, 1030, 257}, {4, 513, 300}, {32, 1024, 256}, {33, 200, 77}} {
				m, n, k := sh[0], sh[1], sh[2]
				a := randMat[float32](rnd, m*k)
				b := randMat[float32](rnd, k*n)
				c0 := randMat[float32](rnd, m*n)
				ad, bd, cd := toF64(a), toF64(b), toF64(c0)
				run := func(workers, minWork int) ([]float32, []float64) {
					oldW, oldMin := maxWorkers, smallParallelMin
					maxWorkers, smallParallelMin = workers, minWork
					defer func() { maxWorkers, smallParallelMin = oldW, oldMin }()
					c := append([]float32(nil), c0...)
					Implementation{}.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1.5, a, k, b, k, 0.25, c, n)
					Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 1, c, n)
					d := append([]float64(nil), cd...)
					Implementation{}.Dgemm(blas.NoTrans, blas.Trans, m, n, k, 1.5, ad, k, bd, k, 0.25, d, n)
					Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, ad, k, bd, n, 1, d, n)
					return c, d
				}
				s1, d1 := run(0, smallParallelMin)
				for _, wm := range [][2]int{{0, smallParallelMin}, {1, 1}, {2, 1}, {3, 1}} {
					s2, d2 := run(wm[0], wm[1])
					for i := range s1 {
						if math.Float32bits(s1[i]) != math.Float32bits(s2[i]) || math.Float64bits(d1[i]) != math.Float64bits(d2[i]) {
							t.Fatalf("shape %v workers %v: element %d differs", sh, wm, i)
						}
					}
				}
			}
		})
	}
}

func toF64(s []float32) []float64 {
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// TestDotRowsMatchesTiles checks that the looped m = 1 kernel (dotRows)
// gives bitwise the results of calling the 1×8 tile per block of 8 columns,
// including k not a multiple of the vector width, padded rows of B and
// every alpha/beta.
func TestDotRowsMatchesTiles(t *testing.T) {
	kp := registry[pathAVX512]
	if kp == nil || kp.sSmallM == nil || kp.sSmallM.dotRows == nil {
		t.Skip("no AVX-512 small-m kernels on this CPU")
	}
	rnd := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{8, 16, 64, 1024} {
		for _, k := range []int{1, 15, 16, 17, 64, 256, 257} {
			for _, ab := range [][2]float64{{1, 1}, {1, 0}, {-0.5, 2}} {
				ldb := k + rnd.IntN(3)
				testDotRows(t, kp.sSmallM, rnd, n, k, ldb, float32(ab[0]), float32(ab[1]))
				testDotRows(t, kp.dSmallM, rnd, n, k, ldb, ab[0], ab[1])
			}
		}
	}
}

func testDotRows[T float](t *testing.T, sk *smallKernels[T], rnd *rand.Rand, n, k, ldb int, alpha, beta T) {
	t.Helper()
	a := randMat[T](rnd, k)
	b := randMat[T](rnd, (n-1)*ldb+k)
	c0 := randMat[T](rnd, n)
	want := append([]T(nil), c0...)
	for j := 0; j < n; j += 8 {
		sk.dot1x8(k, &a[0], k, &b[j*ldb], ldb, &want[j], n, alpha, beta, 1, 8)
	}
	got := append([]T(nil), c0...)
	sk.dotRows(k, &a[0], k, &b[0], ldb, &got[0], n, alpha, beta, 1, n)
	for j := range want {
		if got[j] != want[j] {
			t.Fatalf("n %d k %d ldb %d alpha %v beta %v: element %d = %v, want %v", n, k, ldb, alpha, beta, j, got[j], want[j])
		}
	}
}

// TestGemmSmallN: weight-gradient products Aᵀ·B with few columns, taken
// as their transpose through the small-m path, equal the reference
// (alpha, beta, padded operands, NaNs in C under beta 0), and shapes
// outside the rule are left to the blocked GEMM.
func TestGemmSmallN(t *testing.T) {
	if current.Load().sSmallM == nil {
		t.Skip("no small-m kernels on this CPU or build")
	}
	rnd := rand.New(rand.NewPCG(41, 42))
	take := []gemmCase{
		{tA: blas.Trans, tB: blas.NoTrans, m: 256, n: 32, k: 1024, alpha: 1, beta: 0},
		{tA: blas.Trans, tB: blas.NoTrans, m: 130, n: 5, k: 70, alpha: -0.5, beta: 1.5, padA: 3, padB: 2, padC: 1},
		{tA: blas.Trans, tB: blas.NoTrans, m: 300, n: 17, k: 129, alpha: 2, beta: 0, padC: 3, nanC: true},
		{tA: blas.Trans, tB: blas.NoTrans, m: 128, n: 1, k: 9, alpha: 1, beta: 1},
	}
	sk := current.Load().sSmallM
	for _, tc := range take {
		checkGemm(t, rnd, tc, Implementation{}.Sgemm, ref.Sgemm)
		if !sk.use(false, tc.n, tc.k) {
			continue // these kernels (pure Go: m ≤ 4) cannot take Cᵀ
		}
		checkGemm(t, rnd, tc, func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			if !gemmSmallN(sk, tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
				t.Fatalf("%v: not taken", tc)
			}
		}, ref.Sgemm)
	}
	for _, tc := range []gemmCase{
		{tA: blas.Trans, tB: blas.NoTrans, m: 127, n: 32, k: 64},    // few rows
		{tA: blas.Trans, tB: blas.NoTrans, m: 256, n: 33, k: 64},    // many columns
		{tA: blas.Trans, tB: blas.NoTrans, m: 1024, n: 32, k: 2048}, // A beyond L2
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 256, n: 32, k: 64},  // A as stored
		{tA: blas.Trans, tB: blas.Trans, m: 256, n: 32, k: 64},
	} {
		a, b, c := make([]float32, tc.m*tc.k), make([]float32, tc.k*tc.n), make([]float32, tc.m*tc.n)
		lda, ldb := tc.k, tc.n
		if tc.tA != blas.NoTrans {
			lda = tc.m
		}
		if tc.tB != blas.NoTrans {
			ldb = tc.k
		}
		if gemmSmallN(sk, tc.tA != blas.NoTrans, tc.tB != blas.NoTrans, tc.m, tc.n, tc.k, 1, a, lda, b, ldb, 0, c, tc.n) {
			t.Errorf("%v: taken, want the blocked GEMM", tc)
		}
	}
}
