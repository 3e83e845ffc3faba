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
	BF16         bool               // training passes' products in bfloat16
}

// Tokens encodes padded batches of token ids into one state per source
// position (for attention) and final states (for the decoder's start). It
// keeps its layers' caches for the Backward of its last Forward.
type Tokens[T nn.Float] struct {
	Embedding *nn.Embedding[T]
	RNN       *nn.Recurrent[T]

	bf16         bool
	embC         nn.EmbeddingCache[T]
	rnnC         nn.RecurrentCache[T]
	pass         nn.BF16Pass[T]
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
	return &Tokens[T]{Embedding: nn.NewEmbedding[T](prefix+".embedding", cfg.Vocab, cfg.Embed, rng), RNN: rnn, bf16: cfg.BF16}, nil
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
	e.rnnC.TrainBF16(e.pass.Begin(train && e.bf16))
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

// rnnEncoder is the rnn kind over tokens: the states of every position
// (Memory, and as a Sequence), and the top layer's final states of each
// direction side by side (Summary).
type rnnEncoder[T nn.Float] struct {
	*Tokens[T]
	out     Output[T]
	dhn     nn.Mat[T]
	dkeys   nn.Mat[T]
	lengths []int
}

func newRNNEncoder[T nn.Float](s Spec, rng *rand.Rand) (Encoder[T], error) {
	e := s.Section
	t, err := NewTokens[T](s.Prefix, TokenConfig{Vocab: s.Vocab, Embed: e.Embed,
		RNN: nn.RecurrentConfig{Cell: nn.Cell(e.Cell), Hidden: e.Hidden, Layers: e.Layers, Bidirectional: e.Bidirectional, Dropout: e.Dropout}, BF16: s.BF16}, rng)
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	return &rnnEncoder[T]{Tokens: t}, nil
}

func (e *rnnEncoder[T]) Buffers() nn.Params[T] { return nil }

func (e *rnnEncoder[T]) Widths() Widths {
	w := e.Width()
	return Widths{Summary: w, Memory: w}
}

func (e *rnnEncoder[T]) Describe() []string {
	rc := e.RNN.Config
	return []string{fmt.Sprintf("encoder    embedding %d → %d, %s %d hidden × %d layer(s), bidirectional %v",
		e.Embedding.Weight.Shape[0], e.Embedding.Weight.Shape[1], rc.Cell, rc.Hidden, rc.Layers, rc.Bidirectional)}
}

func (e *rnnEncoder[T]) Forward(in Batch[T], train bool, rng *rand.Rand) (Output[T], error) {
	B, S := in.Items, in.Steps
	lengths := in.Lengths
	if lengths == nil {
		e.lengths = resize(e.lengths, B)
		for i := range e.lengths {
			e.lengths[i] = S
		}
		lengths = e.lengths
	}
	keys, hn, _, err := e.Tokens.Forward(in.Tokens, S, B, lengths, train, rng)
	if err != nil {
		return Output[T]{}, err
	}
	rc := e.RNN.Config
	nd, top := rc.Directions(), rc.Layers-1
	e.out.Summary = nn.NewMatLike(e.out.Summary, B, e.Width())
	for d := 0; d < nd; d++ {
		k := top*nd + d
		for b := 0; b < B; b++ {
			copy(e.out.Summary.Row(b)[d*rc.Hidden:(d+1)*rc.Hidden], hn.Row(k*B+b))
		}
	}
	e.out.Memory, e.out.S, e.out.Lengths = keys, S, in.Lengths
	return e.out, nil
}

func (e *rnnEncoder[T]) Backward(d Output[T]) {
	B, S := e.batch, e.steps
	rc := e.RNN.Config
	nd, top := rc.Directions(), rc.Layers-1
	e.dhn = nn.NewMatLike(e.dhn, e.RNN.StateRows(B), rc.Hidden)
	e.dhn.Zero()
	if !d.Summary.Empty() {
		for dir := 0; dir < nd; dir++ {
			k := top*nd + dir
			for b := 0; b < B; b++ {
				copy(e.dhn.Row(k*B+b), d.Summary.Row(b)[dir*rc.Hidden:(dir+1)*rc.Hidden])
			}
		}
	}
	dkeys := d.Memory
	if dkeys.Empty() {
		e.dkeys = nn.NewMatLike(e.dkeys, B*S, e.Width())
		e.dkeys.Zero()
		dkeys = e.dkeys
	}
	e.Tokens.Backward(dkeys, e.dhn, nn.Mat[T]{})
}

func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
