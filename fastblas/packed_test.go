package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"

	"github.com/seqtask/seqtask/internal/race"
)

// packedGemm is Sgemm(NoTrans, Trans, ...) through a PackedMatrix made of b
// for the call, for checkGemm.
func packedGemm(_, _ blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	dense := make([]float32, n*k)
	for j := 0; j < n; j++ {
		copy(dense[j*k:(j+1)*k], b[j*ldb:j*ldb+k])
	}
	SgemmPacked(m, alpha, a, lda, NewPackedMatrix(n, k, dense), beta, c, ldc)
}

// packedGemmNoTrans is Sgemm(NoTrans, NoTrans, ...) through a PackedMatrix
// made of b for the call, for checkGemm.
func packedGemmNoTrans(_, _ blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	dense := make([]float32, k*n)
	for p := 0; p < k; p++ {
		copy(dense[p*n:(p+1)*n], b[p*ldb:p*ldb+n])
	}
	SgemmPackedNoTrans(m, alpha, a, lda, NewPackedMatrixNoTrans(k, n, dense), beta, c, ldc)
}

// TestSgemmPacked checks x·Wᵀ and x·W with W packed in advance against
// gonum on every kernel path: rows around the small-m kernels' limits and
// the packed kernel's minimum, columns around the micro-panel width, depths
// across kernel blocks, beta 0 over NaNs, and padded leading dimensions.
func TestSgemmPacked(t *testing.T) {
	rnd := rand.New(rand.NewPCG(21, 22))
	for _, op := range []struct {
		tB   blas.Transpose
		gemm func(_, _ blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	}{{blas.Trans, packedGemm}, {blas.NoTrans, packedGemmNoTrans}} {
		t.Run(fmt.Sprintf("B %c", op.tB), func(t *testing.T) {
			withPath(t, func(t *testing.T) {
				for _, m := range []int{1, 2, packedMinM - 1, packedMinM, 9, 13, 18, 20, 32, 47, 48, 100} {
					for _, n := range []int{1, 33, 300} {
						for _, k := range []int{7, 257, 600} {
							for _, ab := range [][2]float64{{1, 0}, {-2.25, 0.5}, {0, 3}} {
								tc := gemmCase{tA: blas.NoTrans, tB: op.tB, m: m, n: n, k: k, alpha: ab[0], beta: ab[1], padA: 3, padB: 1, padC: 2, nanC: ab[1] == 0}
								checkGemm(t, rnd, tc, op.gemm, ref.Sgemm)
							}
						}
					}
				}
			})
		})
	}
}

// TestPackedMatrixRefresh: a packed matrix multiplies with the values it was
// made from until Refresh packs their changes, in the memory it already
// holds; both operand layouts, on every kernel path, at a recurrent step's
// shape, which the packed form takes where the small-m kernels do not, and
// at batch 1 (the m = 1 layout, where there is one).
func TestPackedMatrixRefresh(t *testing.T) {
	rnd := rand.New(rand.NewPCG(25, 26))
	n, k := 300, 260
	a := randMat[float32](rnd, 64*max(n, k))
	withPath(t, func(t *testing.T) {
		for _, c := range []struct {
			m       int
			noTrans bool
		}{{64, false}, {64, true}, {1, false}} {
			m, noTrans := c.m, c.noTrans
			if sk := smallFor[float32](current.Load()); m == 1 && (sk == nil || sk.dotPanels == nil) {
				continue // the product reads W as it is
			}
			w := randMat[float32](rnd, n*k)
			pm, inner, outer := NewPackedMatrix(n, k, w), k, n
			if noTrans {
				pm = NewPackedMatrixNoTrans(k, n, w)
			}
			product := func(pm *PackedMatrix) []float32 {
				c := make([]float32, m*outer)
				if noTrans {
					SgemmPackedNoTrans(m, 1, a, inner, pm, 0, c, outer)
				} else {
					SgemmPacked(m, 1, a, inner, pm, 0, c, outer)
				}
				return c
			}
			// The reference packs the current values afresh: the same
			// kernel as pm's, so the same bits.
			want := func() []float32 {
				if noTrans {
					return product(NewPackedMatrixNoTrans(k, n, slices.Clone(w)))
				}
				return product(NewPackedMatrix(n, k, slices.Clone(w)))
			}
			check := func(what string, got, want []float32) {
				t.Helper()
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("m %d, noTrans %v, %s: element %d is %v, want %v", m, noTrans, what, i, got[i], want[i])
					}
				}
			}
			check("first product", product(pm), want())
			before := want()
			blocks := append([][]float32(nil), pm.blocks...)
			panels := pm.panels
			for i := range w {
				w[i] *= -0.5
			}
			check("changed, not refreshed", product(pm), before)
			pm.Refresh()
			check("refreshed", product(pm), want())
			for i := range blocks {
				if &blocks[i][0] != &pm.blocks[i][0] {
					t.Fatalf("noTrans %v: Refresh allocated block %d anew", noTrans, i)
				}
			}
			if panels != nil && &panels[0] != &pm.panels[0] {
				t.Fatalf("m = 1: Refresh laid the panels out in new memory")
			}
		}
	})
}

