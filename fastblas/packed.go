package fastblas

import (
	"fmt"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
)

// PackedMatrix is a read-only float32 matrix W [Rows][Cols] kept as the
// right-hand operand of a product in the order the GEMM micro-kernel reads
// it: of x·Wᵀ (NewPackedMatrix, SgemmPacked) or of x·W (NewPackedMatrixNoTrans,
// SgemmPackedNoTrans). Sgemm packs W on every call, which at a beam search's
// shapes costs a fifth as much as the arithmetic, and at a recurrent step's
// on a CPU without the small-m kernels a tenth; packed once for the length
// of a search or of a training pass, W is read as is. Products x·Wᵀ of one
// row, which the small-m kernels take from W itself, read a second layout
// where there is AVX-512 (packPanels): batch-1 sampling and decoding. It does not follow
// later changes of the values it was made from: make it again, or Refresh
// it, after one. Safe for concurrent use, but for Refresh.
type PackedMatrix struct {
	Rows, Cols int
	noTrans    bool      // the operand of x·W rather than of x·Wᵀ
	src        []float32 // the values to pack, and to multiply when the packed form does not serve
	once       sync.Once // packs on the first product that uses the packed form
	path       *kernelPair
	blocks     [][]float32  // per depth block of the kernel: the nr-column micro-panels of all columns of op(W)
	panelsOnce sync.Once    // lays out panels on the first m = 1 product that uses them
	panels     []float32    // W's rows for m = 1 products (packPanels)
	besideCut  atomic.Int32 // SgemvPackedBeside's cut (splitBeside)
}

// NewPackedMatrix returns the rows×cols row-major matrix w (at least
// rows*cols long) for SgemmPacked, which packs it for the kernel path in
// use on the first product that needs it. It keeps w, which must not change
// while the matrix is in use.
func NewPackedMatrix(rows, cols int, w []float32) *PackedMatrix {
	return newPackedMatrix(rows, cols, w, false)
}

// NewPackedMatrixNoTrans is NewPackedMatrix for SgemmPackedNoTrans, the
// products x·W (a layer's gradient with respect to its input, dy·W).
func NewPackedMatrixNoTrans(rows, cols int, w []float32) *PackedMatrix {
	return newPackedMatrix(rows, cols, w, true)
}

func newPackedMatrix(rows, cols int, w []float32, noTrans bool) *PackedMatrix {
	if rows < 0 || cols < 0 || len(w) < rows*cols {
		panic(fmt.Sprintf("fastblas: NewPackedMatrix(%d, %d) of %d values", rows, cols, len(w)))
	}
	return &PackedMatrix{Rows: rows, Cols: cols, noTrans: noTrans, src: w[:rows*cols]}
}

// Refresh packs W again from the values it was made from, after they have
// changed (a training pass's weights after an optimizer step), into the
// memory it already holds; a matrix that has not been packed yet stays
// unpacked until a product needs it. It must not run concurrently with a
// product on the matrix.
func (p *PackedMatrix) Refresh() {
	if p.path != nil {
		p.pack(p.path)
	}
	if p.panels != nil {
		p.packPanels()
	}
}

// pack fills the micro-panels of op(W) for the kernel path kp, reusing the
// blocks a previous packing left where their sizes match.
func (p *PackedMatrix) pack(kp *kernelPair) {
	k, n := p.Cols, p.Rows // op(W) = Wᵀ is k×n
	if p.noTrans {
		k, n = p.Rows, p.Cols
	}
	p.blocks = packBlocks(p.blocks, &kp.s, p.src, p.Cols, !p.noTrans, k, n)
	p.path = kp
}

// packBlocks packs the k×n matrix op(B) (B ldb apart, transposed with
// bTrans) for kern in advance, as gemmArgs.packedB: per depth block of
// kern.kc, the nr-column micro-panels of all n columns. It reuses the
// blocks of old whose sizes match.
func packBlocks(old [][]float32, kern *gemmKernel[float32], b []float32, ldb int, bTrans bool, k, n int) [][]float32 {
	kc := min(kern.kc, k)
	panels := (n + kern.nr - 1) / kern.nr
	blocks := old[:0]
	for pc, i := 0, 0; pc < k; pc, i = pc+kc, i+1 {
		kcur := min(kc, k-pc)
		var block []float32
		if size := panels * kern.nr * kcur; i < len(old) && len(old[i]) == size {
			block = old[i]
		} else {
			block = make([]float32, size)
		}
		packB(block, b, ldb, bTrans, pc, kcur, 0, n, kern.nr)
		blocks = append(blocks, block)
	}
	return blocks
}

