package nn

import "github.com/seqtask/seqtask/fastblas"

// WeightProducts is part of the caches of layers whose products with their
// weights are x·Wᵀ forward and dy·W and dyᵀ·x backward (Linear, Recurrent),
// and decides how those products are computed. By default they are float32
// (or float64) GEMMs on the weights as they are. Three modes change that:
//   - UseBF16 (inference): both operands rounded to bfloat16 and the
//     products accumulated in float32 (fastblas.SgemmBF16), as PyTorch's
//     autocast does: about twice as fast where the CPU has AVX-512 BF16,
//     with results that differ from float32's by bfloat16's rounding of each
//     operand (relative 2⁻⁹). Each weight is rounded on first use and kept
//     for the cache's life.
//   - UsePacked (inference): float32 products on each weight packed once
//     for the GEMM kernel (fastblas.SgemmPacked), kept for the cache's life:
//     the same arithmetic without packing the weight at every step.
//   - TrainBF16 (training): bfloat16 products forward and backward, the
//     rounded weights from a BF16Pass that the model begins anew for each
//     forward pass, after the optimizer has changed them.
//
// A recurrent layer's step products (h·W_hhᵀ forward, dh·W_hh backward,
// one of each per time step) go through gemmStepWeight and gemmStepData:
// in plain float32, in a pass of several steps, they multiply W_hh packed
// once per pass (beginSteps), where fastblas would pack it at every step
// because no small-m kernel takes the shape (CPUs without AVX-512).
//
// The inference modes' copies do not follow a change of the layer's
// weights, so such a cache must not outlive one: a decoder's search makes
// fresh caches, a stepper forgets its copies when reloaded. A model that
// only predicts (Params.DropGrads) makes each copy once, on the parameter,
// for all its caches. Weights,
// gradients and optimizer stay float32; float64 models stay in float64.
type WeightProducts[T Float] struct {
	bf16, packed bool
	rounded      map[*Param[T]]*fastblas.BF16Matrix
	packs        map[*Param[T]]*fastblas.PackedMatrix
	pass         *BF16Pass[T]
	steps        map[*Param[T]]*stepPacks
}

// stepPacks are a weight packed for the step products of a pass: as the
// operand of x·Wᵀ (forward) and of dy·W (backward).
type stepPacks struct {
	src               []float32 // the weight's values they were made from
	forward, backward freshPack
	inUse             bool // this pass has several steps and multiplies the packs
}

// freshPack is a packed matrix refreshed on its first use in a pass.
type freshPack struct {
	m     *fastblas.PackedMatrix
	fresh bool // packed from this pass's values
}

// get returns the matrix, packed from the current values.
func (p *freshPack) get() *fastblas.PackedMatrix {
	if !p.fresh {
		p.m.Refresh()
		p.fresh = true
	}
	return p.m
}

// UseBF16 switches the cache to bfloat16 products, weights rounded once,
// for the rest of its life.
func (c *WeightProducts[T]) UseBF16() { c.bf16 = true }

// UsePacked switches the cache's float32 forward products to weights
// packed once, for the rest of its life.
func (c *WeightProducts[T]) UsePacked() { c.packed = true }

// TrainBF16 makes the cache take its rounded weights from pass, or
// computes in float32 again when pass is nil.
func (c *WeightProducts[T]) TrainBF16(pass *BF16Pass[T]) { c.pass = pass }

// forget drops the rounded and packed weights, to be made again from the
// current ones.
func (c *WeightProducts[T]) forget() {
	clear(c.rounded)
	clear(c.packs)
}

// gemmWeight computes out = x·Wᵀ + beta·out for the weight w [out][in], in
// bfloat16 when the cache is in either bfloat16 mode, on the packed weight
// in UsePacked's.
func (c *WeightProducts[T]) gemmWeight(x Mat[T], w *Param[T], beta T, out Mat[T]) {
	x32, ok := any(x.Data).([]float32)
	var r *fastblas.BF16Matrix
	switch {
	case !ok:
	case c.pass != nil:
		r = c.pass.rounded(w, false)
	case c.bf16:
		r = c.roundedOf(w)
	case c.packed:
		fastblas.SgemmPacked(x.Rows, 1, x32, x.Cols, c.packOf(w), float32(beta), any(out.Data).([]float32), out.Cols)
		return
	}
	if r == nil {
		Gemm(false, true, 1, x, w.Mat(), beta, out)
		return
	}
	fastblas.SgemmBF16(x.Rows, 1, x32, x.Cols, r, float32(beta), any(out.Data).([]float32), out.Cols)
}

// roundedOf returns w rounded for UseBF16's products.
func (c *WeightProducts[T]) roundedOf(w *Param[T]) *fastblas.BF16Matrix {
	return weightCopy(&c.rounded, w, (*Param[T]).inferenceBF16, fastblas.NewBF16Matrix)
}

// packOf returns w packed for UsePacked's products.
func (c *WeightProducts[T]) packOf(w *Param[T]) *fastblas.PackedMatrix {
	return weightCopy(&c.packs, w, (*Param[T]).inferencePacked, fastblas.NewPackedMatrix)
}

// weightCopy returns the cache's copy of w in copies, made on first use:
// a predicting parameter's own (shared), else one made now from w's values.
func weightCopy[T Float, M any](copies *map[*Param[T]]*M, w *Param[T], shared func(*Param[T]) *M, make func(rows, cols int, v []float32) *M) *M {
	if m := (*copies)[w]; m != nil {
		return m
	}
	if *copies == nil {
		*copies = map[*Param[T]]*M{}
	}
	m := shared(w)
	if m == nil {
		mat := w.Mat()
		m = make(mat.Rows, mat.Cols, any(w.Value).([]float32))
	}
	(*copies)[w] = m
	return m
}

