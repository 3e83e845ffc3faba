package fastblas

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// BF16Matrix is a read-only matrix rounded to bfloat16 (the top 16 bits of
// a float32: its 8-bit exponent and 7 of its 23 mantissa bits), the right
// operand of SgemmBF16. Made once from weights that will not change (a
// decoder's weights for the length of a search), it halves the bytes
// every product reads and lets AVX-512 BF16 multiply twice as many pairs
// per instruction as float32 FMAs, accumulating in float32. Without
// bfloat16 instructions it holds the rounded values as float32 (wide).
type BF16Matrix struct {
	Rows, Cols int
	stride     int      // Cols rounded up to a whole vector (32), zero-padded
	data       []uint16 // Rows × stride; nil when tiles, pairs or wide alone hold the values
	tiles      []uint32 // data as AMX tiles (amxTiles), where there are AMX tiles
	// pairs holds, in place of data and tiles, a matrix RoundTransposed
	// made where there are AMX tiles: its source's rows paired (pairRows),
	// stride/2 rows of pairLD words, which is already the tiles' layout of
	// the transpose.
	pairs  []uint32
	pairLD int
	// tilesOnly keeps Round's values in tiles alone (MakeBF16Matrix's,
	// where there are AMX tiles).
	tilesOnly bool
	// wide holds the rounded values as float32, packed for the float32
	// kernel, in place of data and tiles on a CPU without bfloat16
	// instructions (wideOnly): there SgemmBF16 computes the same products
	// at float32's speed. Round fills it with the matrix, RoundTransposed
	// with its transpose as it comes (for SgemmPackedNoTrans).
	wide     *PackedMatrix
	wideOnly bool
	// pairBlocks holds data packed in advance for the pair kernel on the
	// GEMM driver (packBlocks), a second copy of the values made for
	// products with bf16PairMinM rows or more only (a search over a
	// batch, a training pass's whole-sequence products); pairOnce packs it
	// on the first such product after each refill, which resets it.
	pairOnce   sync.Once
	pairBlocks [][]float32
	besideCut  atomic.Int32 // SgemvBF16Beside's cut (splitBeside)
}

// bf16PairMinM is the fewest rows of A for which SgemmBF16 multiplies on
// the GEMM driver with the pair kernel (as SgemmBF16TN does) rather than
// on the dot tiles: W is packed for it once (packPairs), and many rows then
// need no horizontal sums. On the AMD Zen 5, both cores, pair against dot
// tiles in GFLOP/s: at 128 rows ahead or level at every decoder and
// recurrent shape measured (128×768×256 506–514 against 353–397,
// 128×3000×256 623 against 481–491, 128×640×2560 494–495 against
// 460–505), at 256 ahead at all (256×640×2560 558–559 against 426–429);
// at 48–96 rows behind where k is long (96×256×1024 368–402 against
// 429–434), and at 8–32 rows behind at most (16×768×256 175 against 439).
const bf16PairMinM = 128

// bf16Lanes is how many bfloat16 values a 512-bit vector holds; rows are
// padded to a multiple of it, so the kernel needs no remainder loop.
const bf16Lanes = 32

// NewBF16Matrix rounds the rows×cols row-major matrix src (at least
// rows*cols long) to bfloat16, to nearest with ties to even.
func NewBF16Matrix(rows, cols int, src []float32) *BF16Matrix {
	m := makeBF16(rows, cols, false)
	m.Round(src)
	return m
}

// MakeBF16Matrix returns a rows×cols matrix of zeros, for Round or
// RoundTransposed to fill once per training pass. Where there are AMX
// tiles it keeps the values in the tiles' layout only (half the memory):
// its products then all run on the tiles, those with few rows padded,
// which a training pass's rarely have.
func MakeBF16Matrix(rows, cols int) *BF16Matrix {
	return makeBF16(rows, cols, amxKernel != nil)
}