// packedMinM is the fewest rows of x for which SgemmPacked runs the packed
// kernels where the small-m kernels could take the product, if the
// kernel's tiles pad x by at most a quarter (packedPays). With W packed in
// advance the packed kernels cost no packing of W: on the AMD Zen 5
// machine they multiplied [m×256]·[256×8004] at 185–200 GFLOP/s for m = 8,
// 12, 16, 24, 32 and 40, where the small-m dot tiles reached 126–158 (one
// core, three runs); with a partly filled tile the packed kernels' rate
// falls with the padding (m = 20, padded to 24: 144–154 against 135–153;
// m = 18, also padded to 24: 131–134 against 142–145).
const packedMinM = 8

// packedPays reports whether the packed kernel kern multiplies m rows
// faster than the small-m kernels: from packedMinM rows, when its tiles
// pad them by at most a quarter.
func packedPays(kern *gemmKernel[float32], m int) bool {
	padded := (m + kern.mr - 1) / kern.mr * kern.mr
	return m >= packedMinM && 4*padded <= 5*m
}

// packedKernel returns the packed kernel for products of m rows on the
// path kp, whose 12-row kernel W was packed for: its 8-row kernel where
// that pads m less (32 rows: four 8-row tiles rather than three 12-row
// ones) and reads the same packed layout.
func packedKernel(kp *kernelPair, m int) *gemmKernel[float32] {
	if s := kp.sSmall; s != nil && s.nr == kp.s.nr && s.kc == kp.s.kc {
		return pick(&kp.s, s, m)
	}
	return &kp.s
}

// SgemmPacked computes C = alpha·A·Wᵀ + beta·C with A m×w.Cols (lda apart)
// and C m×w.Rows (ldc apart), as Sgemm(NoTrans, Trans, ...) with W does
// but without packing W. With beta == 0, C is not read.
func SgemmPacked(m int, alpha float32, a []float32, lda int, w *PackedMatrix, beta float32, c []float32, ldc int) {
	if w.noTrans {
		panic("fastblas: SgemmPacked of a matrix packed for x·W")
	}
	sgemmPacked("SgemmPacked", m, alpha, a, lda, w, beta, c, ldc, false)
}

// SgemmPackedNoTrans computes C = alpha·A·W + beta·C with A m×w.Rows (lda
// apart) and C m×w.Cols (ldc apart), as Sgemm(NoTrans, NoTrans, ...) with
// W does but without packing W. With beta == 0, C is not read.
func SgemmPackedNoTrans(m int, alpha float32, a []float32, lda int, w *PackedMatrix, beta float32, c []float32, ldc int) {
	if !w.noTrans {
		panic("fastblas: SgemmPackedNoTrans of a matrix packed for x·Wᵀ")
	}
	sgemmPacked("SgemmPackedNoTrans", m, alpha, a, lda, w, beta, c, ldc, false)
}

