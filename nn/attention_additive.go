package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// AttentionAdditive is Bahdanau's score vᵀ tanh(W_q q + W_k k + b), with
// parameters named as the PyTorch modules computing it:
// prefix.query_layer.weight [Hidden][Query], prefix.key_layer.weight
// [Hidden][Key], prefix.key_layer.bias [Hidden] and
// prefix.energy_layer.weight [1][Hidden]. A decoder attends with it before
// its recurrent step.
const AttentionAdditive AttentionKind = "additive"

func init() {
	registerAttention(AttentionAdditive, attentionEntry{
		order:      3,
		beforeStep: true,
		check: func(c AttentionConfig) error {
			if c.Hidden < 1 {
				return fmt.Errorf("additive attention hidden size %d must be at least 1", c.Hidden)
			}
			return nil
		},
		f32: func(p string, c AttentionConfig, rng *rand.Rand) attentionScore[float32] {
			return newAdditive[float32](p, c, rng)
		},
		f64: func(p string, c AttentionConfig, rng *rand.Rand) attentionScore[float64] {
			return newAdditive[float64](p, c, rng)
		},
	})
}

// additiveScore projects every key (W_k k + b) once per batch, in SetKeys.
type additiveScore[T Float] struct {
	wq, wk, bk, v *Param[T]
}

func newAdditive[T Float](prefix string, cfg AttentionConfig, rng *rand.Rand) *additiveScore[T] {
	h := cfg.Hidden
	a := &additiveScore[T]{
		wq: NewParam[T](prefix+".query_layer.weight", h, cfg.Query),
		wk: NewParam[T](prefix+".key_layer.weight", h, cfg.Key),
		bk: NewParam[T](prefix+".key_layer.bias", h),
		v:  NewParam[T](prefix+".energy_layer.weight", 1, h),
	}
	bound := func(in int) float64 { return 1 / math.Sqrt(float64(in)) }
	InitUniform(a.wq.Value, bound(cfg.Query), rng)
	InitUniform(a.wk.Value, bound(cfg.Key), rng)
	InitUniform(a.bk.Value, bound(cfg.Key), rng)
	InitUniform(a.v.Value, bound(h), rng)
	return a
}

func (a *additiveScore[T]) params() Params[T] { return Params[T]{a.wq, a.wk, a.bk, a.v} }

func (a *additiveScore[T]) setKeys(k *AttentionKeys[T]) {
	h, n := a.v.Size(), k.batch*k.sl
	k.proj = resize(k.proj, n, h)
	Gemm(false, true, 1, k.keys, a.wk.Mat(), 0, k.proj)
	addRowVector(k.proj, a.bk.Value)
	k.projReady = true
}

func (a *additiveScore[T]) score(k *AttentionKeys[T], c *AttentionCache[T]) {
	h, B, S := a.v.Size(), k.batch, k.sl
	c.u = resize(c.u, B, h)
	Gemm(false, true, 1, c.q, a.wq.Mat(), 0, c.u)
	c.e = resize(c.e, B*S, h)
	v := a.v.Value
	for b := 0; b < B; b++ {
		n, lo := k.lengths[b], b*S
		pq := c.u.Row(b)
		blk := c.e.Data[lo*h : (lo+n)*h]
		pk := k.proj.Data[lo*h : (lo+n)*h]
		for s := 0; s < n; s++ {
			eb, kb := blk[s*h:(s+1)*h], pk[s*h:(s+1)*h]
			for j, x := range pq {
				eb[j] = kb[j] + x
			}
		}
		tanhSlice(blk, blk)
		row := c.weights.Row(b)
		for s := 0; s < n; s++ {
			row[s] = vecDot(blk[s*h:(s+1)*h], v)
		}
	}
}

func (a *additiveScore[T]) backward(k *AttentionKeys[T], c *AttentionCache[T], dq Mat[T]) {
	h, S := a.v.Size(), k.sl
	v, dv := a.v.Value, a.v.Grad
	k.du = resize(k.du, k.batch, h)
	k.du.Zero()
	for b := 0; b < k.batch; b++ {
		n, d, dpq := k.lengths[b], k.ds.Row(b), k.du.Row(b)
		for s := 0; s < n; s++ {
			r := b*S + s
			e, dpk := c.e.Data[r*h:(r+1)*h], k.dproj.Data[r*h:(r+1)*h]
			g := d[s]
			vecAxpy(g, e, dv)
			for j, x := range e {
				p := g * v[j] * (1 - x*x)
				dpk[j] += p
				dpq[j] += p
			}
		}
	}
	k.pending = true
	Gemm(true, false, 1, k.du, c.q, 1, a.wq.GradMat())
	if !dq.Empty() {
		Gemm(false, false, 1, k.du, a.wq.Mat(), 0, dq)
	}
}

func (a *additiveScore[T]) flush(k *AttentionKeys[T]) {
	Gemm(false, false, 1, k.dproj, a.wk.Mat(), 1, k.dkeys)
	Gemm(true, false, 1, k.dproj, k.keys, 1, a.wk.GradMat())
	addColumnSums(a.bk.Grad, k.dproj)
}
