package nn

import (
	"math"
	"math/rand/v2"
)

// Linear is the affine map y = x·Wᵀ + b with W [out][in], as torch.nn.Linear.
type Linear[T Float] struct {
	Weight, Bias *Param[T] // [out][in], [out]
}

// LinearCache is what Linear.Forward keeps for Backward (its input) and
// the output buffer it reuses; its zero value is ready to use.
type LinearCache[T Float] struct {
	WeightProducts[T]
	x Mat[T] // the input, as given (not copied)
	y Mat[T] // the output
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

// Forward maps x [N][in] to y [N][out], held by c until its next Forward.
// c keeps x itself, so x must stay unchanged until Backward.
func (l *Linear[T]) Forward(c *LinearCache[T], x Mat[T]) Mat[T] {
	c.x = x
	c.y = resize(c.y, x.Rows, l.Weight.Shape[0])
	c.gemmWeight(x, l.Weight, 0, c.y)
	addRowVector(c.y, l.Bias.Value)
	return c.y
}

// Backward takes dy [N][out] for the Forward that filled c, accumulates
// dW += dyᵀ·x and db += Σ dy, and writes dx = dy·W into dx when dx is not
// empty (pass an empty Mat when the input needs no gradient).
func (l *Linear[T]) Backward(c *LinearCache[T], dy, dx Mat[T]) {
	c.gemmGrad(dy, c.x, l.Weight)
	addColumnSums(l.Bias.Grad, dy)
	if !dx.Empty() {
		c.gemmData(dy, l.Weight, 0, dx)
	}
}
