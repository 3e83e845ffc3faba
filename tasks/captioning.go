package tasks

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoders"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/metrics"
	"github.com/seqtask/seqtask/nn"
)

func init() {
	Register("captioning", Builder{New32: NewCaptioning[float32], New64: NewCaptioning[float64]})
}

// Captioning describes photos in a sentence: a CNN encodes the image, a
// bridge (linear + tanh) turns its feature vector into the decoder's
// initial state (hidden state, and cell for an LSTM), and the recurrent
// decoder of package decoders emits the caption word by word — optionally
// attending over the CNN's last feature map as a grid of image regions
// ("show, attend and tell"). Each training step draws a batch of images
// with one of their captions each; validation scores the dev images
// against all their references with BLEU-1..4 and CIDEr-D.
type Captioning[T nn.Float] struct {
	cfg        *config.Config
	vocab      *datasets.Vocab
	loader     *datasets.ImageLoader
	train, dev *datasets.CaptionSet
	trainIDs   [][][]int // per training image, its captions as ids (<bos> … <eos>)
	devIDs     [][][]int

	cnn     *encoders.CNN[T]
	head    *nn.Linear[T] // features → vocabulary logits, for pre-training; nil without
	bridge  *nn.Linear[T] // features → initial hidden state
	bridgeC *nn.Linear[T] // features → initial LSTM cell; nil for other cells
	dec     *decoders.RNN[T]
	run     captionRun[T]
	log     io.Writer

	pretraining bool             // the phase the last TrainStep was in
	cache       *featureCache[T] // the frozen encoder's outputs, built when the decoder starts training

	baseline *constantCaption // the best-constant baseline, found on the first Evaluate
	last     []string         // the captions of the last evaluation's dev images, for Report
	lastM    Metrics
}

// captionRun holds one batch's values that the backward pass needs; the
// buffers are reused across batches.
type captionRun[T nn.Float] struct {
	bridge   nn.LinearCache[T]
	bridgeC  nn.LinearCache[T]
	head     nn.LinearCache[T]
	h, c     nn.Mat[T] // bridge outputs after tanh [B][H]
	h0, c0   nn.Mat[T] // decoder initial states [L*B][H]
	keys     nn.Mat[T] // the feature map as a grid, [B*S][C]
	dlogits  nn.Mat[T]
	dbridge  nn.Mat[T]
	dfeat    nn.Mat[T]
	dfeatC   nn.Mat[T]
	dmap     nn.Mat[T]
	imageBuf nn.Mat[T]
	words    nn.Mat[T] // pre-training targets [B][V]: 1 for each word the image's captions use
	dwords   nn.Mat[T]
	feat     nn.Mat[T] // features gathered from the cache [B][OutSize]
	fmap     nn.Mat[T] // feature maps gathered from the cache [B][C*S]
}

// encoded is what the decoder starts from: its initial states and, with
// attention, the image grid as keys [B*S][C].
type encoded[T nn.Float] struct {
	h0, c0, keys nn.Mat[T]
	S            int
}

// featureCache holds a frozen encoder's outputs per image view: the
// feature vector and, with attention, the last feature map.
type featureCache[T nn.Float] struct {
	rows   map[string]int // image path → row of its plain view
	mirror map[string]int // training image path → row of its mirror view (with data.augment.flip)
	feat   nn.Mat[T]      // [rows][OutSize]
	fmap   nn.Mat[T]      // [rows][C*S]; empty without attention
}

// constantCaption is the baseline a captioner must beat: the one training
// caption that, given to every training image, scores best.
type constantCaption struct {
	caption          string
	train, dev       float64 // its BLEU-4 on the training images and on the dev images
	candidates, imgs int     // how many captions were tried on how many training images
}

// NewCaptioning builds the task; the vocabulary comes from the checkpoint
// when restoring, else from the training captions.
func NewCaptioning[T nn.Float](cfg *config.Config, env Env) (Task[T], error) {
	m := &Captioning[T]{cfg: cfg, log: env.Log}
	if m.log == nil {
		m.log = io.Discard
	}
	if s, ok := env.Meta["vocab"]; ok {
		m.vocab = &datasets.Vocab{}
		if err := json.Unmarshal([]byte(s), m.vocab); err != nil {
			return nil, fmt.Errorf("checkpoint vocabulary: %w", err)
		}
	}
	a := cfg.Data.Augment
	var err error
	m.loader, err = datasets.NewImageLoader(datasets.ImageConfig{Size: cfg.Data.ImageSize, Pad: a.Pad, Flip: a.Flip})
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if env.NeedData {
		if err := m.loadData(m.log); err != nil {
			return nil, err
		}
	}
	if m.vocab == nil {
		return nil, fmt.Errorf("captioning needs either the captions (data.path) or a checkpoint's vocabulary")
	}
	if err := m.build(env.RNG); err != nil {
		return nil, err
	}
	return m, nil
}

// captionFormat resolves data.captions.format auto by the extension of
// data.path: .json is COCO, anything else the Flickr8k token file.
func captionFormat(d config.Data) string {
	if f := d.Captions.Format; f != "auto" {
		return f
	}
	if strings.EqualFold(filepath.Ext(d.Path), ".json") {
		return "coco"
	}
	return "flickr8k"
}

// imageDir is data.images, or else the first Flickr8k image folder found
// beside data.path.
func imageDir(d config.Data) (string, error) {
	if d.Images != "" {
		return d.Images, nil
	}
	base := filepath.Dir(d.Path)
	for _, name := range datasets.Flickr8kImageDirs {
		if fi, err := os.Stat(filepath.Join(base, name)); err == nil && fi.IsDir() {
			return filepath.Join(base, name), nil
		}
	}
	return "", fmt.Errorf("data.images: not given, and %s has none of %s", base, strings.Join(datasets.Flickr8kImageDirs, ", "))
}

