package fastblas

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// Implementation is a BLAS implementation that embeds gonum's native
// implementation and overrides the hot routines (Sgemm, Dgemm, Sgemv, Dgemv)
// with packed, cache-blocked, multi-threaded SIMD versions. Every routine that
// is not overridden is gonum's. The zero value is ready to use.
type Implementation struct {
	gonum.Implementation
}

var (
	_ blas.Float32 = Implementation{}
	_ blas.Float64 = Implementation{}
)

// Install makes Implementation the BLAS used by gonum's blas32 and blas64
// packages (and therefore by gonum/mat for float64 matrices). It calls
// blas32.Use(Implementation{}) and blas64.Use(Implementation{}). Install is
// not safe to call concurrently with BLAS calls made through those packages;
// call it once at program start (e.g. from main or an init function).
func Install() {
	blas32.Use(Implementation{})
	blas64.Use(Implementation{})
}

// KernelName reports the name of the float32 and float64 micro-kernels that
// the GEMM routines use on this machine, e.g. "avx512-s12x32/avx512-d12x16".
func KernelName() string {
	k := current.Load()
	return k.s.name + "/" + k.d.name
}

type float interface{ float32 | float64 }

// kernelFunc is the micro-kernel signature; see kernels_amd64.go for the
// contract.
type kernelFunc[T float] func(k int, a, b, c *T, ldc int, alpha, beta T, sa, sb int)

// gemmKernel describes a micro-kernel and the blocking parameters used with it.
type gemmKernel[T float] struct {
	name       string
	mr, nr     int // micro-tile
	mc, kc, nc int // cache blocks; mc is a multiple of mr, nc of nr
	fn         kernelFunc[T]
}

type kernelPair struct {
	name string
	s    gemmKernel[float32]
	d    gemmKernel[float64]
	// Optional kernels with fewer rows, used when they pad small m less
	// (e.g. m = 32 or 64 with 8-row instead of 12-row tiles).
	sSmall *gemmKernel[float32]
	dSmall *gemmKernel[float64]
	// Small-m (GEMV-like) kernels that read both operands in place; nil
	// when the path has none. See small.go.
	sSmallM *smallKernels[float32]
	dSmallM *smallKernels[float64]
}

// smallMLimit is the largest m for which the small-row kernel may be chosen.
const smallMLimit = 96

// pick returns k, or small when it wastes fewer padded rows for this m. The
// choice depends only on m, so results stay deterministic.
func pick[T float](k, small *gemmKernel[T], m int) *gemmKernel[T] {
	if small != nil && m <= smallMLimit && (m+small.mr-1)/small.mr*small.mr < (m+k.mr-1)/k.mr*k.mr {
		return small
	}
	return k
}

// Kernel paths, best first.
const (
	pathAVX512      = "avx512"
	pathAVX512Small = "avx512-8" // AVX-512 with 8-row tiles (tested, not default)
	pathAVX2        = "avx2"
	pathGeneric     = "generic"
)

var (
	hasAVX512, hasAVX2 bool

	registry = map[string]*kernelPair{
		pathGeneric: {
			name:    pathGeneric,
			s:       gemmKernel[float32]{name: "generic-s4x4", mr: 4, nr: 4, mc: 128, kc: 256, nc: 2048, fn: genericKernel4x4[float32]},
			d:       gemmKernel[float64]{name: "generic-d4x4", mr: 4, nr: 4, mc: 128, kc: 256, nc: 2048, fn: genericKernel4x4[float64]},
			sSmallM: vecSmallKernels[float32]("generic", false, 4),
			dSmallM: vecSmallKernels[float64]("generic", false, 4),
		},
	}
	current atomic.Pointer[kernelPair]
)

// selectDefault picks the best registered kernel path. It is called by the
// architecture-specific init function after registration.
func selectDefault() {
	current.Store(registry[pathGeneric])
	for _, p := range []string{pathAVX512, pathAVX2} {
		if k, ok := registry[p]; ok {
			current.Store(k)
			break
		}
	}
}

