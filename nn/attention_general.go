package nn

import (
	"math"
	"math/rand/v2"
)

// AttentionGeneral is Luong's general score qᵀ W k, W [Query][Key], named
// prefix.weight as PyTorch's nn.Linear(Key, Query, bias=False) on the keys.
const AttentionGeneral AttentionKind = "general"

func init() {
	registerAttention(AttentionGeneral, attentionEntry{
		order: 2,
		f32: func(p string, c AttentionConfig, rng *rand.Rand) attentionScore[float32] {
			return newGeneral[float32](p, c, rng)
		},
		f64: func(p string, c AttentionConfig, rng *rand.Rand) attentionScore[float64] {
			return newGeneral[float64](p, c, rng)
		},
	})
}

// generalScore could either project every key once per batch (W k,
// B·S·Query·Key multiply-adds, plus twice that in backward) or project each
// step's query (Wᵀq, B·Query·Key per step, plus twice that in backward);
// the first is cheaper when the decoder runs more than S steps, which is
// not known in advance, so a batch starts with per-step projections and
// switches to projecting the keys at step S. That never costs more than
// twice the cheaper choice and equals it when T <= S; a caller that knows
// T (AttentionKeys.PlanSteps) gets the cheaper one from the first step.
type generalScore[T Float] struct {
	weight       *Param[T]
	precomputeAt int // first step using W k; < 0 means S (tests move it)
}

func newGeneral[T Float](prefix string, cfg AttentionConfig, rng *rand.Rand) *generalScore[T] {
	g := &generalScore[T]{weight: NewParam[T](prefix+".weight", cfg.Query, cfg.Key), precomputeAt: -1}
	InitUniform(g.weight.Value, 1/math.Sqrt(float64(cfg.Key)), rng)
	return g
}

func (g *generalScore[T]) params() Params[T] { return Params[T]{g.weight} }

// setKeys leaves the projection to score, which makes it only if the keys
// serve more steps than it costs (a beam search that reorders after every
// step never does).
func (g *generalScore[T]) setKeys(*AttentionKeys[T]) {}

func (g *generalScore[T]) score(k *AttentionKeys[T], c *AttentionCache[T]) {
	at := g.precomputeAt
	if at < 0 {
		at = k.sl
		if k.planned > k.sl {
			at = 0
		}
	}
	if k.steps-1 >= at && !k.projReady {
		k.proj = resize(k.proj, k.batch*k.sl, g.weight.Shape[0])
		Gemm(false, true, 1, k.keys, g.weight.Mat(), 0, k.proj)
		k.projReady = true
	}
	c.viaProj = k.projReady
	if c.viaProj {
		scoreRows(c.weights, c.q, k.proj, k.lengths)
		return
	}
	c.u = resize(c.u, k.batch, k.keys.Cols)
	Gemm(false, false, 1, c.q, g.weight.Mat(), 0, c.u)
	scoreRows(c.weights, c.u, k.keys, k.lengths)
}

func (g *generalScore[T]) backward(k *AttentionKeys[T], c *AttentionCache[T], dq Mat[T]) {
	if c.viaProj {
		scoreBackward(k.ds, c.q, k.proj, k.dproj, dq, k.lengths)
		k.pending = true
		return
	}
	k.du = resize(k.du, k.batch, k.keys.Cols)
	scoreBackward(k.ds, c.u, k.keys, k.dkeys, k.du, k.lengths)
	Gemm(true, false, 1, c.q, k.du, 1, g.weight.GradMat())
	if !dq.Empty() {
		Gemm(false, true, 1, k.du, g.weight.Mat(), 0, dq)
	}
}

func (g *generalScore[T]) flush(k *AttentionKeys[T]) {
	Gemm(false, false, 1, k.dproj, g.weight.Mat(), 1, k.dkeys)
	Gemm(true, false, 1, k.dproj, k.keys, 1, g.weight.GradMat())
}