func makeBF16(rows, cols int, tilesOnly bool) *BF16Matrix {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("fastblas: MakeBF16Matrix(%d, %d)", rows, cols))
	}
	m := &BF16Matrix{Rows: rows, Cols: cols, stride: padBF16(cols), tilesOnly: tilesOnly}
	switch {
	case tilesOnly:
		m.tiles = growTiles(nil, rows, m.stride)
	case bf16Tile == nil && amxKernel == nil:
		m.wideOnly = true
		m.wide = NewPackedMatrix(rows, cols, make([]float32, rows*cols))
	default:
		m.data = make([]uint16, rows*m.stride)
	}
	return m
}

// Round refills m with the Rows×Cols row-major matrix src, rounded, in
// the storage it has: a model training in bfloat16 re-rounds its weights
// after every update.
func (m *BF16Matrix) Round(src []float32) {
	if len(src) < m.Rows*m.Cols {
		panic(fmt.Sprintf("fastblas: BF16Matrix.Round of a %d×%d matrix from %d values", m.Rows, m.Cols, len(src)))
	}
	m.pairs = nil
	if m.tilesOnly {
		m.tiles = amxTilesFrom(m.tiles, src, m.Rows, m.Cols, m.stride)
		return
	}
	if m.wideOnly {
		m.roundWide(src, false)
		return
	}
	if m.data == nil {
		m.data = make([]uint16, m.Rows*m.stride)
	}
	for i := 0; i < m.Rows; i++ {
		toBF16(m.data[i*m.stride:i*m.stride+m.Cols], src[i*m.Cols:(i+1)*m.Cols])
	}
	m.retile()
}

// retile lays the rounded values out again as AMX tiles, where SgemmBF16
// uses them, and drops the pair kernel's packing of the old values.
func (m *BF16Matrix) retile() {
	m.pairOnce = sync.Once{}
	if amxKernel != nil {
		m.tiles = amxTiles(m.tiles, m.data, m.Rows, m.stride)
	}
}

// packPairs packs data, whose rows padded to whole vectors hold whole
// pairs, for the pair kernel: as 32-bit words it is the kernel's Wᵀ.
func (m *BF16Matrix) packPairs() {
	k := m.stride / 2
	m.pairBlocks = packBlocks(m.pairBlocks, bf16PairKernel, bf16Words(m.data), k, true, k, m.Rows)
}

// roundWide refills a wideOnly matrix with src rounded: with transposed,
// src is the transpose of the matrix (Cols×Rows), kept as it is for
// SgemmPackedNoTrans, whose product with it is SgemmBF16's with m.
func (m *BF16Matrix) roundWide(src []float32, transposed bool) {
	if m.wide.noTrans != transposed {
		if transposed {
			m.wide = NewPackedMatrixNoTrans(m.Cols, m.Rows, m.wide.src)
		} else {
			m.wide = NewPackedMatrix(m.Rows, m.Cols, m.wide.src)
		}
	}
	copy(m.wide.src, src[:m.Rows*m.Cols])
	roundBF16InPlace(m.wide.src)
	m.wide.Refresh()
}

// RoundTransposed refills m with the transpose of src, a Cols×Rows
// row-major matrix, rounded: a weight W [out][in] as Wᵀ [in][out], so that
// the backward product dy·W is SgemmBF16's dy·(Wᵀ)ᵀ.
func (m *BF16Matrix) RoundTransposed(src []float32) {
	if len(src) < m.Rows*m.Cols {
		panic(fmt.Sprintf("fastblas: BF16Matrix.RoundTransposed to %d×%d from %d values", m.Rows, m.Cols, len(src)))
	}
	if m.wideOnly {
		m.roundWide(src, true)
		return
	}
	if amxKernel != nil {
		// The tiles of the transpose are the source's rows paired: no
		// transpose, and one copy of the values instead of two.
		m.pairLD = (m.Rows + 31) / 32 * 32
		m.pairs = slices.Grow(m.pairs[:0], m.stride/2*m.pairLD)[:m.stride/2*m.pairLD]
		clear(m.pairs)
		pairRows(asFloats(m.pairs), m.pairLD, src, m.Rows, m.Cols, m.Rows)
		m.data, m.tiles = nil, nil
		return
	}
	if m.data == nil {
		m.data = make([]uint16, m.Rows*m.stride)
	}
	m.pairs = nil
	transposeToBF16(m.data, m.stride, src, m.Rows, m.Cols, m.Rows)
	m.tiles = nil
	m.retile()
}

