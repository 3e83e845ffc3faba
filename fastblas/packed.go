package fastblas

import (
	"fmt"
	"sync"

	"gonum.org/v1/gonum/blas"
)

// PackedMatrix is a read-only float32 matrix W [Rows][Cols] kept as the
// right-hand operand of a product in the order the GEMM micro-kernel reads
// it: of x·Wᵀ (NewPackedMatrix, SgemmPacked) or of x·W (NewPackedMatrixNoTrans,
// SgemmPackedNoTrans). Sgemm packs W on every call, which at a beam search's
// shapes costs a fifth as much as the arithmetic, and at a recurrent step's
// on a CPU without the small-m kernels a tenth; packed once for the length
// of a search or of a training pass, W is read as is. It does not follow
// later changes of the values it was made from: make it again, or Refresh
// it, after one. Safe for concurrent use, but for Refresh.
type PackedMatrix struct {
	Rows, Cols int
	noTrans    bool      // the operand of x·W rather than of x·Wᵀ
	src        []float32 // the values to pack, and to multiply when the packed form does not serve
	once       sync.Once // packs on the first product that uses the packed form
	path       *kernelPair
	blocks     [][]float32 // per depth block of the kernel: the nr-column micro-panels of all columns of op(W)
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
}

// pack fills the micro-panels of op(W) for the kernel path kp, reusing the
// blocks a previous packing left where their sizes match.
func (p *PackedMatrix) pack(kp *kernelPair) {
	kern := &kp.s
	k, n := p.Cols, p.Rows // op(W) = Wᵀ is k×n
	if p.noTrans {
		k, n = p.Rows, p.Cols
	}
	kc := min(kern.kc, k)
	panels := (n + kern.nr - 1) / kern.nr
	blocks := p.blocks[:0]
	for pc, i := 0, 0; pc < k; pc, i = pc+kc, i+1 {
		kcur := min(kc, k-pc)
		var block []float32
		if size := panels * kern.nr * kcur; i < len(p.blocks) && len(p.blocks[i]) == size {
			block = p.blocks[i]
		} else {
			block = make([]float32, size)
		}
		packB(block, p.src, p.Cols, !p.noTrans, pc, kcur, 0, n, kern.nr)
		blocks = append(blocks, block)
	}
	p.blocks = blocks
	p.path = kp
}

// packedMinM is the fewest rows of x for which SgemmPacked runs the packed
// kernel where the small-m kernels could take the product: at 32×3000×256
// they are 4% faster than the packed 12-row kernel, at 64 rows 11% slower
// (BenchmarkSgemmPacked, one core, AVX-512). Where they cannot (AVX2 has
// them for m = 1 only), every m from 2 on runs packed.
const packedMinM = 48

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
	packed := k > 0 && alpha != 0 && m > 0 && (m >= packedMinM || !smallFor[float32](kp).use(bTrans, m, k))
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
	g := gemmArgs[float32]{kern: &kp.s, bTrans: bTrans, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: w.src, ldb: w.Cols, beta: beta, c: c, ldc: ldc, packedB: w.blocks, round: roundA}
	g.run()
}
