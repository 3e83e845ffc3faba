package tasks

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/nn"
)

func init() {
	Register("captioning", Builder{New32: NewCaptioning[float32], New64: NewCaptioning[float64], Estimate: estimateCaptioning, Ensembles: isEnsembler[*Captioning[float32]]()})
	config.RegisterTask("captioning", config.TaskSchema{
		Defaults: func(c *config.Config) { c.Decoder.Kind = "autoregressive" },
		Reads:    append([]string{"data.val_path", "data.image_size", "data.color", "data.images", "data.captions", "data.augment", "train.self_critical"}, sequenceOutputKeys...),
		Check: func(cfg *config.Config, c *config.Checker) {
			checkModel(cfg, encoders.ImageInput, "autoregressive", c)
			if e := cfg.Encoder; e != nil {
				c.AtLeast("encoder.pretrain_steps", e.PretrainSteps, 0)
				if n := e.PretrainSteps; n > 0 && n >= cfg.Train.Steps {
					c.Errorf("encoder.pretrain_steps", "%d leaves no steps of train.steps (%d) for the decoder", n, cfg.Train.Steps)
				}
			}
			checkSelfCritical(cfg, c)
			cp := cfg.Data.Captions
			c.OneOf("data.captions.format", cp.Format, []string{"auto", "flickr8k", "coco"})
			c.AtLeast("data.captions.min_freq", cp.MinFreq, 1)
			c.AtLeast("data.captions.max_len", cp.MaxLen, 1)
			checkImages(cfg, c)
			if a := cfg.Data.Augment; a.Pad < 0 || a.Pad > cfg.Data.ImageSize {
				c.Errorf("data.augment.pad", "%d is outside 0..data.image_size (%d)", a.Pad, cfg.Data.ImageSize)
			}
			if a := cfg.Data.Augment; !(a.Scale >= 0 && a.Scale <= 1) {
				c.Errorf("data.augment.scale", "%v is outside 0..1", a.Scale)
			}
			if a := cfg.Data.Augment; !(a.Jitter >= 0 && a.Jitter < 1) {
				c.Errorf("data.augment.jitter", "%v is outside [0, 1)", a.Jitter)
			}
			c.InRange("data.augment.views", cfg.Data.Augment.Views, 0, maxCachedViews)
			if cfg.Encoder != nil {
				c.Unused("data.augment.views", cfg.Data.Augment.Views > 0 && !cfg.Encoder.Freeze, "only a frozen encoder's cached features take extra views (encoder.freeze)")
			}
			checkSequenceOutput(cfg, c)
		},
	})
}

// Captioning describes photos in a sentence: an encoder (a CNN) reads the
// image, and an autoregressive decoder, started from its features through
// the bridge, writes the caption word by word — optionally attending over
// the CNN's last feature map as a grid of image regions ("show, attend and
// tell"). Each training step draws a batch of images with one of their
// captions each; validation scores the dev images against all their
// references with BLEU-1..4 and CIDEr-D. Training may run in phases: the
// CNN pre-trained alone (captioning_pretrain.go), then frozen with its
// outputs cached (captioning_cache.go), and the decoder trained last by
// self-critical training (captioning_scst.go).
type Captioning[T nn.Float] struct {
	cfg        *config.Config
	vocab      *datasets.Vocab
	loader     *datasets.ImageLoader
	train, dev *datasets.CaptionSet
	trainIDs   [][][]int // per training image, its captions as ids (<bos> … <eos>)
	devIDs     [][][]int
	log        io.Writer

	model *seq2seq[T]
	head  *nn.Linear[T] // features → vocabulary logits, for pre-training; nil without
	pre   pretrainRun[T]
	scst  selfCriticalRun // the last phase's reward and log figures

	pretraining bool             // the phase the last TrainStep was in
	cache       *featureCache[T] // the frozen encoder's outputs, built when the decoder starts training
	images      nn.Mat[T]        // the encoder's input buffer

	// ensemble are further models that evaluation and prediction decode
	// with, the next word's probabilities averaged over all (Ensemble).
	ensemble []*Captioning[T]

	baseline *constantCaption // the best-constant baseline, found on the first Evaluate
	last     []string         // the captions of the last evaluation's dev images, for Report
	lastM    Metrics
	progress Progress // told how far an evaluation's captioning has come
}

