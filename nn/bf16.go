package nn

import "github.com/seqtask/seqtask/fastblas"

// BF16Products is part of the caches of layers whose products with their
// weights are x·Wᵀ forward and dy·W and dyᵀ·x backward (Linear, Recurrent).
// It can switch a cache to computing them with both operands rounded to
// bfloat16 and the products accumulated in float32 (fastblas.SgemmBF16 and
// SgemmBF16TN), as PyTorch's autocast does: about twice as fast where the
// CPU has AVX-512 BF16, with results that differ from float32's by
// bfloat16's rounding of each operand (relative 2⁻⁹). The weights,
// gradients and optimizer stay float32. Float64 models stay in float64.
//
// Two modes, for the two ways weights change:
//   - UseBF16 (inference): each weight is rounded on first use and kept for
//     the cache's life, so the cache must not outlive a change of its
//     layer's weights: a decoder's search makes fresh caches, a stepper
//     forgets its rounded weights when reloaded.
//   - TrainBF16 (training): the rounded weights come from a BF16Pass that
//     the model begins anew for each forward pass, after the optimizer has
//     changed them.
type BF16Products[T Float] struct {
	bf16    bool
	rounded map[*Param[T]]*fastblas.BF16Matrix
	pass    *BF16Pass[T]
}

// UseBF16 switches the cache to bfloat16 products, weights rounded once,
// for the rest of its life.
func (c *BF16Products[T]) UseBF16() { c.bf16 = true }

// TrainBF16 makes the cache take its rounded weights from pass, or
// computes in float32 again when pass is nil.
func (c *BF16Products[T]) TrainBF16(pass *BF16Pass[T]) { c.pass = pass }

// forget drops the rounded weights, to be made again from the current ones.
func (c *BF16Products[T]) forget() { clear(c.rounded) }

// gemmWeight computes out = x·Wᵀ + beta·out for the weight w [out][in], in
// bfloat16 when the cache is in either mode.
func (c *BF16Products[T]) gemmWeight(x Mat[T], w *Param[T], beta T, out Mat[T]) {
	x32, ok := any(x.Data).([]float32)
	var r *fastblas.BF16Matrix
	switch {
	case !ok:
	case c.pass != nil:
		r = c.pass.rounded(w, false)
	case c.bf16:
		if r = c.rounded[w]; r == nil {
			if c.rounded == nil {
				c.rounded = map[*Param[T]]*fastblas.BF16Matrix{}
			}
			m := w.Mat()
			r = fastblas.NewBF16Matrix(m.Rows, m.Cols, any(w.Value).([]float32))
			c.rounded[w] = r
		}
	}
	if r == nil {
		Gemm(false, true, 1, x, w.Mat(), beta, out)
		return
	}
	fastblas.SgemmBF16(x.Rows, 1, x32, x.Cols, r, float32(beta), any(out.Data).([]float32), out.Cols)
}

// gemmData computes dx = dy·W + beta·dx for the weight w [out][in], the
// gradient a layer passes to its input: in bfloat16 when training in it
// (inference has no backward pass).
func (c *BF16Products[T]) gemmData(dy Mat[T], w *Param[T], beta T, dx Mat[T]) {
	dy32, ok := any(dy.Data).([]float32)
	if !ok || c.pass == nil {
		Gemm(false, false, 1, dy, w.Mat(), beta, dx)
		return
	}
	fastblas.SgemmBF16(dy.Rows, 1, dy32, dy.Cols, c.pass.rounded(w, true), float32(beta), any(dx.Data).([]float32), dx.Cols)
}

// gemmGrad accumulates the weight gradient dW += dyᵀ·x for the weight w,
// in bfloat16 when training in it.
func (c *BF16Products[T]) gemmGrad(dy, x Mat[T], w *Param[T]) {
	dy32, ok := any(dy.Data).([]float32)
	g := w.GradMat()
	if !ok || c.pass == nil {
		Gemm(true, false, 1, dy, x, 1, g)
		return
	}
	fastblas.SgemmBF16TN(g.Rows, g.Cols, dy.Rows, 1, dy32, dy.Cols, any(x.Data).([]float32), x.Cols, 1, any(g.Data).([]float32), g.Cols)
}

// BF16Pass holds the bfloat16 copies of a model's weights for one training
// pass, forward and backward, shared by every cache the pass runs through
// (a decoder that runs its stack one step per cache rounds each weight once
// per pass, not once per step). Each weight is rounded on its first forward
// product of the pass and its transpose on its first backward one, into
// storage kept from pass to pass. The model calls Begin before each forward
// pass: the optimizer has changed the weights since the last. Its zero
// value is ready to use; it is not safe for concurrent use (data-parallel
// workers each have their own).
type BF16Pass[T Float] struct {
	pass   int
	copies map[passKey[T]]*passCopy
}

// passKey names one rounded copy: a weight, as W or as Wᵀ.
type passKey[T Float] struct {
	w          *Param[T]
	transposed bool
}

// passCopy is one rounded copy and the pass it was made in.
type passCopy struct {
	m    *fastblas.BF16Matrix
	pass int
}

// Begin starts a pass, in which every rounded weight is made again on
// first use, and returns p; when on is false it returns nil, which a
// cache's TrainBF16 takes for float32 products. A model calls it at the
// start of each forward pass with whether the pass trains in bfloat16.
func (p *BF16Pass[T]) Begin(on bool) *BF16Pass[T] {
	if !on {
		return nil
	}
	p.pass++
	return p
}

// rounded returns w [out][in] rounded in this pass, as W, or as Wᵀ
// [in][out] when transposed.
func (p *BF16Pass[T]) rounded(w *Param[T], transposed bool) *fastblas.BF16Matrix {
	if p.copies == nil {
		p.copies = map[passKey[T]]*passCopy{}
	}
	k := passKey[T]{w, transposed}
	e := p.copies[k]
	if e == nil {
		m := w.Mat()
		rows, cols := m.Rows, m.Cols
		if transposed {
			rows, cols = cols, rows
		}
		e = &passCopy{m: fastblas.MakeBF16Matrix(rows, cols), pass: -1}
		p.copies[k] = e
	}
	if e.pass != p.pass {
		v := any(w.Value).([]float32)
		if transposed {
			e.m.RoundTransposed(v)
		} else {
			e.m.Round(v)
		}
		e.pass = p.pass
	}
	return e.m
}