// TestSgemmPackedMatchesSgemm: the packed operand changes where W is read
// from, not the arithmetic, so the product has Sgemm's bits on the GEMM
// kernel it was packed for, on one core and split over two; and a matrix
// packed for one kernel path still multiplies correctly after another is
// chosen.
func TestSgemmPackedMatchesSgemm(t *testing.T) {
	rnd := rand.New(rand.NewPCG(23, 24))
	m, n, k := 64, 1000, 600
	a, w := randMat[float32](rnd, m*k), randMat[float32](rnd, n*k)
	pm := NewPackedMatrix(n, k, w)
	want := make([]float32, m*n)
	kp := current.Load()
	gemm(&kp.s, false, true, m, n, k, 1, a, k, w, k, 0, want, n)
	for _, threads := range []int{1, 2} {
		old := SetMaxThreads(threads)
		got := make([]float32, m*n)
		SgemmPacked(m, 1, a, k, pm, 0, got, n)
		SetMaxThreads(old)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%d threads: element %d is %v, Sgemm's kernel gives %v", threads, i, got[i], want[i])
			}
		}
	}
	for _, p := range availablePaths() {
		if registry[p] == kp {
			continue
		}
		t.Run("packed for "+kp.name+", run on "+p, func(t *testing.T) {
			old := setPath(p)
			defer setPath(old)
			got := make([]float32, m*n)
			SgemmPacked(m, 1, a, k, pm, 0, got, n)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
					t.Fatalf("element %d is %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestSgemmPackedOneRow checks the m = 1 layout (packPanels) bit for bit
// against Sgemm, whose dot tiles sum the same vectors in the same order:
// no rows, rows and columns that end inside a tile and a vector, alpha and
// beta, on one goroutine and halved with the spinning helper; its size; and
// that a product on one goroutine allocates nothing.
func TestSgemmPackedOneRow(t *testing.T) {
	if sk := smallFor[float32](current.Load()); sk == nil || sk.dotPanels == nil {
		t.Skip("no m = 1 panel kernel on this path")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	rnd := rand.New(rand.NewPCG(27, 28))
	for _, helperMin := range []int{math.MaxInt, 1} {
		old := spinMinWork
		spinMinWork = helperMin
		for _, n := range []int{0, 1, 8, 13, 64, 1030} {
			for _, k := range []int{1, 16, 17, 256, 300} {
				for _, ab := range [][2]float32{{1, 0}, {-2.25, 0.5}} {
					a, w := randMat[float32](rnd, k), randMat[float32](rnd, n*k)
					c := randMat[float32](rnd, n)
					want := slices.Clone(c)
					ldc := max(n, 1)
					Implementation{}.Sgemm(blas.NoTrans, blas.Trans, 1, n, k, ab[0], a, k, w, k, ab[1], want, ldc)
					got := slices.Clone(c)
					pm := NewPackedMatrix(n, k, w)
					SgemmPacked(1, ab[0], a, k, pm, ab[1], got, ldc)
					if size := (n + 7) / 8 * 8 * ((k + 15) / 16 * 16); n > 0 && len(pm.panels) != size {
						t.Fatalf("n %d, k %d: %d elements laid out, want %d (tiles of 8 rows of k padded to 16)", n, k, len(pm.panels), size)
					}
					for j := range got {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
							t.Fatalf("spinMinWork %d, n %d, k %d, alpha %g, beta %g: element %d is %v, Sgemm gives %v", helperMin, n, k, ab[0], ab[1], j, got[j], want[j])
						}
					}
				}
			}
		}
		spinMinWork = old
	}
	old := SetMaxThreads(1)
	defer SetMaxThreads(old)
	a, w, c := randMat[float32](rnd, 256), randMat[float32](rnd, 1024*256), make([]float32, 1024)
	pm := NewPackedMatrix(1024, 256, w)
	if allocs := testing.AllocsPerRun(20, func() { SgemmPacked(1, 1, a, 256, pm, 0, c, 1024) }); allocs != 0 {
		t.Errorf("one goroutine: %v allocations per product, want 0 (batch-1 steps allocate nothing)", allocs)
	}
}

// TestSgemvPackedBeside checks that a product with side work beside it
// gives SgemmPacked's bits and runs side exactly once when it reports
// that it ran (always, for the helper's products where there are panel
// kernels), and that the cut follows side's length: a side longer than the
// whole product leaves the helper all of W.
func TestSgemvPackedBeside(t *testing.T) {
	onTwoCores(t)
	rnd := rand.New(rand.NewPCG(29, 30))
	checkBeside(t, rnd, [][2]float32{{1, 0}, {-2.25, 0.5}, {0, 2}}, func(n, k int, w []float32) besideCase {
		pm := NewPackedMatrix(n, k, w)
		return besideCase{
			beside: func(side func(), alpha float32, a []float32, beta float32, c []float32) bool {
				return SgemvPackedBeside(side, alpha, a, pm, beta, c)
			},
			plain: func(alpha float32, a []float32, beta float32, c []float32) {
				SgemmPacked(1, alpha, a, max(k, 1), pm, beta, c, max(n, 1))
			},
			mustRun: func(alpha float32) bool { return n >= 2*panelRows && alpha != 0 && pm.panels != nil },
		}
	})
	if sk := smallFor[float32](current.Load()); sk == nil || sk.dotPanels == nil {
		t.Skip("no m = 1 panel kernel on this path: side runs before the product")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: the helper shares the caller's")
	}
	spinMinWork = 1
	const n, k = 1024, 256
	a, c := randMat[float32](rnd, k), make([]float32, n)
	pm := NewPackedMatrix(n, k, randMat[float32](rnd, n*k))
	long := func() { // several times the whole product's time
		for start := time.Now(); time.Since(start) < 200*time.Microsecond; {
		}
	}
	// Three tries: on a loaded machine the helper can be kept off its core
	// long enough for the caller to wait for it, which moves the cut back.
	var cut int32
	for range 3 {
		for range 3 * n / panelRows {
			SgemvPackedBeside(long, 1, a, pm, 0, c)
		}
		if cut = pm.besideCut.Load() - 1; cut <= n/panelRows/4 {
			break
		}
	}
	if cut > n/panelRows/4 {
		t.Errorf("after a long side, the caller still multiplies %d of %d tiles: the cut does not move to the helper", cut, n/panelRows)
	}
	// Through the helper, with or without a side, a product allocates
	// nothing (testing.AllocsPerRun would hold the test to one core).
	if race.Enabled {
		return // sync.Pool drops jobs at random
	}
	side := func() {}
	if allocs := steadyMallocs(100, func() {
		SgemvPackedBeside(side, 1, a, pm, 0, c)
		SgemmPacked(1, 1, a, k, pm, 0, c, n)
	}); allocs > poolMisses {
		t.Errorf("%d allocations in 200 products through the helper, want at most %d", allocs, poolMisses)
	}
}

// poolMisses bounds the allocations steadyMallocs may see on a path that
// allocates nothing in itself: a job taken from a sync.Pool is made anew
// when the goroutine has moved to another P since it put the last one back
// (about one window in thirty here, three allocations each). A path that
// allocates on every call makes a hundred or more.
const poolMisses = 6

// besideCase is a weight for checkBeside: its product beside a side, the
// same product alone, and whether, with the helper taking every product,
// the first must run.
type besideCase struct {
	beside  func(side func(), alpha float32, a []float32, beta float32, c []float32) bool
	plain   func(alpha float32, a []float32, beta float32, c []float32)
	mustRun func(alpha float32) bool
}

// checkBeside checks one-row products beside a side against the same
// products alone, bit for bit, over 20 calls (the cut moves between them)
// for each shape and (alpha, beta), alone and with the helper taking every
// product: side runs exactly once when the product reports that it ran,
// and it must run where mustRun says so.
func checkBeside(t *testing.T, rnd *rand.Rand, alphaBetas [][2]float32, weight func(n, k int, w []float32) besideCase) {
	t.Helper()
	old := spinMinWork
	defer func() { spinMinWork = old }()
	for _, helperMin := range []int{math.MaxInt, 1} {
		spinMinWork = helperMin
		for _, n := range []int{0, 1, 13, 64, 1030} {
			for _, k := range []int{1, 17, 256} {
				for _, ab := range alphaBetas {
					a, c := randMat[float32](rnd, k), randMat[float32](rnd, n)
					wc := weight(n, k, randMat[float32](rnd, n*k))
					want := slices.Clone(c)
					wc.plain(ab[0], a, ab[1], want)
					for call := range 20 {
						got, sides := slices.Clone(c), 0
						ran := wc.beside(func() { sides++ }, ab[0], a, ab[1], got)
						if ran != (sides == 1) || sides > 1 {
							t.Fatalf("spinMinWork %d, n %d, k %d: side ran %d times, reported %v", helperMin, n, k, sides, ran)
						}
						if !ran {
							if helperMin == 1 && wc.mustRun(ab[0]) {
								t.Fatalf("spinMinWork 1, n %d, k %d: not run beside the helper", n, k)
							}
							wc.plain(ab[0], a, ab[1], got)
						}
						for j := range got {
							if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
								t.Fatalf("spinMinWork %d, n %d, k %d, alpha %g, beta %g, call %d: element %d is %v, alone %v", helperMin, n, k, ab[0], ab[1], call, j, got[j], want[j])
							}
						}
					}
				}
			}
		}
	}
}

// steadyMallocs is the heap allocations of n calls of f after n calls
// more, counted over a window without a garbage collection (which empties
// the pools a path takes its storage from), with GOMAXPROCS as it is:
// testing.AllocsPerRun would hold a test to one core.
func steadyMallocs(n int, f func()) uint64 {
	var before, after runtime.MemStats
	for range n {
		f()
	}
	for range 5 {
		runtime.ReadMemStats(&before)
		for range n {
			f()
		}
		runtime.ReadMemStats(&after)
		if after.NumGC == before.NumGC {
			break
		}
	}
	return after.Mallocs - before.Mallocs
}

// TestBesidePanic checks that a side that panics unwinds the caller only
// once the helper is done with its share of the product: it must not write
// the caller's output after the caller has recovered.
func TestBesidePanic(t *testing.T) {
	if sk := smallFor[float32](current.Load()); sk == nil || sk.dotPanels == nil || runtime.NumCPU() < 2 {
		t.Skip("no m = 1 panel kernel or one CPU: nothing runs beside")
	}
	onTwoCores(t)
	spinMinWork = 1
	rnd := rand.New(rand.NewPCG(35, 36))
	const n, k = 1024, 256
	a, pm := randMat[float32](rnd, k), NewPackedMatrix(n, k, randMat[float32](rnd, n*k))
	for i := range 50 {
		c := make([]float32, n)
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("the side's panic did not reach the caller")
				}
			}()
			SgemvPackedBeside(func() { panic("side") }, 1, a, pm, 0, c)
		}()
		seen := slices.Clone(c)
		for start := time.Now(); time.Since(start) < 100*time.Microsecond; {
		}
		if !slices.Equal(c, seen) {
			t.Fatalf("call %d: the helper wrote the output after the caller had recovered", i)
		}
	}
}

