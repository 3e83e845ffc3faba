package decoders

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/nn"
)

// AutoregressiveConfig sizes the autoregressive decoder kind.
type AutoregressiveConfig struct {
	RNN Config // the token decoder; Key is the encoder's memory width
	// Summary is the width of the encoder summary the bridge reads.
	Summary int
	// BridgeCell starts an LSTM's cells from the summary too (bridge_c),
	// rather than at zero.
	BridgeCell bool
	Init       nn.Init // "" or default keeps each layer's PyTorch initialisation
}

// Autoregressive is the decoder kind that writes a new sequence token by
// token from an encoder's output (translation, captioning): a Bridge turns
// the encoder's summary into the RNN decoder's initial states — the
// decoder's start, which the task never handles — and the decoder attends
// over the encoder's memory when it has attention.
type Autoregressive[T nn.Float] struct {
	Bridge *Bridge[T]
	RNN    *RNN[T]

	train  BridgeCache[T] // Forward's, for Backward
	search BridgeCache[T] // NewSearch's (the search copies what it needs)
	dsum   nn.Mat[T]
}

// NewAutoregressive builds the decoder, drawing its weights from rng:
// the bridge, then the RNN decoder, then a non-default Init's redraws.
func NewAutoregressive[T nn.Float](prefix string, cfg AutoregressiveConfig, rng *rand.Rand) (*Autoregressive[T], error) {
	if cfg.Summary < 1 {
		return nil, fmt.Errorf("decoder: the encoder gives no summary to start from")
	}
	d := &Autoregressive[T]{Bridge: NewBridge[T](cfg.Summary, cfg.RNN.Hidden, cfg.RNN.Layers, cfg.BridgeCell && cfg.RNN.Cell.HasCellState(), rng)}
	var err error
	if d.RNN, err = New[T](prefix, cfg.RNN, rng); err != nil {
		return nil, err
	}
	if err := reinit(cfg.Init, d.RNN.out, d.RNN.rnn, rng); err != nil {
		return nil, err
	}
	return d, nil
}

// Params lists the bridge's and the decoder's parameters.
func (d *Autoregressive[T]) Params() nn.Params[T] {
	return append(d.Bridge.Params(), d.RNN.Params()...)
}

// Attends reports whether the decoder reads the encoder's memory.
func (d *Autoregressive[T]) Attends() bool { return d.RNN.Attends() }

// Describe lists the bridge and the decoder's layers.
func (d *Autoregressive[T]) Describe() []string {
	start := "h0"
	if d.Bridge.C != nil {
		start = "h0 and (bridge_c) c0"
	}
	w := d.Bridge.H.Weight.Shape
	return append([]string{fmt.Sprintf("bridge     %d → %d, tanh: the decoder's %s", w[1], w[0], start)}, d.RNN.Describe()...)
}

// Forward runs the decoder from enc over tokens (decoder inputs,
// time-major [steps*B]) and returns the logits [steps*B][V]; ratio < 1
// trains with scheduled sampling (see RNN.Forward).
func (d *Autoregressive[T]) Forward(enc encoders.Output[T], tokens []int, steps int, ratio float64, train bool, rng *rand.Rand) (nn.Mat[T], error) {
	h0, c0 := d.Bridge.Forward(&d.train, enc.Summary)
	b := Batch[T]{H0: h0, C0: c0, Tokens: tokens, Steps: steps}
	if d.Attends() {
		b.Keys, b.S, b.Lengths = enc.Memory, enc.S, enc.Lengths
	}
	return d.RNN.Forward(b, ratio, train, rng)
}

// Backward backpropagates dlogits of the last Forward through the decoder
// and the bridge, and returns the gradients of the encoder's outputs it
// read (Summary, and Memory with attention). frozen skips the summary's
// gradient, for an encoder that does not train.
func (d *Autoregressive[T]) Backward(dlogits nn.Mat[T], frozen bool) encoders.Output[T] {
	dh0, dc0, dkeys := d.RNN.Backward(dlogits)
	var ds nn.Mat[T]
	if !frozen {
		d.dsum = nn.NewMatLike(d.dsum, d.train.batch, d.Bridge.H.Weight.Shape[1])
		ds = d.dsum
	}
	d.Bridge.Backward(&d.train, dh0, dc0, ds)
	return encoders.Output[T]{Summary: ds, Memory: dkeys}
}

// NewSearch returns the decoder as a decoding.Stepper over the items of
// enc (with attention a decoding.AttentionStepper). It copies what it
// needs; while it is in use, the decoder must not run Forward.
func (d *Autoregressive[T]) NewSearch(enc encoders.Output[T], opt SearchOptions) (decoding.Stepper, error) {
	h0, c0 := d.Bridge.Forward(&d.search, enc.Summary)
	if !d.Attends() {
		return d.RNN.NewSearch(h0, c0, nn.Mat[T]{}, 0, nil, opt)
	}
	return d.RNN.NewSearch(h0, c0, enc.Memory, enc.S, enc.Lengths, opt)
}