// loadData reads the captions and splits, decodes every image once
// (reporting and skipping missing or corrupt ones), builds the vocabulary
// from the training captions and encodes them.
func (m *Captioning[T]) loadData(log io.Writer) error {
	d := m.cfg.Data
	images, err := imageDir(d)
	if err != nil {
		return err
	}
	var train, dev *datasets.CaptionSet
	switch captionFormat(d) {
	case "coco":
		all, err := datasets.ReadCOCOCaptions(d.Path, images)
		if err != nil {
			return fmt.Errorf("data.path: %w", err)
		}
		reportCaptions(log, all.Report)
		if d.ValPath != "" {
			train = all
			if dev, err = datasets.ReadCOCOCaptions(d.ValPath, images); err != nil {
				return fmt.Errorf("data.val_path: %w", err)
			}
			reportCaptions(log, dev.Report)
		} else {
			tr, dv, err := datasets.SplitBy(all.Images, func(im datasets.CaptionedImage) string { return im.File },
				datasets.SplitOptions{DevFraction: d.ValFraction, Seed: m.cfg.Seed})
			if err != nil {
				return fmt.Errorf("data.val_fraction: %w", err)
			}
			train = &datasets.CaptionSet{ImageDir: images, Images: tr, Report: datasets.CaptionReport{Source: d.Path}}
			dev = &datasets.CaptionSet{ImageDir: images, Images: dv, Report: datasets.CaptionReport{Source: d.Path + " (dev split)"}}
		}
	default:
		all, err := datasets.ReadFlickr8kTokens(d.Path, images)
		if err != nil {
			return fmt.Errorf("data.path: %w", err)
		}
		reportCaptions(log, all.Report)
		for _, sp := range []struct {
			list string
			dst  **datasets.CaptionSet
		}{{datasets.Flickr8kTrainList, &train}, {datasets.Flickr8kDevList, &dev}} {
			p := filepath.Join(filepath.Dir(d.Path), sp.list)
			names, err := datasets.ReadImageList(p)
			if err != nil {
				return fmt.Errorf("data.path: the split list beside it: %w", err)
			}
			if *sp.dst, err = all.Select(names, p); err != nil {
				return fmt.Errorf("data.path: %w", err)
			}
			reportCaptions(log, (*sp.dst).Report)
		}
	}
	for _, sp := range []struct {
		name string
		set  **datasets.CaptionSet
	}{{"training", &train}, {"dev", &dev}} {
		if len((*sp.set).Images) == 0 {
			return fmt.Errorf("data.path: no %s images", sp.name)
		}
		usable, rep, err := m.loader.FilterUsable(*sp.set)
		if err != nil {
			return fmt.Errorf("%s images: %w", sp.name, err)
		}
		for _, f := range rep.Failed {
			fmt.Fprintf(log, "captioning: skipped %s image %s: %s\n", sp.name, f.File, f.Reason)
		}
		if len(rep.Failed) > 0 {
			fmt.Fprintf(log, "captioning: %d of %d %s images unusable, skipped\n", len(rep.Failed), rep.Requested, sp.name)
		}
		*sp.set = usable
		// An image whose captions are all empty once preprocessed (a COCO
		// caption of ".") can be neither learned from nor scored.
		var kept []datasets.CaptionedImage
		for _, im := range usable.Images {
			if slices.ContainsFunc(im.Captions, func(c string) bool { return len(datasets.PreprocessCaption(c, 0)) > 0 }) {
				kept = append(kept, im)
				continue
			}
			fmt.Fprintf(log, "captioning: skipped %s image %s: its captions are empty without punctuation\n", sp.name, im.File)
		}
		if len(kept) == 0 {
			return fmt.Errorf("data.path: no %s image has a non-empty caption", sp.name)
		}
		usable.Images = kept
	}
	m.train, m.dev = train, dev
	opt := datasets.CaptionOptions{MaxLen: d.Captions.MaxLen, MinFreq: d.Captions.MinFreq}
	if m.vocab == nil {
		m.vocab = datasets.CaptionVocab(train, opt)
	}
	if m.trainIDs, err = encodeCaptions(train, m.vocab, opt); err != nil {
		return err
	}
	if m.devIDs, err = encodeCaptions(dev, m.vocab, opt); err != nil {
		return err
	}
	fmt.Fprintf(log, "captioning: %d training images (%d captions), %d dev images (%d captions); vocabulary %d words (min_freq %d)\n",
		len(train.Images), train.NumCaptions(), len(dev.Images), dev.NumCaptions(), m.vocab.Len(), d.Captions.MinFreq)
	return nil
}

// reportCaptions logs what a caption reader skipped: each item, then the count.
func reportCaptions(log io.Writer, r datasets.CaptionReport) {
	for _, s := range r.Skipped {
		fmt.Fprintf(log, "captioning: %s: skipped %s\n", r.Source, s)
	}
	if r.SpaceSeparated > 0 {
		fmt.Fprintf(log, "captioning: %s: %d line(s) separate key and caption by a space, read anyway\n", r.Source, r.SpaceSeparated)
	}
	if n := len(r.Skipped); n > 0 {
		fmt.Fprintf(log, "captioning: %s: %d item(s) skipped (%d captions)\n", r.Source, n, r.SkippedCaptions)
	}
}

// encodeCaptions returns each image's captions as ids.
func encodeCaptions(set *datasets.CaptionSet, v *datasets.Vocab, opt datasets.CaptionOptions) ([][][]int, error) {
	ex, err := set.Encode(v, opt)
	if err != nil {
		return nil, err
	}
	out := make([][][]int, len(set.Images))
	for _, e := range ex {
		out[e.Image] = append(out[e.Image], e.IDs)
	}
	return out, nil
}

