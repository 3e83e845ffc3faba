package encoders

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqtask/seqtask/nn"
)

// TokenConfig describes a token encoder: an embedding and a recurrent
// stack over the source sentence.
type TokenConfig struct {
	Vocab, Embed int
	RNN          nn.RecurrentConfig // Input is set to Embed
}

// Tokens encodes padded batches of token ids into one state per source
// position (for attention) and final states (for the decoder's start). It
// keeps its layers' caches for the Backward of its last Forward.
type Tokens[T nn.Float] struct {
	Embedding *nn.Embedding[T]
	RNN       *nn.Recurrent[T]

	embC         nn.EmbeddingCache[T]
	rnnC         nn.RecurrentCache[T]
	steps, batch int
	keys         nn.Mat[T] // outputs, batch-major [B*S][H*dirs]
	dout         nn.Mat[T] // output gradient, time-major [S*B][H*dirs]
}

// NewTokens builds the encoder with parameters named prefix.embedding.weight
// and prefix.rnn.weight_ih_l0 and so on.
func NewTokens[T nn.Float](prefix string, cfg TokenConfig, rng *rand.Rand) (*Tokens[T], error) {
	if cfg.Vocab < 1 || cfg.Embed < 1 {
		return nil, fmt.Errorf("token encoder: vocabulary %d and embedding %d must be positive", cfg.Vocab, cfg.Embed)
	}
	cfg.RNN.Input = cfg.Embed
	rnn, err := nn.NewRecurrent[T](prefix+".rnn", cfg.RNN, rng)
	if err != nil {
		return nil, err
	}
	return &Tokens[T]{Embedding: nn.NewEmbedding[T](prefix+".embedding", cfg.Vocab, cfg.Embed, rng), RNN: rnn}, nil
}

// Params lists the embedding and recurrent parameters.
func (e *Tokens[T]) Params() nn.Params[T] {
	return append(e.Embedding.Params(), e.RNN.Params()...)
}

// Width is the size of one source position's state (H*dirs).
func (e *Tokens[T]) Width() int { return e.RNN.Config.Hidden * e.RNN.Config.Directions() }

// Forward encodes ids, time-major [S*B] (row s*B+b; PadID past each
// length), returning the states batch-major [B*S][Width] — the layout
// attention reads — and the final states hn [layers*dirs*B][H] (cn for
// LSTM). Results are valid until the next Forward.
func (e *Tokens[T]) Forward(ids []int, steps, batch int, lengths []int, train bool, rng *rand.Rand) (keys, hn, cn nn.Mat[T], err error) {
	x, err := e.Embedding.Forward(&e.embC, ids)
	if err != nil {
		return keys, hn, cn, fmt.Errorf("source: %w", err)
	}
	y, hn, cn := e.RNN.ForwardPadded(&e.rnnC, x, steps, batch, lengths, nn.Mat[T]{}, nn.Mat[T]{}, train, rng)
	e.steps, e.batch = steps, batch
	e.keys = nn.NewMatLike(e.keys, batch*steps, y.Cols)
	for s := 0; s < steps; s++ {
		for b := 0; b < batch; b++ {
			copy(e.keys.Row(b*steps+s), y.Row(s*batch+b))
		}
	}
	return e.keys, hn, cn, nil
}

// Backward takes the gradients of the keys (batch-major, as Forward
// returned them) and of the final states, and accumulates the encoder's
// parameter gradients.
func (e *Tokens[T]) Backward(dkeys, dhn, dcn nn.Mat[T]) {
	e.dout = nn.NewMatLike(e.dout, e.steps*e.batch, dkeys.Cols)
	for s := 0; s < e.steps; s++ {
		for b := 0; b < e.batch; b++ {
			copy(e.dout.Row(s*e.batch+b), dkeys.Row(b*e.steps+s))
		}
	}
	dx, _, _ := e.RNN.Backward(&e.rnnC, e.dout, dhn, dcn)
	e.Embedding.Backward(&e.embC, dx)
}
