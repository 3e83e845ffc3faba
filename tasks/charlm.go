package tasks

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoders"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/nn"
)

func init() {
	Register("charlm", Builder{New32: NewCharLM[float32], New64: NewCharLM[float64], Estimate: estimateCharLM, Ensembles: isEnsembler[*CharLM[float32]]()})
	config.RegisterTask("charlm", config.TaskSchema{
		Defaults:      func(c *config.Config) { c.Decoder.Kind = "synced" },
		Reads:         []string{"data.seq_len", "eval.sample", "eval.streams"},
		SplitsBatches: splitsAlways,
		Check: func(cfg *config.Config, c *config.Checker) {
			checkModel(cfg, encoders.NoInput, "synced", c)
			c.AtLeast("data.seq_len", cfg.Data.SeqLen, 1)
			// No more rows than a training batch, which the memory check counts.
			if s := cfg.Eval.Streams; s < 0 || s > cfg.Train.Batch {
				c.Errorf("eval.streams", "%d is outside 0..train.batch (%d): a window of the streams is a batch of that many rows", s, cfg.Train.Batch)
			}
			if cfg.Eval.Select == "stream_loss" && cfg.Eval.Streams == 0 {
				c.Errorf("eval.select", "stream_loss is reported only with eval.streams > 0 (10, say)")
			}
			c.Positive("eval.sample.temperature", cfg.Eval.Sample.Temperature)
			c.OneOf("eval.sample.precision", cfg.Eval.Sample.Precision, Precisions)
		},
	})
}

// CharLM is the character-level language model: no encoder, and a synced
// decoder that embeds each character and predicts the next one (embedding →
// recurrent stack → dropout → linear head). Training draws random windows
// of seq_len+1 characters from the first part of the text (as nanoGPT);
// validation reads the held-out end in consecutive windows (and, with
// eval.streams, as streams); sampling feeds each drawn character back in.
type CharLM[T nn.Float] struct {
	cfg   *config.Config
	vocab *datasets.Vocab
	train []int // character ids of the training text
	val   []int

	dec  *decoders.Synced[T]
	decC decoders.SyncedCache[T]

	ids, targets []int
	stepper      *nn.Stepper[T] // Generate's, kept for its storage
	// stepperSince is the nn.Params.PredictingSince of the weights the
	// stepper was last loaded from: while it stays the same and not nil,
	// they have not changed.
	stepperSince any
	headC        nn.LinearCache[T]
	dlogits      nn.Mat[T]

	// members are the further models of an ensemble (Ensemble):
	// evaluation and sampling use the mean of all the models' probabilities
	// for each next character, in logProbs (and memberLP, one model's).
	members            []*CharLM[T]
	logProbs, memberLP []float64
}

// NewCharLM builds the model; the vocabulary comes from env.Meta when
// restoring, else from the text at data.path.
func NewCharLM[T nn.Float](cfg *config.Config, env Env) (Task[T], error) {
	m := &CharLM[T]{cfg: cfg}
	var text string
	if env.NeedData {
		var err error
		if text, err = datasets.ReadText(cfg.Data.Path); err != nil {
			return nil, fmt.Errorf("data.path: %w", err)
		}
	}
	if v, ok := env.Meta["vocab"]; ok {
		m.vocab = &datasets.Vocab{}
		if err := json.Unmarshal([]byte(v), m.vocab); err != nil {
			return nil, fmt.Errorf("checkpoint vocabulary: %w", err)
		}
	} else if text != "" {
		m.vocab = datasets.CharVocab(text)
	} else if env.Assume != nil {
		m.vocab = placeholderVocab(env.Assume.Vocab, false)
	} else {
		return nil, fmt.Errorf("charlm needs either the text (data.path) or a checkpoint's vocabulary")
	}
	if text != "" {
		if err := m.setText(text, env.Log); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Data.Path, err)
		}
	}
	if err := m.build(env.RNG); err != nil {
		return nil, err
	}
	return m, nil
}