// channels is the number of image channels the CNN reads.
func (m *Captioning[T]) channels() int {
	if m.cfg.Data.Color == "rgb" {
		return 3
	}
	return 1
}

func (m *Captioning[T]) build(rng *rand.Rand) error {
	e, d := m.cfg.Encoder, m.cfg.Decoder
	size := m.cfg.Data.ImageSize
	var err error
	m.cnn, err = encoders.NewCNN[T]("encoder", encoders.CNNConfig{
		In:       nn.ImageShape{C: m.channels(), H: size, W: size},
		Channels: e.Channels, Kernel: e.Kernel, BatchNorm: e.BatchNorm, Out: e.Out,
	}, rng)
	if err != nil {
		return fmt.Errorf("encoder: %w", err)
	}
	if e.PretrainSteps > 0 {
		m.head = nn.NewLinear[T]("encoder_head", m.cnn.OutSize(), m.vocab.Len(), rng)
	}
	m.bridge = nn.NewLinear[T]("bridge", m.cnn.OutSize(), d.Hidden, rng)
	if d.Cell == string(nn.CellLSTM) {
		m.bridgeC = nn.NewLinear[T]("bridge_c", m.cnn.OutSize(), d.Hidden, rng)
	}
	m.dec, err = decoders.New[T]("decoder", decoderConfig(d, m.vocab.Len(), m.cnn.FeatureShape().C), rng)
	return err
}

// Params lists the encoder, pre-training head, bridges and decoder
// parameters.
func (m *Captioning[T]) Params() nn.Params[T] {
	ps := append(nn.Params[T]{}, m.cnn.Params()...)
	if m.head != nil {
		ps = append(ps, m.head.Params()...)
	}
	ps = append(ps, m.bridge.Params()...)
	if m.bridgeC != nil {
		ps = append(ps, m.bridgeC.Params()...)
	}
	return append(ps, m.dec.Params()...)
}

// Buffers are the encoder's batch-norm statistics.
func (m *Captioning[T]) Buffers() nn.Params[T] { return m.cnn.Buffers() }

// Describe lists the layers.
func (m *Captioning[T]) Describe() []string {
	out := m.cnn.Describe()
	if m.head != nil {
		out = append(out, fmt.Sprintf("head       %d → %d, sigmoid: pre-training only (steps 1–%d), which words an image's captions use",
			m.cnn.OutSize(), m.vocab.Len(), m.cfg.Encoder.PretrainSteps))
	}
	if m.cfg.Encoder.Freeze {
		out = append(out, "           the CNN is frozen while the decoder trains; its features are cached per image")
	}
	start := "h0"
	if m.bridgeC != nil {
		start = "h0 and (bridge_c) c0"
	}
	out = append(out, fmt.Sprintf("bridge     %d → %d, tanh: the decoder's %s", m.cnn.OutSize(), m.cfg.Decoder.Hidden, start))
	if m.dec.Attends() {
		fs := m.cnn.FeatureShape()
		out = append(out, fmt.Sprintf("grid       the last feature map as %d×%d = %d regions of %d features, attended over", fs.H, fs.W, fs.H*fs.W, fs.C))
	}
	return append(out, m.dec.Describe()...)
}

// PretrainSteps is encoder.pretrain_steps: the steps that train the CNN
// alone.
func (m *Captioning[T]) PretrainSteps() int { return m.cfg.Encoder.PretrainSteps }

// Meta keeps the vocabulary.
func (m *Captioning[T]) Meta() map[string]string {
	v, _ := json.Marshal(m.vocab)
	return map[string]string{"vocab": string(v)}
}

// putImage writes an image tensor into one row of the CNN's input, averaging
// the colour channels for gray input.
func (m *Captioning[T]) putImage(dst []T, t *datasets.ImageTensor) {
	if m.channels() == 3 {
		for i, v := range t.Data {
			dst[i] = T(v)
		}
		return
	}
	plane := t.H * t.W
	for i := range plane {
		dst[i] = T((t.Data[i] + t.Data[plane+i] + t.Data[2*plane+i]) / 3)
	}
}

// imageBatch returns the reused input buffer shaped for n images.
func (m *Captioning[T]) imageBatch(n int) nn.Mat[T] {
	size := m.cfg.Data.ImageSize
	m.run.imageBuf = nn.NewMatLike(m.run.imageBuf, n, m.channels()*size*size)
	return m.run.imageBuf
}

// imagesOf loads the evaluation tensors of paths into rows of x.
func (m *Captioning[T]) imagesOf(paths []string) (nn.Mat[T], error) {
	x := m.imageBatch(len(paths))
	for i, p := range paths {
		t, err := m.loader.Load(p)
		if err != nil {
			return x, err
		}
		m.putImage(x.Row(i), t)
	}
	return x, nil
}

// encode runs the CNN over images x [B][C*H*W] and starts the decoder
// from its outputs.
func (m *Captioning[T]) encode(x nn.Mat[T], train bool) encoded[T] {
	feat := m.cnn.Forward(x, train)
	var fmap nn.Mat[T]
	if m.dec.Attends() {
		fmap = m.cnn.FeatureMap()
	}
	return m.start(feat, fmap)
}

