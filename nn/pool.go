package nn

import (
	"fmt"
	"math"

	"github.com/seqtask/seqtask/vecmath"
)

// ReLU is the rectifier y = max(x, 0), as torch.nn.ReLU. It works in place
// on any Mat (images or features); its Backward passes the gradient where
// y > 0 and zeroes it elsewhere (0 at x = 0, as PyTorch). It has no
// parameters: the value is its methods.
//
// Both passes are branch-free bit operations on the sign bit (random signs
// would defeat the branch predictor), split over the CPUs for large inputs.
type ReLU[T Float] struct{}

// ReLUCache refers to the output of the last Forward for Backward; its zero
// value is ready to use.
type ReLUCache[T Float] struct {
	y Mat[T] // the last output, aliasing the caller's Mat
}

// Forward rectifies x [N][D] in place and returns it; -0 becomes +0. c
// refers to x as the output, so the caller must leave x unchanged until
// Backward.
func (ReLU[T]) Forward(c *ReLUCache[T], x Mat[T]) Mat[T] {
	c.y = x
	parallelRange(x.Rows, x.Cols, func(lo, hi int) { reluRows(x.Data[lo*x.Cols : hi*x.Cols]) })
	return x
}

// Backward zeroes dy [N][D] in place wherever the output of the Forward
// that filled c was not positive, turning the output gradient into the
// input gradient.
func (ReLU[T]) Backward(c *ReLUCache[T], dy Mat[T]) {
	mustSameShape("ReLU.Backward", c.y, dy)
	parallelRange(dy.Rows, dy.Cols, func(lo, hi int) {
		reluGradRows(dy.Data[lo*dy.Cols:hi*dy.Cols], c.y.Data[lo*dy.Cols:hi*dy.Cols])
	})
}

// reluRows rectifies v in place: float32 through vecmath's vector kernel,
// float64 by the same sign-bit rule in Go.
func reluRows[T Float](v []T) {
	switch d := any(v).(type) {
	case []float32:
		vecmath.ReLU32(d)
	case []float64:
		reluRows64(d)
	}
}

func reluRows64(d []float64) {
	for i, x := range d {
		b := math.Float64bits(x)
		d[i] = math.Float64frombits(b &^ uint64(int64(b)>>63))
	}
}

// reluGradRows zeroes dy wherever y is not positive.
func reluGradRows[T Float](dy, y []T) {
	switch d := any(dy).(type) {
	case []float32:
		vecmath.ReLUGrad32(d, any(y).([]float32))
	case []float64:
		reluGrad64(d, any(y).([]float64))
	}
}

func reluGrad64(d, y []float64) {
	for i, g := range d {
		// y's bits are in [0, 2⁶³): keep g iff they are not all zero.
		keep := uint64(-int64(math.Float64bits(y[i])) >> 63)
		d[i] = math.Float64frombits(math.Float64bits(g) & keep)
	}
}

// MaxPool2D takes the maximum of each K×K window of each channel, windows
// Stride apart, as torch.nn.MaxPool2d without padding (floor mode). The
// position of each window's maximum is cached for Backward, which routes the
// gradient there alone; on ties the first maximum in row-major order wins, as
// PyTorch's CPU kernel does, and a NaN wins over any number.
type MaxPool2D[T Float] struct {
	Kernel, Stride int
	In, Out        ImageShape // geometry of an input row and of an output row
}

// MaxPool2DCache is what MaxPool2D.Forward keeps for Backward (where each
// maximum was) and the output buffer it reuses; its zero value is ready to
// use.
type MaxPool2DCache[T Float] struct {
	y   Mat[T]
	arg []int32 // [N*Out.Size()]: index within the input row of each maximum
	n   int
}

// NewMaxPool2D returns a pool over images of geometry in with a kernel×kernel
// window, moved stride pixels at a time; stride 0 means stride = kernel, the
// PyTorch default (non-overlapping windows). Output rows have geometry
// C × ((H-kernel)/stride+1) × ((W-kernel)/stride+1); trailing pixels that no
// window reaches are ignored, as PyTorch does.
func NewMaxPool2D[T Float](in ImageShape, kernel, stride int) (*MaxPool2D[T], error) {
	if stride == 0 {
		stride = kernel
	}
	switch {
	case !in.valid():
		return nil, fmt.Errorf("max_pool2d: input shape %v must be positive", in)
	case kernel < 1 || stride < 1:
		return nil, fmt.Errorf("max_pool2d: kernel %d and stride %d must be at least 1", kernel, stride)
	case kernel > in.H || kernel > in.W:
		return nil, fmt.Errorf("max_pool2d: kernel %d larger than input %v", kernel, in)
	}
	out := ImageShape{C: in.C, H: (in.H-kernel)/stride + 1, W: (in.W-kernel)/stride + 1}
	return &MaxPool2D[T]{Kernel: kernel, Stride: stride, In: in, Out: out}, nil
}

