package fastblas

import (
	"fmt"
	"sync"

	"gonum.org/v1/gonum/blas"
)

// PackedMatrix is a read-only float32 matrix W [Rows][Cols] kept as the
// right-hand operand of x·Wᵀ in the order the GEMM micro-kernel reads it,
// the operand of SgemmPacked. Sgemm packs (transposes) W on every call,
// which at a beam search's shapes costs a fifth as much as the arithmetic;
// packed once for the length of a search, W is read as is. It does not
// follow later changes of the values it was made from: make it again after
// one. Safe for concurrent use.
type PackedMatrix struct {
	Rows, Cols int
	src        []float32 // the values to pack, and to multiply when the packed form does not serve
	once       sync.Once // packs on the first product that uses the packed form
	path       *kernelPair
	blocks     [][]float32 // per depth block of the kernel: the nr-column micro-panels of all Rows
}

// NewPackedMatrix returns the rows×cols row-major matrix w (at least
// rows*cols long) for SgemmPacked, which packs it for the kernel path in
// use on the first product that needs it. It keeps w, which must not change
// while the matrix is in use.
func NewPackedMatrix(rows, cols int, w []float32) *PackedMatrix {
	if rows < 0 || cols < 0 || len(w) < rows*cols {
		panic(fmt.Sprintf("fastblas: NewPackedMatrix(%d, %d) of %d values", rows, cols, len(w)))
	}
	return &PackedMatrix{Rows: rows, Cols: cols, src: w[:rows*cols]}
}

// pack fills the micro-panels for the kernel path kp.
func (p *PackedMatrix) pack(kp *kernelPair) {
	kern := &kp.s
	kc := min(kern.kc, p.Cols)
	panels := (p.Rows + kern.nr - 1) / kern.nr
	for pc := 0; pc < p.Cols; pc += kc {
		kcur := min(kc, p.Cols-pc)
		block := make([]float32, panels*kern.nr*kcur)
		packB(block, p.src, p.Cols, true, pc, kcur, 0, p.Rows, kern.nr)
		p.blocks = append(p.blocks, block)
	}
	p.path = kp
}

// packedMinM is the fewest rows of x for which SgemmPacked runs the packed
// kernel. Fewer go to Sgemm, whose small-m kernels waste no padded rows:
// at 32×3000×256 they are 4% faster than the packed 12-row kernel, at 64
// rows 11% slower (BenchmarkSgemmPacked, one core).
const packedMinM = 48

// SgemmPacked computes C = alpha·A·Wᵀ + beta·C with A m×w.Cols (lda apart)
// and C m×w.Rows (ldc apart), as Sgemm(NoTrans, Trans, ...) with W does
// but without packing W. With beta == 0, C is not read.
func SgemmPacked(m int, alpha float32, a []float32, lda int, w *PackedMatrix, beta float32, c []float32, ldc int) {
	n, k := w.Rows, w.Cols
	checkWeightProduct("SgemmPacked", m, n, k, len(a), lda, len(c), ldc)
	kp := current.Load()
	if m >= packedMinM && k > 0 && alpha != 0 {
		w.once.Do(func() { w.pack(kp) })
	}
	if m < packedMinM || k == 0 || alpha == 0 || kp != w.path {
		Implementation{}.Sgemm(blas.NoTrans, blas.Trans, m, n, k, alpha, a, lda, w.src, max(k, 1), beta, c, ldc)
		return
	}
	if n == 0 {
		return
	}
	g := gemmArgs[float32]{kern: &kp.s, bTrans: true, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: w.src, ldb: k, beta: beta, c: c, ldc: ldc, packedB: w.blocks}
	g.run()
}