// start turns encoder outputs — features [B][OutSize] and, with attention,
// feature maps [B][C*S] — into the decoder's initial states (through the
// bridges) and its keys, the maps as grids of S positions.
func (m *Captioning[T]) start(feat, fmap nn.Mat[T]) encoded[T] {
	r := &m.run
	B, L, H := feat.Rows, m.cfg.Decoder.Layers, m.cfg.Decoder.Hidden
	bridged := func(l *nn.Linear[T], lc *nn.LinearCache[T], states nn.Mat[T]) (nn.Mat[T], nn.Mat[T]) {
		y := l.Forward(lc, feat)
		nn.Tanh(y.Data[:B*H], y.Data[:B*H])
		states = nn.NewMatLike(states, L*B, H)
		for k := 0; k < L; k++ {
			states.RowBlock(k*B, (k+1)*B).CopyFrom(y)
		}
		return y, states
	}
	var e encoded[T]
	r.h, r.h0 = bridged(m.bridge, &r.bridge, r.h0)
	e.h0 = r.h0
	if m.bridgeC != nil {
		r.c, r.c0 = bridged(m.bridgeC, &r.bridgeC, r.c0)
		e.c0 = r.c0
	}
	if m.dec.Attends() {
		fs := m.cnn.FeatureShape()
		S := fs.H * fs.W
		r.keys = nn.NewMatLike(r.keys, B*S, fs.C)
		for b := 0; b < B; b++ {
			row := fmap.Row(b)
			for s := 0; s < S; s++ {
				key := r.keys.Row(b*S + s)
				for c := range key {
					key[c] = row[c*S+s]
				}
			}
		}
		e.keys, e.S = r.keys, S
	}
	return e
}

// featuresOf returns the encoder's outputs for images in evaluation mode:
// features and, with attention, feature maps — from the cache when the
// encoder is frozen and has cached them all, else through the CNN.
func (m *Captioning[T]) featuresOf(paths []string) (feat, fmap nn.Mat[T], err error) {
	if c := m.cache; c != nil {
		rows := make([]int, len(paths))
		ok := true
		for i, p := range paths {
			if rows[i], ok = c.rows[p]; !ok {
				break
			}
		}
		if ok {
			feat, fmap = m.gather(rows)
			return feat, fmap, nil
		}
	}
	x, err := m.imagesOf(paths)
	if err != nil {
		return feat, fmap, err
	}
	feat = m.cnn.Forward(x, false)
	if m.dec.Attends() {
		fmap = m.cnn.FeatureMap()
	}
	return feat, fmap, nil
}

// encodePaths starts the decoder from images, for evaluation.
func (m *Captioning[T]) encodePaths(paths []string) (encoded[T], error) {
	feat, fmap, err := m.featuresOf(paths)
	if err != nil {
		return encoded[T]{}, err
	}
	return m.start(feat, fmap), nil
}

// gather copies cached rows' features and feature maps into batch buffers.
func (m *Captioning[T]) gather(rows []int) (feat, fmap nn.Mat[T]) {
	c, r := m.cache, &m.run
	r.feat = nn.NewMatLike(r.feat, len(rows), c.feat.Cols)
	for i, row := range rows {
		copy(r.feat.Row(i), c.feat.Row(row))
	}
	if !c.fmap.Empty() {
		r.fmap = nn.NewMatLike(r.fmap, len(rows), c.fmap.Cols)
		for i, row := range rows {
			copy(r.fmap.Row(i), c.fmap.Row(row))
		}
	}
	return r.feat, r.fmap
}

// startCached starts the decoder from the cached rows' features.
func (m *Captioning[T]) startCached(rows []int) encoded[T] { return m.start(m.gather(rows)) }

// forward runs the decoder from e over one caption (ids, <bos> … <eos>)
// per image and returns the logits and the targets.
func (m *Captioning[T]) forward(e encoded[T], seqs [][]int, ratio float64, train bool, rng *rand.Rand) (nn.Mat[T], []int, error) {
	steps := 0
	for _, s := range seqs {
		steps = max(steps, len(s)-1)
	}
	tokens, targets := shiftTargets(seqs, steps, func(s []int) []int { return s })
	logits, err := m.dec.Forward(decoders.Batch[T]{H0: e.h0, C0: e.c0, Keys: e.keys, S: e.S, Tokens: tokens, Steps: steps}, ratio, train, rng)
	return logits, targets, err
}

// backward backpropagates dlogits through the decoder, the bridges and,
// unless the features came from the cache, the CNN (through its features
// and, with attention, its feature map).
func (m *Captioning[T]) backward(dlogits nn.Mat[T], cached bool) {
	r := &m.run
	dh0, dc0, dkeys := m.dec.Backward(dlogits)
	B, L, H := r.h.Rows, m.cfg.Decoder.Layers, m.cfg.Decoder.Hidden
	// Each bridge feeds every decoder layer's initial state.
	throughBridge := func(l *nn.Linear[T], lc *nn.LinearCache[T], y, dstates, dfeat nn.Mat[T]) nn.Mat[T] {
		r.dbridge = nn.NewMatLike(r.dbridge, B, H)
		r.dbridge.Zero()
		for k := 0; k < L; k++ {
			nn.AddTo(r.dbridge, dstates.RowBlock(k*B, (k+1)*B))
		}
		for i, o := range y.Data[:B*H] {
			r.dbridge.Data[i] *= 1 - o*o
		}
		if cached {
			l.Backward(lc, r.dbridge, nn.Mat[T]{})
			return dfeat
		}
		dfeat = nn.NewMatLike(dfeat, B, m.cnn.OutSize())
		l.Backward(lc, r.dbridge, dfeat)
		return dfeat
	}
	r.dfeat = throughBridge(m.bridge, &r.bridge, r.h, dh0, r.dfeat)
	if m.bridgeC != nil && !dc0.Empty() {
		r.dfeatC = throughBridge(m.bridgeC, &r.bridgeC, r.c, dc0, r.dfeatC)
		if !cached {
			nn.AddTo(r.dfeat, r.dfeatC)
		}
	}
	if cached {
		return
	}
	var dmap nn.Mat[T]
	if m.dec.Attends() {
		fs := m.cnn.FeatureShape()
		S := fs.H * fs.W
		r.dmap = nn.NewMatLike(r.dmap, B, fs.Size())
		for b := 0; b < B; b++ {
			row := r.dmap.Row(b)
			for s := 0; s < S; s++ {
				for c, v := range dkeys.Row(b*S + s) {
					row[c*S+s] = v
				}
			}
		}
		dmap = r.dmap
	}
	m.cnn.BackwardWithMap(r.dfeat, dmap)
}