// Forward maps x [N][C*H*W] to y [N][C*Ho*Wo] (geometry m.In to m.Out),
// held by c until its next Forward; x may change afterwards, since only the
// argmax positions are kept.
func (m *MaxPool2D[T]) Forward(c *MaxPool2DCache[T], x Mat[T]) Mat[T] {
	if x.Cols != m.In.Size() {
		panic(fmt.Sprintf("nn: MaxPool2D.Forward: input has %d columns, want %v = %d", x.Cols, m.In, m.In.Size()))
	}
	c.n = x.Rows
	c.y = resize(c.y, x.Rows, m.Out.Size())
	if need := x.Rows * m.Out.Size(); cap(c.arg) < need {
		c.arg = make([]int32, need)
	}
	c.arg = c.arg[:x.Rows*m.Out.Size()]
	parallelRange(x.Rows, m.In.Size(), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			m.forwardImage(x.Row(i), c.y.Row(i), c.arg[i*m.Out.Size():(i+1)*m.Out.Size()])
		}
	})
	return c.y
}

// forwardImage pools one image x [C*H*W] into y [C*Ho*Wo], recording in arg
// the index within x of each window's maximum.
func (m *MaxPool2D[T]) forwardImage(x, y []T, arg []int32) {
	in, out, k, s := m.In, m.Out, m.Kernel, m.Stride
	o := 0
	for ch := 0; ch < in.C; ch++ {
		base := ch * in.H * in.W
		for oy := 0; oy < out.H; oy++ {
			rowStart := base + oy*s*in.W
			if k == 2 {
				// The common 2×2 window in float32, without unpredictable branches.
				if xs, ok := any(x).([]float32); ok {
					vecmath.MaxPool2Row32(xs, any(y[o:o+out.W]).([]float32), arg[o:o+out.W], rowStart, in.W, s)
					o += out.W
					continue
				}
			}
			for ox := 0; ox < out.W; ox++ {
				start := rowStart + ox*s
				best, at := x[start], start
				for ky := 0; ky < k; ky++ {
					row := start + ky*in.W
					for j, v := range x[row : row+k] {
						if v > best || (v != v && best == best) { // first max wins; NaN beats numbers
							best, at = v, row+j
						}
					}
				}
				y[o], arg[o] = best, int32(at)
				o++
			}
		}
	}
}

// Backward writes into dx [N][C*H*W] the gradient of the input of the
// Forward that filled c: each dy [N][C*Ho*Wo] entry added at its window's
// maximum, zero elsewhere (overlapping windows accumulate).
func (m *MaxPool2D[T]) Backward(c *MaxPool2DCache[T], dy, dx Mat[T]) {
	m.backward("Backward", c, dy, dx, false)
}

// BackwardReLU is Backward for a pool whose input came from a ReLU, with the
// ReLU's Backward folded in: dx gets each dy entry at its window's maximum
// where that maximum is not +0 (the ReLU let it through), zero elsewhere —
// what Backward followed by ReLU.Backward on dx give. The rule reads only the
// pool's own outputs (a window's maximum is the ReLU output at its argmax),
// so dx may be the ReLU's output itself: a network can take the gradient of
// its activations in their own storage instead of a buffer as large. For
// the same reason the result Forward returned must be unchanged until then,
// and dy must not share its storage.
func (m *MaxPool2D[T]) BackwardReLU(c *MaxPool2DCache[T], dy, dx Mat[T]) {
	m.backward("BackwardReLU", c, dy, dx, true)
}

// backward is Backward, or with relu BackwardReLU (named as method in
// its panic).
func (m *MaxPool2D[T]) backward(method string, c *MaxPool2DCache[T], dy, dx Mat[T], relu bool) {
	if dy.Rows != c.n || dy.Cols != m.Out.Size() || dx.Rows != c.n || dx.Cols != m.In.Size() {
		panic(fmt.Sprintf("nn: MaxPool2D.%s: dy %dx%d, dx %dx%d, want %dx%d and %dx%d",
			method, dy.Rows, dy.Cols, dx.Rows, dx.Cols, c.n, m.Out.Size(), c.n, m.In.Size()))
	}
	os := m.Out.Size()
	parallelRange(c.n, m.In.Size(), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dr, gr, yr := dx.Row(i), dy.Row(i), c.y.Row(i)
			clear(dr)
			for o, at := range c.arg[i*os : (i+1)*os] {
				if !relu || yr[o] != 0 { // ReLU.Backward's rule: all but +0 (NaN too) pass
					dr[at] += gr[o]
				}
			}
		}
	})
}
