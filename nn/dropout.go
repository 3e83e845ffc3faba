package nn

import "math/rand/v2"

// Dropout zeroes each element with probability P during training and scales
// the survivors by 1/(1-P) ("inverted" dropout, as PyTorch), so evaluation
// needs no rescaling.
type Dropout[T Float] struct {
	P float64
}

// DropoutCache holds the mask of the last Forward for Backward; its zero
// value is ready to use.
type DropoutCache[T Float] struct {
	mask []T // 0 or 1/(1-P) per element; empty when nothing was dropped
}

// Forward applies dropout to x in place when training and P > 0, keeping
// the mask in c; rng draws the mask so that a seeded run repeats exactly.
func (d *Dropout[T]) Forward(c *DropoutCache[T], x Mat[T], train bool, rng *rand.Rand) {
	n := x.Rows * x.Cols
	if !train || d.P <= 0 {
		c.mask = c.mask[:0]
		return
	}
	if cap(c.mask) < n {
		c.mask = make([]T, n)
	}
	c.mask = c.mask[:n]
	keep := T(1 / (1 - d.P))
	for i := range c.mask {
		if rng.Float64() < d.P {
			c.mask[i] = 0
		} else {
			c.mask[i] = keep
		}
		x.Data[i] *= c.mask[i]
	}
}

// Backward applies the mask of the Forward that filled c to the gradient
// dy in place.
func (d *Dropout[T]) Backward(c *DropoutCache[T], dy Mat[T]) {
	for i, m := range c.mask {
		dy.Data[i] *= m
	}
}
