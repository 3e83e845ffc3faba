package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/nn"
)

// Captioning's first phases: an encoder fitted rather than trained (the
// kmeans kind) is fitted to the training images; then, for
// encoder.pretrain_steps, the encoder alone, with a sigmoid head over the
// vocabulary, learns which words an image's captions use; and the phases'
// freezing of parameters.

// fitStream seeds the random stream of an encoder's fitting, apart from
// the training RNG's so that fitting does not shift what training draws.
const fitStream = 0xf17

// fitEncoder fits an encoder that is fitted (encoders.Fitter) and not yet
// fitted, or loaded fitted from a checkpoint, to the training images,
// drawing from a stream of the seed: a run restarted before its first
// checkpoint fits the same state again.
func (m *Captioning[T]) fitEncoder() error {
	f, ok := m.model.enc.(encoders.Fitter[T])
	if !ok || f.Fitted() {
		return nil
	}
	start := time.Now()
	load := func(i int, dst []T) error {
		t, err := m.loader.Load(m.train.Path(i))
		if err != nil {
			return err
		}
		datasets.CopyPixels(dst, t, m.channels())
		return nil
	}
	if err := f.Fit(len(m.train.Images), load, rand.New(rand.NewPCG(m.cfg.Seed, fitStream))); err != nil {
		return err
	}
	fmt.Fprintf(m.log, "captioning: encoder fitted to the training images in %v\n", time.Since(start).Round(time.Second))
	return nil
}

// pretrainRun holds the pre-training head's cache and buffers.
type pretrainRun[T nn.Float] struct {
	head   nn.LinearCache[T]
	words  nn.Mat[T] // targets [B][V]: 1 for each word the image's captions use
	dwords nn.Mat[T]
	dfeat  nn.Mat[T]
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
	freeze(m.model.enc.Params(), !pretraining && m.cfg.Encoder.Freeze)
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
			if id != datasets.PadID && id != datasets.BOSID && id != datasets.EOSID {
				row[id] = 1
			}
		}
	}
}

// pretrainOn trains the CNN and the head on a batch of images to predict
// which vocabulary words the captions of each image use.
func (m *Captioning[T]) pretrainOn(in encoders.Batch[T], imgs []int) (float64, int, error) {
	r := &m.pre
	r.words = nn.NewMatLike(r.words, len(imgs), m.vocab.Len())
	for i, img := range imgs {
		m.wordTargets(r.words.Row(i), m.trainIDs[img])
	}
	in.SummaryOnly = true
	out, err := m.model.enc.Forward(in, true, nil)
	if err != nil {
		return 0, 0, err
	}
	logits := m.head.Forward(&r.head, out.Summary)
	r.dwords = nn.NewMatLike(r.dwords, len(imgs), m.vocab.Len())
	sum, n, err := nn.BinaryCrossEntropy(logits, r.words, r.dwords, 0)
	if err != nil {
		return 0, 0, err
	}
	r.dfeat = nn.NewMatLike(r.dfeat, len(imgs), out.Summary.Cols)
	m.head.Backward(&r.head, r.dwords, r.dfeat)
	m.model.enc.Backward(encoders.Output[T]{Summary: r.dfeat})
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
	r := &m.pre
	var sum, priorSum float64
	var count int
	paths := m.dev.Paths()
	for lo := 0; lo < len(paths); lo += m.cfg.Train.Batch {
		hi := min(lo+m.cfg.Train.Batch, len(paths))
		out, err := m.outputsOf(paths[lo:hi])
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
		logits := m.head.Forward(&r.head, out.Summary)
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