// sgemmPacked is SgemmPacked and SgemmPackedNoTrans; with roundA it
// multiplies A rounded to bfloat16 (SgemmBF16 without bfloat16
// instructions, w holding rounded values).
func sgemmPacked(name string, m int, alpha float32, a []float32, lda int, w *PackedMatrix, beta float32, c []float32, ldc int, roundA bool) {
	bTrans := !w.noTrans
	n, k := w.Rows, w.Cols
	if w.noTrans {
		n, k = w.Cols, w.Rows
	}
	checkWeightProduct(name, m, n, k, len(a), lda, len(c), ldc)
	kp := current.Load()
	if sk := smallFor[float32](kp); m == 1 && bTrans && !roundA && n > 0 && k > 0 && alpha != 0 && sk != nil && sk.dotPanels != nil && sk.use(bTrans, m, k) {
		w.panelsOnce.Do(w.packPanels)
		gemvPanels(sk, n, k, alpha, a, w.panels, beta, c)
		return
	}
	packed := k > 0 && alpha != 0 && m > 0 && (packedPays(packedKernel(kp, m), m) || !smallFor[float32](kp).use(bTrans, m, k))
	if packed {
		w.once.Do(func() { w.pack(kp) })
	}
	if !packed || kp != w.path {
		tB, ldb := blas.Trans, max(k, 1)
		if w.noTrans {
			tB, ldb = blas.NoTrans, max(n, 1)
		}
		if roundA && m > 0 && k > 0 {
			buf := getBuf[float32](m * k)
			defer putBuf(buf)
			for i := 0; i < m; i++ {
				copy((*buf)[i*k:(i+1)*k], a[i*lda:i*lda+k])
			}
			roundBF16InPlace(*buf)
			a, lda = *buf, k
		}
		Implementation{}.Sgemm(blas.NoTrans, tB, m, n, k, alpha, a, lda, w.src, ldb, beta, c, ldc)
		return
	}
	if n == 0 {
		return
	}
	kern := packedKernel(kp, m)
	g := gemmArgs[float32]{kern: kern, bTrans: bTrans, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: w.src, ldb: w.Cols, beta: beta, c: c, ldc: ldc, packedB: w.blocks, round: roundA}
	g.run()
}

// panelRows and panelCols are the rows of W in a tile of its m = 1 layout
// and the columns of each row kept together (one vector).
const panelRows, panelCols = 8, 16

// panelTile is the elements of a tile of the m = 1 layout of W with k
// columns: k padded to whole vectors, for each of panelRows rows.
func panelTile(k int) int { return panelRows * ((k + panelCols - 1) / panelCols * panelCols) }

// packPanels lays W [Rows][Cols] out for products x·Wᵀ with one row x
// (sdotPanels1x8AVX512): in tiles of 8 rows, each the 16 columns of its
// eight rows for every 16 columns in turn, zeros past the last row and
// column. A batch-1 step then reads each tile as one stream, where W's
// own rows are eight streams a row apart, which the core fetches from L2
// at about 60% of the rate (BenchmarkSgemmPacked/m1).
func (w *PackedMatrix) packPanels() {
	n, k := w.Rows, w.Cols
	tile := panelTile(k)
	if w.panels == nil {
		w.panels = make([]float32, (n+panelRows-1)/panelRows*tile)
	}
	for j := 0; j < n; j++ {
		t, r := j/panelRows, j%panelRows
		row := w.src[j*k : (j+1)*k]
		for c := 0; c < k; c += panelCols {
			copy(w.panels[t*tile+c*panelRows+r*panelCols:], row[c:min(k, c+panelCols)])
		}
	}
}

// gemvPanels computes c = alpha·W·a + beta·c for one row a from W's m = 1
// layout: whole tiles per worker, halved with the spinning helper as the
// small-m paths halve theirs.
func gemvPanels(sk *smallKernels[float32], n, k int, alpha float32, a, panels []float32, beta float32, c []float32) {
	tile, tiles := panelTile(k), (n+panelRows-1)/panelRows
	workers, spin := smallWorkers(n*k, tiles)
	switch {
	case workers == 1:
		sk.dotPanels(k, &a[0], &panels[0], tile, &c[0], alpha, beta, n)
	case workers == 2 && spin:
		j := newVecJob(panelsSpan, tiles, nil)
		j.sk, j.n, j.k, j.alpha, j.beta, j.a, j.b, j.c = sk, n, k, alpha, beta, a, panels, c
		j.cut = tiles / 2
		helper.split(j.run)
		j.release()
	default:
		parallel(workers, func(w int) {
			if t0, t1 := tiles*w/workers, tiles*(w+1)/workers; t0 < t1 {
				sk.dotPanels(k, &a[0], &panels[t0*tile], tile, &c[t0*panelRows], alpha, beta, min(n, t1*panelRows)-t0*panelRows)
			}
		})
	}
}