// SetProgress makes Evaluate report its progress to p, in dev photos
// captioned.
func (m *Captioning[T]) SetProgress(p Progress) { m.progress = p }

// NewCaptioning builds the task; the vocabulary comes from the checkpoint
// when restoring, else from the training captions.
func NewCaptioning[T nn.Float](cfg *config.Config, env Env) (Task[T], error) {
	m := &Captioning[T]{cfg: cfg, log: env.log()}
	if s, ok := env.Meta["vocab"]; ok {
		var err error
		if m.vocab, err = restoreVocab(s, "vocab", true); err != nil {
			return nil, err
		}
	}
	a := cfg.Data.Augment
	var err error
	m.loader, err = datasets.NewImageLoader(datasets.ImageConfig{Size: cfg.Data.ImageSize, Pad: a.Pad, Flip: a.Flip, MinScale: a.Scale, Jitter: a.Jitter})
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if env.NeedData {
		if err := m.loadData(m.log); err != nil {
			return nil, err
		}
	}
	if m.vocab == nil && env.Assume != nil {
		m.vocab = placeholderVocab(env.Assume.Vocab, true)
	}
	if m.vocab == nil {
		return nil, fmt.Errorf("captioning needs either the captions (data.path) or a checkpoint's vocabulary")
	}
	if err := m.build(env.RNG); err != nil {
		return nil, err
	}
	return m, nil
}

// channels is the number of image channels the CNN reads.
func (m *Captioning[T]) channels() int {
	if m.cfg.Data.Color == "rgb" {
		return 3
	}
	return 1
}

// build draws the encoder, the pre-training head and the decoder, in that
// order.
func (m *Captioning[T]) build(rng *rand.Rand) error {
	size := m.cfg.Data.ImageSize
	enc, err := encoders.New[T](encoders.Spec{Section: m.cfg.Encoder, Input: encoders.ImageInput,
		Image: nn.ImageShape{C: m.channels(), H: size, W: size}, Prefix: "encoder"}, rng)
	if err != nil {
		return err
	}
	if m.cfg.Encoder.PretrainSteps > 0 {
		m.head = nn.NewLinear[T]("encoder_head", enc.Widths().Summary, m.vocab.Len(), rng)
	}
	// An LSTM decoder's cells start from the image too (Show and Tell).
	m.model, err = newSeq2seq(m.cfg, enc, m.vocab, true, rng)
	return err
}

// Params lists the encoder, pre-training head, bridges and decoder
// parameters.
func (m *Captioning[T]) Params() nn.Params[T] {
	ps := m.model.enc.Params()
	if m.head != nil {
		ps = append(ps, m.head.Params()...)
	}
	return append(ps, m.model.dec.Params()...)
}

// Buffers are the encoder's batch-norm statistics.
func (m *Captioning[T]) Buffers() nn.Params[T] { return m.model.enc.Buffers() }

// Describe lists the layers.
func (m *Captioning[T]) Describe() []string {
	out := m.model.enc.Describe()
	if m.head != nil {
		out = append(out, fmt.Sprintf("head       %d → %d, sigmoid: pre-training only (steps 1–%d), which words an image's captions use",
			m.head.Weight.Shape[1], m.vocab.Len(), m.cfg.Encoder.PretrainSteps))
	}
	if m.cfg.Encoder.Freeze {
		out = append(out, "           the CNN is frozen while the decoder trains; its features are cached per image")
	}
	return append(out, m.model.dec.Describe()...)
}

// PretrainSteps is encoder.pretrain_steps: the steps that train the CNN
// alone.
func (m *Captioning[T]) PretrainSteps() int { return m.cfg.Encoder.PretrainSteps }

// Meta keeps the vocabulary.
func (m *Captioning[T]) Meta() map[string]string {
	v, _ := json.Marshal(m.vocab)
	return map[string]string{"vocab": string(v)}
}

// imageBatch fills the encoder's input buffer with tensors.
func (m *Captioning[T]) imageBatch(tensors []*datasets.ImageTensor) encoders.Batch[T] {
	size := m.cfg.Data.ImageSize
	m.images = nn.NewMatLike(m.images, len(tensors), m.channels()*size*size)
	for i, t := range tensors {
		datasets.CopyPixels(m.images.Row(i), t, m.channels())
	}
	return encoders.Batch[T]{Items: len(tensors), Images: m.images}
}