// teacherForcing is the probability of feeding the true previous word at
// training step (moving linearly over train.steps: scheduled sampling).
func (m *Captioning[T]) teacherForcing(step int) float64 { return teacherForcingAt(m.cfg.Train, step) }

// sampleBatch draws train.batch training images, one of each image's
// captions and its augmentation, all with the training RNG so that a
// resumed run is identical to an uninterrupted one. It returns the images,
// their indices and the captions.
func (m *Captioning[T]) sampleBatch(rng *rand.Rand) (nn.Mat[T], []int, [][]int, error) {
	n := m.cfg.Train.Batch
	x := m.imageBatch(n)
	imgs, seqs := make([]int, n), make([][]int, n)
	for i := range seqs {
		img := rng.IntN(len(m.train.Images))
		caps := m.trainIDs[img]
		imgs[i], seqs[i] = img, caps[rng.IntN(len(caps))]
		t, err := m.loader.LoadTrain(m.train.Path(img), rng)
		if err != nil {
			return x, nil, nil, err
		}
		m.putImage(x.Row(i), t)
	}
	return x, imgs, seqs, nil
}

// sampleCached draws train.batch training images, one of each image's
// captions and, with data.augment.flip, one of its two views, returning
// their rows in the feature cache and the captions.
func (m *Captioning[T]) sampleCached(rng *rand.Rand) ([]int, [][]int) {
	n := m.cfg.Train.Batch
	rows, seqs := make([]int, n), make([][]int, n)
	for i := range seqs {
		img := rng.IntN(len(m.train.Images))
		caps := m.trainIDs[img]
		seqs[i] = caps[rng.IntN(len(caps))]
		p := m.train.Path(img)
		rows[i] = m.cache.rows[p]
		if m.cfg.Data.Augment.Flip && rng.IntN(2) == 1 {
			rows[i] = m.cache.mirror[p]
		}
	}
	return rows, seqs
}

// TrainStep trains on one batch. In the first encoder.pretrain_steps steps
// it pre-trains the CNN (the loss is the mean binary cross-entropy per
// vocabulary word); after them it trains the decoder, the loss being the
// mean per target token — from cached features when encoder.freeze holds
// the CNN fixed, else end to end.
func (m *Captioning[T]) TrainStep(step int, rng *rand.Rand) (float64, int, error) {
	m.setPhase(step < m.cfg.Encoder.PretrainSteps, step)
	if m.pretraining {
		x, imgs, _, err := m.sampleBatch(rng)
		if err != nil {
			return 0, 0, err
		}
		return m.pretrainOn(x, imgs)
	}
	if m.cfg.Encoder.Freeze {
		if err := m.buildCache(); err != nil {
			return 0, 0, err
		}
		rows, seqs := m.sampleCached(rng)
		return m.trainCachedOn(rows, seqs, m.teacherForcing(step), rng)
	}
	x, _, seqs, err := m.sampleBatch(rng)
	if err != nil {
		return 0, 0, err
	}
	return m.trainOn(x, seqs, m.teacherForcing(step), rng)
}

// setPhase freezes what the phase does not train: the decoder and bridges
// while pre-training; afterwards the head, and the CNN too with
// encoder.freeze. The phase depends only on the step, so a resumed run
// picks up where it left off.
func (m *Captioning[T]) setPhase(pretraining bool, step int) {
	if m.pretraining && !pretraining {
		fmt.Fprintf(m.log, "captioning: encoder pre-trained for %d steps; the decoder trains from step %d\n", m.cfg.Encoder.PretrainSteps, step+1)
	}
	m.pretraining = pretraining
	freeze := func(ps nn.Params[T], frozen bool) {
		for _, p := range ps {
			p.Frozen = frozen
		}
	}
	freeze(m.Params(), pretraining)
	freeze(m.cnn.Params(), !pretraining && m.cfg.Encoder.Freeze)
	if m.head != nil {
		freeze(m.head.Params(), !pretraining)
	}
}

// wordTargets writes into row 1 for each vocabulary word that captions use
// (padding, <bos> and <eos> aside; <unk> counts as a word), 0 elsewhere:
// the pre-training targets.
func (m *Captioning[T]) wordTargets(row []T, captions [][]int) {
	clear(row)
	for _, c := range captions {
		for _, id := range c {
			if id != datasets.PadID && id != m.bosID() && id != m.eosID() {
				row[id] = 1
			}
		}
	}
}

// pretrainOn trains the CNN and the head on images x to predict which
// vocabulary words the captions of each image use.
func (m *Captioning[T]) pretrainOn(x nn.Mat[T], imgs []int) (float64, int, error) {
	r := &m.run
	r.words = nn.NewMatLike(r.words, len(imgs), m.vocab.Len())
	for i, img := range imgs {
		m.wordTargets(r.words.Row(i), m.trainIDs[img])
	}
	logits := m.head.Forward(&r.head, m.cnn.Forward(x, true))
	r.dwords = nn.NewMatLike(r.dwords, len(imgs), m.vocab.Len())
	sum, n, err := nn.BinaryCrossEntropy(logits, r.words, r.dwords, 0)
	if err != nil {
		return 0, 0, err
	}
	r.dfeat = nn.NewMatLike(r.dfeat, len(imgs), m.cnn.OutSize())
	m.head.Backward(&r.head, r.dwords, r.dfeat)
	m.cnn.Backward(r.dfeat)
	return sum, n, nil
}