// transposeToBF16 writes the transpose of the rows×cols matrix src (lds
// apart) rounded to bfloat16 into dst, cols rows stride apart, zeroing
// each row's padding past rows: the float32 vector transpose into a
// scratch matrix, then the vector conversion row by row.
func transposeToBF16(dst []uint16, stride int, src []float32, lds, rows, cols int) {
	t := getBuf[float32](cols * rows)
	defer putBuf(t)
	transposeTo(*t, rows, src, lds, rows, cols)
	for j := 0; j < cols; j++ {
		toBF16(dst[j*stride:j*stride+rows], (*t)[j*rows:(j+1)*rows])
		clear(dst[j*stride+rows : (j+1)*stride])
	}
}

// bf16Pool holds scratch bfloat16 buffers (rounded copies of A, blocks
// of rows being tiled) between calls.
var bf16Pool = sync.Pool{New: func() any { return new([]uint16) }}

// getBF16 returns a pooled scratch buffer of n bfloat16 values, contents
// undefined, for putBF16 to return.
func getBF16(n int) *[]uint16 {
	buf := bf16Pool.Get().(*[]uint16)
	if cap(*buf) < n {
		*buf = make([]uint16, n)
	}
	*buf = (*buf)[:n]
	return buf
}

func putBF16(buf *[]uint16) { bf16Pool.Put(buf) }

func padBF16(n int) int { return (n + bf16Lanes - 1) / bf16Lanes * bf16Lanes }

// BF16Available reports whether SgemmBF16 runs on AVX-512 BF16 here; without
// it SgemmBF16 computes the same rounded product in float32, more slowly.
func BF16Available() bool { return bf16Tile != nil }

// RoundBF16 rounds x to the nearest bfloat16 (ties to even), as
// NewBF16Matrix and SgemmBF16 round their operands: NaNs stay NaN, and
// subnormals become zeros of their sign, as the AVX-512 BF16 conversion
// makes them.
func RoundBF16(x float32) float32 { return fromBF16(bf16Of(x)) }

