package tasks

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoders"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/plots"
)

func init() {
	Register("video", Builder{New32: NewVideo[float32], New64: NewVideo[float64], Estimate: estimateVideo, Ensembles: isEnsembler[*Video[float32]]()})
	config.RegisterTask("video", config.TaskSchema{
		Defaults: func(c *config.Config) { c.Decoder.Kind = "synced" },
		Reads:    []string{"data.val_path", "data.image_size", "data.color", "data.fps", "data.skip_bad", "data.generate"},
		SplitsBatches: func(cfg *config.Config) error {
			if cfg.Encoder != nil && cfg.Encoder.BatchNorm {
				return errBatchNormCopies
			}
			return nil
		},
		Check: func(cfg *config.Config, c *config.Checker) {
			checkModel(cfg, encoders.FrameInput, "synced", c)
			if cfg.Data.ValPath == "" {
				c.Errorf("data.val_path", "missing: name the folder of validation clips")
			}
			checkImages(cfg, c)
			if cfg.Data.FPS < 0 || cfg.Data.FPS > 1000 {
				c.Errorf("data.fps", "%g must be in [0, 1000]", cfg.Data.FPS)
			}
			if g := cfg.Data.Generate; g != nil {
				if g.MNIST == "" {
					c.Errorf("data.generate.mnist", "missing: name the folder with the MNIST IDX files")
				}
				c.AtLeast("data.generate.frames", g.Frames, 4)
				for _, sp := range []struct {
					name string
					config.GenSplit
				}{{"train", g.Train}, {"val", g.Val}} {
					key := "data.generate." + sp.name
					c.OneOf(key+".split", sp.Split, []string{"train", "t10k"})
					c.AtLeast(key+".first", sp.First, 0)
					c.AtLeast(key+".digits", sp.Digits, 0)
					c.AtLeast(key+".clips", sp.Clips, 1)
				}
			}
		},
	})
}

// Video labels every frame of a clip: the encoder (a CNN) runs on all
// frames of a batch in one call, and a synced decoder — a recurrent stack
// over each clip's frame features and a linear head per frame — gives
// each frame's label. With decoder.cell "none" the recurrence is left out:
// the per-frame baseline, which shows what time adds.
type Video[T nn.Float] struct {
	cfg    *config.Config
	labels []string
	train  []datasets.Clip
	val    []datasets.Clip
	byLen  *datasets.Buckets // training clips by frame count, for equal-length batches

	enc  encoders.Encoder[T]
	dec  *decoders.Synced[T]
	decC decoders.SyncedCache[T]

	frames    nn.Mat[T] // [B*T][C*H*W], clip-major
	dlogits   nn.Mat[T]
	targets   []int
	confusion [][]int // of the last evaluation: [true][predicted]
}

// NewVideo builds the task. The label set comes from the checkpoint when
// restoring, else from the training clips.
func NewVideo[T nn.Float](cfg *config.Config, env Env) (Task[T], error) {
	v := &Video[T]{cfg: cfg}
	if s, ok := env.Meta["labels"]; ok {
		if err := json.Unmarshal([]byte(s), &v.labels); err != nil {
			return nil, fmt.Errorf("checkpoint labels: %w", err)
		}
	}
	if env.NeedData {
		if err := v.loadData(env.Log); err != nil {
			return nil, err
		}
	}
	if v.labels == nil && env.Assume != nil {
		v.labels = placeholderVocab(env.Assume.Labels, false).Tokens()
	}
	if len(v.labels) < 2 {
		return nil, fmt.Errorf("video needs at least two labels; got %q", v.labels)
	}
	if err := v.build(env.RNG); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Video[T]) clipOptions() datasets.ClipOptions {
	color := datasets.Grayscale
	if v.cfg.Data.Color == "rgb" {
		color = datasets.RGB
	}
	return datasets.ClipOptions{Height: v.cfg.Data.ImageSize, Width: v.cfg.Data.ImageSize, Color: color,
		LabelOrder: v.labels, SkipBad: v.cfg.Data.SkipBad, FPS: v.cfg.Data.FPS}
}