// wordLosses returns the pre-training loss on the dev images (mean binary
// cross-entropy per vocabulary word) and, for scale, that of the best
// image-blind prediction: each word's frequency over the training images.
func (m *Captioning[T]) wordLosses() (model, prior float64, err error) {
	V := m.vocab.Len()
	freq := make([]float64, V)
	row := make([]T, V)
	for _, caps := range m.trainIDs {
		m.wordTargets(row, caps)
		for w, v := range row {
			freq[w] += float64(v) / float64(len(m.trainIDs))
		}
	}
	r := &m.run
	var sum, priorSum float64
	var count int
	paths := m.dev.Paths()
	for lo := 0; lo < len(paths); lo += m.cfg.Train.Batch {
		hi := min(lo+m.cfg.Train.Batch, len(paths))
		feat, _, err := m.featuresOf(paths[lo:hi])
		if err != nil {
			return 0, 0, err
		}
		r.words = nn.NewMatLike(r.words, hi-lo, V)
		for i := lo; i < hi; i++ {
			m.wordTargets(r.words.Row(i-lo), m.devIDs[i])
			for w, y := range r.words.Row(i - lo) {
				p := min(max(freq[w], 1e-7), 1-1e-7)
				priorSum -= float64(y)*math.Log(p) + (1-float64(y))*math.Log(1-p)
			}
		}
		logits := m.head.Forward(&r.head, feat)
		r.dwords = nn.NewMatLike(r.dwords, hi-lo, V)
		s, n, err := nn.BinaryCrossEntropy(logits, r.words, r.dwords, 0)
		if err != nil {
			return 0, 0, err
		}
		sum += s
		count += n
	}
	return sum / float64(count), priorSum / float64(count), nil
}

// buildCache computes the frozen encoder's outputs once: for every
// training image and its mirror (with data.augment.flip) and every dev
// image, in evaluation mode.
func (m *Captioning[T]) buildCache() error {
	if m.cache != nil {
		return nil
	}
	began := time.Now()
	c := &featureCache[T]{rows: map[string]int{}, mirror: map[string]int{}}
	type view struct {
		path   string
		mirror bool
	}
	var views []view
	for _, set := range []*datasets.CaptionSet{m.train, m.dev} {
		for _, p := range set.Paths() {
			views = append(views, view{path: p})
		}
	}
	if m.cfg.Data.Augment.Flip {
		for _, p := range m.train.Paths() {
			views = append(views, view{path: p, mirror: true})
		}
	}
	c.feat = nn.NewMat[T](len(views), m.cnn.OutSize())
	if m.dec.Attends() {
		c.fmap = nn.NewMat[T](len(views), m.cnn.FeatureShape().Size())
	}
	batch := max(m.cfg.Train.Batch, 64)
	for lo := 0; lo < len(views); lo += batch {
		part := views[lo:min(lo+batch, len(views))]
		x := m.imageBatch(len(part))
		for i, v := range part {
			t, err := m.loader.Load(v.path)
			if err != nil {
				return fmt.Errorf("caching features: %w", err)
			}
			if v.mirror {
				t = t.Mirror()
				c.mirror[v.path] = lo + i
			} else {
				c.rows[v.path] = lo + i
			}
			m.putImage(x.Row(i), t)
		}
		c.feat.RowBlock(lo, lo+len(part)).CopyFrom(m.cnn.Forward(x, false))
		if !c.fmap.Empty() {
			c.fmap.RowBlock(lo, lo+len(part)).CopyFrom(m.cnn.FeatureMap())
		}
	}
	m.cache = c
	bytes := 8
	if _, single := any(T(0)).(float32); single {
		bytes = 4
	}
	fmt.Fprintf(m.log, "captioning: encoder frozen; cached its features of %d image views in %v (%.0f MiB)\n",
		len(views), time.Since(began).Round(time.Millisecond), float64((len(c.feat.Data)+len(c.fmap.Data))*bytes)/(1<<20))
	return nil
}

// trainOn trains end to end on images x and their captions.
func (m *Captioning[T]) trainOn(x nn.Mat[T], seqs [][]int, ratio float64, rng *rand.Rand) (float64, int, error) {
	return m.trainFrom(m.encode(x, true), false, seqs, ratio, rng)
}

// trainCachedOn trains the bridges and decoder on cached features.
func (m *Captioning[T]) trainCachedOn(rows []int, seqs [][]int, ratio float64, rng *rand.Rand) (float64, int, error) {
	return m.trainFrom(m.startCached(rows), true, seqs, ratio, rng)
}

func (m *Captioning[T]) trainFrom(e encoded[T], cached bool, seqs [][]int, ratio float64, rng *rand.Rand) (float64, int, error) {
	logits, targets, err := m.forward(e, seqs, ratio, true, rng)
	if err != nil {
		return 0, 0, err
	}
	r := &m.run
	r.dlogits = nn.NewMatLike(r.dlogits, logits.Rows, logits.Cols)
	sum, n, err := nn.CrossEntropy(logits, targets, r.dlogits, 0)
	if err != nil {
		return 0, 0, err
	}
	m.backward(r.dlogits, cached)
	return sum, n, nil
}

