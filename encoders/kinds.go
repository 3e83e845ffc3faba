package encoders

import (
	"slices"
	"strconv"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/internal/registry"
	"github.com/seqtask/seqtask/nn"
)

// InputKind is what a task feeds its encoder.
type InputKind string

const (
	TokenInput InputKind = "tokens" // sequences of token ids (sentences, text)
	ImageInput InputKind = "images" // one image per item (photos)
	FrameInput InputKind = "frames" // a sequence of images per item (the frames of a clip)
	// NoInput: the task has no input but the sequence its decoder models
	// (a language model); its encoder is "none".
	NoInput InputKind = ""
)

// Kind describes one encoder.kind: what it reads and which keys of the
// encoder section it takes.
type Kind struct {
	Doc   string
	Reads []InputKind
	// Check reports problems with the encoder section for this kind.
	Check func(e *config.Encoder, c *config.Checker)
	// Build makes the encoder; nil for none.
	Build *Builder
}

var kinds = registry.New[Kind]("encoder kind")

// Register adds an encoder kind. It is called from init functions; a
// duplicate name is a programming error and panics.
func Register(name string, k Kind) { kinds.Register(name, k) }

// Kinds lists the registered kind names, sorted.
func Kinds() []string { return kinds.Names() }

// reading lists the kinds that read in.
func reading(in InputKind) []string {
	var out []string
	for _, n := range Kinds() {
		if k, _ := kinds.Lookup(n); slices.Contains(k.Reads, in) {
			out = append(out, n)
		}
	}
	return out
}

// Check validates cfg's encoder section for a task that feeds it in: the
// kind must read that input, and the kind checks its keys.
func Check(cfg *config.Config, in InputKind, c *config.Checker) {
	e := cfg.Encoder
	if e == nil {
		if in != NoInput {
			c.Errorf("encoder", "missing: the %s task reads %s; give encoder.kind, one of [%s]", cfg.Task, in, strings.Join(reading(in), " "))
		}
		return
	}
	k, ok := kinds.Lookup(e.Kind)
	switch {
	case !ok:
		c.OneOf("encoder.kind", e.Kind, Kinds())
		return
	case !slices.Contains(k.Reads, in) && in == NoInput:
		c.Errorf("encoder.kind", "the %s task has no input to encode: give none (or leave the encoder section out)", cfg.Task)
		return
	case !slices.Contains(k.Reads, in):
		c.Errorf("encoder.kind", "%s reads %s, but the %s task gives its encoder %s: want one of [%s]",
			e.Kind, readsText(k.Reads), cfg.Task, in, strings.Join(reading(in), " "))
		return
	}
	if k.Check != nil {
		k.Check(e, c)
	}
}

func readsText(in []InputKind) string {
	s := make([]string, len(in))
	for i, x := range in {
		s[i] = string(x)
	}
	if len(s) == 0 || s[0] == "" {
		return "nothing"
	}
	return strings.Join(s, " or ")
}

// CellNames lists the recurrent cells a config may name.
func CellNames() []string {
	out := make([]string, len(nn.Cells))
	for i, c := range nn.Cells {
		out[i] = string(c)
	}
	return out
}

// checkKMeans checks the k-means keys; 0 takes a key's default.
func checkKMeans(k config.KMeans, c *config.Checker) {
	c.AtLeast("encoder.kmeans.centroids", k.Centroids, 0)
	c.AtLeast("encoder.kmeans.patch", k.Patch, 0)
	c.AtLeast("encoder.kmeans.stride", k.Stride, 0)
	if k.Grid != 0 && k.Grid < 2 {
		c.Errorf("encoder.kmeans.grid", "%d: want at least 2 (or 0 for %d)", k.Grid, defaultGrid)
	}
}

// checkRecurrent checks the keys of a recurrent stack under prefix.
func checkRecurrent(prefix, cell string, hidden, layers int, dropout float64, c *config.Checker) {
	c.OneOf(prefix+".cell", cell, CellNames())
	c.AtLeast(prefix+".hidden", hidden, 1)
	c.AtLeast(prefix+".layers", layers, 1)
	c.Fraction(prefix+".dropout", dropout)
}

func init() {
	Register("none", Kind{Doc: "no encoder: the task's decoder reads the sequence itself (charlm)", Reads: []InputKind{NoInput}})
	Register("cnn", Kind{
		Doc:   "a CNN over each image, or over every frame of a clip",
		Reads: []InputKind{ImageInput, FrameInput},
		Build: &Builder{New32: newCNNEncoder[float32], New64: newCNNEncoder[float64]},
		Check: func(e *config.Encoder, c *config.Checker) {
			if len(e.Channels) == 0 {
				c.Errorf("encoder.channels", "missing: give the channels of each conv stage, e.g. [16, 32]")
			}
			for i, ch := range e.Channels {
				c.AtLeast("encoder.channels["+strconv.Itoa(i)+"]", ch, 1)
			}
			if e.Kernel < 1 || e.Kernel%2 == 0 {
				c.Errorf("encoder.kernel", "%d must be odd and positive", e.Kernel)
			}
			c.AtLeast("encoder.out", e.Out, 0)
			checkKMeans(e.KMeans, c)
			c.Unused("encoder.kmeans", e.KMeans != (config.KMeans{}) && e.KMeans.Centroids == 0,
				"k-means features go beside the CNN's when encoder.kmeans.centroids is set")
		},
	})
	Register("kmeans", Kind{
		Doc:   "unsupervised k-means features of an image's patches (Coates and Ng), fitted to training images before the first step",
		Reads: []InputKind{ImageInput},
		Build: &Builder{New32: newKMeansEncoder[float32], New64: newKMeansEncoder[float64]},
		Check: func(e *config.Encoder, c *config.Checker) {
			checkKMeans(e.KMeans, c)
			c.Unused("encoder.out", e.Out != 0, "the kmeans kind has no projection; its features start the decoder through the decoder's bridge")
			c.Unused("encoder.channels", len(e.Channels) > 0, "the kmeans kind has no CNN; for k-means features beside a CNN, give kind cnn and encoder.kmeans.centroids")
		},
	})
	Register("rnn", Kind{
		Doc:   "a token embedding and a recurrent stack over the sequence",
		Reads: []InputKind{TokenInput},
		Build: &Builder{New32: newRNNEncoder[float32], New64: newRNNEncoder[float64]},
		Check: func(e *config.Encoder, c *config.Checker) {
			checkRecurrent("encoder", e.Cell, e.Hidden, e.Layers, e.Dropout, c)
			c.AtLeast("encoder.embed", e.Embed, 1)
		},
	})
}
