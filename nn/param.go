package nn

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/vecmath"
)

// Param is a learnable tensor and its gradient, named as PyTorch names it
// (for example "rnn.weight_hh_l0") so that weights round-trip through
// safetensors files and can be compared with PyTorch's.
type Param[T Float] struct {
	Name  string
	Shape []int // PyTorch's shape, e.g. [G*H, D] for weight_ih
	Value []T
	Grad  []T
	// Frozen parameters keep their values: optimizers skip them, leaving
	// their moments and step count as they are, so that a model can train
	// in phases (a pre-trained encoder held fixed under a new decoder).
	Frozen bool
	// sharedBF16 is the pass that rounds the value for all the copies of
	// the model sharing it (ShareBF16); nil: each pass rounds its own.
	sharedBF16 *BF16Pass[T]
	// predicting holds the weight's inference copies (rounded to bfloat16,
	// packed for the GEMM kernel) once DropGrads has made it a parameter
	// that only predicts; nil while it trains.
	predicting *inferenceCopies
}

// inferenceCopies are a predicting parameter's value in the forms the
// inference products read (WeightProducts' UseBF16 and UsePacked), made on
// first use and then shared by every search, request and step.
type inferenceCopies struct {
	bf16Once, packedOnce sync.Once
	bf16                 *fastblas.BF16Matrix
	packed               *fastblas.PackedMatrix
}

// inferenceBF16 is the weight rounded to bfloat16 for all of a predicting
// parameter's products, or nil while it trains (T is float32).
func (p *Param[T]) inferenceBF16() *fastblas.BF16Matrix {
	if c := p.predicting; c != nil {
		return madeOnce(&c.bf16Once, &c.bf16, p, fastblas.NewBF16Matrix)
	}
	return nil
}

// inferencePacked is the weight packed for the GEMM kernel for all of a
// predicting parameter's products, or nil while it trains (T is float32).
func (p *Param[T]) inferencePacked() *fastblas.PackedMatrix {
	if c := p.predicting; c != nil {
		return madeOnce(&c.packedOnce, &c.packed, p, fastblas.NewPackedMatrix)
	}
	return nil
}

// madeOnce returns *slot, built from p's float32 value by build the first
// time once runs.
func madeOnce[M any, T Float](once *sync.Once, slot *M, p *Param[T], build func(rows, cols int, v []float32) M) M {
	once.Do(func() {
		m := p.Mat()
		*slot = build(m.Rows, m.Cols, any(p.Value).([]float32))
	})
	return *slot
}

// NewParam allocates a zeroed parameter of the given shape.
func NewParam[T Float](name string, shape ...int) *Param[T] {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Param[T]{Name: name, Shape: shape, Value: make([]T, n), Grad: make([]T, n)}
}

// Mat views a two-dimensional parameter's value as a matrix.
func (p *Param[T]) Mat() Mat[T] {
	return Mat[T]{Rows: p.Shape[0], Cols: p.Size() / p.Shape[0], Data: p.Value}
}

// GradMat views a two-dimensional parameter's gradient as a matrix.
func (p *Param[T]) GradMat() Mat[T] {
	return Mat[T]{Rows: p.Shape[0], Cols: p.Size() / p.Shape[0], Data: p.Grad}
}

// Size is the number of elements.
func (p *Param[T]) Size() int { return len(p.Value) }

// Params is an ordered collection of a model's parameters.
type Params[T Float] []*Param[T]

// ZeroGrad clears every gradient, allocating those DropGrads freed (the
// model trains again: its inference copies are dropped); call it before
// each backward pass.
func (ps Params[T]) ZeroGrad() {
	for _, p := range ps {
		if p.Grad == nil {
			p.Grad = make([]T, len(p.Value))
			p.predicting = nil
		}
		clear(p.Grad)
	}
}

// DropGrads makes the parameters a model's that only predicts (a loaded
// model, a serving replica): it frees every gradient, the memory of a
// second copy of the weights, and lets the inference products round or
// pack each weight once for all searches instead of once per search. The
// values must not change from then on; ZeroGrad makes the model
// trainable again.
func (ps Params[T]) DropGrads() {
	for _, p := range ps {
		p.Grad = nil
		if p.predicting == nil {
			p.predicting = &inferenceCopies{}
		}
	}
}

// Count is the total number of learnable scalars.
func (ps Params[T]) Count() int {
	n := 0
	for _, p := range ps {
		n += p.Size()
	}
	return n
}

