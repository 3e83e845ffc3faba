package fastblas

import (
	"sync"
	"unsafe"
)

// Small-m paths. When op(A) has only a few rows, packing op(B) (which the
// blocked GEMM does on every call) costs as much as the multiplication, so
// these paths read both operands in place:
//
//   - transposed B (C[i,j] = Σ_p A[i,p]·B[j,p], rows of A and B contiguous):
//     register-blocked dot-product tiles (1×8, 2×8, 4×4 outputs) with one
//     vector accumulator per output and a horizontal sum at the end;
//   - non-transposed B (C[i,:] += A[i,p]·B[p,:]): axpy tiles of up to 4 rows
//     of C × 4 vectors of columns, broadcasting A[i,p] over rows of B.
//
// A transposed A is first copied into a contiguous m×k block.

// dotTileFunc and axpyTileFunc are the tile contracts described in
// small_amd64.go.
type (
	dotTileFunc[T float]   func(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, alpha, beta T, mrows, ncols int)
	axpyTileFunc[T float]  func(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, alpha, beta T, mask uint64)
	dotPanelsFunc[T float] func(k int, a *T, b *T, tile int, c *T, alpha, beta T, ncols int)
)

type smallKernels[T float] struct {
	name                   string
	dot1x8, dot2x8, dot4x4 dotTileFunc[T]
	// dotRows, when not nil, is dot1x8 looped over a multiple of 8
	// columns in one call (m = 1 products: no call per tile).
	dotRows dotTileFunc[T]
	// dotPanels, when not nil, is dotRows over B packed in panels of 8
	// rows (PackedMatrix.panels): the m = 1 products of a weight packed
	// once.
	dotPanels dotPanelsFunc[T]
	axpy      [4]axpyTileFunc[T] // by number of rows - 1
	width     int                // columns per axpy tile (≤ 64)
	// dotMaxM and axpyMaxM are the largest m routed to the dot (transposed
	// B) and axpy (non-transposed B) paths; dotMaxMLongK applies instead of
	// dotMaxM when k ≥ 128 (longer dot products amortise the horizontal sums).
	dotMaxM, dotMaxMLongK, axpyMaxM int
}

// use reports whether the small-m path should handle this shape.
func (sk *smallKernels[T]) use(bTrans bool, m, k int) bool {
	switch {
	case sk == nil || smallMode == smallNever:
		return false
	case smallMode == smallAlways:
		return true
	case !bTrans:
		return m <= sk.axpyMaxM
	case k >= 128:
		return m <= max(sk.dotMaxM, sk.dotMaxMLongK)
	}
	return m <= sk.dotMaxM
}

// smallParallelMin is the smallest m·n·k the small-m paths split over all
// the cores the call may use. Measured on the 2-core target: m = 1 products
// are limited by L2 bandwidth and m = 32 products up to [32×1024]·[1024×256]
// run faster on one goroutine than split between two goroutines (the
// hand-off and a busy second core cost more than the halved work); smaller
// products from spinMinWork up, and on two cores every split, go to the
// spinning helper instead.
var smallParallelMin = 1 << 24

// smallMode forces (smallAlways) or disables (smallNever) the small-m paths;
// tests and benchmarks only.
var smallMode = smallAuto

const (
	smallAuto   = 0
	smallAlways = 1
	smallNever  = -1
)

func smallFor[T float](kp *kernelPair) *smallKernels[T] {
	var z T
	if _, ok := any(z).(float32); ok {
		return any(kp.sSmallM).(*smallKernels[T])
	}
	return any(kp.dSmallM).(*smallKernels[T])
}

// numWorkers returns how many goroutines to use for work of the given size
// (multiply-adds) made of units independent pieces.
func numWorkers(work, units, minWork int) int {
	return max(1, min(callWorkers(work, minWork), units))
}

// smallWorkers is how many pieces a small-m product of work multiply-adds
// in units independent column blocks is cut into, and whether its two
// halves go to the spinning helper: a product below smallParallelMin from
// spinMinWork up, and on two cores any product split in two (see
// gemmArgs.run).
func smallWorkers(work, units int) (workers int, spin bool) {
	workers = numWorkers(work, units, smallParallelMin)
	if workers == 1 && units >= 2 && work >= spinMinWork && canSpin() {
		return 2, true
	}
	return workers, workers == 2 && canSpin()
}

// transposeTo sets dst[i*ldd+p] = src[p*lds+i] for p < rows, i < cols:
// blocks of 8×8 (4×4) by the vector transpose, the edges element by
// element (scalar stores ldd apart would land in a few L1 sets).
func transposeTo[T float](dst []T, ldd int, src []T, lds, rows, cols int) {
	jd, pd := transBlock(dst, src, lds, ldd, rows, cols)
	for p := 0; p < rows; p++ {
		first := 0
		if p < jd {
			first = pd
		}
		for i, v := range src[p*lds+first : p*lds+cols] {
			dst[(first+i)*ldd+p] = v
		}
	}
}