// registerKernels records a kernel path usable on this CPU (ok == true).
func registerKernels(name string, ok bool, s gemmKernel[float32], d gemmKernel[float64]) *kernelPair {
	if !ok {
		return nil
	}
	kp := &kernelPair{name: name, s: s, d: d}
	registry[name] = kp
	return kp
}

// availablePaths lists the kernel paths usable on this machine.
func availablePaths() []string {
	var ps []string
	for _, p := range []string{pathAVX512, pathAVX512Small, pathAVX2, pathGeneric} {
		if _, ok := registry[p]; ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// setPath forces a kernel path (tests and benchmarks only) and returns the
// previous one. It panics if the path is unavailable.
func setPath(name string) string {
	k, ok := registry[name]
	if !ok {
		panic("fastblas: kernel path " + name + " not available")
	}
	return current.Swap(k).name
}

// Sgemm performs one of the matrix-matrix operations
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or Xᵀ, A is m×k after op, B is k×n after op and C is m×n,
// all row-major with leading dimensions lda, ldb and ldc. Arguments are
// validated exactly as gonum does, with gonum's panic messages.
func (impl Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// With alpha == 0 and beta == 1 gonum performs every argument check and
	// then returns without touching any data.
	impl.Implementation.Sgemm(tA, tB, m, n, k, 0, a, lda, b, ldb, 1, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		impl.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	kp := current.Load()
	if gemmSmall(kp.sSmallM, tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) ||
		gemmSmallN(kp.sSmallM, tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	gemm(pick(&kp.s, kp.sSmall, m), tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm performs one of the matrix-matrix operations
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or Xᵀ, A is m×k after op, B is k×n after op and C is m×n,
// all row-major with leading dimensions lda, ldb and ldc. Arguments are
// validated exactly as gonum does, with gonum's panic messages.
func (impl Implementation) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	impl.Implementation.Dgemm(tA, tB, m, n, k, 0, a, lda, b, ldb, 1, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		impl.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	kp := current.Load()
	if gemmSmall(kp.dSmallM, tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	gemm(pick(&kp.d, kp.dSmall, m), tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// parallelMinFlops is the smallest problem (in m·n·k multiply-adds) that is
// split across goroutines.
const parallelMinFlops = 1 << 17

// maxWorkers caps the number of goroutines used by one call (0 =
// GOMAXPROCS); tests and benchmarks set it while no call runs.
var maxWorkers = 0

// threadCap is SetMaxThreads's cap (0: none), read by concurrent calls.
var threadCap atomic.Int64

// SetMaxThreads caps the goroutines one call (GEMM, GEMV) may use at n,
// or lifts the cap for n ≤ 0, and returns the previous cap (0: none).
// Results do not depend on it. Callers that share the cores between
// calls of their own (data-parallel training: GOMAXPROCS ÷ workers each)
// set it, so that their calls do not also split over every core; under a
// cap below GOMAXPROCS the spinning helper sleeps and splits go to
// goroutines. Safe for concurrent use.
func SetMaxThreads(n int) int { return int(threadCap.Swap(int64(max(n, 0)))) }

// Workers is how many goroutines one call may use: GOMAXPROCS, within
// SetMaxThreads' cap. Code that splits its own loops over the cores asks
// it, so that it too keeps to one core under SetMaxThreads(1).
func Workers() int { return callWorkers(0, 0) }

// callWorkers is how many goroutines a call of the given size (work, in
// multiply-adds) may use: GOMAXPROCS from minWork on, within the caps.
func callWorkers(work, minWork int) int {
	if work < minWork {
		return 1
	}
	workers := runtime.GOMAXPROCS(0)
	if maxWorkers > 0 {
		workers = min(workers, maxWorkers)
	}
	if c := int(threadCap.Load()); c > 0 {
		workers = min(workers, c)
	}
	return workers
}

// gemm computes C = alpha*op(A)*op(B) + beta*C for validated, non-degenerate
// arguments (m, n, k ≥ 1, alpha ≠ 0).
func gemm[T float](kern *gemmKernel[T], aTrans, bTrans bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	g := gemmArgs[T]{kern: kern, aTrans: aTrans, bTrans: bTrans, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	g.run()
}

// run computes the product over the cores the call may use.
func (g *gemmArgs[T]) run() {
	kern, m, n := g.kern, g.m, g.n
	workers := callWorkers(m*n*g.k, parallelMinFlops)
	// On two cores every split goes to the spinning helper, which is polling
	// between a training loop's steps: a goroutine started for a share
	// costs about as much as a recurrent step's share, and on the AMD Zen 5
	// machine products of 17–50 M multiply-adds split between goroutines
	// ran at one core's speed (32×3000×256: 166–176 GFLOP/s, through the
	// helper 293–307). With more cores the goroutines' shares are small
	// enough to pay for the wake-up.
	spin := workers == 2 && canSpin()
	mPanels := (m + kern.mr - 1) / kern.mr
	nPanels := (n + kern.nr - 1) / kern.nr
	// Split the dimension with more micro-panels. Split points are multiples
	// of the micro-tile, so the tile grid (and with it every element's
	// summation order) does not depend on the number of workers.
	splitN := nPanels >= mPanels
	panels := mPanels
	if splitN {
		panels = nPanels
	}
	if workers > panels {
		workers = panels
	}
	if workers <= 1 {
		g.block(0, m, 0, n)
		return
	}
	part := func(w int) (lo, hi int) {
		lo = panels * w / workers
		hi = panels * (w + 1) / workers
		return
	}
	parallelSmall(workers, spin, func(w int) {
		lo, hi := part(w)
		if splitN {
			g.block(0, m, lo*kern.nr, min(hi*kern.nr, n))
		} else {
			g.block(lo*kern.mr, min(hi*kern.mr, m), 0, n)
		}
	})
}

type gemmArgs[T float] struct {
	kern           *gemmKernel[T]
	aTrans, bTrans bool
	m, n, k        int
	alpha          T
	a              []T
	lda            int
	b              []T
	ldb            int
	beta           T
	c              []T
	ldc            int
	// packedB, when not nil, is op(B) packed in advance (PackedMatrix):
	// per depth block of kern.kc, the nr-column micro-panels of all n.
	packedB [][]T
	// round rounds the operands to bfloat16 as they are packed (the
	// bfloat16 products on CPUs without bfloat16 instructions); neither
	// is then read in place, and a packedB must hold rounded values.
	round bool
	// pairedRows, when not 0, makes a (transposed) and b float32 matrices
	// of pairedRows rows whose consecutive rows are multiplied in pairs: k
	// counts the pairs, and each block is packed as the 32-bit words of
	// two rounded values that VDPBF16PS multiplies (pairRows), so that no
	// paired copy of a whole operand is made. Neither is read in place.
	pairedRows int
}

var (
	pool32 sync.Pool
	pool64 sync.Pool
)

func getBuf[T float](n int) *[]T {
	var z T
	p := &pool64
	if _, ok := any(z).(float32); ok {
		p = &pool32
	}
	if v := p.Get(); v != nil {
		b := v.(*[]T)
		if cap(*b) >= n {
			*b = (*b)[:n]
			return b
		}
	}
	s := make([]T, n)
	return &s
}

func putBuf[T float](b *[]T) {
	var z T
	if _, ok := any(z).(float32); ok {
		pool32.Put(b)
	} else {
		pool64.Put(b)
	}
}

// block computes the C sub-block rows [m0,m1) × columns [n0,n1). m0 must be
// a multiple of mr and n0 a multiple of nr.
func (g *gemmArgs[T]) block(m0, m1, n0, n1 int) {
	kn := g.kern
	mr, nr := kn.mr, kn.nr
	kc := min(kn.kc, g.k)
	mc := min(kn.mc, (m1-m0+mr-1)/mr*mr)
	nc := min(kn.nc, (n1-n0+nr-1)/nr*nr)
	bufA := getBuf[T](mc * kc)
	defer putBuf(bufA)
	pa, pb := *bufA, []T(nil)
	if g.packedB == nil {
		bufB := getBuf[T](kc * nc)
		defer putBuf(bufB)
		pb = *bufB
	}
	var tmp [16 * 32]T // edge tiles (mr*nr ≤ 512)
	fn := kn.fn
	// In-place operands: a transposed A already has each k step's rows
	// contiguous (stride lda), and a non-transposed B each k step's columns
	// (stride ldb). When the packed copy would be reused only a few times the
	// kernel reads full micro-panels in place instead; edge micro-panels are
	// still packed (zero padding). A B packed in advance is always read
	// packed: its source may have changed since (PackedMatrix.Refresh).
	es := int(unsafe.Sizeof(g.alpha))
	inPlace := !g.round && g.pairedRows == 0
	directA := g.aTrans && inPlace && useDirect(directModeA, n1-n0, directMaxCols, g.lda*es)
	directB := g.packedB == nil && !g.bTrans && inPlace && useDirect(directModeB, m1-m0, directMaxRows, g.ldb*es)
	for jc := n0; jc < n1; jc += nc {
		ncur := min(nc, n1-jc)
		for pc := 0; pc < g.k; pc += kc {
			kcur := min(kc, g.k-pc)
			if g.packedB != nil {
				// Micro-panel j/nr of the block starts at j·kcur.
				pb = g.packedB[pc/kc][jc*kcur:]
			} else if directB {
				// Only a trailing partial panel needs packing.
				if full := ncur / nr * nr; full < ncur {
					packB(pb[full*kcur:], g.b, g.ldb, g.bTrans, pc, kcur, jc+full, ncur-full, nr)
				}
			} else if g.pairedRows > 0 {
				packBPaired(any(pb).([]float32), any(g.b).([]float32), g.ldb, g.pairedRows, pc, kcur, jc, ncur, nr)
			} else {
				packB(pb, g.b, g.ldb, g.bTrans, pc, kcur, jc, ncur, nr)
				if g.round {
					roundBF16InPlace(any(pb[:(ncur+nr-1)/nr*nr*kcur]).([]float32))
				}
			}
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			for ic := m0; ic < m1; ic += mc {
				mcur := min(mc, m1-ic)
				if directA {
					if full := mcur / mr * mr; full < mcur {
						packA(pa[full*kcur:], g.a, g.lda, g.aTrans, ic+full, mcur-full, pc, kcur, mr)
					}
				} else if g.pairedRows > 0 {
					packAPaired(any(pa).([]float32), any(g.a).([]float32), g.lda, g.pairedRows, ic, mcur, pc, kcur, mr)
				} else {
					packA(pa, g.a, g.lda, g.aTrans, ic, mcur, pc, kcur, mr)
					if g.round {
						roundBF16InPlace(any(pa[:(mcur+mr-1)/mr*mr*kcur]).([]float32))
					}
				}
				for jr := 0; jr < ncur; jr += nr {
					nrem := min(nr, ncur-jr)
					bp, sb := &pb[jr*kcur], nr
					if directB && nrem == nr {
						bp, sb = &g.b[pc*g.ldb+jc+jr], g.ldb
					}
					for ir := 0; ir < mcur; ir += mr {
						mrem := min(mr, mcur-ir)
						ap, sa := &pa[ir*kcur], mr
						if directA && mrem == mr {
							ap, sa = &g.a[pc*g.lda+ic+ir], g.lda
						}
						ci := (ic+ir)*g.ldc + jc + jr
						if mrem == mr && nrem == nr {
							fn(kcur, ap, bp, &g.c[ci], g.ldc, g.alpha, beta, sa, sb)
							continue
						}
						fn(kcur, ap, bp, &tmp[0], nr, 1, 0, sa, sb)
						for i := 0; i < mrem; i++ {
							crow := g.c[ci+i*g.ldc : ci+i*g.ldc+nrem]
							trow := tmp[i*nr : i*nr+nrem]
							if beta == 0 {
								for j, t := range trow {
									crow[j] = g.alpha * t
								}
							} else {
								for j, t := range trow {
									crow[j] = g.alpha*t + beta*crow[j]
								}
							}
						}
					}
				}
			}
		}
	}
}

// Direct (in-place) operand modes; tests set them to force either choice.
const (
	directAuto   = 0
	directAlways = 1
	directNever  = -1
)

var (
	directModeA = directAuto
	directModeB = directAuto
	// directMaxRows and directMaxCols: read B in place when C has at most
	// that many rows, A when C has at most that many columns, that is when
	// the packed copy would be read by at most four of the AVX-512 kernel's
	// 12×32 tiles (measured there). The AVX2 kernel's 6×16 tiles cover as
	// many elements in twice as many reads, each cheaper: at 32×256×1024
	// (NN) B in place is 52-55 → 61-65 GFLOP/s on one core there.
	directMaxRows = 48
	directMaxCols = 128
)

// useDirect decides whether to read an operand in place, when the extent of
// C that reads it is at most maxExtent. Strides that are a multiple of 2 KiB
// map the k steps of a micro-panel onto a few cache sets (4K aliasing), so
// such operands are always packed.
func useDirect(mode, extent, maxExtent, strideBytes int) bool {
	switch mode {
	case directAlways:
		return true
	case directNever:
		return false
	}
	return extent <= maxExtent && strideBytes%2048 != 0
}

// packA packs op(A)[i0:i0+mc, p0:p0+kc] into dst as consecutive mr-row
// micro-panels; within a micro-panel the mr values of each k step are
// contiguous. Rows past mc are zero-filled.
func packA[T float](dst, a []T, lda int, trans bool, i0, mc, p0, kc, mr int) {
	start := 0
	if trans && copyPanels(dst, a[p0*lda+i0:], lda, kc, mr, mc/mr, mr*kc) {
		// op(A)[i,p] = a[p*lda+i]: each k step is a contiguous run, and
		// the full micro-panels are copied a source row at a time.
		start = mc / mr * mr
	}
	for ip := start; ip < mc; ip += mr {
		rows := min(mr, mc-ip)
		d := dst[ip*kc : ip*kc+mr*kc]
		if trans {
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+ip:]
				dd := d[p*mr : p*mr+mr]
				copy(dd, src[:rows])
				clear(dd[rows:])
			}
			continue
		}
		// op(A)[i,p] = a[i*lda+p]: transpose rows into the panel.
		base := a[(i0+ip)*lda+p0:]
		jd, pd := transBlock(d, base, lda, mr, rows, kc)
		for i := 0; i < rows; i++ {
			start := 0
			if i < jd {
				start = pd
			}
			src := base[i*lda+start : i*lda+kc]
			for p, v := range src {
				d[(start+p)*mr+i] = v
			}
		}
		for i := rows; i < mr; i++ {
			for p := 0; p < kc; p++ {
				d[p*mr+i] = 0
			}
		}
	}
}

// packB packs op(B)[p0:p0+kc, j0:j0+nc] into dst as consecutive nr-column
// micro-panels; within a micro-panel the nr values of each k step are
// contiguous. Columns past nc are zero-filled.
func packB[T float](dst, b []T, ldb int, trans bool, p0, kc, j0, nc, nr int) {
	start := 0
	if !trans && copyPanels(dst, b[p0*ldb+j0:], ldb, kc, nr, nc/nr, nr*kc) {
		// op(B)[p,j] = b[p*ldb+j]: contiguous runs, the full micro-panels
		// copied a source row at a time.
		start = nc / nr * nr
	}
	for jp := start; jp < nc; jp += nr {
		cols := min(nr, nc-jp)
		d := dst[jp*kc : jp*kc+nr*kc]
		if !trans {
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jp:]
				dd := d[p*nr : p*nr+nr]
				copy(dd, src[:cols])
				clear(dd[cols:])
			}
			continue
		}
		// op(B)[p,j] = b[j*ldb+p].
		base := b[(j0+jp)*ldb+p0:]
		jd, pd := transBlock(d, base, ldb, nr, cols, kc)
		for j := 0; j < cols; j++ {
			start := 0
			if j < jd {
				start = pd
			}
			src := base[j*ldb+start : j*ldb+kc]
			for p, v := range src {
				d[(start+p)*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := 0; p < kc; p++ {
				d[p*nr+j] = 0
			}
		}
	}
}
