package tasks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/nn"
)

// Memory estimates. Before a model is built, the runner adds up what its
// parts will hold while training — each parameter with its gradient and
// Adam's two moments, and the values a batch's forward pass keeps for its
// backward pass — and refuses a config that cannot fit in the machine's
// memory, naming the key that sizes the largest part. The estimate reads
// the config alone; what only the data decides (vocabularies, label sets)
// comes from Sizes: a checkpoint's when there is one, else assumed bounds
// (AssumedSizes), the same a summary without data shows.

// Sizes are what the data decides: vocabulary and label-set sizes. Zero
// means not known.
type Sizes struct {
	Vocab       int // charlm's characters; captioning's words; translation's target words
	SourceVocab int // translation
	Labels      int // video
}

// Part is one part of a model's memory: what it is, the config key that
// sizes it, and its estimated size.
type Part struct {
	What  string
	Key   string
	Bytes int64
}

// Estimate returns the parts of the memory that training cfg's model
// needs, largest first, for element size bytes (4 for float32).
func Estimate(cfg *config.Config, s Sizes) ([]Part, error) {
	b, ok := builders.Lookup(cfg.Task)
	if !ok {
		return nil, fmt.Errorf("unknown task %q", cfg.Task)
	}
	width := int64(4)
	if cfg.Train.Precision == "float64" {
		width = 8
	}
	e := &estimate{width: width}
	b.Estimate(cfg, s.orAssumed(cfg), e)
	var weights int64 // bytes of one copy of the weights
	for _, p := range e.parts {
		if strings.HasSuffix(p.What, paramsSuffix) {
			weights += p.Bytes / trainedCopies
		}
	}
	copies := int64(max(cfg.Train.Workers, 1))
	if copies > 1 {
		// Each data-parallel copy keeps gradients of its own; the batch's
		// activations are split among the copies, so they do not add up.
		e.parts = append(e.parts, Part{What: "gradients of the data-parallel copies", Key: "train.workers", Bytes: copies * weights})
	}
	if cfg.Train.Precision == "bf16" {
		// Each copy rounds its weights, as W and as Wᵀ (an upper bound:
		// embeddings and convolutions are not rounded), to two bytes an
		// element, or without bfloat16 instructions to float32 values and
		// their packed copy.
		perElement := int64(2)
		if !fastblas.BF16Available() {
			perElement = 8
		}
		e.parts = append(e.parts, Part{What: "bfloat16 copies of the weights", Key: "train.precision", Bytes: copies * weights / width * 2 * perElement})
	}
	// One part per what and key: a stack's layers, a CNN's stages add up.
	var parts []Part
	index := map[[2]string]int{}
	for _, p := range e.parts {
		k := [2]string{p.What, p.Key}
		if i, ok := index[k]; ok {
			parts[i].Bytes += p.Bytes
			continue
		}
		index[k] = len(parts)
		parts = append(parts, p)
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].Bytes > parts[j].Bytes })
	return parts, nil
}

// Total is the sum of parts.
func Total(parts []Part) int64 {
	var n int64
	for _, p := range parts {
		n += p.Bytes
	}
	return n
}

// estimate collects parts; its methods count the common layers.
type estimate struct {
	width int64
	parts []Part
}

// trainedCopies is how many values training keeps per parameter: the
// value, its gradient and Adam's two moments.
const trainedCopies = 4

// paramsSuffix marks the parts that params adds.
const paramsSuffix = " (weights, gradients, optimizer state)"

func (e *estimate) params(what, key string, n int64) {
	e.parts = append(e.parts, Part{What: what + paramsSuffix, Key: key, Bytes: trainedCopies * n * e.width})
}

func (e *estimate) values(what, key string, n int64) {
	e.parts = append(e.parts, Part{What: what, Key: key, Bytes: n * e.width})
}

// recurrent counts a stack's weights and a training batch's activations.
func (e *estimate) recurrent(section string, c nn.RecurrentConfig, steps, batch int) {
	if c.Cell == "none" || c.Hidden < 1 {
		return
	}
	e.params(section+" recurrent stack", section+".hidden", c.ParamCount())
	e.values(section+" recurrent activations", "train.batch", c.ActivationCount(steps, batch))
}

// linear counts a layer's weights and the rows of outputs (and their
// gradients) a batch makes.
func (e *estimate) linear(what, key string, in, out int, rows int64) {
	e.params(what, key, int64(in+1)*int64(out))
	e.values(what+" outputs", "train.batch", 2*rows*int64(out))
}

