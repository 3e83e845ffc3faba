package nn

import (
	"fmt"

	"github.com/seqtask/seqtask/vecmath"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// Float is the element type a model computes in.
type Float interface{ float32 | float64 }

// Mat is a dense row-major matrix whose stride equals its column count, so a
// block of whole rows is again a Mat sharing the same storage.
type Mat[T Float] struct {
	Rows, Cols int
	Data       []T // len(Data) >= Rows*Cols
}

// NewMat allocates a zeroed rows×cols matrix.
func NewMat[T Float](rows, cols int) Mat[T] {
	return Mat[T]{Rows: rows, Cols: cols, Data: make([]T, rows*cols)}
}

// RowBlock returns rows [from, to) as a Mat that shares storage with m.
func (m Mat[T]) RowBlock(from, to int) Mat[T] {
	return Mat[T]{Rows: to - from, Cols: m.Cols, Data: m.Data[from*m.Cols : to*m.Cols]}
}

// Row returns row i as a slice into m's storage.
func (m Mat[T]) Row(i int) []T { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Empty reports whether m holds no elements (the "absent" value of optional
// inputs such as initial states).
func (m Mat[T]) Empty() bool { return m.Rows == 0 || m.Cols == 0 }

// Zero sets every element of m to 0.
func (m Mat[T]) Zero() { clear(m.Data[:m.Rows*m.Cols]) }

// CopyFrom copies src, which must have m's shape, into m.
func (m Mat[T]) CopyFrom(src Mat[T]) {
	mustSameShape("CopyFrom", m, src)
	copy(m.Data[:m.Rows*m.Cols], src.Data[:src.Rows*src.Cols])
}

// Clone returns a copy of m with its own storage.
func (m Mat[T]) Clone() Mat[T] {
	c := NewMat[T](m.Rows, m.Cols)
	copy(c.Data, m.Data[:m.Rows*m.Cols])
	return c
}

func mustSameShape[T Float](op string, a, b Mat[T]) {
	if a.Rows != b.Rows || a.Cols != b.Cols {
		panic(fmt.Sprintf("nn: %s: shape %dx%d != %dx%d", op, a.Rows, a.Cols, b.Rows, b.Cols))
	}
}

// resize returns a rows×cols matrix reusing buf's storage when it is large
// enough, so per-batch buffers stop allocating once the largest batch has
// been seen. The contents are unspecified.
func resize[T Float](buf Mat[T], rows, cols int) Mat[T] {
	n := rows * cols
	if cap(buf.Data) < n {
		buf.Data = make([]T, n)
	}
	return Mat[T]{Rows: rows, Cols: cols, Data: buf.Data[:n]}
}

// Gemm computes c = alpha*op(a)*op(b) + beta*c, where op transposes its
// argument when the matching flag is set. It dispatches to gonum's blas32 or
// blas64, whichever implementation is installed. With beta = 0, c's previous
// contents are ignored.
func Gemm[T Float](transA, transB bool, alpha T, a, b Mat[T], beta T, c Mat[T]) {
	gemmStrided(transA, transB, alpha, a.strided(), b.strided(), beta, c.strided())
}

// strided is a rows×cols matrix whose rows lie ld elements apart in data
// (ld ≥ cols): what Gemm's operands are, with rows that may be padded.
type strided[T Float] struct {
	rows, cols, ld int
	data           []T
}

func (m Mat[T]) strided() strided[T] {
	return strided[T]{rows: m.Rows, cols: m.Cols, ld: max(m.Cols, 1), data: m.Data}
}

func (m strided[T]) general32() blas32.General {
	return blas32.General{Rows: m.rows, Cols: m.cols, Stride: m.ld, Data: any(m.data).([]float32)}
}

func (m strided[T]) general64() blas64.General {
	return blas64.General{Rows: m.rows, Cols: m.cols, Stride: m.ld, Data: any(m.data).([]float64)}
}

// gemmStrided is Gemm on matrices with padded rows.
func gemmStrided[T Float](transA, transB bool, alpha T, a, b strided[T], beta T, c strided[T]) {
	m, k := a.rows, a.cols
	if transA {
		m, k = k, m
	}
	kb, n := b.rows, b.cols
	if transB {
		kb, n = n, kb
	}
	if k != kb || c.rows != m || c.cols != n {
		panic(fmt.Sprintf("nn: Gemm shapes: op(a) %dx%d, op(b) %dx%d, c %dx%d", m, k, kb, n, c.rows, c.cols))
	}
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	if k == 0 {
		for i := range c.rows {
			Mat[T]{Rows: 1, Cols: c.cols, Data: c.data[i*c.ld : i*c.ld+c.cols]}.Scale(beta)
		}
		return
	}
	if _, ok := any(a.data).([]float32); ok {
		blas32.Gemm(ta, tb, float32(alpha), a.general32(), b.general32(), float32(beta), c.general32())
		return
	}
	blas64.Gemm(ta, tb, float64(alpha), a.general64(), b.general64(), float64(beta), c.general64())
}

// Scale multiplies every element of m by s; s = 0 clears m even of NaNs.
func (m Mat[T]) Scale(s T) {
	d := m.Data[:m.Rows*m.Cols]
	if s == 0 {
		clear(d)
		return
	}
	for i := range d {
		d[i] *= s
	}
}

// addRowVector adds v to every row of m.
func addRowVector[T Float](m Mat[T], v []T) {
	for r := 0; r < m.Rows; r++ {
		addSlice(m.Row(r), v)
	}
}

// addColumnSums adds the sum of m's rows to dst.
func addColumnSums[T Float](dst []T, m Mat[T]) {
	for r := 0; r < m.Rows; r++ {
		addSlice(dst, m.Row(r))
	}
}

// addSlice adds src to dst element by element (src at least as long), with
// vecmath's vector kernel for float32.
func addSlice[T Float](dst, src []T) {
	if d, ok := any(dst).([]float32); ok {
		vecmath.Add32(d, any(src).([]float32))
		return
	}
	for i := range dst {
		dst[i] += src[i]
	}
}

// NewMatLike returns a rows×cols matrix reusing buf's storage when it is
// large enough; the contents are unspecified. Callers keep the result as
// their buffer for the next call.
func NewMatLike[T Float](buf Mat[T], rows, cols int) Mat[T] { return resize(buf, rows, cols) }

// AddTo adds src to dst element by element (same shape), for gradients that
// reach one value along several paths.
func AddTo[T Float](dst, src Mat[T]) {
	mustSameShape("AddTo", dst, src)
	addInto(dst, src)
}

// Argmax is the index of the largest element of v (the first on ties).
func Argmax[T Float](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// sum returns Σ v[i], with vecmath's vector sum for float32.
func sum[T Float](v []T) T {
	if s, ok := any(v).([]float32); ok {
		return T(vecmath.Sum32(s))
	}
	var total T
	for _, x := range v {
		total += x
	}
	return total
}
