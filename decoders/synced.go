package decoders

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/seqtask/seqtask/nn"
)

// SyncedConfig sizes a synced decoder.
type SyncedConfig struct {
	// Vocab > 0: the decoder reads token ids and embeds them (a language
	// model reads the sequence it models); Embed sizes the embedding.
	Vocab, Embed int
	// Input is the width of the feature vectors fed per step when Vocab
	// is 0 (an encoder's outputs, such as a CNN's features of each frame).
	Input int
	// Cell is the recurrent cell, or "none" for no recurrence (each step
	// on its own: the baseline that shows what time adds).
	Cell           string
	Hidden, Layers int
	Bidirectional  bool
	Dropout        float64 // between stacked layers and before the head (training only)
	WeightDrop     float64 // DropConnect on the recurrent weights W_hh (training only; nn.RecurrentConfig)
	Outputs        int     // the head's classes per step
	BF16           bool    // training passes' products in bfloat16 (nn.BF16Pass)
	Init           nn.Init // "" or default keeps each layer's PyTorch initialisation
}

// Synced is the many-to-many synced decoder: one output per input step. An
// embedding (when it reads tokens), a recurrent stack over the steps (none
// for the per-step baseline), dropout and a linear head at every step.
// Video labels frames with it; the char LM predicts each next character
// with it, and samples by feeding each drawn character back in.
//
// Its parameters are named embedding.weight, rnn.* and head.* (PyTorch's
// names of the same modules; the names predate the decoder, so it takes no
// prefix).
type Synced[T nn.Float] struct {
	cfg       SyncedConfig
	Embedding *nn.Embedding[T] // nil when fed features
	RNN       *nn.Recurrent[T] // nil without recurrence
	Head      *nn.Linear[T]
	drop      nn.Dropout[T]
}

// SyncedCache is what one Forward keeps for its Backward, and its buffers.
type SyncedCache[T nn.Float] struct {
	emb     nn.EmbeddingCache[T]
	rnn     nn.RecurrentCache[T]
	drop    nn.DropoutCache[T]
	head    nn.LinearCache[T]
	pass    nn.BF16Pass[T]
	dropped nn.Mat[T] // the head's input after dropout (a copy: the stack's output is its cache)
	dhid    nn.Mat[T]
	hasRNN  bool
}

// NewSynced builds the decoder, drawing its weights from rng: embedding,
// recurrent stack, head, then the redraws of a non-default Init.
func NewSynced[T nn.Float](cfg SyncedConfig, rng *rand.Rand) (*Synced[T], error) {
	d := &Synced[T]{cfg: cfg}
	width := cfg.Input
	if cfg.Vocab > 0 {
		if cfg.Embed < 1 {
			return nil, fmt.Errorf("decoder: embedding size %d must be positive", cfg.Embed)
		}
		d.Embedding = nn.NewEmbedding[T]("embedding", cfg.Vocab, cfg.Embed, rng)
		width = cfg.Embed
	}
	if width < 1 || cfg.Outputs < 1 {
		return nil, fmt.Errorf("decoder: input width %d and outputs %d must be positive", width, cfg.Outputs)
	}
	if cfg.Cell != "none" {
		var err error
		d.RNN, err = nn.NewRecurrent[T]("rnn", nn.RecurrentConfig{Cell: nn.Cell(cfg.Cell), Input: width, Hidden: cfg.Hidden,
			Layers: cfg.Layers, Bidirectional: cfg.Bidirectional, Dropout: cfg.Dropout, WeightDrop: cfg.WeightDrop}, rng)
		if err != nil {
			return nil, fmt.Errorf("decoder: %w", err)
		}
		width = cfg.Hidden * d.RNN.Config.Directions()
	}
	d.drop.P = cfg.Dropout
	d.Head = nn.NewLinear[T]("head", width, cfg.Outputs, rng)
	if err := reinit(cfg.Init, d.Head, d.RNN, rng); err != nil {
		return nil, err
	}
	return d, nil
}