func bf16Of(x float32) uint16 {
	b := math.Float32bits(x)
	switch {
	case b&0x7f800000 == 0: // zero or subnormal
		return uint16(b>>16) & 0x8000
	case b&0x7fffffff > 0x7f800000: // NaN: keep the sign, make it quiet
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// toBF16 rounds src into dst (as long), with the vector conversion where
// there is one.
func toBF16(dst []uint16, src []float32) {
	done := toBF16Vec(dst, src)
	for i, x := range src[done:] {
		dst[done+i] = bf16Of(x)
	}
}

// bf16TileFunc is the bfloat16 dot tile's contract: as a float32 dot tile
// (see small_amd64.go), with A and B rows of bfloat16 padded to a multiple
// of 32 values and k that multiple.
type bf16TileFunc func(k int, a *uint16, lda int, b *uint16, ldb int, c *float32, ldc int, alpha, beta float32, mrows, ncols int)

// checkWeightProduct panics, naming the function, unless A (m×k, lda
// apart, lenA long) and C (m×n, ldc apart, lenC long) fit a product x·Wᵀ
// with a prepared n×k weight (SgemmBF16, SgemmPacked).
func checkWeightProduct(name string, m, n, k, lenA, lda, lenC, ldc int) {
	switch {
	case m < 0 || lda < max(k, 1) || ldc < max(n, 1):
		panic(fmt.Sprintf("fastblas: %s m=%d lda=%d ldc=%d for a %d×%d matrix", name, m, lda, ldc, n, k))
	case m > 0 && (lenA < (m-1)*lda+k || lenC < (m-1)*ldc+n):
		panic(fmt.Sprintf("fastblas: %s operands too short for m=%d", name, m))
	}
}

// SgemmBF16 computes C = alpha·A·Wᵀ + beta·C with A (m×w.Cols, row-major,
// lda apart) rounded to bfloat16 on the way in and products accumulated in
// float32: the logits of a decoder step, h·Wᵀ, at half the bytes and twice
// the multiplications per instruction. C is m×w.Rows (ldc apart); with
// beta == 0 it is not read.
func SgemmBF16(m int, alpha float32, a []float32, lda int, w *BF16Matrix, beta float32, c []float32, ldc int) {
	n, k := w.Rows, w.Cols
	checkWeightProduct("SgemmBF16", m, n, k, len(a), lda, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleRows(c, ldc, m, n, beta)
		return
	}
	if w.wideOnly {
		// No bfloat16 instructions: A rounded as it is packed (or, for the
		// small-m paths, into a copy) times w's rounded values as float32.
		sgemmPacked("SgemmBF16", m, alpha, a, lda, w.wide, beta, c, ldc, true)
		return
	}
	amx := amxKernel != nil && (w.data == nil || m >= amxMinM && w.tiles != nil)
	if m == 1 && !amx && bf16VecSplit(w) {
		// Halved with the helper through a pooled job, which allocates
		// nothing (batch-1 steps make thousands of these products).
		j := newBF16VecJob(nil, alpha, a, w, beta, c)
		j.cut = j.units / 2
		helper.split(j.run)
		j.release()
		return
	}
	stride := w.stride
	rows := m
	if amx {
		rows = (m + 31) / 32 * 32 // whole blocks, zeros past m
	}
	buf := getBF16(rows * stride)
	defer putBF16(buf)
	ah := *buf
	for i := 0; i < m; i++ {
		row := ah[i*stride : (i+1)*stride]
		toBF16(row[:k], a[i*lda:i*lda+k])
		clear(row[k:])
	}
	clear(ah[m*stride:])
	if amx {
		b := matrixOperand(w)
		if w.pairs != nil {
			b = pairOperand(w.pairs, w.pairLD)
		}
		sgemmAMX(m, n, alpha, ah, stride, b, beta, c, ldc, false)
		return
	}
	if m >= bf16PairMinM && bf16PairKernel != nil && w.data != nil {
		// Rows padded to whole vectors hold whole pairs: as 32-bit words
		// they are the pair kernel's operands A and Wᵀ, zeros past k.
		w.pairOnce.Do(w.packPairs)
		words := stride / 2
		g := gemmArgs[float32]{kern: bf16PairKernel, bTrans: true, m: m, n: n, k: words, alpha: alpha, a: bf16Words(ah), lda: words, b: bf16Words(w.data), ldb: words, beta: beta, c: c, ldc: ldc, packedB: w.pairBlocks}
		g.run()
		return
	}
	const unit = 8 // columns per piece of work: whole 1×8 tiles when m = 1
	units := (n + unit - 1) / unit
	workers, spin := smallWorkers(m*n*stride, units)
	if workers == 1 {
		// Directly: the closure below escapes, and building it would
		// allocate on every call (batch-1 sampling makes thousands).
		bf16Range(m, 0, n, stride, alpha, ah, w, beta, c, ldc)
		return
	}
	parallelSmall(workers, spin, func(wk int) {
		lo := units * wk / workers * unit
		hi := min(units*(wk+1)/workers*unit, n)
		bf16Range(m, lo, hi, stride, alpha, ah, w, beta, c, ldc)
	})
}

// SgemvBF16Beside is SgemvPackedBeside for SgemmBF16: c = alpha·a·Wᵀ +
// beta·c for one row a, with SgemmBF16's bits, and side run on the calling
// goroutine while the helper multiplies its share of W's rows, where
// SgemmBF16 would halve the product with the helper. It reports whether it
// ran; elsewhere it runs nothing and reports false. side may read a but
// must not write it, nor touch c.
func SgemvBF16Beside(side func(), alpha float32, a []float32, w *BF16Matrix, beta float32, c []float32) bool {
	checkWeightProduct("SgemvBF16Beside", 1, w.Rows, w.Cols, len(a), max(w.Cols, 1), len(c), max(w.Rows, 1))
	if w.Rows == 0 || w.Cols == 0 || !bf16VecSplit(w) {
		return false
	}
	splitBeside(newBF16VecJob(side, alpha, a, w, beta, c), &w.besideCut)
	return true
}

// bf16VecSplit reports whether SgemmBF16 halves a product of one row by w
// with the spinning helper, in whole 1×8 tiles: not without bfloat16
// instructions (wideOnly), nor where AMX tiles alone hold the values.
func bf16VecSplit(w *BF16Matrix) bool {
	if w.wideOnly || w.data == nil {
		return false
	}
	workers, spin := smallWorkers(w.Rows*w.stride, (w.Rows+7)/8)
	return workers == 2 && spin
}

// newBF16VecJob is a job for a product of one row by w in whole 1×8 tiles,
// a rounded into the job's own storage.
func newBF16VecJob(side func(), alpha float32, a []float32, w *BF16Matrix, beta float32, c []float32) *vecJob {
	j := newVecJob(bf16Span, (w.Rows+7)/8, side)
	if cap(j.ah) < w.stride {
		j.ah = make([]uint16, w.stride)
	}
	j.ah = j.ah[:w.stride]
	toBF16(j.ah[:w.Cols], a[:w.Cols])
	clear(j.ah[w.Cols:])
	j.n, j.alpha, j.beta, j.w, j.c = w.Rows, alpha, beta, w, c
	return j
}

// bf16Span multiplies columns [8·u0, 8·u1) of a bfloat16 product of one
// row.
func bf16Span(j *vecJob, u0, u1 int) {
	bf16Range(1, u0*8, min(u1*8, j.n), j.w.stride, j.alpha, j.ah, j.w, j.beta, j.c, j.n)
}

// SgemmBF16TN computes C = alpha·Aᵀ·B + beta·C with A k×m (lda apart) and
// B k×n (ldb apart), both rounded to bfloat16, and products accumulated in
// float32: a weight gradient dyᵀ·x summed over the k rows of a batch. With
// AVX-512 BF16 the float32 GEMM's driver and blocking multiply them with a
// VDPBF16PS micro-kernel, pairing consecutive rows into the 32-bit words
// VDPBF16PS multiplies as each block is packed (no paired copy of a whole
// operand); without it the float32 GEMM multiplies them, rounding each
// block of either operand as it packs it (no rounded copy either). Where
// there are AMX tiles it runs on them (sgemmBF16TNAMX). C is m×n (ldc
// apart); with beta == 0 it is not read.
func SgemmBF16TN(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	switch {
	case m < 0 || n < 0 || k < 0 || lda < max(m, 1) || ldb < max(n, 1) || ldc < max(n, 1):
		panic(fmt.Sprintf("fastblas: SgemmBF16TN m=%d n=%d k=%d lda=%d ldb=%d ldc=%d", m, n, k, lda, ldb, ldc))
	case k > 0 && (len(a) < (k-1)*lda+m || len(b) < (k-1)*ldb+n):
		panic(fmt.Sprintf("fastblas: SgemmBF16TN operands too short for k=%d", k))
	case m > 0 && len(c) < (m-1)*ldc+n:
		panic(fmt.Sprintf("fastblas: SgemmBF16TN C too short for m=%d", m))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleRows(c, ldc, m, n, beta)
		return
	}
	if amxKernel != nil && min(m, n) >= amxMinM {
		sgemmBF16TNAMX(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if bf16PairKernel == nil {
		kp := current.Load()
		g := gemmArgs[float32]{kern: pick(&kp.s, kp.sSmall, m), aTrans: true, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, round: true}
		g.run()
		return
	}
	g := gemmArgs[float32]{kern: bf16PairKernel, aTrans: true, m: m, n: n, k: (k + 1) / 2, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, pairedRows: k}
	g.run()
}

// packAPaired is packA for a transposed A of rows rows taken in pairs
// (gemmArgs.pairedRows): pairs [p0, p0+kc) of columns [i0, i0+mc) are
// paired a block at a time into scratch, a row of mc words per pair (whole
// vectors, where mr-wide panels would leave the pairing to scalar code),
// and then packed into mr-wide micro-panels.
func packAPaired(dst, a []float32, lda, rows, i0, mc, p0, kc, mr int) {
	scratch := getBuf[float32](kc * mc)
	defer putBuf(scratch)
	pairRows(*scratch, mc, a[2*p0*lda+i0:], lda, min(2*kc, rows-2*p0), mc)
	packA(dst, *scratch, mc, true, 0, mc, 0, kc, mr)
}

// packBPaired is packB for a B of rows rows taken in pairs: each nr-wide
// micro-panel is paired straight into place (nr is a whole number of
// vectors), columns past nc zero-filled.
func packBPaired(dst, b []float32, ldb, rows, p0, kc, j0, nc, nr int) {
	src, k := b[2*p0*ldb+j0:], min(2*kc, rows-2*p0)
	for jp := 0; jp < nc; jp += nr {
		cols := min(nr, nc-jp)
		d := dst[jp*kc : jp*kc+nr*kc]
		pairRows(d, nr, src[jp:], ldb, k, cols)
		if cols < nr {
			for p := 0; p < kc; p++ {
				clear(d[p*nr+cols : p*nr+nr])
			}
		}
	}
}

// roundBF16InPlace rounds every element of v to bfloat16 as RoundBF16
// does, with the vector kernel where there is one.
func roundBF16InPlace(v []float32) {
	done := roundBF16Vec(v)
	for i, x := range v[done:] {
		v[done+i] = RoundBF16(x)
	}
}

// pairRows packs rows 2q and 2q+1 of the k×cols matrix src (lds apart),
// rounded to bfloat16, into the 32-bit words of dst's row q (ldd words
// apart): row 2q's value in the low half, as VDPBF16PS and TDPBF16PS pair
// them; a zero row stands in for row k when k is odd. The words are
// carried as float32 bit patterns, which the GEMM driver only moves.
func pairRows(dst []float32, ldd int, src []float32, lds, k, cols int) {
	var zeros *[]float32
	if k%2 == 1 {
		zeros = getBuf[float32](cols)
		defer putBuf(zeros)
		clear(*zeros)
	}
	for q := 0; q < (k+1)/2; q++ {
		lo := src[2*q*lds : 2*q*lds+cols]
		var hi []float32
		if 2*q+1 < k {
			hi = src[(2*q+1)*lds : (2*q+1)*lds+cols]
		} else {
			hi = *zeros
		}
		row := dst[q*ldd : q*ldd+cols]
		done := pairBF16Vec(row, lo, hi)
		for j := done; j < cols; j++ {
			row[j] = math.Float32frombits(uint32(bf16Of(lo[j])) | uint32(bf16Of(hi[j]))<<16)
		}
	}
}

// bf16Range computes columns [lo, hi) of SgemmBF16's C from the rounded
// rows ah (stride apart, as w's).
func bf16Range(m, lo, hi, stride int, alpha float32, ah []uint16, w *BF16Matrix, beta float32, c []float32, ldc int) {
	if m == 1 { // a vector times the matrix: the 1×8 tile over whole eights
		if full := (hi - lo) / 8 * 8; full > 0 {
			bf16Rows(stride, &ah[0], stride, &w.data[lo*stride], stride, &c[lo], ldc, alpha, beta, 1, full)
			lo += full
		}
	}
	for j := lo; j < hi; j += 4 {
		nc := min(4, hi-j)
		for i := 0; i < m; i += 4 {
			bf16Tile(stride, &ah[i*stride], stride, &w.data[j*stride], stride, &c[i*ldc+j], ldc, alpha, beta, min(4, m-i), nc)
		}
	}
}

// bf16Words views pairs of bfloat16 values as the 32-bit words VDPBF16PS
// multiplies, carried as float32 bit patterns, which the GEMM driver only
// moves (as pairRows's words are).
func bf16Words(v []uint16) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(v))), len(v)/2)
}

// scaleRows sets the rows×cols block of c (ldc apart) to beta times itself.
func scaleRows(c []float32, ldc, rows, cols int, beta float32) {
	for i := 0; i < rows; i++ {
		r := c[i*ldc : i*ldc+cols]
		for j := range r {
			if beta == 0 {
				r[j] = 0
			} else {
				r[j] *= beta
			}
		}
	}
}
