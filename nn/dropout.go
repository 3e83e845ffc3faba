package nn

import "math/rand/v2"

// Dropout zeroes each element with probability P during training and scales
// the survivors by 1/(1-P) ("inverted" dropout, as PyTorch), so evaluation
// needs no rescaling.
type Dropout[T Float] struct {
	P float64

	mask []T
}

// Forward applies dropout to x in place when training and P > 0; rng draws
// the mask so that a seeded run repeats exactly.
func (d *Dropout[T]) Forward(x Mat[T], train bool, rng *rand.Rand) {
	n := x.Rows * x.Cols
	if !train || d.P <= 0 {
		d.mask = d.mask[:0]
		return
	}
	if cap(d.mask) < n {
		d.mask = make([]T, n)
	}
	d.mask = d.mask[:n]
	keep := T(1 / (1 - d.P))
	for i := range d.mask {
		if rng.Float64() < d.P {
			d.mask[i] = 0
		} else {
			d.mask[i] = keep
		}
		x.Data[i] *= d.mask[i]
	}
}

// Backward applies the forward mask to the gradient dy in place.
func (d *Dropout[T]) Backward(dy Mat[T]) {
	if len(d.mask) == 0 {
		return
	}
	for i, m := range d.mask {
		dy.Data[i] *= m
	}
}