// reinit redraws the output layer's weight and the recurrent weights
// under scheme; the default scheme keeps them as the layers drew them.
func reinit[T nn.Float](scheme nn.Init, out *nn.Linear[T], rnn *nn.Recurrent[T], rng *rand.Rand) error {
	if scheme == "" || scheme == nn.InitDefault {
		return nil
	}
	w := out.Weight
	if err := nn.InitWeight(scheme, w.Value, w.Shape[1], w.Shape[0], 1/math.Sqrt(float64(w.Shape[1])), rng); err != nil {
		return fmt.Errorf("decoder.init: %w", err)
	}
	if rnn == nil {
		return nil
	}
	for _, p := range rnn.Params() {
		if len(p.Shape) == 2 {
			if err := nn.InitWeight(scheme, p.Value, p.Shape[1], p.Shape[0], 1/math.Sqrt(float64(rnn.Config.Hidden)), rng); err != nil {
				return fmt.Errorf("decoder.init: %w", err)
			}
		}
	}
	return nil
}

// Params lists the embedding, recurrent and head parameters.
func (d *Synced[T]) Params() nn.Params[T] {
	var ps nn.Params[T]
	if d.Embedding != nil {
		ps = append(ps, d.Embedding.Params()...)
	}
	if d.RNN != nil {
		ps = append(ps, d.RNN.Params()...)
	}
	return append(ps, d.Head.Params()...)
}

// Describe lists the layers; outputs names what the head predicts.
func (d *Synced[T]) Describe(outputs string) []string {
	c := d.cfg
	var out []string
	if d.Embedding != nil {
		out = append(out, fmt.Sprintf("embedding  %d tokens → %d", c.Vocab, c.Embed))
	}
	if d.RNN != nil {
		rc := d.RNN.Config
		line := fmt.Sprintf("%-10s %d → %d hidden × %d layer(s), bidirectional %v, dropout %g", rc.Cell, rc.Input, rc.Hidden, rc.Layers, rc.Bidirectional, c.Dropout)
		if rc.WeightDrop > 0 {
			line += fmt.Sprintf(", weight drop %g", rc.WeightDrop)
		}
		out = append(out, line)
	} else {
		out = append(out, "(no recurrence: every step is decoded on its own)")
	}
	return append(out, fmt.Sprintf("head       %d → %d %s, softmax cross-entropy per step", d.Head.Weight.Shape[1], c.Outputs, outputs))
}

// Width is the feature width a decoder fed features expects per step.
func (d *Synced[T]) Width() int { return d.cfg.Input }

// Forward runs the decoder over steps×batch inputs, time-major (row
// t*batch+b): token ids when it embeds tokens, else feature rows x
// [steps*batch][Input]. It returns the logits [steps*batch][Outputs],
// held by c until its next Forward. The recurrent stack starts from zero
// states.
func (d *Synced[T]) Forward(c *SyncedCache[T], ids []int, x nn.Mat[T], steps, batch int, train bool, rng *rand.Rand) (nn.Mat[T], error) {
	logits, _, _, err := d.ForwardFrom(c, ids, x, steps, batch, nn.Mat[T]{}, nn.Mat[T]{}, train, rng)
	return logits, err
}

