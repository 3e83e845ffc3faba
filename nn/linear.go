package nn

import (
	"math"
	"math/rand/v2"
)

// Linear is the affine map y = x·Wᵀ + b with W [out][in], as torch.nn.Linear.
type Linear[T Float] struct {
	Weight, Bias *Param[T] // [out][in], [out]

	x Mat[T] // cached input
	y Mat[T] // output buffer, reused
}

// NewLinear returns a Linear named prefix.weight / prefix.bias, initialised
// as PyTorch does: U(±1/sqrt(in)).
func NewLinear[T Float](prefix string, in, out int, rng *rand.Rand) *Linear[T] {
	l := &Linear[T]{Weight: NewParam[T](prefix+".weight", out, in), Bias: NewParam[T](prefix+".bias", out)}
	bound := 1 / math.Sqrt(float64(in))
	InitUniform(l.Weight.Value, bound, rng)
	InitUniform(l.Bias.Value, bound, rng)
	return l
}

// Params returns the weight and bias.
func (l *Linear[T]) Params() Params[T] { return Params[T]{l.Weight, l.Bias} }

// Forward maps x [N][in] to y [N][out]. y is valid until the next Forward.
func (l *Linear[T]) Forward(x Mat[T]) Mat[T] {
	l.x = x
	l.y = resize(l.y, x.Rows, l.Weight.Shape[0])
	Gemm(false, true, 1, x, l.Weight.Mat(), 0, l.y)
	addRowVector(l.y, l.Bias.Value)
	return l.y
}

// Backward accumulates dW += dyᵀ·x and db += Σ dy, and writes dx = dy·W into
// dx when dx is not empty (pass an empty Mat when the input needs no gradient).
func (l *Linear[T]) Backward(dy, dx Mat[T]) {
	Gemm(true, false, 1, dy, l.x, 1, l.Weight.GradMat())
	addColumnSums(l.Bias.Grad, dy)
	if !dx.Empty() {
		Gemm(false, false, 1, dy, l.Weight.Mat(), 0, dx)
	}
}