// gemmWeightBeside is gemmWeight for one row x with side run on the
// caller's core while another multiplies part of W, where the cache
// multiplies packed float32 or bfloat16 weights and the product is large
// enough (fastblas.SgemvPackedBeside, SgemvBF16Beside). It reports whether
// it ran; elsewhere it runs neither. side may read x but must not write
// it, nor touch out.
func (c *WeightProducts[T]) gemmWeightBeside(side func(), x Mat[T], w *Param[T], beta T, out Mat[T]) bool {
	x32, ok := any(x.Data).([]float32)
	if !ok || c.pass != nil || x.Rows != 1 {
		return false
	}
	out32 := any(out.Data).([]float32)
	switch {
	case c.bf16:
		return fastblas.SgemvBF16Beside(side, 1, x32, c.roundedOf(w), float32(beta), out32)
	case c.packed:
		return fastblas.SgemvPackedBeside(side, 1, x32, c.packOf(w), float32(beta), out32)
	}
	return false
}

// stepsPacked reports whether the step products of w are float32 products
// on the pass's packed copies.
func (c *WeightProducts[T]) stepsPacked(w *Param[T]) bool {
	_, ok := any(w.Value).([]float32)
	return ok && !c.bf16 && !c.packed && c.pass == nil
}

// beginSteps starts a pass of steps step products with w, whose values may
// have changed since the last: its packed copies are refreshed on first
// use. A pass of one step multiplies w as it is: a decoder that runs one
// step per cache would otherwise keep two packed copies per time step, each
// used once.
func (c *WeightProducts[T]) beginSteps(w *Param[T], steps int) {
	if sp := c.steps[w]; sp != nil {
		sp.inUse = false
	}
	if steps < 2 || !c.stepsPacked(w) {
		return
	}
	v := any(w.Value).([]float32)
	sp := c.steps[w]
	if sp == nil || &sp.src[0] != &v[0] {
		if c.steps == nil {
			c.steps = map[*Param[T]]*stepPacks{}
		}
		m := w.Mat()
		// New matrices pack the current values when first needed.
		sp = &stepPacks{src: v,
			forward:  freshPack{m: fastblas.NewPackedMatrix(m.Rows, m.Cols, v), fresh: true},
			backward: freshPack{m: fastblas.NewPackedMatrixNoTrans(m.Rows, m.Cols, v), fresh: true}}
		c.steps[w] = sp
	} else {
		sp.forward.fresh, sp.backward.fresh = false, false
	}
	sp.inUse = true
}

// passPacks returns w's packed copies for this pass, or nil where its step
// products multiply w as it is.
func (c *WeightProducts[T]) passPacks(w *Param[T]) *stepPacks {
	if sp := c.steps[w]; sp != nil && sp.inUse && c.stepsPacked(w) {
		return sp
	}
	return nil
}

// gemmStepWeight is gemmWeight for a step product of the pass begun by
// beginSteps.
func (c *WeightProducts[T]) gemmStepWeight(x Mat[T], w *Param[T], beta T, out Mat[T]) {
	sp := c.passPacks(w)
	if sp == nil {
		c.gemmWeight(x, w, beta, out)
		return
	}
	fastblas.SgemmPacked(x.Rows, 1, any(x.Data).([]float32), x.Cols, sp.forward.get(), float32(beta), any(out.Data).([]float32), out.Cols)
}

// gemmStepData is gemmData for a step product of the pass begun by
// beginSteps.
func (c *WeightProducts[T]) gemmStepData(dy Mat[T], w *Param[T], beta T, dx Mat[T]) {
	sp := c.passPacks(w)
	if sp == nil {
		c.gemmData(dy, w, beta, dx)
		return
	}
	fastblas.SgemmPackedNoTrans(dy.Rows, 1, any(dy.Data).([]float32), dy.Cols, sp.backward.get(), float32(beta), any(dx.Data).([]float32), dx.Cols)
}

// gemmData computes dx = dy·W + beta·dx for the weight w [out][in], the
// gradient a layer passes to its input: in bfloat16 when training in it
// (inference has no backward pass).
func (c *WeightProducts[T]) gemmData(dy Mat[T], w *Param[T], beta T, dx Mat[T]) {
	dy32, ok := any(dy.Data).([]float32)
	if !ok || c.pass == nil {
		Gemm(false, false, 1, dy, w.Mat(), beta, dx)
		return
	}
	fastblas.SgemmBF16(dy.Rows, 1, dy32, dy.Cols, c.pass.rounded(w, true), float32(beta), any(dx.Data).([]float32), dx.Cols)
}

// gemmGrad accumulates the weight gradient dW += dyᵀ·x for the weight w,
// in bfloat16 when training in it.
func (c *WeightProducts[T]) gemmGrad(dy, x Mat[T], w *Param[T]) {
	dy32, ok := any(dy.Data).([]float32)
	g := w.GradMat()
	if !ok || c.pass == nil {
		Gemm(true, false, 1, dy, x, 1, g)
		return
	}
	fastblas.SgemmBF16TN(g.Rows, g.Cols, dy.Rows, 1, dy32, dy.Cols, any(x.Data).([]float32), x.Cols, 1, any(g.Data).([]float32), g.Cols)
}
