package nn

import "github.com/seqtask/seqtask/fastblas"

// InferBF16 is part of the caches of layers whose forward products are
// x·Wᵀ (Linear, Recurrent). UseBF16 switches a cache to computing them with
// the weight and the input rounded to bfloat16 and the products accumulated
// in float32 (fastblas.SgemmBF16): about twice as fast where the CPU has
// AVX-512 BF16, with outputs that differ from float32's by bfloat16's
// rounding of both operands (relative 2⁻⁹ each). Each weight is rounded on
// first use and kept, so a cache in this mode must not outlive a change of
// its layer's weights: a decoder's search makes fresh caches and switches
// them, a stepper forgets its rounded weights when reloaded; training never
// switches. Float64 models stay in float64.
type InferBF16[T Float] struct {
	bf16    bool
	rounded map[*Param[T]]*fastblas.BF16Matrix
}

// UseBF16 switches the cache to bfloat16 products for the rest of its life.
func (c *InferBF16[T]) UseBF16() { c.bf16 = true }

// forget drops the rounded weights, to be made again from the current ones.
func (c *InferBF16[T]) forget() { clear(c.rounded) }

// gemmWeight computes out = x·Wᵀ + beta·out for the weight w [out][in], in
// bfloat16 when the cache is in that mode.
func (c *InferBF16[T]) gemmWeight(x Mat[T], w *Param[T], beta T, out Mat[T]) {
	x32, ok := any(x.Data).([]float32)
	if !c.bf16 || !ok {
		Gemm(false, true, 1, x, w.Mat(), beta, out)
		return
	}
	r := c.rounded[w]
	if r == nil {
		if c.rounded == nil {
			c.rounded = map[*Param[T]]*fastblas.BF16Matrix{}
		}
		r = fastblas.NewBF16Matrix(w.Shape[0], w.Shape[1], any(w.Value).([]float32))
		c.rounded[w] = r
	}
	fastblas.SgemmBF16(x.Rows, 1, x32, x.Cols, r, float32(beta), any(out.Data).([]float32), out.Cols)
}
