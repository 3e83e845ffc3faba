package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

var ref gonum.Implementation

// withPath runs f once per kernel path available on this machine.
func withPath(t *testing.T, f func(t *testing.T)) {
	for _, p := range availablePaths() {
		t.Run(p, func(t *testing.T) {
			old := setPath(p)
			defer setPath(old)
			f(t)
		})
	}
	// Operands read in place (always / never) with the default kernels.
	for name, mode := range map[string]int{"direct": directAlways, "packed": directNever} {
		t.Run(name, func(t *testing.T) {
			directModeA, directModeB = mode, mode
			defer func() { directModeA, directModeB = directAuto, directAuto }()
			f(t)
		})
	}
	// Small-m paths forced for every shape, and disabled.
	for name, mode := range map[string]int{"small": smallAlways, "nosmall": smallNever} {
		t.Run(name, func(t *testing.T) {
			smallMode = mode
			defer func() { smallMode = smallAuto }()
			f(t)
		})
	}
	if asmPack {
		// The default kernels with the portable Go packing routines.
		t.Run("gopack", func(t *testing.T) {
			asmPack = false
			defer func() { asmPack = true }()
			f(t)
		})
	}
}

type gemmCase struct {
	tA, tB      blas.Transpose
	m, n, k     int
	alpha, beta float64
	padA, padB  int // extra leading-dimension elements
	padC        int
	nanC        bool // fill C with NaN (only meaningful with beta == 0)
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("%c%c m=%d n=%d k=%d alpha=%v beta=%v pad=%d/%d/%d nanC=%v",
		tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC, tc.nanC)
}

func randMat[T float](rnd *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rnd.Float64()*2 - 1)
	}
	return s
}

func abs[T float](s []T) []T {
	r := make([]T, len(s))
	for i, v := range s {
		r[i] = T(math.Abs(float64(v)))
	}
	return r
}

const sentinel = 12345.5

// checkGemm runs one case through gemmFn and the reference and compares them
// with a rigorous forward error bound: |got-want| ≤ c·(k+2)·u·(|α||A||B| + |β||C|).
func checkGemm[T float](t *testing.T, rnd *rand.Rand, tc gemmCase,
	gemmFn, refFn func(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)) {
	t.Helper()
	m, n, k := tc.m, tc.n, tc.k
	ar, ac := m, k
	if tc.tA != blas.NoTrans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tc.tB != blas.NoTrans {
		br, bc = n, k
	}
	lda, ldb, ldc := max(1, ac+tc.padA), max(1, bc+tc.padB), n+tc.padC
	a := randMat[T](rnd, ar*lda)
	b := randMat[T](rnd, br*ldb)
	c := randMat[T](rnd, m*ldc)
	for i := 0; i < m; i++ {
		for j := n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	if tc.nanC {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				c[i*ldc+j] = T(math.NaN())
			}
		}
	}
	want := append([]T(nil), c...)
	bound := abs(c)
	if tc.nanC {
		// gonum's reference zeroes C for beta == 0.
		clear(bound)
	}
	alpha, beta := T(tc.alpha), T(tc.beta)
	refFn(tc.tA, tc.tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
	refFn(tc.tA, tc.tB, m, n, k, T(math.Abs(tc.alpha)), abs(a), lda, abs(b), ldb, T(math.Abs(tc.beta)), bound, ldc)
	got := append([]T(nil), c...)
	gemmFn(tc.tA, tc.tB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
	u := math.Pow(2, -53)
	var z T
	if _, ok := any(z).(float32); ok {
		u = math.Pow(2, -24)
	}
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			idx := i*ldc + j
			g, w := float64(got[idx]), float64(want[idx])
			if j >= n {
				if g != sentinel {
					t.Fatalf("%v: wrote outside C at (%d,%d): %v", tc, i, j, g)
				}
				continue
			}
			tol := 4 * float64(k+2) * u * float64(bound[idx])
			if math.IsNaN(g) || math.Abs(g-w) > tol {
				t.Fatalf("%v: C[%d,%d] = %v, want %v (tol %g)", tc, i, j, g, w, tol)
			}
		}
	}
}