// TestSgemvBF16Beside checks SgemvBF16Beside as TestSgemvPackedBeside
// checks SgemvPackedBeside: SgemmBF16's bits whatever the cut, side run
// exactly once when it reports that it ran (always, for the helper's
// products where there are bfloat16 instructions), and no allocation.
func TestSgemvBF16Beside(t *testing.T) {
	onTwoCores(t)
	rnd := rand.New(rand.NewPCG(33, 34))
	checkBeside(t, rnd, [][2]float32{{1, 0}, {-2.25, 0.5}}, func(n, k int, wv []float32) besideCase {
		w := NewBF16Matrix(n, k, wv)
		return besideCase{
			beside: func(side func(), alpha float32, a []float32, beta float32, c []float32) bool {
				return SgemvBF16Beside(side, alpha, a, w, beta, c)
			},
			plain: func(alpha float32, a []float32, beta float32, c []float32) {
				SgemmBF16(1, alpha, a, max(k, 1), w, beta, c, max(n, 1))
			},
			mustRun: func(float32) bool { return n >= 16 && w.data != nil && !w.wideOnly },
		}
	})
	spinMinWork = 1
	a, c := randMat[float32](rnd, 256), make([]float32, 1024)
	w := NewBF16Matrix(1024, 256, randMat[float32](rnd, 1024*256))
	if race.Enabled || !SgemvBF16Beside(func() {}, 1, a, w, 0, c) {
		return // sync.Pool drops jobs at random under -race; elsewhere nothing runs beside
	}
	side := func() {}
	if allocs := steadyMallocs(100, func() {
		SgemvBF16Beside(side, 1, a, w, 0, c)
		SgemmBF16(1, 1, a, 256, w, 0, c, 1024)
	}); allocs > poolMisses {
		t.Errorf("%d allocations in 200 products through the helper, want at most %d", allocs, poolMisses)
	}
}

// BenchmarkSgemmPacked compares x·Wᵀ at a translation search's shapes
// (output layer of 3,000 words for 64 sentences and for 64 beams of 5; a
// GRU step's gates; Luong's combination layer) through Sgemm, which packs
// or reads W in place on every call, and through a PackedMatrix.
func BenchmarkSgemmPacked(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{64, 3000, 256}, {320, 3000, 256}, {160, 3000, 256}, {32, 3000, 256}, {64, 768, 256}, {64, 256, 512}, {16, 3000, 256}, {1, 1024, 256}, {1, 768, 256}} {
		rnd := rand.New(rand.NewPCG(1, 1))
		a, w := randMat[float32](rnd, s.m*s.k), randMat[float32](rnd, s.n*s.k)
		c := make([]float32, s.m*s.n)
		flops := 2 * float64(s.m*s.n*s.k)
		name := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		b.Run(name+"/sgemm", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Implementation{}.Sgemm(blas.NoTrans, blas.Trans, s.m, s.n, s.k, 1, a, s.k, w, s.k, 0, c, s.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		pm := NewPackedMatrix(s.n, s.k, w)
		b.Run(name+"/packed", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				SgemmPacked(s.m, 1, a, s.k, pm, 0, c, s.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