// ForwardFrom is Forward from the recurrent states h0 and c0
// ([layers*batch][Hidden], c0 for cells with a cell state; empty for
// zeros), also returning the final states hn and cn (held by c until its
// next Forward; empty without a recurrent stack). Feeding one window's
// final states to the next reads a long text window after window as one
// sequence; Backward does not propagate into h0 and c0 (truncated
// back-propagation through time).
func (d *Synced[T]) ForwardFrom(c *SyncedCache[T], ids []int, x nn.Mat[T], steps, batch int, h0, c0 nn.Mat[T], train bool, rng *rand.Rand) (logits, hn, cn nn.Mat[T], err error) {
	if d.Embedding != nil {
		if x, err = d.Embedding.Forward(&c.emb, ids); err != nil {
			return logits, hn, cn, err
		}
	} else if x.Rows != steps*batch || x.Cols != d.cfg.Input {
		return logits, hn, cn, fmt.Errorf("decoder: %d×%d inputs for %d steps of batch %d of width %d", x.Rows, x.Cols, steps, batch, d.cfg.Input)
	}
	pass := c.pass.Begin(train && d.cfg.BF16)
	c.rnn.TrainBF16(pass)
	c.head.TrainBF16(pass)
	y := x
	c.hasRNN = d.RNN != nil
	if d.RNN == nil && (!h0.Empty() || !c0.Empty()) {
		return logits, hn, cn, fmt.Errorf("decoder: initial states given to a decoder without a recurrent stack")
	}
	if d.RNN != nil {
		if rows := d.RNN.StateRows(batch); !h0.Empty() && (h0.Rows != rows || h0.Cols != d.RNN.Config.Hidden) || !c0.Empty() && (c0.Rows != rows || c0.Cols != d.RNN.Config.Hidden) {
			return logits, hn, cn, fmt.Errorf("decoder: initial states %d×%d and %d×%d for batch %d, want %d×%d", h0.Rows, h0.Cols, c0.Rows, c0.Cols, batch, rows, d.RNN.Config.Hidden)
		}
		y, hn, cn = d.RNN.Forward(&c.rnn, x, steps, batch, h0, c0, train, rng)
	}
	if train && d.drop.P > 0 {
		// y is a cache of the layer below, needed by its backward pass:
		// drop out a copy.
		c.dropped = nn.NewMatLike(c.dropped, y.Rows, y.Cols)
		c.dropped.CopyFrom(y)
		d.drop.Forward(&c.drop, c.dropped, true, rng)
		y = c.dropped
	} else {
		d.drop.Forward(&c.drop, y, false, nil)
	}
	return d.Head.Forward(&c.head, y), hn, cn, nil
}

// Backward backpropagates dlogits of c's Forward, accumulating every
// parameter's gradient, and returns the gradient of the feature inputs
// (empty when the decoder embedded tokens), valid until c's next use.
func (d *Synced[T]) Backward(c *SyncedCache[T], dlogits nn.Mat[T]) nn.Mat[T] {
	c.dhid = nn.NewMatLike(c.dhid, dlogits.Rows, d.Head.Weight.Shape[1])
	d.Head.Backward(&c.head, dlogits, c.dhid)
	d.drop.Backward(&c.drop, c.dhid)
	dx := c.dhid
	if c.hasRNN {
		dx, _, _ = d.RNN.Backward(&c.rnn, c.dhid, nn.Mat[T]{}, nn.Mat[T]{})
	}
	if d.Embedding != nil {
		d.Embedding.Backward(&c.emb, dx)
		return nn.Mat[T]{}
	}
	return dx
}

// NewTokenStepper returns a stepper that runs the decoder one token at a
// time at batch 1 (sampling from a language model): its first layer's input
// projection is precomputed per token from the embedding. Feed each step's
// top-layer output to StepLogits for the next token's logits.
func (d *Synced[T]) NewTokenStepper() (*nn.Stepper[T], error) {
	if d.Embedding == nil || d.RNN == nil || d.RNN.Config.Bidirectional {
		return nil, fmt.Errorf("decoder: only a unidirectional recurrent decoder over tokens can generate one token at a time")
	}
	return d.RNN.NewTokenStepper(d.Embedding.Weight.Mat()), nil
}

// StepLogits applies the head to one step's top-layer output h [1][H]
// (inference: no dropout), using c's buffers.
func (d *Synced[T]) StepLogits(c *nn.LinearCache[T], h nn.Mat[T]) nn.Mat[T] {
	return d.Head.Forward(c, h)
}