var (
	dims   = []int{1, 2, 7, 16, 33, 65, 257}
	trans  = []blas.Transpose{blas.NoTrans, blas.Trans}
	alphas = []float64{1, -1, 0.5, -2.25, 0}
	betas  = []float64{0, 1, -1, 0.5, 3}
)

// gemmCases returns every small-dimension combination (≤ 33) with all
// transposes plus a random sample of combinations involving 65 and 257.
func gemmCases(rnd *rand.Rand, sample int) []gemmCase {
	var cases []gemmCase
	pick := func(s []float64) float64 { return s[rnd.IntN(len(s))] }
	add := func(m, n, k int, tA, tB blas.Transpose) {
		tc := gemmCase{tA: tA, tB: tB, m: m, n: n, k: k, alpha: pick(alphas), beta: pick(betas),
			padA: rnd.IntN(3) * rnd.IntN(5), padB: rnd.IntN(3) * rnd.IntN(5), padC: rnd.IntN(3) * rnd.IntN(5)}
		if tc.beta == 0 && rnd.IntN(2) == 0 {
			tc.nanC = true
		}
		cases = append(cases, tc)
	}
	small := dims[:5]
	for _, m := range small {
		for _, n := range small {
			for _, k := range small {
				for _, tA := range trans {
					for _, tB := range trans {
						add(m, n, k, tA, tB)
					}
				}
			}
		}
	}
	for nsmall := len(cases); len(cases) < nsmall+sample; {
		m, n, k := dims[rnd.IntN(len(dims))], dims[rnd.IntN(len(dims))], dims[rnd.IntN(len(dims))]
		if m < 65 && n < 65 && k < 65 {
			continue
		}
		add(m, n, k, trans[rnd.IntN(2)], trans[rnd.IntN(2)])
	}
	return cases
}

func TestSgemm(t *testing.T) {
	withPath(t, func(t *testing.T) {
		rnd := rand.New(rand.NewPCG(1, 2))
		for _, tc := range gemmCases(rnd, 80) {
			checkGemm(t, rnd, tc, Implementation{}.Sgemm, ref.Sgemm)
		}
	})
}

func TestDgemm(t *testing.T) {
	withPath(t, func(t *testing.T) {
		rnd := rand.New(rand.NewPCG(3, 4))
		for _, tc := range gemmCases(rnd, 80) {
			checkGemm(t, rnd, tc, Implementation{}.Dgemm, ref.Dgemm)
		}
	})
}

// TestGemmLarge covers multiple cache blocks in every dimension (k > kc,
// m > mc, n > nc for the smaller kernels) and the multi-worker path.
func TestGemmLarge(t *testing.T) {
	withPath(t, func(t *testing.T) {
		rnd := rand.New(rand.NewPCG(5, 6))
		for _, tc := range []gemmCase{
			{tA: blas.NoTrans, tB: blas.NoTrans, m: 150, n: 300, k: 530, alpha: 1, beta: 0.5, padA: 3, padB: 1, padC: 2},
			{tA: blas.Trans, tB: blas.Trans, m: 300, n: 70, k: 300, alpha: -0.5, beta: 0, nanC: true},
			{tA: blas.Trans, tB: blas.NoTrans, m: 20, n: 4200, k: 260, alpha: 2, beta: 1},
		} {
			checkGemm(t, rnd, tc, Implementation{}.Sgemm, ref.Sgemm)
			checkGemm(t, rnd, tc, Implementation{}.Dgemm, ref.Dgemm)
		}
	})
}

