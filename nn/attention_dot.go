package nn

import (
	"fmt"
	"math/rand/v2"
)

// AttentionDot is Luong's dot score qᵀk, which needs Query == Key and has
// no parameters.
const AttentionDot AttentionKind = "dot"

func init() {
	registerAttention(AttentionDot, attentionEntry{
		order: 1,
		check: func(c AttentionConfig) error {
			if c.Query != c.Key {
				return fmt.Errorf("dot attention needs query size %d to equal key size %d (use general or additive)", c.Query, c.Key)
			}
			return nil
		},
		f32: func(string, AttentionConfig, *rand.Rand) attentionScore[float32] { return dotScore[float32]{} },
		f64: func(string, AttentionConfig, *rand.Rand) attentionScore[float64] { return dotScore[float64]{} },
	})
}

type dotScore[T Float] struct{}

func (dotScore[T]) params() Params[T] { return nil }

func (dotScore[T]) setKeys(*AttentionKeys[T]) {}

func (dotScore[T]) score(k *AttentionKeys[T], c *AttentionCache[T]) {
	scoreRows(c.weights, c.q, k.keys, k.lengths)
}

func (dotScore[T]) backward(k *AttentionKeys[T], c *AttentionCache[T], dq Mat[T]) {
	scoreBackward(k.ds, c.q, k.keys, k.dkeys, dq, k.lengths)
}

func (dotScore[T]) flush(*AttentionKeys[T]) {}