// lossOn returns the summed loss and target count of every caption of the
// images of set under teacher forcing.
func (m *Captioning[T]) lossOn(set *datasets.CaptionSet, ids [][][]int) (float64, int, error) {
	var paths []string
	var seqs [][]int
	for i := range set.Images {
		for _, s := range ids[i] {
			paths = append(paths, set.Path(i))
			seqs = append(seqs, s)
		}
	}
	var sum float64
	var count int
	size := m.cfg.Train.Batch
	for lo := 0; lo < len(paths); lo += size {
		hi := min(lo+size, len(paths))
		e, err := m.encodePaths(paths[lo:hi])
		if err != nil {
			return 0, 0, err
		}
		logits, targets, err := m.forward(e, seqs[lo:hi], 1, false, nil)
		if err != nil {
			return 0, 0, err
		}
		m.run.dlogits = nn.NewMatLike(m.run.dlogits, logits.Rows, logits.Cols)
		s, n, err := nn.CrossEntropy(logits, targets, m.run.dlogits, 0)
		if err != nil {
			return 0, 0, err
		}
		sum += s
		count += n
	}
	return sum, count, nil
}

func (m *Captioning[T]) bosID() int { id, _ := m.vocab.ID(datasets.BOSToken); return id }
func (m *Captioning[T]) eosID() int { id, _ := m.vocab.ID(datasets.EOSToken); return id }

// words turns caption ids into text, leaving out the special tokens except
// <unk>.
func (m *Captioning[T]) words(ids []int) string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == datasets.PadID || id == m.bosID() || id == m.eosID() {
			continue
		}
		out = append(out, m.vocab.Token(id))
	}
	return strings.Join(out, " ")
}

// caption describes each image in paths, decoded as eval.decode says, in
// batches. With rng nil, sampling draws from a fixed seed.
func (m *Captioning[T]) caption(paths []string, rng *rand.Rand) ([]string, error) {
	d := m.cfg.Eval.Decode
	if rng == nil {
		rng = rand.New(rand.NewPCG(m.cfg.Seed, 0xdec0de))
	}
	size := decodeBatch(m.cfg)
	out := make([]string, 0, len(paths))
	for lo := 0; lo < len(paths); lo += size {
		part := paths[lo:min(lo+size, len(paths))]
		e, err := m.encodePaths(part)
		if err != nil {
			return nil, err
		}
		st, err := m.dec.NewSearch(e.h0, e.c0, e.keys, e.S, nil)
		if err != nil {
			return nil, err
		}
		hyps, err := decode(st, len(part), m.bosID(), m.eosID(), d, rng)
		if err != nil {
			return nil, err
		}
		for _, h := range hyps {
			out = append(out, m.words(h.Tokens))
		}
	}
	return out, nil
}

// references returns each image's captions preprocessed as the training
// captions are (lowercase, no punctuation) but not cut to max_len: the
// references of BLEU and CIDEr-D.
func references(set *datasets.CaptionSet, n int) [][]string {
	out := make([][]string, n)
	for i := range out {
		for _, c := range set.Images[i].Captions {
			out[i] = append(out[i], strings.Join(datasets.PreprocessCaption(c, 0), " "))
		}
	}
	return out
}

// bleu is corpus BLEU of order n over already tokenised captions.
func bleu(hyps []string, refStreams [][]string, n int) (float64, error) {
	s, err := metrics.CorpusBLEU(hyps, refStreams, metrics.BLEUOptions{Tokenize: metrics.TokenizeNone, MaxOrder: n})
	return s.Score, err
}

// captionScores scores captions of the first len(hyps) images of set.
func captionScores(hyps []string, set *datasets.CaptionSet) (Metrics, error) {
	refs := references(set, len(hyps))
	st := metrics.ReferenceStreams(refs)
	out := Metrics{}
	for n := 1; n <= 4; n++ {
		s, err := bleu(hyps, st, n)
		if err != nil {
			return nil, err
		}
		out[fmt.Sprintf("bleu%d", n)] = s
	}
	cider, err := metrics.CIDErD(hyps, refs, metrics.CIDErDOptions{})
	if err != nil {
		return nil, err
	}
	out["cider"] = cider.Score
	distinct := map[string]bool{}
	for _, h := range hyps {
		distinct[h] = true
	}
	out["distinct"] = float64(len(distinct))
	return out, nil
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
	sum, n, err := m.lossOn(m.dev, m.devIDs)
	if err != nil {
		return nil, err
	}
	count := len(m.dev.Images)
	if k := m.cfg.Eval.BLEUSentences; k > 0 && k < count {
		count = k
	}
	hyps, err := m.caption(m.dev.Paths()[:count], nil)
	if err != nil {
		return nil, err
	}
	out, err := captionScores(hyps, m.dev)
	if err != nil {
		return nil, err
	}
	if m.baseline == nil {
		if m.baseline, err = m.bestConstant(count); err != nil {
			return nil, err
		}
	}
	loss := sum / float64(max(n, 1))
	out["loss"], out["perplexity"], out["baseline_bleu4"] = loss, math.Exp(loss), m.baseline.dev
	if m.head != nil {
		if out["words_loss"], out["words_prior_loss"], err = m.wordLosses(); err != nil {
			return nil, err
		}
	}
	m.last, m.lastM = hyps, out
	return out, nil
}

// bestConstant finds the baseline by exhaustive search: every distinct
// training caption is scored by BLEU-4 as the caption of every training
// image, and the best is scored on the first devImages dev images.
func (m *Captioning[T]) bestConstant(devImages int) (*constantCaption, error) {
	opts := metrics.BLEUOptions{Tokenize: metrics.TokenizeNone, MaxOrder: 4}
	trainRefs := references(m.train, len(m.train.Images))
	index, err := metrics.NewConstantBLEU(trainRefs, opts)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	best := &constantCaption{train: -1, imgs: len(trainRefs)}
	seen := map[string]bool{}
	for _, refs := range trainRefs {
		for _, c := range refs {
			if c == "" || seen[c] {
				continue
			}
			seen[c] = true
			if s := index.Score(c).Score; s > best.train {
				best.caption, best.train = c, s
			}
		}
	}
	best.candidates = len(seen)
	devIndex, err := metrics.NewConstantBLEU(references(m.dev, devImages), opts)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	best.dev = devIndex.Score(best.caption).Score
	return best, nil
}