// TestDeterminism checks that results are bitwise reproducible between
// calls and independent of the number of worker goroutines.
func TestDeterminism(t *testing.T) {
	withPath(t, func(t *testing.T) {
		rnd := rand.New(rand.NewPCG(7, 8))
		for _, sh := range [][3]int{{257, 1000, 300}, {33, 1030, 257}, {1000, 40, 513}} {
			m, n, k := sh[0], sh[1], sh[2]
			a := randMat[float32](rnd, m*k)
			b := randMat[float32](rnd, k*n)
			c0 := randMat[float32](rnd, m*n)
			run := func(workers int) []float32 {
				old := maxWorkers
				maxWorkers = workers
				defer func() { maxWorkers = old }()
				c := append([]float32(nil), c0...)
				Implementation{}.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1.5, a, k, b, k, 0.25, c, n)
				// Transposed layout of the same data as a second check.
				Implementation{}.Sgemm(blas.Trans, blas.NoTrans, m, n, k, 1, a, m, b, n, 1, c, n)
				return c
			}
			r1, r2, r3, r4 := run(0), run(0), run(1), run(4)
			for i := range r1 {
				b1 := math.Float32bits(r1[i])
				if b1 != math.Float32bits(r2[i]) || b1 != math.Float32bits(r3[i]) || b1 != math.Float32bits(r4[i]) {
					t.Fatalf("shape %v: element %d differs: %v %v %v %v", sh, i, r1[i], r2[i], r3[i], r4[i])
				}
			}
			ad := make([]float64, m*k)
			bd := make([]float64, k*n)
			for i := range ad {
				ad[i] = float64(a[i])
			}
			for i := range bd {
				bd[i] = float64(b[i])
			}
			d1 := make([]float64, m*n)
			d2 := make([]float64, m*n)
			Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, ad, k, bd, n, 0, d1, n)
			maxWorkers = 1
			Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, ad, k, bd, n, 0, d2, n)
			maxWorkers = 0
			for i := range d1 {
				if math.Float64bits(d1[i]) != math.Float64bits(d2[i]) {
					t.Fatalf("Dgemm shape %v: element %d differs", sh, i)
				}
			}
		}
	})
}