// loadData reads the training and validation clips, generating them first
// from MNIST when data.generate is set and the folders do not exist.
func (v *Video[T]) loadData(log io.Writer) error {
	d := v.cfg.Data
	if g := d.Generate; g != nil {
		for _, s := range []struct {
			dir   string
			split config.GenSplit
			seed  uint64
		}{{d.Path, g.Train, v.cfg.Seed}, {d.ValPath, g.Val, v.cfg.Seed + 1}} {
			if err := generateClips(s.dir, g, s.split, s.seed, log); err != nil {
				return err
			}
		}
	}
	train, err := datasets.LoadClips(d.Path, v.clipOptions())
	if err != nil {
		return fmt.Errorf("data.path: %w", err)
	}
	if v.labels == nil {
		v.labels = train.Labels
	}
	val, err := datasets.LoadClips(d.ValPath, v.clipOptions())
	if err != nil {
		return fmt.Errorf("data.val_path: %w", err)
	}
	v.train, v.val = train.Clips, val.Clips
	for _, s := range []*datasets.ClipSet{train, val} {
		for _, sk := range s.Report.Skipped {
			fmt.Fprintf(log, "video: skipped clip %s: %v\n", sk.Name, sk.Err)
		}
	}
	v.byLen = datasets.NewBuckets(frameCounts(v.train), 1)
	frames := 0
	for _, c := range v.train {
		frames += len(c.Frames)
	}
	fmt.Fprintf(log, "video: %d training clips (%d frames, %d skipped), %d validation clips (%d skipped), labels %s\n",
		len(v.train), frames, len(train.Report.Skipped), len(v.val), len(val.Report.Skipped), strings.Join(v.labels, " "))
	return nil
}

// generateClips writes moving-MNIST clips into dir unless it exists.
func generateClips(dir string, g *config.Generate, s config.GenSplit, seed uint64, log io.Writer) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	all, err := datasets.LoadMNIST(g.MNIST, s.Split)
	if err != nil {
		return fmt.Errorf("data.generate.mnist: %w", err)
	}
	digits, err := all.Slice(s.First, s.Digits)
	if err != nil {
		return fmt.Errorf("data.generate: %w", err)
	}
	fmt.Fprintf(log, "video: generating %d clips from MNIST %s digits %d..%d into %s\n", s.Clips, s.Split, s.First, s.First+digits.Len()-1, dir)
	cfg := datasets.DefaultMovingDigitsConfig()
	cfg.Frames, cfg.Seed = g.Frames, seed
	tmp := dir + ".partial"
	os.RemoveAll(tmp)
	src := fmt.Sprintf("MNIST %s digits %d..%d in %s", s.Split, s.First, s.First+digits.Len()-1, g.MNIST)
	if err := datasets.WriteMovingDigitClips(digits, src, tmp, s.Clips, cfg); err != nil {
		return err
	}
	return os.Rename(tmp, dir) // a half-written folder is never mistaken for a finished one
}

func (v *Video[T]) build(rng *rand.Rand) error {
	ch := 1
	if v.cfg.Data.Color == "rgb" {
		ch = 3
	}
	var err error
	v.enc, err = encoders.New[T](encoders.Spec{Section: v.cfg.Encoder, Input: encoders.FrameInput,
		Image: nn.ImageShape{C: ch, H: v.cfg.Data.ImageSize, W: v.cfg.Data.ImageSize}, Prefix: "encoder"}, rng)
	if err != nil {
		return err
	}
	d := v.cfg.Decoder
	v.dec, err = decoders.NewSynced[T](decoders.SyncedConfig{Input: v.enc.Widths().Sequence, Cell: d.Cell, Hidden: d.Hidden,
		Layers: d.Layers, Bidirectional: d.Bidirectional, Dropout: d.Dropout, WeightDrop: d.WeightDrop, Outputs: len(v.labels), Init: nn.Init(d.Init), BF16: trainsInBF16(v.cfg)}, rng)
	return err
}

// TrainReplica returns a copy of the model on the same clips and weights
// that trains on batch clips per step (train.workers). A CNN with batch
// norm is refused: each copy would keep running statistics of its own.
func (v *Video[T]) TrainReplica(batch int) (Task[T], error) {
	if len(v.Buffers()) > 0 {
		return nil, errBatchNormCopies
	}
	r := &Video[T]{cfg: replicaConfig(v.cfg, batch), labels: v.labels, train: v.train, val: v.val, byLen: v.byLen}
	return replica[T](v, r, r.build)
}

// Params lists encoder, recurrent and head parameters.
func (v *Video[T]) Params() nn.Params[T] { return append(v.enc.Params(), v.dec.Params()...) }

// Buffers are the encoder's batch-norm statistics.
func (v *Video[T]) Buffers() nn.Params[T] { return v.enc.Buffers() }

// Describe lists the layers.
func (v *Video[T]) Describe() []string {
	names := "labels"
	if len(v.labels) <= 12 {
		names += " (" + strings.Join(v.labels, ", ") + ")"
	}
	return append(v.enc.Describe(), v.dec.Describe(names)...)
}

// Meta keeps the label set.
func (v *Video[T]) Meta() map[string]string {
	b, _ := json.Marshal(v.labels)
	return map[string]string{"labels": string(b)}
}

