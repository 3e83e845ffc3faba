package encoders

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/nn"
)

// Encoder reads a batch of inputs and gives a decoder what it needs: a
// summary per item (to start an autoregressive decoder), positions to
// attend over, or one vector per input step (for a synced decoder). A kind
// makes the parts its input allows (Widths says which). An encoder keeps
// one Forward's values for the Backward that follows it.
type Encoder[T nn.Float] interface {
	Params() nn.Params[T]
	// Buffers lists untrained state to checkpoint (batch-norm statistics).
	Buffers() nn.Params[T]
	Describe() []string
	// Widths are the widths of the outputs Forward makes; 0 for one it
	// does not make.
	Widths() Widths
	Forward(in Batch[T], train bool, rng *rand.Rand) (Output[T], error)
	// Backward takes the gradients of the last Forward's outputs (an empty
	// part: zero) and accumulates the parameters' gradients.
	Backward(d Output[T])
}

// Fitter is an encoder with state fitted to the training inputs before
// training starts (the kmeans kind's whitening and centroids), which its
// Buffers keep.
type Fitter[T nn.Float] interface {
	// Fitted reports whether the state is there, fitted or loaded.
	Fitted() bool
	// Fit fits the state to n training inputs, input i written into dst
	// by load, drawing what it samples from rng.
	Fit(n int, load func(i int, dst []T) error, rng *rand.Rand) error
}

// Batch is a batch of B inputs, laid out for the kind that reads it.
type Batch[T nn.Float] struct {
	Items int // B
	// Tokens are ids time-major [Steps*B] (row s*B+b), padding past each
	// item's Lengths (nil: every item has Steps).
	Tokens  []int
	Steps   int
	Lengths []int
	// Images are one image per item [B][C*H*W], or for frames each item's
	// Steps frames in order, [B*Steps][C*H*W] (row b*Steps+s).
	Images nn.Mat[T]
	// SummaryOnly says the caller reads only the Output's Summary
	// (captioning's pre-training): a kind may leave the rest empty.
	SummaryOnly bool
}

// Output is what an encoder makes of a batch of B items.
type Output[T nn.Float] struct {
	// Summary is one vector per item [B][Widths.Summary].
	Summary nn.Mat[T]
	// Memory are the positions an attending decoder reads, batch-major
	// [B*S][Widths.Memory] (row b*S+s); Lengths[b] of item b's S are
	// valid (nil: all).
	Memory  nn.Mat[T]
	S       int
	Lengths []int
	// Sequence is one vector per input step, time-major
	// [Steps*B][Widths.Sequence] (row s*B+b).
	Sequence nn.Mat[T]
	Steps    int
}

// Widths are the widths of an encoder's outputs, 0 for one it lacks.
type Widths struct{ Summary, Memory, Sequence int }

// Spec is what building an encoder needs besides its config section.
type Spec struct {
	Section *config.Encoder
	Input   InputKind
	Vocab   int           // token input: the vocabulary's size
	Image   nn.ImageShape // image and frame input: one image's geometry
	Prefix  string        // parameter names start with it ("encoder")
	// BF16 trains the recurrent stack of a token encoder with bfloat16
	// products (train.precision: bf16; nn.BF16Pass).
	BF16 bool
}

// Builder makes an encoder of one kind in either precision.
type Builder struct {
	New32 func(s Spec, rng *rand.Rand) (Encoder[float32], error)
	New64 func(s Spec, rng *rand.Rand) (Encoder[float64], error)
}

// New builds the encoder s.Section names, drawing its weights from rng.
func New[T nn.Float](s Spec, rng *rand.Rand) (Encoder[T], error) {
	k, ok := kinds.Lookup(s.Section.Kind)
	if !ok || k.Build == nil {
		return nil, fmt.Errorf("encoder.kind: no encoder %q to build", s.Section.Kind)
	}
	var zero T
	switch any(zero).(type) {
	case float32:
		e, err := k.Build.New32(s, rng)
		if err != nil {
			return nil, err
		}
		return any(e).(Encoder[T]), nil
	default:
		e, err := k.Build.New64(s, rng)
		if err != nil {
			return nil, err
		}
		return any(e).(Encoder[T]), nil
	}
}
