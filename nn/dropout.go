package nn

import (
	"math"
	"math/rand/v2"
)

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
//
// Each element draws 16 random bits, four from one rng.Uint64, and is
// dropped when they fall below P·2¹⁶: P is kept to within 2⁻¹⁷, and the
// mask costs a quarter of the draws (and none of the conversions) of one
// Float64 per element, which made it 5% of a large LSTM's training step.
func (d *Dropout[T]) Forward(c *DropoutCache[T], x Mat[T], train bool, rng *rand.Rand) {
	n := x.Rows * x.Cols
	if !train || d.P <= 0 {
		c.mask = c.mask[:0]
		return
	}
	d.apply(c, x.Data[:n], x.Data[:n], rng)
}

// ForwardFrom is a training Forward that leaves src as it is and writes
// the dropped-out copy into dst (of src's size), in one pass.
func (d *Dropout[T]) ForwardFrom(c *DropoutCache[T], dst, src Mat[T], rng *rand.Rand) {
	n := src.Rows * src.Cols
	if d.P <= 0 {
		copy(dst.Data[:n], src.Data[:n])
		c.mask = c.mask[:0]
		return
	}
	d.apply(c, dst.Data[:n], src.Data[:n], rng)
}

// apply draws a mask for len(src) elements into c and sets dst = src·mask.
func (d *Dropout[T]) apply(c *DropoutCache[T], dst, src []T, rng *rand.Rand) {
	n := len(src)
	if cap(c.mask) < n {
		c.mask = make([]T, n)
	}
	c.mask = c.mask[:n]
	scale := [2]T{T(1 / (1 - d.P)), 0}           // kept, dropped
	below := uint64(math.Round(d.P * (1 << 16))) // drop when the 16 bits are below this
	var bits uint64
	for i := range c.mask {
		if i%4 == 0 {
			bits = rng.Uint64()
		}
		// 1 when the bits are below, without a branch the random bits
		// would mispredict: the difference of two 16-bit values wraps.
		dropped := (bits&0xffff - below) >> 63
		c.mask[i] = scale[dropped]
		bits >>= 16
		dst[i] = src[i] * c.mask[i]
	}
}

// Backward applies the mask of the Forward that filled c to the gradient
// dy in place.
func (d *Dropout[T]) Backward(c *DropoutCache[T], dy Mat[T]) {
	for i, m := range c.mask {
		dy.Data[i] *= m
	}
}

// BackwardAdd adds the gradient dy of the Forward that filled c, passed
// through its mask, into dst: dst += dy·mask, leaving dy as it is.
func (d *Dropout[T]) BackwardAdd(c *DropoutCache[T], dst, dy Mat[T]) {
	if len(c.mask) == 0 {
		addSlice(dst.Data[:dy.Rows*dy.Cols], dy.Data)
		return
	}
	for i, m := range c.mask {
		dst.Data[i] += dy.Data[i] * m
	}
}