// forward labels a batch of equal-length clips and returns logits
// [T*B][L], time-major. It reads frames from clips (and labels into
// v.targets when they are present).
func (v *Video[T]) forward(clips [][][]float32, labels [][]int, train bool, rng *rand.Rand) (nn.Mat[T], error) {
	batch, steps := len(clips), len(clips[0])
	v.frames = nn.NewMatLike(v.frames, batch*steps, len(clips[0][0]))
	v.targets = resizeInts(v.targets, steps*batch)
	for b, c := range clips {
		for t, f := range c {
			row := v.frames.Row(b*steps + t)
			for i, x := range f {
				row[i] = T(x)
			}
			if labels != nil {
				v.targets[t*batch+b] = labels[b][t]
			}
		}
	}
	out, err := v.enc.Forward(encoders.Batch[T]{Items: batch, Steps: steps, Images: v.frames}, train, rng)
	if err != nil {
		return nn.Mat[T]{}, err
	}
	return v.dec.Forward(&v.decC, nil, out.Sequence, steps, batch, train, rng)
}

// TrainStep trains on train.batch random clips of one length.
func (v *Video[T]) TrainStep(_ int, rng *rand.Rand) (float64, int, error) {
	clips, labels := clipsOf(v.train, v.byLen.Draw(rng, v.cfg.Train.Batch))
	logits, err := v.forward(clips, labels, true, rng)
	if err != nil {
		return 0, 0, err
	}
	v.dlogits = nn.NewMatLike(v.dlogits, logits.Rows, logits.Cols)
	sum, n, err := nn.CrossEntropy(logits, v.targets, v.dlogits, 0)
	if err != nil {
		return 0, 0, err
	}
	v.enc.Backward(encoders.Output[T]{Sequence: v.dec.Backward(&v.decC, v.dlogits)})
	return sum, n, nil
}

// frameCounts lists the clips' lengths.
func frameCounts(clips []datasets.Clip) []int {
	out := make([]int, len(clips))
	for i, c := range clips {
		out[i] = len(c.Frames)
	}
	return out
}

// clipsOf returns the frames and labels of the clips at idx.
func clipsOf(clips []datasets.Clip, idx []int) ([][][]float32, [][]int) {
	frames, labels := make([][][]float32, len(idx)), make([][]int, len(idx))
	for b, i := range idx {
		frames[b], labels[b] = clips[i].Frames, clips[i].Labels
	}
	return frames, labels
}

// predict labels each frame of the clips (equal length) by argmax.
func (v *Video[T]) predict(clips [][][]float32, labels [][]int) ([][]int, nn.Mat[T], error) {
	logits, err := v.forward(clips, labels, false, nil)
	if err != nil {
		return nil, logits, err
	}
	batch, steps := len(clips), len(clips[0])
	out := make([][]int, batch)
	for b := range out {
		out[b] = make([]int, steps)
		for t := range out[b] {
			out[b][t] = nn.Argmax(logits.Row(t*batch + b))
		}
	}
	return out, logits, nil
}

// Evaluate labels every validation clip and reports the loss per frame,
// per-frame accuracy and clip accuracy (every frame right); it keeps the
// confusion matrix for Report.
func (v *Video[T]) Evaluate() (Metrics, error) {
	nl := len(v.labels)
	v.confusion = make([][]int, nl)
	for i := range v.confusion {
		v.confusion[i] = make([]int, nl)
	}
	var total lossTotal
	var right, clipsRight int
	for _, g := range datasets.NewBuckets(frameCounts(v.val), 1).Groups(v.cfg.Train.Batch) {
		clips, labels := clipsOf(v.val, g)
		pred, logits, err := v.predict(clips, labels)
		if err != nil {
			return nil, err
		}
		v.dlogits = nn.NewMatLike(v.dlogits, logits.Rows, logits.Cols)
		if err := total.add(nn.CrossEntropy(logits, v.targets, v.dlogits, 0)); err != nil {
			return nil, err
		}
		for b := range pred {
			all := true
			for t, p := range pred[b] {
				want := labels[b][t]
				v.confusion[want][p]++
				if p == want {
					right++
				} else {
					all = false
				}
			}
			if all {
				clipsRight++
			}
		}
	}
	if total.n == 0 {
		return nil, fmt.Errorf("no validation frames")
	}
	return Metrics{
		"loss":           total.mean(),
		"frame_accuracy": float64(right) / float64(total.n),
		"clip_accuracy":  float64(clipsRight) / float64(len(v.val)),
	}, nil
}