func panicMsg(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

func TestGemmPanics(t *testing.T) {
	a := make([]float32, 100)
	ad := make([]float64, 100)
	type args struct {
		tA, tB        blas.Transpose
		m, n, k       int
		lda, ldb, ldc int
		la, lb, lc    int
		alpha, beta   float64
		name          string
	}
	for _, x := range []args{
		{name: "badTransA", tA: 'X', tB: blas.NoTrans, m: 2, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2, la: 4, lb: 4, lc: 4, alpha: 1},
		{name: "badTransB", tA: blas.NoTrans, tB: 0, m: 2, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2, la: 4, lb: 4, lc: 4, alpha: 1},
		{name: "m<0", tA: blas.NoTrans, tB: blas.NoTrans, m: -1, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2, la: 4, lb: 4, lc: 4, alpha: 1},
		{name: "n<0", tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: -1, k: 2, lda: 2, ldb: 2, ldc: 2, la: 4, lb: 4, lc: 4, alpha: 1},
		{name: "k<0", tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: -1, lda: 2, ldb: 2, ldc: 2, la: 4, lb: 4, lc: 4, alpha: 1},
		{name: "lda", tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: 3, lda: 2, ldb: 2, ldc: 2, la: 9, lb: 9, lc: 9, alpha: 1},
		{name: "ldaT", tA: blas.Trans, tB: blas.NoTrans, m: 3, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2, la: 9, lb: 9, lc: 9, alpha: 1},
		{name: "ldb", tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, lda: 2, ldb: 2, ldc: 3, la: 9, lb: 9, lc: 9, alpha: 1},
		{name: "ldc", tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, lda: 2, ldb: 3, ldc: 2, la: 9, lb: 9, lc: 9, alpha: 1},
		{name: "shortA", tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2, la: 3, lb: 4, lc: 4, alpha: 1},
		{name: "shortB", tA: blas.NoTrans, tB: blas.Trans, m: 2, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2, la: 4, lb: 3, lc: 4, alpha: 1},
		{name: "shortC", tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2, la: 4, lb: 4, lc: 3, alpha: 1},
		{name: "shortC-alpha0", tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2, la: 4, lb: 4, lc: 3, alpha: 0, beta: 1},
	} {
		want := panicMsg(func() {
			ref.Sgemm(x.tA, x.tB, x.m, x.n, x.k, float32(x.alpha), a[:x.la], x.lda, a[:x.lb], x.ldb, float32(x.beta), a[:x.lc], x.ldc)
		})
		if want == "" {
			t.Fatalf("%s: reference did not panic", x.name)
		}
		got := panicMsg(func() {
			Implementation{}.Sgemm(x.tA, x.tB, x.m, x.n, x.k, float32(x.alpha), a[:x.la], x.lda, a[:x.lb], x.ldb, float32(x.beta), a[:x.lc], x.ldc)
		})
		if got != want {
			t.Errorf("Sgemm %s: panic %q, want %q", x.name, got, want)
		}
		got = panicMsg(func() {
			Implementation{}.Dgemm(x.tA, x.tB, x.m, x.n, x.k, x.alpha, ad[:x.la], x.lda, ad[:x.lb], x.ldb, x.beta, ad[:x.lc], x.ldc)
		})
		if got != want {
			t.Errorf("Dgemm %s: panic %q, want %q", x.name, got, want)
		}
	}
}

func TestInstall(t *testing.T) {
	old32, old64 := blas32.Implementation(), blas64.Implementation()
	defer blas32.Use(old32)
	defer blas64.Use(old64)
	Install()
	if _, ok := blas32.Implementation().(Implementation); !ok {
		t.Errorf("blas32 implementation is %T", blas32.Implementation())
	}
	if _, ok := blas64.Implementation().(Implementation); !ok {
		t.Errorf("blas64 implementation is %T", blas64.Implementation())
	}
	t.Logf("kernels: %s, paths %v", KernelName(), availablePaths())
}

func FuzzSgemm(f *testing.F) {
	f.Add(uint8(7), uint8(33), uint8(16), false, true, float32(1), float32(0), uint8(0), uint64(1))
	f.Add(uint8(65), uint8(1), uint8(2), true, false, float32(-2), float32(0.5), uint8(3), uint64(2))
	f.Add(uint8(13), uint8(40), uint8(255), true, true, float32(0.25), float32(1), uint8(9), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k uint8, ta, tb bool, alpha, beta float32, pad uint8, seed uint64) {
		if m == 0 || n == 0 {
			return
		}
		fin := func(v float32) float64 {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e6 {
				return 1
			}
			return float64(v)
		}
		tc := gemmCase{m: int(m), n: int(n), k: int(k), tA: blas.NoTrans, tB: blas.NoTrans,
			alpha: fin(alpha), beta: fin(beta), padA: int(pad & 3), padB: int(pad>>2) & 3, padC: int(pad>>4) & 3}
		if ta {
			tc.tA = blas.Trans
		}
		if tb {
			tc.tB = blas.Trans
		}
		tc.nanC = tc.beta == 0 && pad&0x80 != 0
		rnd := rand.New(rand.NewPCG(seed, 1))
		checkGemm(t, rnd, tc, Implementation{}.Sgemm, ref.Sgemm)
	})
}

// TestSetMaxThreads: the cap limits the goroutines of a call, never
// below one, is lifted by 0, and leaves results bitwise unchanged.
func TestSetMaxThreads(t *testing.T) {
	defer SetMaxThreads(SetMaxThreads(0))
	const big = parallelMinFlops
	if got := callWorkers(big, big); got != runtime.GOMAXPROCS(0) {
		t.Fatalf("uncapped: %d workers, want GOMAXPROCS %d", got, runtime.GOMAXPROCS(0))
	}
	if old := SetMaxThreads(1); old != 0 {
		t.Errorf("previous cap %d, want 0", old)
	}
	if got := callWorkers(big, big); got != 1 {
		t.Errorf("capped at 1: %d workers", got)
	}
	if got := callWorkers(1, big); got != 1 {
		t.Errorf("small work: %d workers", got)
	}
	rnd := rand.New(rand.NewPCG(3, 3))
	m, n, k := 96, 512, 256
	a, b := randMat[float32](rnd, m*k), randMat[float32](rnd, k*n)
	capped := make([]float32, m*n)
	Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, capped, n)
	if old := SetMaxThreads(-3); old != 1 {
		t.Errorf("previous cap %d, want 1", old)
	}
	free := make([]float32, m*n)
	Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, free, n)
	if !slices.Equal(capped, free) {
		t.Error("results differ with and without the cap")
	}
}