// NewCharLMFromText builds the model over training and validation text
// held in memory, with the vocabulary given (tests and examples use it:
// "hello" over [h,e,l,o]).
func NewCharLMFromText[T nn.Float](cfg *config.Config, vocab *datasets.Vocab, train, val string, rng *rand.Rand) (*CharLM[T], error) {
	m := &CharLM[T]{cfg: cfg, vocab: vocab}
	var err error
	if m.train, err = datasets.EncodeChars(vocab, train); err != nil {
		return nil, fmt.Errorf("training text: %w", err)
	}
	if m.val, err = datasets.EncodeChars(vocab, val); err != nil {
		return nil, fmt.Errorf("validation text: %w", err)
	}
	if len(m.train) < cfg.Data.SeqLen+1 || len(m.val) < 2 {
		return nil, fmt.Errorf("texts of %d and %d characters are too short for data.seq_len %d", len(m.train), len(m.val), cfg.Data.SeqLen)
	}
	if err := m.build(rng); err != nil {
		return nil, err
	}
	return m, nil
}

// setText encodes text and splits it: the first 1-val_fraction for
// training, the rest for validation. A text too short to hold one training
// window is an error, not a silent empty run.
func (m *CharLM[T]) setText(text string, log io.Writer) error {
	ids, err := datasets.EncodeChars(m.vocab, text)
	if err != nil {
		return err
	}
	cut := int(float64(len(ids)) * (1 - m.cfg.Data.ValFraction))
	m.train, m.val = ids[:cut], ids[cut:]
	if len(m.train) < m.cfg.Data.SeqLen+1 || len(m.val) < 2 {
		return fmt.Errorf("%d characters split into %d for training and %d for validation: too short for data.seq_len %d",
			len(ids), len(m.train), len(m.val), m.cfg.Data.SeqLen)
	}
	fmt.Fprintf(log, "charlm: %d characters, vocabulary %d, %d train / %d validation\n", len(ids), m.vocab.Len(), len(m.train), len(m.val))
	return nil
}

func (m *CharLM[T]) build(rng *rand.Rand) error {
	d := m.cfg.Decoder
	var err error
	m.dec, err = decoders.NewSynced[T](decoders.SyncedConfig{Vocab: m.vocab.Len(), Embed: d.Embed, Cell: d.Cell, Hidden: d.Hidden,
		Layers: d.Layers, Dropout: d.Dropout, WeightDrop: d.WeightDrop, Outputs: m.vocab.Len(), Init: nn.Init(d.Init), BF16: trainsInBF16(m.cfg)}, rng)
	return err
}

// TrainReplica returns a copy of the model on the same text and weights
// that trains on batch windows per step (train.workers).
func (m *CharLM[T]) TrainReplica(batch int) (Task[T], error) {
	r := &CharLM[T]{cfg: replicaConfig(m.cfg, batch), vocab: m.vocab, train: m.train, val: m.val}
	return replica[T](m, r, r.build)
}

// Params lists embedding, recurrent and head parameters.
func (m *CharLM[T]) Params() nn.Params[T] { return m.dec.Params() }

// Buffers is nil: the model has no untrained state.
func (m *CharLM[T]) Buffers() nn.Params[T] { return nil }

// Describe lists the layers.
func (m *CharLM[T]) Describe() []string { return m.dec.Describe("next-character logits") }

// Meta keeps the vocabulary.
func (m *CharLM[T]) Meta() map[string]string {
	b, _ := json.Marshal(m.vocab)
	return map[string]string{"vocab": string(b)}
}

// loss runs the windows in m.ids (steps×batch, time-major) and returns the
// summed loss against m.targets, its count and the logits' gradient.
func (m *CharLM[T]) loss(steps, batch int, train bool, rng *rand.Rand) (float64, int, error) {
	logits, err := m.dec.Forward(&m.decC, m.ids, nn.Mat[T]{}, steps, batch, train, rng)
	if err != nil {
		return 0, 0, err
	}
	m.dlogits = nn.NewMatLike(m.dlogits, logits.Rows, logits.Cols)
	return nn.CrossEntropy(logits, m.targets, m.dlogits, 0)
}

// window fills m.ids and m.targets, time-major, from the windows of steps
// characters starting at offsets in src.
func (m *CharLM[T]) window(src []int, offsets []int, steps int) {
	batch := len(offsets)
	m.ids = resizeInts(m.ids, steps*batch)
	m.targets = resizeInts(m.targets, steps*batch)
	for b, o := range offsets {
		for t := 0; t < steps; t++ {
			m.ids[t*batch+b] = src[o+t]
			m.targets[t*batch+b] = src[o+t+1]
		}
	}
}

func resizeInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

// TrainStep trains on batch random windows of the training text.
func (m *CharLM[T]) TrainStep(_ int, rng *rand.Rand) (float64, int, error) {
	steps, batch := m.cfg.Data.SeqLen, m.cfg.Train.Batch
	offsets := make([]int, batch)
	for b := range offsets {
		offsets[b] = rng.IntN(len(m.train) - steps)
	}
	m.window(m.train, offsets, steps)
	sum, n, err := m.loss(steps, batch, true, rng)
	if err != nil {
		return 0, 0, err
	}
	m.dec.Backward(&m.decC, m.dlogits)
	return sum, n, nil
}

// Evaluate reads up to eval.batches batches of consecutive windows of the
// validation text and reports the loss per character in nats and bits, and
// the perplexity, each window read from zero states (as training reads its
// windows); and with eval.streams, stream_loss: those characters read as
// streams whose windows carry their states on (streamLoss). That costs a
// second pass over them, so it is asked for, not always done.
func (m *CharLM[T]) Evaluate() (Metrics, error) {
	steps, batch := m.cfg.Data.SeqLen, m.cfg.Train.Batch
	windows := min((len(m.val)-1)/steps, m.cfg.Eval.Batches*batch)
	if windows == 0 {
		steps, windows = len(m.val)-1, 1
	}
	var sum float64
	var count int
	for w := 0; w < windows; w += batch {
		nb := min(batch, windows-w)
		offsets := make([]int, nb)
		for b := range offsets {
			offsets[b] = (w + b) * steps
		}
		m.window(m.val, offsets, steps)
		logits := make([]nn.Mat[T], 0, 1+len(m.members))
		for _, c := range m.models() {
			l, err := c.dec.Forward(&c.decC, m.ids, nn.Mat[T]{}, steps, nb, false, nil)
			if err != nil {
				return nil, err
			}
			logits = append(logits, l)
		}
		s, n, err := m.score(logits)
		if err != nil {
			return nil, err
		}
		sum += s
		count += n
	}
	loss := sum / float64(count)
	out := Metrics{"loss": loss, "bits": loss / math.Ln2, "perplexity": math.Exp(loss)}
	if streams := m.cfg.Eval.Streams; streams > 0 {
		var err error
		if out["stream_loss"], err = m.streamLoss(windows*steps, steps, streams); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// streamLoss is the loss per character over the first chars characters of
// the validation text (those loss scores, but for up to streams-1 at the
// end) read as that many consecutive streams (fewer, when they would be
// shorter than a window), window after window of steps characters, each
// window starting from the states the previous one ended in. This is how
// PyTorch's word_language_model example (10 streams) and char-rnn report
// validation loss; loss restarts the model from zero states every window,
// so the first characters of each window pay for the missing context.
func (m *CharLM[T]) streamLoss(chars, steps, streams int) (float64, error) {
	streams = max(min(streams, chars/steps), 1)
	per := chars / streams
	offsets := make([]int, streams)
	models := m.models()
	// The states each model carries from window to window.
	hs, cs := make([]nn.Mat[T], len(models)), make([]nn.Mat[T], len(models))
	logits := make([]nn.Mat[T], len(models))
	var sum float64
	var count int
	for t0 := 0; t0 < per; t0 += steps {
		k := min(steps, per-t0)
		for b := range offsets {
			offsets[b] = b*per + t0
		}
		m.window(m.val, offsets, k)
		for i, model := range models {
			l, hn, cn, err := model.dec.ForwardFrom(&model.decC, m.ids, nn.Mat[T]{}, k, streams, hs[i], cs[i], false, nil)
			if err != nil {
				return 0, err
			}
			logits[i] = l
			hs[i] = nn.NewMatLike(hs[i], hn.Rows, hn.Cols)
			hs[i].CopyFrom(hn)
			if !cn.Empty() {
				cs[i] = nn.NewMatLike(cs[i], cn.Rows, cn.Cols)
				cs[i].CopyFrom(cn)
			}
		}
		s, n, err := m.score(logits)
		if err != nil {
			return 0, err
		}
		sum, count = sum+s, count+n
	}
	return sum / float64(count), nil
}

// models lists this model and the members of its ensemble.
func (m *CharLM[T]) models() []*CharLM[T] { return append([]*CharLM[T]{m}, m.members...) }

// score returns the summed loss against m.targets, and its count, of the
// models' logits (one matrix per model, rows as m.targets): for one model
// its cross-entropy, for an ensemble the negative log of the mean of the
// models' probabilities of each target.
func (m *CharLM[T]) score(logits []nn.Mat[T]) (float64, int, error) {
	if len(logits) == 1 {
		m.dlogits = nn.NewMatLike(m.dlogits, logits[0].Rows, logits[0].Cols)
		return nn.CrossEntropy(logits[0], m.targets, m.dlogits, 0)
	}
	var sum float64
	rows := make([][]T, len(logits))
	for r, target := range m.targets {
		for k, l := range logits {
			rows[k] = l.Row(r)
		}
		sum -= m.mix(rows)[target]
	}
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return 0, 0, fmt.Errorf("charlm: the ensemble's loss is not finite (%v)", sum)
	}
	return sum, len(m.targets), nil
}

// mix returns the log of the mean of the softmax of each of rows (one
// model's logits each), in m.logProbs.
func (m *CharLM[T]) mix(rows [][]T) []float64 {
	n := len(rows[0])
	m.logProbs, m.memberLP = slices.Grow(m.logProbs[:0], n)[:n], slices.Grow(m.memberLP[:0], n)[:n]
	for k, row := range rows {
		lp := m.memberLP
		if k == 0 {
			lp = m.logProbs
		}
		lse := nn.LogSumExp(row)
		for j, x := range row {
			lp[j] = float64(x) - lse
		}
		if k > 0 {
			decoding.AddLogProbs(m.logProbs, lp)
		}
	}
	logK := math.Log(float64(len(rows)))
	for j := range m.logProbs {
		m.logProbs[j] -= logK
	}
	return m.logProbs
}

// Ensemble makes evaluation and sampling use this model and members
// together, the probabilities of each next character averaged over all
// (as the decoding tasks' ensembles average their next word's): a cheap
// gain from several models trained apart. Members are char LMs over the
// same characters; they are scored on this model's validation text.
func (m *CharLM[T]) Ensemble(members []Task[T]) error {
	for i, t := range members {
		c, ok := t.(*CharLM[T])
		switch {
		case !ok:
			return fmt.Errorf("model %d is not a char LM", i+2)
		case slices.Contains(m.models(), c):
			// Its stepper would step twice per character.
			return fmt.Errorf("model %d is a model already in the ensemble: load each member on its own", i+2)
		case !slices.Equal(c.vocab.Tokens(), m.vocab.Tokens()):
			return fmt.Errorf("model %d's characters differ from model 1's: an ensemble needs one vocabulary", i+2)
		}
		m.members = append(m.members, c)
	}
	return nil
}

// Generate feeds prime through the model, then samples length characters at
// the given temperature, calling emit with each as it is drawn. A
// temperature of 0 takes the most likely character (greedy). With rng nil
// it draws from a fixed seed.
func (m *CharLM[T]) Generate(prime string, length int, temperature float64, rng *rand.Rand, emit func(string) error) error {
	if rng == nil {
		rng = rand.New(rand.NewPCG(m.cfg.Seed, 0x5a3))
	}
	if prime == "" {
		return inputErrorf("prime", "empty: give at least one character")
	}
	ids, err := datasets.EncodeChars(m.vocab, prime)
	if err != nil {
		return &InputError{Field: "prime", Err: err}
	}
	models := m.models()
	steppers := make([]*nn.Stepper[T], len(models))
	tops := make([]nn.Mat[T], len(models))
	for k, c := range models {
		if steppers[k], err = c.tokenStepper(m.cfg.Eval.Sample.Precision); err != nil {
			return err
		}
		for _, id := range ids {
			tops[k] = steppers[k].StepToken(id)
		}
	}
	probs := make([]float64, m.vocab.Len())
	rows := make([][]T, len(models))
	choose := func(nn.Mat[T]) int {
		for k, c := range models {
			rows[k] = c.dec.StepLogits(&c.headC, tops[k]).Row(0)
		}
		switch {
		case len(models) > 1 && temperature == 0:
			return nn.Argmax(m.mix(rows))
		case len(models) > 1:
			return nn.SampleSoftmax(m.mix(rows), temperature, probs, rng)
		case temperature == 0:
			return nn.Argmax(rows[0])
		}
		return nn.SampleSoftmax(rows[0], temperature, probs, rng)
	}
	for i := 0; i < length; i++ {
		var next int
		if i+1 < length {
			// The first model's next recurrent product runs beside the
			// choice, which it does not depend on.
			next, tops[0] = steppers[0].StepTokenChosen(choose)
			for k := 1; k < len(steppers); k++ {
				tops[k] = steppers[k].StepToken(next)
			}
		} else {
			next = choose(tops[0])
		}
		if err := emit(m.vocab.Token(next)); err != nil {
			return err
		}
	}
	return nil
}

// tokenStepper returns the model's stepper, reset to zero states, and
// sets the output layer's cache to the same products (packed float32
// weights, or bfloat16). It runs one step per character at batch 1, and
// precomputes the first layer's input projection of every character into
// storage kept between calls: again on each call while the model trains
// (the weights may have changed since the last), once for a model that
// only predicts.
func (m *CharLM[T]) tokenStepper(precision string) (*nn.Stepper[T], error) {
	st := m.stepper
	since := m.Params().PredictingSince()
	switch {
	case st == nil:
		var err error
		if st, err = m.dec.NewTokenStepper(); err != nil {
			return nil, err
		}
		if precision == "bf16" {
			st.UseBF16()
		} else {
			st.UsePacked()
		}
		m.stepper = st
	case since == nil || since != m.stepperSince:
		st.Reload()
	}
	m.stepperSince = since
	// A fresh cache: the copies of a training model's old weights go with
	// the old one (a predicting model's are its parameters', made once).
	m.headC = nn.LinearCache[T]{}
	if precision == "bf16" {
		m.headC.UseBF16()
	} else {
		m.headC.UsePacked()
	}
	st.Reset(nn.Mat[T]{}, nn.Mat[T]{})
	return st, nil
}

// SampleDefaults are the config's sampling settings (eval.sample).
func (m *CharLM[T]) SampleDefaults() config.Sample { return m.cfg.Eval.Sample }

// Vocabularies is the number of characters the model knows.
func (m *CharLM[T]) Vocabularies() map[string]int { return map[string]int{"characters": m.vocab.Len()} }

// Sample generates eval.sample.length characters after eval.sample.prime.
func (m *CharLM[T]) Sample(rng *rand.Rand) (string, error) {
	s := m.cfg.Eval.Sample
	var b strings.Builder
	b.WriteString(s.Prime)
	err := m.Generate(s.Prime, s.Length, s.Temperature, rng, func(c string) error {
		b.WriteString(c)
		return nil
	})
	return b.String(), err
}

// Predict streams a sample to out: the prime, then the generated text.
func (m *CharLM[T]) Predict(_ Input, out io.Writer, rng *rand.Rand) error {
	s := m.cfg.Eval.Sample
	w := bufio.NewWriter(out)
	w.WriteString(s.Prime)
	err := m.Generate(s.Prime, s.Length, s.Temperature, rng, func(c string) error {
		_, err := w.WriteString(c)
		if c == "\n" {
			err = w.Flush()
		}
		return err
	})
	w.WriteString("\n")
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// estimateCharLM counts the char LM's parts over windows of data.seq_len.
func estimateCharLM(cfg *config.Config, s Sizes, e *estimate) {
	d, B, T := cfg.Decoder, cfg.Train.Batch, cfg.Data.SeqLen
	e.params("embedding", "decoder.embed", int64(s.Vocab)*int64(d.Embed))
	e.recurrent("decoder", nn.RecurrentConfig{Cell: nn.Cell(d.Cell), Input: d.Embed, Hidden: d.Hidden, Layers: d.Layers}, T, B)
	e.linear("head", "decoder.hidden", d.Hidden, s.Vocab, int64(B)*int64(T))
}
