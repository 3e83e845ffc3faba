package tasks

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoders"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/nn"
)

// seq2seq is the model of the tasks whose decoder writes a new token
// sequence from an input — translation (a sentence) and captioning (an
// image): an encoder, and an autoregressive decoder started from the
// encoder's output through its bridge. It owns what those tasks share:
// teacher forcing, the loss of a batch, and decoding.
type seq2seq[T nn.Float] struct {
	cfg   *config.Config
	enc   encoders.Encoder[T]
	dec   *decoders.Autoregressive[T]
	vocab *datasets.Vocab // the output's tokens

	tokens, targets []int
	weights         []float64 // weightedLoss's, per logit row
	dlogits         nn.Mat[T]
}

// newSeq2seq builds the decoder of the decoder section for enc's outputs,
// writing tokens of vocab. bridgeCell starts an LSTM decoder's cells from
// the encoder's summary too.
func newSeq2seq[T nn.Float](cfg *config.Config, enc encoders.Encoder[T], vocab *datasets.Vocab, bridgeCell bool, rng *rand.Rand) (*seq2seq[T], error) {
	d := cfg.Decoder
	w := enc.Widths()
	dec, err := decoders.NewAutoregressive[T]("decoder", decoders.AutoregressiveConfig{
		RNN: decoders.Config{Vocab: vocab.Len(), Embed: d.Embed, Cell: nn.Cell(d.Cell), Hidden: d.Hidden, Layers: d.Layers,
			Dropout: d.Dropout, WeightDrop: d.WeightDrop, Attention: nn.AttentionKind(d.Attention), Key: w.Memory, InputFeeding: d.InputFeeding,
			TieEmbeddings: d.TieEmbeddings, Pad: datasets.PadID, BF16: trainsInBF16(cfg)},
		Summary: w.Summary, BridgeCell: bridgeCell, Init: nn.Init(d.Init)}, rng)
	if err != nil {
		return nil, err
	}
	return &seq2seq[T]{cfg: cfg, enc: enc, dec: dec, vocab: vocab}, nil
}

// params lists the encoder's, the bridge's and the decoder's parameters.
func (m *seq2seq[T]) params() nn.Params[T] { return append(m.enc.Params(), m.dec.Params()...) }

// teacherForcing is the probability of feeding the true previous token at
// training step: it moves linearly from train.teacher_forcing to
// train.teacher_forcing_end over train.steps (scheduled sampling).
func (m *seq2seq[T]) teacherForcing(step int) float64 {
	tr := m.cfg.Train
	frac := math.Min(float64(step)/float64(max(tr.Steps, 1)), 1)
	return tr.TeacherForcing + (tr.TeacherForcingEnd-tr.TeacherForcing)*frac
}

// shiftTargets lays sequences (<bos> … <eos>, one per item) out for
// teacher forcing in m.tokens and m.targets, time-major [steps*B]: the
// targets one token ahead of the inputs, padded with PadID and
// IgnoreIndex. It returns steps, the longest sequence minus one.
func (m *seq2seq[T]) shiftTargets(seqs [][]int) int {
	steps, B := 0, len(seqs)
	for _, s := range seqs {
		steps = max(steps, len(s)-1)
	}
	m.tokens, m.targets = resizeInts(m.tokens, steps*B), resizeInts(m.targets, steps*B)
	for j, ids := range seqs {
		for t := 0; t < steps; t++ {
			m.tokens[t*B+j], m.targets[t*B+j] = datasets.PadID, nn.IgnoreIndex
			if t < len(ids)-1 {
				m.tokens[t*B+j], m.targets[t*B+j] = ids[t], ids[t+1]
			}
		}
	}
	return steps
}

// loss runs the decoder from the encoder's output under teacher forcing
// (ratio < 1: scheduled sampling) on seqs, one per item, and returns the
// summed cross-entropy and its count; m.dlogits holds its gradient.
func (m *seq2seq[T]) loss(out encoders.Output[T], seqs [][]int, ratio float64, train bool, rng *rand.Rand) (float64, int, error) {
	return m.weightedLoss(out, seqs, nil, 1, ratio, train, rng)
}