// imagesOf loads the evaluation tensors of paths.
func (m *Captioning[T]) imagesOf(paths []string) ([]*datasets.ImageTensor, error) {
	out := make([]*datasets.ImageTensor, len(paths))
	for i, p := range paths {
		t, err := m.loader.Load(p)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// outputsOf returns the encoder's outputs for images in evaluation mode:
// from the cache when the encoder is frozen and has cached them all, else
// through the CNN.
func (m *Captioning[T]) outputsOf(paths []string) (encoders.Output[T], error) {
	if out, ok := m.cache.outputs(paths); ok {
		return out, nil
	}
	tensors, err := m.imagesOf(paths)
	if err != nil {
		return encoders.Output[T]{}, err
	}
	return m.model.enc.Forward(m.imageBatch(tensors), false, nil)
}

// sampleBatch draws train.batch training images, one of each image's
// captions and its augmentation, all with the training RNG so that a
// resumed run is identical to an uninterrupted one. It returns the images'
// tensors, their indices and the captions.
func (m *Captioning[T]) sampleBatch(rng *rand.Rand) ([]*datasets.ImageTensor, []int, [][]int, error) {
	n := m.cfg.Train.Batch
	tensors, imgs, seqs := make([]*datasets.ImageTensor, n), make([]int, n), make([][]int, n)
	for i := range seqs {
		img := rng.IntN(len(m.train.Images))
		caps := m.trainIDs[img]
		imgs[i], seqs[i] = img, caps[rng.IntN(len(caps))]
		t, err := m.loader.LoadTrain(m.train.Path(img), rng)
		if err != nil {
			return nil, nil, nil, err
		}
		tensors[i] = t
	}
	return tensors, imgs, seqs, nil
}

// TrainStep trains on one batch, after fitting an encoder that is fitted
// (captioning_pretrain.go) on the first. In the first encoder.pretrain_steps steps
// it pre-trains the CNN (the loss is the mean binary cross-entropy per
// vocabulary word); after them it trains the decoder, the loss being the
// mean per target token — from cached features when encoder.freeze holds
// the CNN fixed, else end to end; from train.self_critical.start on, by
// self-critical training (captioning_scst.go), the loss being the
// policy gradient's per sampled token.
func (m *Captioning[T]) TrainStep(step int, rng *rand.Rand) (float64, int, error) {
	if err := m.fitEncoder(); err != nil {
		return 0, 0, err
	}
	m.setPhase(step < m.cfg.Encoder.PretrainSteps, step)
	if m.pretraining {
		tensors, imgs, _, err := m.sampleBatch(rng)
		if err != nil {
			return 0, 0, err
		}
		return m.pretrainOn(m.imageBatch(tensors), imgs)
	}
	if m.selfCritical(step) {
		return m.selfCriticalStep(step, rng)
	}
	ratio := m.model.teacherForcing(step)
	if m.cfg.Encoder.Freeze {
		if err := m.buildCache(); err != nil {
			return 0, 0, err
		}
		rows, _, seqs := m.sampleCached(rng)
		return m.model.trainFrom(m.cache.gather(rows), seqs, ratio, rng)
	}
	tensors, _, seqs, err := m.sampleBatch(rng)
	if err != nil {
		return 0, 0, err
	}
	return m.model.trainOn(m.imageBatch(tensors), seqs, ratio, rng)
}

// lossOn returns the total loss of every caption of the images of set
// under teacher forcing.
func (m *Captioning[T]) lossOn(set *datasets.CaptionSet, ids [][][]int) (lossTotal, error) {
	var paths []string
	var seqs [][]int
	for i := range set.Images {
		for _, s := range ids[i] {
			paths = append(paths, set.Path(i))
			seqs = append(seqs, s)
		}
	}
	var total lossTotal
	size := m.cfg.Train.Batch
	for lo := 0; lo < len(paths); lo += size {
		hi := min(lo+size, len(paths))
		out, err := m.outputsOf(paths[lo:hi])
		if err != nil {
			return total, err
		}
		if err := total.add(m.model.loss(out, seqs[lo:hi], 1, false, nil)); err != nil {
			return total, err
		}
	}
	return total, nil
}

// captionPaths captions the images at paths with opt, in batches. With
// rng nil, sampling draws from a fixed seed. done (nil: none) counts the
// images as their batches finish.
func (m *Captioning[T]) captionPaths(paths []string, opt DecodeOptions, rng *rand.Rand, done *progressCounter) ([][]decoding.Hypothesis, error) {
	if rng == nil {
		rng = rand.New(rand.NewPCG(m.cfg.Seed, 0xdec0de))
	}
	size := opt.batchSize(m.cfg.Train.Batch)
	out := make([][]decoding.Hypothesis, 0, len(paths))
	for lo := 0; lo < len(paths); lo += size {
		part := paths[lo:min(lo+size, len(paths))]
		enc, cached := m.cache.outputs(part)
		var tensors []*datasets.ImageTensor
		if !cached || len(m.ensemble) > 0 {
			var err error
			if tensors, err = m.imagesOf(part); err != nil {
				return nil, err
			}
		}
		if !cached {
			var err error
			if enc, err = m.model.enc.Forward(m.imageBatch(tensors), false, nil); err != nil {
				return nil, err
			}
		}
		hyps, err := m.decodeWith(enc, tensors, len(part), opt, rng)
		if err != nil {
			return nil, err
		}
		out = append(out, hyps...)
		done.add(len(part))
	}
	return out, nil
}

// decodeWith decodes the captions of items images, which the model's
// encoder turned into enc: with the model alone, or with the ensemble,
// whose other members encode the images themselves (which only they need).
func (m *Captioning[T]) decodeWith(enc encoders.Output[T], images []*datasets.ImageTensor, items int, opt DecodeOptions, rng *rand.Rand) ([][]decoding.Hypothesis, error) {
	st, err := m.model.search(enc, opt)
	if err != nil {
		return nil, err
	}
	searches := []decoding.Stepper{st}
	for _, e := range m.ensemble {
		st, err := e.model.encodeSearch(e.imageBatch(images), opt)
		if err != nil {
			return nil, err
		}
		searches = append(searches, st)
	}
	return searchEnsemble(searches, items, opt, rng)
}

// Ensemble makes evaluation and prediction decode with this model and
// members together, the next word's probabilities averaged over all
// (decoding.Ensemble): the cheap and standard gain of several models
// trained apart. Members must be captioning models of the same vocabulary
// and photos. The dev loss Evaluate reports stays this model's.
func (m *Captioning[T]) Ensemble(members []Task[T]) error {
	ensemble := m.ensemble
	for i, t := range members {
		e, ok := t.(*Captioning[T])
		if !ok {
			return fmt.Errorf("model %d of the ensemble is not a captioning model", i+2)
		}
		if !slices.Equal(e.vocab.Tokens(), m.vocab.Tokens()) {
			return fmt.Errorf("model %d of the ensemble has another vocabulary (%d words against %d): its captions were read differently", i+2, e.vocab.Len(), m.vocab.Len())
		}
		if a, b := e.cfg.Data, m.cfg.Data; a.ImageSize != b.ImageSize || a.Color != b.Color {
			return fmt.Errorf("model %d of the ensemble reads %d×%d %s photos, model 1 %d×%d %s", i+2, a.ImageSize, a.ImageSize, a.Color, b.ImageSize, b.ImageSize, b.Color)
		}
		ensemble = append(ensemble, e)
	}
	m.ensemble = ensemble
	return nil
}

// text is a caption's words.
func (m *Captioning[T]) text(ids []int) string { return strings.Join(m.model.words(ids), " ") }

// DecodeDefaults are the decoding settings of the config (eval.decode),
// which a request's DecodeRequest changes.
func (m *Captioning[T]) DecodeDefaults() DecodeOptions { return decodeDefaults(m.cfg.Eval.Decode) }

// Attends reports whether the model has attention (and so attention maps).
func (m *Captioning[T]) Attends() bool { return m.model.dec.Attends() }

// Vocabularies is the size of the caption vocabulary.
func (m *Captioning[T]) Vocabularies() map[string]int { return map[string]int{"words": m.vocab.Len()} }

// ImageTensor prepares a decoded image (datasets.DecodeImage) as the model
// reads it: the evaluation view of Load.
func (m *Captioning[T]) ImageTensor(img image.Image) (*datasets.ImageTensor, error) {
	t, err := m.loader.Tensor(img)
	if err != nil {
		return nil, &InputError{Field: "image", Err: err}
	}
	return t, nil
}

// Captioned is one image's caption.
type Captioned struct {
	Text  string   `json:"text"`
	Score float64  `json:"score"`
	NBest []Scored `json:"n_best,omitempty"` // the alternatives asked for, the chosen caption first
	// Attention, when asked for, is the decoder's attention over the
	// image's grid of Grid[0]×Grid[1] regions (row-major) while it wrote
	// each word.
	Attention *GridAttention `json:"attention,omitempty"`
}

// GridAttention is an attention map over an image's regions.
type GridAttention struct {
	Grid    [2]int      `json:"grid"` // rows, columns
	Output  []string    `json:"output"`
	Weights [][]float64 `json:"weights"`
}

// Caption captions images (evaluation tensors: datasets.ImageLoader's Load
// or Tensor) with opt, in batches; with withAttention each result carries
// its attention over the image's regions. This is the one path of -mode
// predict and the server.
func (m *Captioning[T]) Caption(images []*datasets.ImageTensor, opt DecodeOptions, withAttention bool, rng *rand.Rand) ([]Captioned, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	if withAttention && !m.model.dec.Attends() {
		return nil, inputErrorf("attention", "this model has no attention (decoder.attention: none)")
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(m.cfg.Seed, 0xdec0de))
	}
	size := opt.batchSize(m.cfg.Train.Batch)
	out := make([]Captioned, 0, len(images))
	for lo := 0; lo < len(images); lo += size {
		part := images[lo:min(lo+size, len(images))]
		enc, err := m.model.enc.Forward(m.imageBatch(part), false, nil)
		if err != nil {
			return nil, err
		}
		hyps, err := m.decodeWith(enc, part, len(part), opt, rng)
		if err != nil {
			return nil, err
		}
		for _, list := range hyps {
			best := list[0]
			c := Captioned{Text: m.text(best.Tokens), Score: best.Score, NBest: nBest(list, opt, m.text)}
			if withAttention && best.Attention != nil {
				fs := m.gridShape()
				c.Attention = &GridAttention{Grid: [2]int{fs.H, fs.W}, Output: outputTokens(m.vocab, best), Weights: best.Attention}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// gridShape is the geometry of the feature map the decoder attends over.
func (m *Captioning[T]) gridShape() nn.ImageShape {
	return m.model.enc.(interface{ FeatureShape() nn.ImageShape }).FeatureShape()
}

// Evaluate reports the dev loss per target token (all captions, teacher
// forcing) and perplexity; BLEU-1..4, CIDEr-D and the number of distinct
// captions of up to eval.bleu_sentences dev images captioned as
// eval.decode says, against all their references; baseline_bleu4, the
// dev BLEU-4 of the best constant caption; and with pre-training,
// words_loss, the head's loss on the dev images, beside words_prior_loss,
// that of predicting each word's training frequency whatever the image.
// While the encoder is pre-training it reports only those two.
func (m *Captioning[T]) Evaluate() (Metrics, error) {
	if m.pretraining {
		words, prior, err := m.wordLosses()
		if err != nil {
			return nil, err
		}
		return Metrics{"words_loss": words, "words_prior_loss": prior}, nil
	}
	total, err := m.lossOn(m.dev, m.devIDs)
	if err != nil {
		return nil, err
	}
	count := len(m.dev.Images)
	if k := m.cfg.Eval.BLEUSentences; k > 0 && k < count {
		count = k
	}
	hyps, err := m.captionPaths(m.dev.Paths()[:count], decodeDefaults(m.cfg.Eval.Decode), nil, newProgressCounter(m.progress, count))
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(hyps))
	for i, h := range hyps {
		texts[i] = m.text(h[0].Tokens)
	}
	out, err := captionScores(texts, m.dev)
	if err != nil {
		return nil, err
	}
	if m.baseline == nil {
		if m.baseline, err = m.bestConstant(count); err != nil {
			return nil, err
		}
	}
	loss := total.mean()
	out["loss"], out["perplexity"], out["baseline_bleu4"] = loss, math.Exp(loss), m.baseline.dev
	if m.head != nil {
		if out["words_loss"], out["words_prior_loss"], err = m.wordLosses(); err != nil {
			return nil, err
		}
	}
	m.last, m.lastM = texts, out
	return out, nil
}

// Sample captions a few dev images for the run log.
func (m *Captioning[T]) Sample(rng *rand.Rand) (string, error) {
	n := min(4, len(m.dev.Images))
	hyps, err := m.captionPaths(m.dev.Paths()[:n], decodeDefaults(m.cfg.Eval.Decode), rng, nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, h := range hyps {
		fmt.Fprintf(&b, "image:     %s\noutput:    %s\nreference: %s\n", m.dev.Images[i].File, m.text(h[0].Tokens), m.dev.Images[i].Captions[0])
	}
	return b.String(), nil
}

// Predict captions images: the one named by -input, or else each image
// path read from the stream, one per line, printed as "path<TAB>caption".
// A stream path whose image is missing or corrupt is reported and skipped.
func (m *Captioning[T]) Predict(in Input, out io.Writer, rng *rand.Rand) error {
	if in.AttentionDir != "" {
		return inputErrorf("attention", "captioning does not draw attention maps")
	}
	opt := decodeDefaults(m.cfg.Eval.Decode)
	captionFile := func(path string) (string, error) {
		t, err := m.loader.Load(path)
		if err != nil {
			return "", &InputError{Field: "input", Err: err}
		}
		caps, err := m.Caption([]*datasets.ImageTensor{t}, opt, false, rng)
		if err != nil {
			return "", err
		}
		return caps[0].Text, nil
	}
	if in.Path != "" {
		c, err := captionFile(in.Path)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, c)
		return err
	}
	w := bufio.NewWriter(out)
	captioned, unusable := 0, 0
	tooLong, err := eachLine(in, func(line int, text string) error {
		path := strings.TrimSpace(text)
		if path == "" {
			return nil
		}
		c, err := captionFile(path)
		var ie *InputError
		if errors.As(err, &ie) {
			unusable++
			fmt.Fprintf(in.logWriter(), "line %d: skipped: %v\n", line, ie.Err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		captioned++
		fmt.Fprintf(w, "%s\t%s\n", path, c)
		return w.Flush()
	}, func(int) error { return nil })
	if err != nil {
		return err
	}
	if unusable > 0 || tooLong > 0 {
		fmt.Fprintf(in.logWriter(), "captioned %d images; skipped %d unusable and %d lines longer than %d bytes\n", captioned, unusable, tooLong, datasets.MaxLineBytes)
	}
	return nil
}

// The pipeline writes the HTML page through the Reporter interface.
var _ Reporter = (*Captioning[float32])(nil)

// estimateCaptioning counts the CNN over a batch of images and the
// decoder over captions of data.captions.max_len words.
func estimateCaptioning(cfg *config.Config, s Sizes, e *estimate) {
	size, B := cfg.Data.ImageSize, cfg.Train.Batch
	ch := 1
	if cfg.Data.Color == "rgb" {
		ch = 3
	}
	in := nn.ImageShape{C: ch, H: size, W: size}
	var features int
	var fmap nn.ImageShape
	switch km := encoders.KMeansConfigOf(cfg.Encoder.KMeans, in); {
	case cfg.Encoder.Kind == "kmeans":
		features, fmap.C = e.kmeans(km)
		fmap.H, fmap.W = km.Grid, km.Grid
	default:
		features, fmap = e.cnn(cfg.Encoder, in, int64(max(B, 64)))
		if cfg.Encoder.KMeans.Centroids > 0 {
			_, centroids := e.kmeans(km)
			fmap.C += centroids
		}
	}
	if cfg.Encoder.PretrainSteps > 0 {
		e.linear("pre-training head", "encoder.out", features, s.Vocab, int64(B))
	}
	// Self-critical training runs the decoder over every sampled caption
	// of the batch at once, up to eval.decode.max_len words.
	rows, steps := B, cfg.Data.Captions.MaxLen+1
	if sc := cfg.Train.SelfCritical; sc.Start > 0 {
		rows, steps = B*sc.Samples, max(steps, cfg.Eval.Decode.MaxLen+1)
	}
	e.autoregressive(cfg.Decoder, s.Vocab, features, fmap.C, fmap.H*fmap.W, steps, rows)
}
