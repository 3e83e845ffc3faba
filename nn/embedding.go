package nn

import (
	"fmt"
	"math/rand/v2"
)

// Embedding maps token ids to rows of a [V][W] table, as torch.nn.Embedding.
type Embedding[T Float] struct {
	Weight *Param[T] // [V][W]
}

// EmbeddingCache is what Embedding.Forward keeps for Backward (the ids)
// and the output buffer it reuses; its zero value is ready to use.
type EmbeddingCache[T Float] struct {
	ids []int // as given (not copied)
	y   Mat[T]
}

// NewEmbedding returns an embedding named prefix.weight initialised N(0, 1),
// PyTorch's default.
func NewEmbedding[T Float](prefix string, vocab, dim int, rng *rand.Rand) *Embedding[T] {
	e := &Embedding[T]{Weight: NewParam[T](prefix+".weight", vocab, dim)}
	InitNormal(e.Weight.Value, 1, rng)
	return e
}

// Params returns the table.
func (e *Embedding[T]) Params() Params[T] { return Params[T]{e.Weight} }

// Forward gathers the rows of ids into y [len(ids)][W], held by c until its
// next Forward; ids must stay unchanged until Backward. An id outside the
// table is an error rather than a panic because ids come from user data.
func (e *Embedding[T]) Forward(c *EmbeddingCache[T], ids []int) (Mat[T], error) {
	v, w := e.Weight.Shape[0], e.Weight.Shape[1]
	c.ids = ids
	c.y = resize(c.y, len(ids), w)
	table := e.Weight.Mat()
	for i, id := range ids {
		if id < 0 || id >= v {
			return Mat[T]{}, fmt.Errorf("embedding: id %d at position %d is outside the table of %d", id, i, v)
		}
		copy(c.y.Row(i), table.Row(id))
	}
	return c.y, nil
}

// Backward scatters dy [N][W], the gradient of the Forward that filled c,
// into the rows of the table's gradient.
func (e *Embedding[T]) Backward(c *EmbeddingCache[T], dy Mat[T]) {
	g := e.Weight.GradMat()
	for i, id := range c.ids {
		row := g.Row(id)
		for j, d := range dy.Row(i) {
			row[j] += d
		}
	}
}