// Sample captions a few dev images for the run log.
func (m *Captioning[T]) Sample(rng *rand.Rand) (string, error) {
	n := min(4, len(m.dev.Images))
	hyps, err := m.caption(m.dev.Paths()[:n], rng)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, h := range hyps {
		fmt.Fprintf(&b, "image:     %s\noutput:    %s\nreference: %s\n", m.dev.Images[i].File, h, m.dev.Images[i].Captions[0])
	}
	return b.String(), nil
}

// Predict captions images: the one named by -input, or else each image
// path read from the stream, one per line, printed as "path<TAB>caption".
// Blank lines are ignored; a stream path whose image is missing or corrupt,
// and a line longer than datasets.MaxLineBytes, is reported and skipped.
func (m *Captioning[T]) Predict(in Input, out io.Writer, rng *rand.Rand) error {
	if in.AttentionDir != "" {
		return fmt.Errorf("-attention: captioning does not draw attention maps")
	}
	if in.Path != "" {
		caps, err := m.caption([]string{in.Path}, rng)
		if err != nil {
			return fmt.Errorf("-input: %w", err)
		}
		_, err = fmt.Fprintln(out, caps[0])
		return err
	}
	if in.Reader == nil {
		return fmt.Errorf("captioning: give an image with -input, or image paths on the standard input")
	}
	w := bufio.NewWriter(out)
	lr := datasets.NewLineReader(in.Reader, datasets.MaxLineBytes)
	captioned, skipped := 0, 0
	for lr.Next() {
		line := lr.LineNumber()
		if lr.TooLong() {
			skipped++
			fmt.Fprintf(in.logWriter(), "line %d: skipped: longer than %d bytes\n", line, lr.Max())
			continue
		}
		path := strings.TrimSpace(lr.Text())
		if path == "" {
			continue
		}
		caps, err := m.caption([]string{path}, rng)
		if err != nil {
			skipped++
			fmt.Fprintf(in.logWriter(), "line %d: skipped: %v\n", line, err)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\n", path, caps[0])
		if err := w.Flush(); err != nil {
			return err
		}
		captioned++
	}
	if err := lr.Err(); err != nil {
		return fmt.Errorf("line %d: %w", lr.LineNumber(), err)
	}
	if skipped > 0 {
		fmt.Fprintf(in.logWriter(), "captioned %d images; skipped %d unusable\n", captioned, skipped)
	}
	return nil
}

// reportFile is the page Report writes into the run folder.
const reportFile = "captions.html"

var reportPage = template.Must(template.New("captions").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Captions of the dev images</title>
<style>body{font-family:sans-serif;max-width:60em;margin:auto}td{vertical-align:top;padding:.4em}img{width:128px;image-rendering:pixelated}.gen{font-weight:bold}</style>
</head><body>
<h1>Captions of {{len .Rows}} dev images</h1>
<p>{{.Summary}}</p>
<p>Best constant caption (baseline): “{{.Baseline}}”</p>
<table>
{{range .Rows}}<tr><td>{{if .Src}}<img src="{{.Src}}" alt="{{.File}}">{{end}}<br>{{.File}}</td>
<td><p class="gen">{{.Caption}}</p><ol>{{range .Refs}}<li>{{.}}</li>{{end}}</ol></td></tr>
{{end}}</table></body></html>
`))

type reportRow struct {
	File, Caption string
	Src           template.URL // the image embedded as a data URL; empty when unreadable
	Refs          []string
}

// Report writes captions.html into dir: each dev image of the last
// evaluation (embedded, so the page stands alone) beside its generated
// caption and its references; it prints the scores and the baseline to w.
func (m *Captioning[T]) Report(dir string, w io.Writer) error {
	if m.dev == nil {
		return fmt.Errorf("captioning report: no dev data loaded")
	}
	if m.last == nil {
		if _, err := m.Evaluate(); err != nil {
			return err
		}
	}
	if m.last == nil {
		fmt.Fprintf(w, "no captions yet: the run stopped while the encoder was pre-training (encoder.pretrain_steps %d)\n", m.cfg.Encoder.PretrainSteps)
		return nil
	}
	var rows []reportRow
	for i, c := range m.last {
		im := m.dev.Images[i]
		row := reportRow{File: im.File, Caption: c, Refs: im.Captions}
		if b, err := os.ReadFile(m.dev.Path(i)); err == nil {
			row.Src = template.URL("data:" + http.DetectContentType(b) + ";base64," + base64.StdEncoding.EncodeToString(b))
		}
		rows = append(rows, row)
	}
	var summary strings.Builder
	for _, k := range m.lastM.Keys() {
		fmt.Fprintf(&summary, "%s %.4g  ", k, m.lastM[k])
	}
	f, err := os.Create(filepath.Join(dir, reportFile))
	if err != nil {
		return err
	}
	err = reportPage.Execute(f, struct {
		Summary, Baseline string
		Rows              []reportRow
	}{strings.TrimSpace(summary.String()), m.baseline.caption, rows})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", reportFile, err)
	}
	fmt.Fprintf(w, "dev images: %d; %s\n", len(rows), strings.TrimSpace(summary.String()))
	fmt.Fprintf(w, "baseline: the constant caption %q scores BLEU-4 %.2f on the dev images (best of %d training captions tried on %d training images, where it scores %.2f)\n",
		m.baseline.caption, m.baseline.dev, m.baseline.candidates, m.baseline.imgs, m.baseline.train)
	fmt.Fprintf(w, "captions beside their images: %s\n", filepath.Join(dir, reportFile))
	return nil
}

// The pipeline writes the HTML page through the Reporter interface.
var _ Reporter = (*Captioning[float32])(nil)