// Parallel runs f(0), …, f(workers-1) for workers ≥ 1, f(0) on the
// calling goroutine, and returns when all have returned; on two cores the
// second runs on the spinning helper while it is free. A goroutine started
// for it would wait for the idle core to wake, which took 100–200 µs on the
// AMD EPYC VM of the speed issue (a recurrent step's product takes less),
// while the helper, polling between a training step's products, starts at
// once. When the helper is busy or slow to start, the caller runs both
// calls, one after the other, so the calls of f must not wait for each
// other (nor call runtime.Goexit); they must touch disjoint memory.
func Parallel(workers int, f func(w int)) {
	parallelSmall(workers, workers == 2 && canSpin(), f)
}

// parallelSmall runs f(0..workers-1): two halves through the spinning
// helper when spin is set, else as parallel does.
func parallelSmall(workers int, spin bool, f func(w int)) {
	if spin {
		helper.split(f)
		return
	}
	parallel(workers, f)
}

// parallel runs f(0..workers-1), f(0) on the calling goroutine.
func parallel(workers int, f func(w int)) {
	if workers == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		go func() {
			defer wg.Done()
			f(w)
		}()
	}
	f(0)
	wg.Wait()
}

// gemmSmall computes C = alpha*op(A)*op(B) + beta*C on a small-m path and
// reports whether it did (false: m is too large for this layout or no
// small-m kernels exist). Arguments are validated and non-degenerate.
func gemmSmall[T float](sk *smallKernels[T], aTrans, bTrans bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) bool {
	if !sk.use(bTrans, m, k) {
		return false
	}
	if aTrans {
		buf := getBuf[T](m * k)
		defer putBuf(buf)
		t := *buf
		transposeTo(t, k, a, lda, k, m)
		a, lda = t, k
	}
	unit := 8
	if !bTrans {
		unit = sk.width
	}
	units := (n + unit - 1) / unit
	workers, spin := smallWorkers(m*n*k, units)
	if workers == 1 {
		// Directly, without the closure below: it escapes (goroutines
		// run it), so building it would allocate on every call.
		if bTrans {
			dotRange(sk, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		} else {
			axpyRange(sk, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
		return true
	}
	parallelSmall(workers, spin, func(w int) {
		lo := units * w / workers * unit
		hi := min(units*(w+1)/workers*unit, n)
		if lo >= hi {
			return
		}
		if bTrans {
			dotRange(sk, m, lo, hi, k, alpha, a, lda, b, ldb, beta, c, ldc)
		} else {
			axpyRange(sk, m, lo, hi, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}
	})
	return true
}

// gemmSmallN takes Aᵀ·B with at least smallNMinM rows, at most smallNMaxN
// columns and an A of at most smallNMaxA elements (BenchmarkSgemmSmallN, 2
// cores). The small-m path reads A once per four rows of Cᵀ: with 16 or 32
// columns and an A that stays in L2 (1 MiB here) the transpose ran at
// 1.2–5× the blocked kernel's rate; with 64 columns, or an A of 8 MiB
// read from L3 eight times, the blocked kernel was as fast or faster.
const (
	smallNMinM = 128
	smallNMaxN = 32
	smallNMaxA = 1 << 18
)

// gemmSmallN computes C = alpha·Aᵀ·B + beta·C (A stored k×m, B k×n) when n
// is small and m is not — the layout of a weight gradient dW = dYᵀ·X with
// few inputs — as its transpose Cᵀ = Bᵀ·A, whose few rows suit the small-m
// path: that streams A's rows in place, where the blocked kernel reads 12
// values from each of k rows lda apart per micro-panel (rows 1 or 4 KiB
// apart land in a handful of L1 sets) and cannot split the work over cores
// to any gain. Cᵀ is formed in a buffer and added into C transposed. It
// reports whether it took the product.
func gemmSmallN[T float](sk *smallKernels[T], aTrans, bTrans bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) bool {
	if !aTrans || bTrans || m < smallNMinM || n > smallNMaxN || m*k > smallNMaxA || smallMode == smallAlways || !sk.use(false, n, k) {
		return false
	}
	buf := getBuf[T](n * m)
	defer putBuf(buf)
	t := *buf
	// Cᵀ [n×m] = op(Bᵀ)·A: B read transposed, A as stored (rows in place).
	gemmSmall(sk, true, false, n, m, k, 1, b, ldb, a, lda, 0, t, m)
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if beta == 0 { // C is not read: NaNs in it do not propagate
			for j := range crow {
				crow[j] = alpha * t[j*m+i]
			}
			continue
		}
		for j := range crow {
			crow[j] = alpha*t[j*m+i] + beta*crow[j]
		}
	}
	return true
}

// dotRange computes columns [j0,j1) of C = alpha·A·Bᵀ + beta·C, blocks of 8
// rows of B outermost so that they stay in L1 while all of A streams past.
func dotRange[T float](sk *smallKernels[T], m, j0, j1, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 1 && sk.dotRows != nil {
		if full := (j1 - j0) / 8 * 8; full > 0 {
			sk.dotRows(k, &a[0], lda, &b[j0*ldb], ldb, &c[j0], ldc, alpha, beta, 1, full)
			j0 += full
		}
	}
	for j := j0; j < j1; j += 8 {
		nc := min(8, j1-j)
		for i := 0; i < m; {
			switch r := m - i; {
			case r >= 3:
				rows := min(4, r)
				sk.dot4x4(k, &a[i*lda], lda, &b[j*ldb], ldb, &c[i*ldc+j], ldc, alpha, beta, rows, min(4, nc))
				if nc > 4 {
					sk.dot4x4(k, &a[i*lda], lda, &b[(j+4)*ldb], ldb, &c[i*ldc+j+4], ldc, alpha, beta, rows, nc-4)
				}
				i += rows
			case r == 2:
				sk.dot2x8(k, &a[i*lda], lda, &b[j*ldb], ldb, &c[i*ldc+j], ldc, alpha, beta, 2, nc)
				i += 2
			default:
				sk.dot1x8(k, &a[i*lda], lda, &b[j*ldb], ldb, &c[i*ldc+j], ldc, alpha, beta, 1, nc)
				i++
			}
		}
	}
}

// axpyRange computes columns [j0,j1) of C = alpha·A·B + beta·C in panels of
// sk.width columns, up to 4 rows of C per tile.
func axpyRange[T float](sk *smallKernels[T], m, j0, j1, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for j := j0; j < j1; j += sk.width {
		wd := min(sk.width, j1-j)
		mask := ^uint64(0)
		if wd < 64 {
			mask = 1<<wd - 1
		}
		for i := 0; i < m; i += 4 {
			rows := min(4, m-i)
			sk.axpy[rows-1](k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc, alpha, beta, mask)
		}
	}
}

// Portable tiles with the same contracts, built on dot and axpy (AVX2 on
// amd64 when simd is set, pure Go otherwise).

func dotTileVec[T float](simd bool) dotTileFunc[T] {
	return func(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, alpha, beta T, mrows, ncols int) {
		as := unsafe.Slice(a, (mrows-1)*lda+k)
		bs := unsafe.Slice(b, (ncols-1)*ldb+k)
		cs := unsafe.Slice(c, (mrows-1)*ldc+ncols)
		for i := 0; i < mrows; i++ {
			ar := as[i*lda : i*lda+k]
			for j := 0; j < ncols; j++ {
				d := alpha * dot(ar, bs[j*ldb:j*ldb+k], simd)
				if beta == 0 {
					cs[i*ldc+j] = d
				} else {
					cs[i*ldc+j] = d + beta*cs[i*ldc+j]
				}
			}
		}
	}
}

func axpyTileVec[T float](rows int, simd bool) axpyTileFunc[T] {
	return func(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, alpha, beta T, mask uint64) {
		wd := 64
		for wd > 0 && mask&(1<<(wd-1)) == 0 {
			wd--
		}
		as := unsafe.Slice(a, (rows-1)*lda+k)
		bs := unsafe.Slice(b, (k-1)*ldb+wd)
		cs := unsafe.Slice(c, (rows-1)*ldc+wd)
		for i := 0; i < rows; i++ {
			cr := cs[i*ldc : i*ldc+wd]
			if beta == 0 {
				clear(cr)
			} else if beta != 1 {
				for j := range cr {
					cr[j] *= beta
				}
			}
			for p := 0; p < k; p++ {
				axpy(alpha*as[i*lda+p], bs[p*ldb:p*ldb+wd], cr, simd)
			}
		}
	}
}

func vecSmallKernels[T float](name string, simd bool, maxM int) *smallKernels[T] {
	return &smallKernels[T]{
		name:   name,
		dot1x8: dotTileVec[T](simd), dot2x8: dotTileVec[T](simd), dot4x4: dotTileVec[T](simd),
		axpy:    [4]axpyTileFunc[T]{axpyTileVec[T](1, simd), axpyTileVec[T](2, simd), axpyTileVec[T](3, simd), axpyTileVec[T](4, simd)},
		width:   64,
		dotMaxM: maxM, axpyMaxM: maxM,
	}
}