// AssumedSizes are the sizes Estimate and a summary assume when the data
// is not read: upper bounds of what the shipped configs' data gives.
func AssumedSizes(cfg *config.Config) Sizes {
	vocab := 10000
	if v := cfg.Data.Pairs.MaxVocab; cfg.Task == "translation" && v > 0 {
		vocab = v
	}
	if cfg.Task == "charlm" {
		vocab = 256
	}
	return Sizes{Vocab: vocab, SourceVocab: vocab, Labels: 32}
}

// orAssumed fills the sizes s lacks from AssumedSizes.
func (s Sizes) orAssumed(cfg *config.Config) Sizes {
	a := AssumedSizes(cfg)
	if s.Vocab == 0 {
		s.Vocab = a.Vocab
	}
	if s.SourceVocab == 0 {
		s.SourceVocab = a.SourceVocab
	}
	if s.Labels == 0 {
		s.Labels = a.Labels
	}
	return s
}

// Describe writes parts for a message, largest first.
func DescribeParts(parts []Part, n int) string {
	var b strings.Builder
	for i, p := range parts[:min(n, len(parts))] {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s (%s)", p.What, HumanBytes(p.Bytes), p.Key)
	}
	return b.String()
}

// HumanBytes writes a byte count in binary units.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<40:
		return fmt.Sprintf("%.1f TiB", float64(n)/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
}

// cnn counts a CNN encoder's weights and the activations of images images
// of shape in (each stage: conv, batch norm, ReLU and pool outputs), and
// returns its feature width and last feature map's shape.
func (e *estimate) cnn(sec *config.Encoder, in nn.ImageShape, images int64) (features int, fmap nn.ImageShape) {
	shape := in
	for _, ch := range sec.Channels {
		k := int64(sec.Kernel)
		e.params("encoder convolutions", "encoder.channels", (int64(shape.C)*k*k+3)*int64(ch))
		conv := int64(ch) * int64(shape.H) * int64(shape.W)
		e.values("encoder activations", "data.image_size", images*conv*3)
		shape = nn.ImageShape{C: ch, H: max(shape.H/2, 1), W: max(shape.W/2, 1)}
		e.values("encoder activations", "data.image_size", images*int64(shape.Size()))
	}
	if sec.Out > 0 {
		e.linear("encoder projection", "encoder.out", shape.Size(), sec.Out, images)
		return sec.Out, shape
	}
	return shape.Size(), shape
}

// kmeans counts k-means features' buffers, each core's scratch for one
// image and the patches they are fitted to, and returns their summary
// width and centroids.
func (e *estimate) kmeans(c encoders.KMeansConfig) (summary, centroids int) {
	D, K := int64(c.PatchSize()), int64(c.Centroids)
	e.values("encoder k-means centroids and whitening", "encoder.kmeans.centroids", (K+D+3)*D)
	h, w := c.Positions()
	e.values("encoder patches (per core)", "encoder.kmeans.stride", int64(fastblas.Workers())*int64(h*w)*(2*D+K))
	e.values("encoder fitting patches", "encoder.kmeans.patch", 2*encoders.FitPatches*D)
	return c.SummaryWidth(), c.Centroids
}

// autoregressive counts an autoregressive decoder over items sequences of
// steps tokens, attending over memory positions of width key, started from
// summaries of width summary through the bridge.
func (e *estimate) autoregressive(d config.Decoder, vocab, summary, key, memory, steps, items int) {
	rows := int64(steps) * int64(items)
	e.linear("bridge", "decoder.hidden", summary, d.Hidden, int64(items))
	e.params("decoder embedding", "decoder.embed", int64(vocab)*int64(d.Embed))
	feed := 0
	if d.Attention != "none" {
		e.params("decoder attention", "decoder.hidden", int64(d.Hidden)*int64(key+d.Hidden+1))
		e.linear("decoder combine", "decoder.hidden", key+d.Hidden, d.Hidden, rows)
		e.values("decoder attention weights", "train.batch", 2*rows*int64(memory))
		feed = key + d.Hidden
	}
	e.recurrent("decoder", nn.RecurrentConfig{Cell: nn.Cell(d.Cell), Input: d.Embed + feed, Hidden: d.Hidden, Layers: d.Layers}, steps, items)
	e.linear("decoder output layer", "decoder.hidden", d.Hidden, vocab, rows)
}

// placeholderVocab is a stand-in vocabulary of n tokens for a model built
// without data (Env.Assume); words reserves the special tokens first.
func placeholderVocab(n int, words bool) *datasets.Vocab {
	var tokens []string
	if words {
		tokens = append(tokens, datasets.Specials...)
	}
	for len(tokens) < n {
		tokens = append(tokens, fmt.Sprintf("t%d", len(tokens)))
	}
	v, _ := datasets.NewVocab(tokens) // distinct and non-empty by construction
	return v
}