// vecJob is a product of one row by a weight cut in two for the spinning
// helper: half 0 runs side, if any, and then multiplies units [0, cut) of
// the output (tiles of W's m = 1 layout, or eights of columns in bfloat16),
// half 1 the rest; span multiplies a range of units. Jobs come from a pool
// with their half method bound once, so that a batch-1 step hands the
// helper its half without allocating.
type vecJob struct {
	span        func(j *vecJob, u0, u1 int)
	units, cut  int
	side        func()
	sk          *smallKernels[float32]
	n, k        int
	alpha, beta float32
	a, b, c     []float32   // b: W's m = 1 layout (panelsSpan)
	ah          []uint16    // A rounded to bfloat16 (bf16Span), storage kept with the job
	w           *BF16Matrix // bf16Span's W
	run         func(half int)
}

var vecJobs = sync.Pool{New: func() any {
	j := new(vecJob)
	j.run = j.half
	return j
}}

func newVecJob(span func(j *vecJob, u0, u1 int), units int, side func()) *vecJob {
	j := vecJobs.Get().(*vecJob)
	j.span, j.units, j.side = span, units, side
	return j
}

// release returns the job to the pool, without what it refers to but
// with its own storage.
func (j *vecJob) release() {
	*j = vecJob{run: j.run, ah: j.ah[:0]}
	vecJobs.Put(j)
}

func (j *vecJob) half(h int) {
	u0, u1 := 0, j.cut
	if h == 0 {
		if j.side != nil {
			j.side()
		}
	} else {
		u0, u1 = j.cut, j.units
	}
	if u0 < u1 {
		j.span(j, u0, u1)
	}
}

// panelsSpan multiplies tiles [t0, t1) of W's m = 1 layout.
func panelsSpan(j *vecJob, t0, t1 int) {
	tile := panelTile(j.k)
	j.sk.dotPanels(j.k, &j.a[0], &j.b[t0*tile], tile, &j.c[t0*panelRows], j.alpha, j.beta, min(j.n, t1*panelRows)-t0*panelRows)
}

// splitBeside runs j with side beside it through the helper, at the cut
// that cut holds (1 + the units the caller multiplies; 0 for half of
// them), and moves that cut a unit towards the caller when it waited for
// the helper and away when the helper had finished first, so that over
// the calls of a decoding loop both sides come to finish together. It
// releases j.
func splitBeside(j *vecJob, cut *atomic.Int32) {
	j.cut = int(cut.Load()) - 1
	if j.cut < 0 {
		j.cut = j.units / 2
	}
	next := j.cut
	switch helper.split(j.run) {
	case callerWaited:
		next = min(next+1, j.units)
	case helperFirst:
		next = max(next-1, 0)
	}
	cut.Store(int32(next + 1))
	j.release()
}

// SgemvPackedBeside computes c = alpha·a·Wᵀ + beta·c for one row a, with
// SgemmPacked's bits, and runs side on the calling goroutine meanwhile,
// where the product is one that SgemmPacked would halve with the spinning
// helper: the helper multiplies its share of W's rows while the caller
// runs side and then multiplies the rest, so that side costs no time
// beyond the product's (splitBeside sets the shares). It reports whether
// it ran; elsewhere it runs nothing and reports false. side may read a but
// must not write it, nor touch c.
func SgemvPackedBeside(side func(), alpha float32, a []float32, w *PackedMatrix, beta float32, c []float32) bool {
	if w.noTrans {
		panic("fastblas: SgemvPackedBeside of a matrix packed for x·W")
	}
	n, k := w.Rows, w.Cols
	checkWeightProduct("SgemvPackedBeside", 1, n, k, len(a), max(k, 1), len(c), max(n, 1))
	sk := smallFor[float32](current.Load())
	if n == 0 || k == 0 || alpha == 0 || sk == nil || sk.dotPanels == nil || !sk.use(true, 1, k) {
		return false
	}
	tiles := (n + panelRows - 1) / panelRows
	if workers, spin := smallWorkers(n*k, tiles); workers != 2 || !spin {
		return false
	}
	w.panelsOnce.Do(w.packPanels)
	j := newVecJob(panelsSpan, tiles, side)
	j.sk, j.n, j.k, j.alpha, j.beta, j.a, j.b, j.c = sk, n, k, alpha, beta, a, w.panels, c
	splitBeside(j, &w.besideCut)
	return true
}