// weightedLoss is loss with each sequence's tokens weighted by
// weights[item] (nil: all 1) and scored at temperature tau: self-critical
// training's policy-gradient loss, the weights being the samples'
// advantages and tau the temperature they were sampled at. m.dlogits holds
// the gradient of its mean per token. When train, the targets are smoothed
// by train.label_smoothing (a regulariser, like dropout: evaluation losses
// and self-critical training, which runs the model as it decodes, leave
// it out).
func (m *seq2seq[T]) weightedLoss(out encoders.Output[T], seqs [][]int, weights []float64, tau, ratio float64, train bool, rng *rand.Rand) (float64, int, error) {
	steps := m.shiftTargets(seqs)
	logits, err := m.dec.Forward(out, m.tokens, steps, ratio, train, rng)
	if err != nil {
		return 0, 0, err
	}
	opts := nn.CrossEntropyOptions{Temperature: tau}
	if weights != nil {
		B := len(seqs)
		m.weights = slices.Grow(m.weights[:0], steps*B)[:steps*B]
		for t := range steps {
			copy(m.weights[t*B:(t+1)*B], weights)
		}
		opts.Weights = m.weights
	}
	if train {
		opts.Smoothing = m.cfg.Train.LabelSmoothing
	}
	m.dlogits = nn.NewMatLike(m.dlogits, logits.Rows, logits.Cols)
	return nn.CrossEntropyWith(logits, m.targets, m.dlogits, opts)
}

// trainOn trains end to end on one batch of inputs and their sequences.
func (m *seq2seq[T]) trainOn(in encoders.Batch[T], seqs [][]int, ratio float64, rng *rand.Rand) (float64, int, error) {
	out, err := m.enc.Forward(in, true, rng)
	if err != nil {
		return 0, 0, err
	}
	sum, n, err := m.loss(out, seqs, ratio, true, rng)
	if err != nil {
		return 0, 0, err
	}
	m.enc.Backward(m.dec.Backward(m.dlogits, false))
	return sum, n, nil
}

// trainFrom trains the decoder alone from outputs of a frozen encoder.
func (m *seq2seq[T]) trainFrom(out encoders.Output[T], seqs [][]int, ratio float64, rng *rand.Rand) (float64, int, error) {
	sum, n, err := m.loss(out, seqs, ratio, true, rng)
	if err != nil {
		return 0, 0, err
	}
	m.dec.Backward(m.dlogits, true)
	return sum, n, nil
}

// decode runs the search opt names from the encoder's output over its
// items and returns per item the chosen hypothesis first (and the rest of
// the n-best list when asked). rng draws the sample strategy's tokens.
func (m *seq2seq[T]) decode(out encoders.Output[T], items int, opt DecodeOptions, rng *rand.Rand) ([][]decoding.Hypothesis, error) {
	st, err := m.search(out, opt)
	if err != nil {
		return nil, err
	}
	return searchFrom(st, items, opt, rng)
}

// search returns the decoder's search over the encoder's outputs out.
func (m *seq2seq[T]) search(out encoders.Output[T], opt DecodeOptions) (decoding.Stepper, error) {
	return m.dec.NewSearch(out, decoders.SearchOptions{BF16: opt.Precision == "bf16"})
}

// encodeSearch encodes b and returns the decoder's search over it: how each
// member of an ensemble reads the inputs itself.
func (m *seq2seq[T]) encodeSearch(b encoders.Batch[T], opt DecodeOptions) (decoding.Stepper, error) {
	out, err := m.enc.Forward(b, false, nil)
	if err != nil {
		return nil, err
	}
	return m.search(out, opt)
}

// searchFrom decodes items from <bos> as opt says, over the search st.
func searchFrom(st decoding.Stepper, items int, opt DecodeOptions, rng *rand.Rand) ([][]decoding.Hypothesis, error) {
	return decoding.Decode(st, items, datasets.BOSID, datasets.EOSID, opt.search(), rng)
}

// searchEnsemble decodes items over the searches of several models at
// once (decoding.Ensemble), or of one.
func searchEnsemble(searches []decoding.Stepper, items int, opt DecodeOptions, rng *rand.Rand) ([][]decoding.Hypothesis, error) {
	if len(searches) == 1 { // keeps the search's own fast paths (decoding.ArgmaxStepper)
		return searchFrom(searches[0], items, opt, rng)
	}
	ens, err := decoding.Ensemble(searches...)
	if err != nil {
		return nil, err
	}
	return searchFrom(ens, items, opt, rng)
}

// words turns output ids into tokens, leaving out the reserved ones but
// <unk>.
func (m *seq2seq[T]) words(ids []int) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == datasets.PadID || id == datasets.BOSID || id == datasets.EOSID {
			continue
		}
		out = append(out, m.vocab.Token(id))
	}
	return out
}

// lossTotal adds up the summed losses and counts of batches.
type lossTotal struct {
	sum float64
	n   int
}

func (l *lossTotal) add(sum float64, n int, err error) error {
	l.sum += sum
	l.n += n
	return err
}

// mean is the loss per target token.
func (l lossTotal) mean() float64 { return l.sum / float64(max(l.n, 1)) }
