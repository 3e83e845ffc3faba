package decoders

import (
	"slices"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/internal/registry"
	"github.com/seqtask/seqtask/nn"
)

// Feed says what a decoder is given besides its targets: the token
// sequence itself (a language model: no encoder), or the outputs of an
// encoder.
type Feed struct {
	// Tokens: the decoder embeds and reads the token sequence it models
	// (decoder.embed sizes the embedding).
	Tokens bool
}

// Kind describes one decoder.kind and the keys of the decoder section it
// takes.
type Kind struct {
	Doc string
	// Check reports problems with the decoder section for this kind.
	Check func(d *config.Decoder, feed Feed, c *config.Checker)
}

var kinds = registry.New[Kind]("decoder kind")

// Register adds a decoder kind. It is called from init functions; a
// duplicate name is a programming error and panics.
func Register(name string, k Kind) { kinds.Register(name, k) }

// Kinds lists the registered kind names, sorted.
func Kinds() []string { return kinds.Names() }

// Check validates cfg's decoder section: its kind must be one the task
// accepts, and the kind checks its keys.
func Check(cfg *config.Config, accepts []string, feed Feed, c *config.Checker) {
	d := &cfg.Decoder
	k, ok := kinds.Lookup(d.Kind)
	switch {
	case !ok:
		c.OneOf("decoder.kind", d.Kind, Kinds())
		return
	case !slices.Contains(accepts, d.Kind):
		c.Errorf("decoder.kind", "the %s task takes %s", cfg.Task, strings.Join(accepts, " or "))
		return
	}
	k.Check(d, feed, c)
}

// AttentionNames lists the decoder.attention values: none and nn's kinds.
func AttentionNames() []string {
	out := []string{"none"}
	for _, a := range nn.AttentionKinds {
		out = append(out, string(a))
	}
	return out
}

// afterStepKinds lists the attention kinds a decoder applies after its
// recurrent step (Luong's), the ones input feeding works with.
func afterStepKinds() []string {
	var out []string
	for _, a := range nn.AttentionKinds {
		if !a.BeforeStep() {
			out = append(out, string(a))
		}
	}
	return out
}

func initNames() []string {
	out := make([]string, len(nn.InitSchemes))
	for i, s := range nn.InitSchemes {
		out[i] = string(s)
	}
	return out
}

// checkCommon checks the keys every decoder kind reads.
func checkCommon(d *config.Decoder, c *config.Checker) {
	c.AtLeast("decoder.hidden", d.Hidden, 1)
	c.AtLeast("decoder.layers", d.Layers, 1)
	c.Fraction("decoder.dropout", d.Dropout)
	c.OneOf("decoder.init", d.Init, initNames())
}

func init() {
	Register("synced", Kind{
		Doc: "one output per input step: a recurrent stack (or none) and a linear head per step (video frames; a language model's next token)",
		Check: func(d *config.Decoder, feed Feed, c *config.Checker) {
			c.OneOf("decoder.cell", d.Cell, append(encoders.CellNames(), "none"))
			checkCommon(d, c)
			if feed.Tokens {
				c.AtLeast("decoder.embed", d.Embed, 1)
				if d.Cell == "none" {
					c.Errorf("decoder.cell", "none leaves a language model nothing to remember the text by; give rnn, lstm or gru")
				}
				c.Unused("decoder.bidirectional", d.Bidirectional, "a language model reads only the past")
			}
			c.Unused("decoder.attention", d.Attention != "none", "a synced decoder has nothing to attend over")
			c.Unused("decoder.input_feeding", d.InputFeeding, "it belongs to attention")
			c.Unused("decoder.tie_embeddings", d.TieEmbeddings, "a synced decoder's head is its own")
			c.Fraction("decoder.weight_drop", d.WeightDrop)
			c.Unused("decoder.weight_drop", d.WeightDrop != 0 && d.Cell == "none", "it drops recurrent weights and decoder.cell is none")
		},
	})
	Register("autoregressive", Kind{
		Doc: "emits a new token sequence one token per step, started from the encoder through a bridge, optionally attending over it (translation, captioning)",
		Check: func(d *config.Decoder, feed Feed, c *config.Checker) {
			c.OneOf("decoder.cell", d.Cell, encoders.CellNames())
			checkCommon(d, c)
			c.AtLeast("decoder.embed", d.Embed, 1)
			c.OneOf("decoder.attention", d.Attention, AttentionNames())
			if d.TieEmbeddings && d.Embed != d.Hidden {
				c.Errorf("decoder.tie_embeddings", "needs decoder.embed (%d) equal to decoder.hidden (%d)", d.Embed, d.Hidden)
			}
			c.Unused("decoder.input_feeding", d.InputFeeding && (d.Attention == "none" || nn.AttentionKind(d.Attention).BeforeStep()),
				"input feeding passes on the output of attention after the step (decoder.attention "+strings.Join(afterStepKinds(), " or ")+")")
			c.Unused("decoder.bidirectional", d.Bidirectional, "an autoregressive decoder runs forward in time")
			c.Fraction("decoder.weight_drop", d.WeightDrop)
			if d.WeightDrop != 0 {
				switch {
				case d.Attention != "none" && nn.AttentionKind(d.Attention).BeforeStep():
					c.Errorf("decoder.weight_drop", "needs the decoder to run over the whole sequence at once, which attention before the step (%s) prevents: one step at a time it would draw a mask per step", d.Attention)
				case d.InputFeeding && d.Attention != "none":
					c.Errorf("decoder.weight_drop", "needs the decoder to run over the whole sequence at once, which input feeding prevents: one step at a time it would draw a mask per step")
				}
			}
		},
	})
}