// Report prints the confusion matrix of the last evaluation and draws it
// into confusion.png in dir.
func (v *Video[T]) Report(dir string, w io.Writer) error {
	if v.confusion == nil {
		return nil
	}
	fmt.Fprintf(w, "confusion matrix (rows: true label, columns: predicted)\n%8s", "")
	for _, l := range v.labels {
		fmt.Fprintf(w, "%8s", l)
	}
	fmt.Fprintln(w)
	for i, row := range v.confusion {
		fmt.Fprintf(w, "%8s", v.labels[i])
		for _, c := range row {
			fmt.Fprintf(w, "%8d", c)
		}
		fmt.Fprintln(w)
	}
	return plots.Confusion(filepath.Join(dir, "confusion.png"), "frame labels — "+filepath.Base(dir), v.labels, v.confusion)
}

// Sample describes the first validation clip's predicted labels.
func (v *Video[T]) Sample(*rand.Rand) (string, error) {
	if len(v.val) == 0 {
		return "", nil
	}
	c := v.val[0]
	pred, _, err := v.predict([][][]float32{c.Frames}, [][]int{c.Labels})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", c.Name)
	for t, p := range pred[0] {
		fmt.Fprintf(&b, "%3d %-6s (true %s)\n", t, v.labels[p], v.labels[c.Labels[t]])
	}
	return b.String(), nil
}

// Labels are the labels the model gives frames.
func (v *Video[T]) Labels() []string { return v.labels }

// Labelled is a clip's frames, labelled.
type Labelled struct {
	Frames []string `json:"frames"` // each frame's name (file name, or GIF frame number)
	Labels []string `json:"labels"` // one per frame
	// Probabilities are each frame's probabilities over Classes.
	Probabilities [][]float64 `json:"probabilities"`
	Classes       []string    `json:"classes"`
}

// Label labels every frame of the clip at path — a clip folder, an
// animated GIF or a video file (through ffmpeg). A clip that cannot be
// read is an InputError. This is the one path of -mode predict and the
// server.
func (v *Video[T]) Label(path string) (Labelled, error) {
	frames, names, err := datasets.LoadClipFrames(path, v.clipOptions())
	if err != nil {
		return Labelled{}, &InputError{Field: "clip", Err: err}
	}
	if len(frames) == 0 {
		return Labelled{}, inputErrorf("clip", "%s has no frames", path)
	}
	pred, logits, err := v.predict([][][]float32{frames}, nil)
	if err != nil {
		return Labelled{}, err
	}
	out := Labelled{Frames: names, Classes: v.labels}
	for t, p := range pred[0] {
		out.Labels = append(out.Labels, v.labels[p])
		row := logits.Row(t)
		probs := make([]float64, len(row))
		lse := nn.LogSumExp(row)
		for k, x := range row {
			probs[k] = math.Exp(float64(x) - lse)
		}
		out.Probabilities = append(out.Probabilities, probs)
	}
	return out, nil
}

// Predict labels every frame of the clip folder, animated GIF or video
// file named by -input, one line per frame.
func (v *Video[T]) Predict(in Input, out io.Writer, _ *rand.Rand) error {
	if in.Path == "" {
		return inputErrorf("input", "video prediction reads a clip: give -input CLIP_FOLDER, FILE.gif or a video file")
	}
	l, err := v.Label(in.Path)
	if err != nil {
		return err
	}
	for t, label := range l.Labels {
		if _, err := fmt.Fprintf(out, "%s\t%s\n", l.Frames[t], label); err != nil {
			return err
		}
	}
	return nil
}

// estimateVideo counts the CNN over every frame of a batch of clips (of
// data.generate.frames, or 64 frames when the clips are read) and the
// synced decoder over them.
func estimateVideo(cfg *config.Config, s Sizes, e *estimate) {
	size, B, frames := cfg.Data.ImageSize, cfg.Train.Batch, 64
	if g := cfg.Data.Generate; g != nil {
		frames = g.Frames
	}
	ch := 1
	if cfg.Data.Color == "rgb" {
		ch = 3
	}
	features, _ := e.cnn(cfg.Encoder, nn.ImageShape{C: ch, H: size, W: size}, int64(B)*int64(frames))
	d := cfg.Decoder
	width := features
	if d.Cell != "none" {
		rc := nn.RecurrentConfig{Cell: nn.Cell(d.Cell), Input: features, Hidden: d.Hidden, Layers: d.Layers, Bidirectional: d.Bidirectional}
		e.recurrent("decoder", rc, frames, B)
		width = d.Hidden * rc.Directions()
	}
	e.linear("head", "decoder.hidden", width, s.Labels, int64(B)*int64(frames))
}