// ByName indexes the parameters by name; a duplicate name is an error since
// it would make checkpoints ambiguous.
func (ps Params[T]) ByName() (map[string]*Param[T], error) {
	m := make(map[string]*Param[T], len(ps))
	for _, p := range ps {
		if _, dup := m[p.Name]; dup {
			return nil, fmt.Errorf("duplicate parameter name %q", p.Name)
		}
		m[p.Name] = p
	}
	return m, nil
}

// GradNorm is the Euclidean norm of all gradients taken together. The
// squares are summed in float64 by blocks of each parameter (over the
// cores), and the blocks' sums then in order, so the result does not depend
// on the number of cores.
func (ps Params[T]) GradNorm() float64 {
	blocks := ps.gradBlocks()
	sums := make([]float64, len(blocks))
	forEachBlock(blocks, func(i int, g []T) { sums[i] = sumSquares(g) })
	var s float64
	for _, v := range sums {
		s += v
	}
	return math.Sqrt(s)
}

// ClipGradNorm rescales all gradients together so that their global norm is
// at most maxNorm, as torch.nn.utils.clip_grad_norm_ does, and returns the
// norm before clipping. maxNorm <= 0 disables clipping.
func (ps Params[T]) ClipGradNorm(maxNorm float64) float64 {
	norm := ps.GradNorm()
	if maxNorm > 0 && norm > maxNorm {
		s := T(maxNorm / (norm + 1e-6))
		forEachBlock(ps.gradBlocks(), func(_ int, g []T) {
			for i := range g {
				g[i] *= s
			}
		})
	}
	return norm
}

// gradBlock is the most gradient elements GradNorm and ClipGradNorm hand a
// core at once: enough to outweigh starting a goroutine, few enough that a
// model's largest matrix is shared between the cores.
const gradBlock = 1 << 16

// gradBlocks cuts every gradient into blocks of at most gradBlock
// elements, in parameter order.
func (ps Params[T]) gradBlocks() [][]T {
	var blocks [][]T
	for _, p := range ps {
		for g := p.Grad; len(g) > 0; g = g[min(gradBlock, len(g)):] {
			blocks = append(blocks, g[:min(gradBlock, len(g))])
		}
	}
	return blocks
}

// forEachBlock calls f on every block, spread over the cores when there is
// enough work.
func forEachBlock[T Float](blocks [][]T, f func(i int, block []T)) {
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	parallelRange(len(blocks), n/max(len(blocks), 1), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i, blocks[i])
		}
	})
}

// sumSquares is the sum of x's squares in float64.
func sumSquares[T Float](x []T) float64 {
	if x32, ok := any(x).([]float32); ok {
		return vecmath.SumSquares32(x32)
	}
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

// ShareBF16 makes the bfloat16 training passes of the model these
// parameters belong to take their rounded weights from pass: data-parallel
// copies of a model, whose parameters share their values, then round each
// weight once per step between them rather than once each. The caller
// begins pass once per step, before the copies run.
func (ps Params[T]) ShareBF16(pass *BF16Pass[T]) {
	for _, p := range ps {
		p.sharedBF16 = pass
	}
}

// ShareValues makes every parameter of ps use the values of the parameter
// of from at the same position, which must have the same name and shape:
// copies of one model (serving replicas, data-parallel workers) then read
// one set of weights, while each keeps its own gradients and layer caches.
// A later change to either side's values is seen by both. Copies of a
// model that only predicts (DropGrads) also share its inference copies.
func (ps Params[T]) ShareValues(from Params[T]) error {
	if len(ps) != len(from) {
		return fmt.Errorf("sharing values: %d parameters, the source has %d", len(ps), len(from))
	}
	for i, p := range ps {
		q := from[i]
		if p.Name != q.Name || !slices.Equal(p.Shape, q.Shape) {
			return fmt.Errorf("sharing values: parameter %d is %s %v, the source's is %s %v", i, p.Name, p.Shape, q.Name, q.Shape)
		}
	}
	for i, p := range ps {
		p.Value = from[i].Value
		p.predicting = from[i].predicting
	}
	return nil
}

// Predicting reports whether every parameter only predicts (DropGrads).
func (ps Params[T]) Predicting() bool {
	for _, p := range ps {
		if p.predicting == nil {
			return false
		}
	}
	return len(ps) > 0
}

// PredictingSince is an opaque value that names the weights of parameters
// that only predict: the same from DropGrads until they train again
// (ZeroGrad), and a new one after each later DropGrads; nil while they
// train. What is computed from a predicting model's weights can be kept
// while it stays the same.
func (ps Params[T]) PredictingSince() any {
	if !ps.Predicting() {
		return nil
	}
	return ps[0].predicting
}
