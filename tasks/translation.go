package tasks

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoders"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/metrics"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/plots"
)

func init() {
	Register("translation", Builder{New32: NewTranslation[float32], New64: NewTranslation[float64]})
}

// Translation is sequence-to-sequence translation: a token encoder over the
// source sentence, a bridge from its final state to the decoder's initial
// state, and a recurrent decoder that runs one target word per step with
// optional attention over the source states — Luong (dot, general; after
// the recurrent step, with optional input feeding of the attentional
// vector) or Bahdanau (additive; before the step, its context fed into the
// step) — trained with teacher forcing or scheduled sampling, and decoded
// greedily, by sampling or by beam search (package decoding).
type Translation[T nn.Float] struct {
	cfg      *config.Config
	src, tgt *datasets.Vocab
	train    []datasets.Example
	byLen    map[int][]int // training examples by source length, for batches of one length
	lengths  []int         // the keys of byLen
	dev      []datasets.Example
	devRefs  []devItem // distinct dev sources with all their references, for BLEU

	enc    *encoders.Tokens[T]
	bridge *nn.Linear[T]
	dec    *decoders.RNN[T]
	run    seq2seqRun[T]
}

// devItem is one distinct dev source sentence and every reference
// translation of it in the dev split.
type devItem struct {
	src  []int
	refs []string
}

// seq2seqRun holds one batch's encoder-side values that the backward pass
// needs; the buffers are reused across batches.
type seq2seqRun[T nn.Float] struct {
	batch, srcSteps int
	bridge          nn.LinearCache[T]
	bridgeIn        nn.Mat[T] // top encoder layer's final states, concatenated [B][H_enc*dirs]
	bridgePre       nn.Mat[T] // the bridge's output after tanh [B][H]
	h0              nn.Mat[T] // decoder initial states [L*B][H]
	dlogits         nn.Mat[T]
	dbridge         nn.Mat[T]
	dhn             nn.Mat[T]
	denc            nn.Mat[T]
	dkeysZero       nn.Mat[T]
}

// NewTranslation builds the task; vocabularies come from the checkpoint
// when restoring, else from the training pairs.
func NewTranslation[T nn.Float](cfg *config.Config, env Env) (Task[T], error) {
	m := &Translation[T]{cfg: cfg}
	if s, ok := env.Meta["source_vocab"]; ok {
		m.src, m.tgt = &datasets.Vocab{}, &datasets.Vocab{}
		if err := json.Unmarshal([]byte(s), m.src); err != nil {
			return nil, fmt.Errorf("checkpoint source vocabulary: %w", err)
		}
		if err := json.Unmarshal([]byte(env.Meta["target_vocab"]), m.tgt); err != nil {
			return nil, fmt.Errorf("checkpoint target vocabulary: %w", err)
		}
	}
	if env.NeedData {
		if err := m.loadData(env.Log); err != nil {
			return nil, err
		}
	}
	if m.src == nil {
		return nil, fmt.Errorf("translation needs either the pairs (data.path) or a checkpoint's vocabularies")
	}
	if err := m.build(env.RNG); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Translation[T]) tokenizeOptions() (src, tgt datasets.TokenizeOptions) {
	p := m.cfg.Data.Pairs
	return datasets.TokenizeOptions{Lang: p.SourceLang, Lower: p.Lowercase}, datasets.TokenizeOptions{Lang: p.TargetLang, Lower: p.Lowercase}
}

// loadData reads the pairs, splits them so that every translation of one
// source sentence falls on the same side, tokenises, filters by length,
// builds the vocabularies from the training side and encodes.
func (m *Translation[T]) loadData(log io.Writer) error {
	d := m.cfg.Data
	p := d.Pairs
	pairs, err := datasets.ReadPairs(d.Path, datasets.PairOptions{SrcColumn: p.SourceColumn, TgtColumn: p.TargetColumn, KeepLines: 5})
	if err != nil {
		return fmt.Errorf("data.path: %w", err)
	}
	fmt.Fprintf(log, "translation: %s\n", pairs.Report)
	train, dev, err := datasets.SplitPairs(pairs.Pairs, datasets.SplitOptions{DevFraction: d.ValFraction, Seed: m.cfg.Seed})
	if err != nil {
		return fmt.Errorf("data.val_fraction: %w", err)
	}
	so, to := m.tokenizeOptions()
	trainTok, trainStats := datasets.FilterByLength(datasets.TokenizePairs(train, so, to), p.MaxLen, p.MaxLen)
	devTok, devStats := datasets.FilterByLength(datasets.TokenizePairs(dev, so, to), p.MaxLen, p.MaxLen)
	fmt.Fprintf(log, "translation: max_len %d: train %s; dev %s\n", p.MaxLen, trainStats, devStats)
	if len(trainTok) == 0 || len(devTok) == 0 {
		return fmt.Errorf("%s: no training or dev pairs left after the length filter (max_len %d)", d.Path, p.MaxLen)
	}
	if m.src == nil {
		m.src, m.tgt = datasets.BuildPairVocabs(trainTok, datasets.VocabOptions{MinFreq: p.MinFreq, MaxSize: p.MaxVocab, Specials: datasets.Specials})
	}
	if m.train, err = datasets.EncodePairs(trainTok, m.src, m.tgt); err != nil {
		return err
	}
	if m.dev, err = datasets.EncodePairs(devTok, m.src, m.tgt); err != nil {
		return err
	}
	m.byLen = map[int][]int{}
	for i, e := range m.train {
		if m.byLen[len(e.Src)] == nil {
			m.lengths = append(m.lengths, len(e.Src))
		}
		m.byLen[len(e.Src)] = append(m.byLen[len(e.Src)], i)
	}
	sort.Ints(m.lengths)
	// Group dev references (the raw target sentences) by source sentence,
	// in first-seen order.
	raw := make(map[int]datasets.Pair, len(dev))
	for _, p := range dev {
		raw[p.Line] = p
	}
	index := map[string]int{}
	for i, e := range m.dev {
		p := raw[devTok[i].Line]
		key := datasets.SplitKey(p.Src)
		j, ok := index[key]
		if !ok {
			j = len(m.devRefs)
			index[key] = j
			m.devRefs = append(m.devRefs, devItem{src: e.Src})
		}
		m.devRefs[j].refs = append(m.devRefs[j].refs, p.Tgt)
	}
	fmt.Fprintf(log, "translation: %d training pairs, %d dev pairs (%d distinct sources); vocabularies %d source, %d target (min_freq %d)\n",
		len(m.train), len(m.dev), len(m.devRefs), m.src.Len(), m.tgt.Len(), p.MinFreq)
	return nil
}

func (m *Translation[T]) build(rng *rand.Rand) error {
	e, d := m.cfg.Encoder, m.cfg.Decoder
	var err error
	m.enc, err = encoders.NewTokens[T]("encoder", encoders.TokenConfig{Vocab: m.src.Len(), Embed: e.Embed,
		RNN: nn.RecurrentConfig{Cell: nn.Cell(e.Cell), Hidden: e.Hidden, Layers: e.Layers, Bidirectional: e.Bidirectional, Dropout: e.Dropout}}, rng)
	if err != nil {
		return fmt.Errorf("encoder: %w", err)
	}
	m.bridge = nn.NewLinear[T]("bridge", m.enc.Width(), d.Hidden, rng)
	m.dec, err = decoders.New[T]("decoder", decoderConfig(d, m.tgt.Len(), m.enc.Width()), rng)
	return err
}

// decoderConfig turns the decoder section into the decoder's configuration
// for a vocabulary of vocab words attending over keys of width key.
func decoderConfig(d config.Decoder, vocab, key int) decoders.Config {
	return decoders.Config{Vocab: vocab, Embed: d.Embed, Cell: nn.Cell(d.Cell), Hidden: d.Hidden, Layers: d.Layers,
		Dropout: d.Dropout, Attention: nn.AttentionKind(d.Attention), Key: key, InputFeeding: d.InputFeeding,
		TieEmbeddings: d.TieEmbeddings, Pad: datasets.PadID}
}

// Params lists every parameter once (a tied table appears once).
func (m *Translation[T]) Params() nn.Params[T] {
	ps := append(nn.Params[T]{}, m.enc.Params()...)
	ps = append(ps, m.bridge.Params()...)
	return append(ps, m.dec.Params()...)
}

// Buffers is nil: the model has no untrained state.
func (m *Translation[T]) Buffers() nn.Params[T] { return nil }

// Describe lists the layers.
func (m *Translation[T]) Describe() []string {
	e, d := m.cfg.Encoder, m.cfg.Decoder
	return append([]string{
		fmt.Sprintf("encoder    embedding %d → %d, %s %d hidden × %d layer(s), bidirectional %v", m.src.Len(), e.Embed, e.Cell, e.Hidden, e.Layers, e.Bidirectional),
		fmt.Sprintf("bridge     %d → %d, tanh: the decoder's initial state", m.enc.Width(), d.Hidden),
	}, m.dec.Describe()...)
}

// Meta keeps both vocabularies.
func (m *Translation[T]) Meta() map[string]string {
	s, _ := json.Marshal(m.src)
	t, _ := json.Marshal(m.tgt)
	return map[string]string{"source_vocab": string(s), "target_vocab": string(t)}
}

// batchOf lays out examples (all with sources of one length S) for the
// model: source ids time-major [S*B], decoder inputs and targets
// time-major [T*B] with T the longest target minus one.
func (m *Translation[T]) batchOf(ex []datasets.Example) (src []int, steps int, tokens, targets []int) {
	b, s := len(ex), len(ex[0].Src)
	src = make([]int, s*b)
	for j, e := range ex {
		for t, id := range e.Src {
			src[t*b+j] = id
		}
		steps = max(steps, len(e.Tgt)-1)
	}
	tokens, targets = shiftTargets(ex, steps, func(e datasets.Example) []int { return e.Tgt })
	return src, steps, tokens, targets
}

// shiftTargets lays out sequences (<bos> ... <eos>) for teacher forcing:
// decoder inputs and targets time-major [steps*B], the targets one token
// ahead of the inputs, padded with PadID and IgnoreIndex.
func shiftTargets[E any](ex []E, steps int, seq func(E) []int) (tokens, targets []int) {
	b := len(ex)
	tokens = make([]int, steps*b)
	targets = make([]int, steps*b)
	for j, e := range ex {
		ids := seq(e)
		for t := 0; t < steps; t++ {
			tokens[t*b+j], targets[t*b+j] = datasets.PadID, nn.IgnoreIndex
			if t < len(ids)-1 {
				tokens[t*b+j], targets[t*b+j] = ids[t], ids[t+1]
			}
		}
	}
	return tokens, targets
}

// encode runs the encoder and the bridge for a batch of sources of length
// S, returning the decoder's initial states and the keys to attend over.
func (m *Translation[T]) encode(src []int, S, B int, train bool, rng *rand.Rand) (h0, keys nn.Mat[T], err error) {
	lengths := make([]int, B)
	for i := range lengths {
		lengths[i] = S
	}
	keys, hn, _, err := m.enc.Forward(src, S, B, lengths, train, rng)
	if err != nil {
		return h0, keys, err
	}
	r := &m.run
	r.batch, r.srcSteps = B, S
	ec := m.enc.RNN.Config
	nd, top := ec.Directions(), ec.Layers-1
	r.bridgeIn = nn.NewMatLike(r.bridgeIn, B, m.enc.Width())
	for d := 0; d < nd; d++ {
		k := top*nd + d
		for b := 0; b < B; b++ {
			copy(r.bridgeIn.Row(b)[d*ec.Hidden:(d+1)*ec.Hidden], hn.Row(k*B+b))
		}
	}
	out := m.bridge.Forward(&r.bridge, r.bridgeIn)
	nn.Tanh(out.Data[:out.Rows*out.Cols], out.Data[:out.Rows*out.Cols])
	r.bridgePre = out
	layers := m.cfg.Decoder.Layers
	r.h0 = nn.NewMatLike(r.h0, layers*B, m.cfg.Decoder.Hidden)
	for l := 0; l < layers; l++ {
		r.h0.RowBlock(l*B, (l+1)*B).CopyFrom(out)
	}
	return r.h0, keys, nil
}

// teacherForcing is the probability of feeding the true previous word at
// training step (moving linearly over train.steps: scheduled sampling).
func (m *Translation[T]) teacherForcing(step int) float64 { return teacherForcingAt(m.cfg.Train, step) }

// teacherForcingAt moves the teacher-forcing probability linearly from
// train.teacher_forcing to train.teacher_forcing_end over train.steps.
func teacherForcingAt(tr config.Train, step int) float64 {
	frac := math.Min(float64(step)/float64(max(tr.Steps, 1)), 1)
	return tr.TeacherForcing + (tr.TeacherForcingEnd-tr.TeacherForcing)*frac
}

// forward runs the whole model on a batch and returns the logits [T*B][V].
// With ratio < 1 (training), each step after the first feeds the model's
// own previous prediction instead of the true word with probability
// 1-ratio, per sequence.
func (m *Translation[T]) forward(src []int, S int, tokens []int, steps int, ratio float64, train bool, rng *rand.Rand) (nn.Mat[T], error) {
	B := len(src) / S
	h0, keys, err := m.encode(src, S, B, train, rng)
	if err != nil {
		return nn.Mat[T]{}, err
	}
	return m.dec.Forward(decoders.Batch[T]{H0: h0, Keys: keys, S: S, Tokens: tokens, Steps: steps}, ratio, train, rng)
}

// backward backpropagates dlogits [T*B][V] through the decoder, then the
// bridge and the encoder.
func (m *Translation[T]) backward(dlogits nn.Mat[T]) {
	r := &m.run
	B, H, K := r.batch, m.cfg.Decoder.Hidden, m.enc.Width()
	dh0, _, dkeys := m.dec.Backward(dlogits)
	// The bridge feeds every decoder layer's initial state.
	r.dbridge = nn.NewMatLike(r.dbridge, B, H)
	r.dbridge.Zero()
	for l := 0; l < m.cfg.Decoder.Layers; l++ {
		nn.AddTo(r.dbridge, dh0.RowBlock(l*B, (l+1)*B))
	}
	for i, o := range r.bridgePre.Data[:B*H] {
		r.dbridge.Data[i] *= 1 - o*o
	}
	r.denc = nn.NewMatLike(r.denc, B, K)
	m.bridge.Backward(&r.bridge, r.dbridge, r.denc)
	ec := m.enc.RNN.Config
	nd, top := ec.Directions(), ec.Layers-1
	r.dhn = nn.NewMatLike(r.dhn, m.enc.RNN.StateRows(B), ec.Hidden)
	r.dhn.Zero()
	for d := 0; d < nd; d++ {
		k := top*nd + d
		for b := 0; b < B; b++ {
			copy(r.dhn.Row(k*B+b), r.denc.Row(b)[d*ec.Hidden:(d+1)*ec.Hidden])
		}
	}
	if dkeys.Empty() {
		r.dkeysZero = nn.NewMatLike(r.dkeysZero, B*r.srcSteps, K)
		r.dkeysZero.Zero()
		dkeys = r.dkeysZero
	}
	m.enc.Backward(dkeys, r.dhn, nn.Mat[T]{})
}

// sampleBatch draws train.batch examples whose sources have the length of
// a uniformly drawn anchor example, so no source needs padding. Drawing
// with the training RNG keeps a resumed run identical to an uninterrupted
// one.
func (m *Translation[T]) sampleBatch(rng *rand.Rand) []datasets.Example {
	anchor := m.train[rng.IntN(len(m.train))]
	same := m.byLen[len(anchor.Src)]
	ex := make([]datasets.Example, m.cfg.Train.Batch)
	ex[0] = anchor
	for i := 1; i < len(ex); i++ {
		ex[i] = m.train[same[rng.IntN(len(same))]]
	}
	return ex
}

// TrainStep trains on one batch; the loss is the mean per target token.
func (m *Translation[T]) TrainStep(step int, rng *rand.Rand) (float64, int, error) {
	return m.trainOn(m.sampleBatch(rng), m.teacherForcing(step), rng)
}

func (m *Translation[T]) trainOn(ex []datasets.Example, ratio float64, rng *rand.Rand) (float64, int, error) {
	src, steps, tokens, targets := m.batchOf(ex)
	logits, err := m.forward(src, len(ex[0].Src), tokens, steps, ratio, true, rng)
	if err != nil {
		return 0, 0, err
	}
	r := &m.run
	r.dlogits = nn.NewMatLike(r.dlogits, logits.Rows, logits.Cols)
	sum, n, err := nn.CrossEntropy(logits, targets, r.dlogits, 0)
	if err != nil {
		return 0, 0, err
	}
	m.backward(r.dlogits)
	return sum, n, nil
}

// lossOn returns the summed loss and target count of examples under
// teacher forcing, in batches of equal source length.
func (m *Translation[T]) lossOn(examples []datasets.Example) (float64, int, error) {
	var sum float64
	var count int
	for _, group := range byLength(examples, m.cfg.Train.Batch) {
		src, steps, tokens, targets := m.batchOf(group)
		logits, err := m.forward(src, len(group[0].Src), tokens, steps, 1, false, nil)
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

// byLength cuts examples into batches of at most size whose sources all
// have one length, in order of length then position.
func byLength(examples []datasets.Example, size int) [][]datasets.Example {
	groups := map[int][]datasets.Example{}
	var lengths []int
	for _, e := range examples {
		if groups[len(e.Src)] == nil {
			lengths = append(lengths, len(e.Src))
		}
		groups[len(e.Src)] = append(groups[len(e.Src)], e)
	}
	sort.Ints(lengths)
	var out [][]datasets.Example
	for _, l := range lengths {
		g := groups[l]
		for lo := 0; lo < len(g); lo += size {
			out = append(out, g[lo:min(lo+size, len(g))])
		}
	}
	return out
}

// Evaluate reports the dev loss per target token and perplexity, and the
// corpus BLEU of up to eval.bleu_sentences distinct dev sources decoded as
// eval.decode says, against all their dev references.
func (m *Translation[T]) Evaluate() (Metrics, error) {
	sum, n, err := m.lossOn(m.dev)
	if err != nil {
		return nil, err
	}
	loss := sum / float64(max(n, 1))
	items := m.devRefs
	if k := m.cfg.Eval.BLEUSentences; k > 0 && k < len(items) {
		items = items[:k]
	}
	bleu, err := m.bleu(items)
	if err != nil {
		return nil, err
	}
	return Metrics{"loss": loss, "perplexity": math.Exp(loss), "bleu": bleu.Score}, nil
}

// bleu translates the items' sources and scores them with sacreBLEU's
// corpus BLEU (13a tokenisation; lowercased when the data is).
func (m *Translation[T]) bleu(items []devItem) (metrics.BLEUScore, error) {
	srcs := make([][]int, len(items))
	for i, it := range items {
		srcs[i] = it.src
	}
	hyps, err := m.translate(srcs, nil)
	if err != nil {
		return metrics.BLEUScore{}, err
	}
	out := make([]string, len(items))
	refs := make([][]string, len(items))
	for i, h := range hyps {
		out[i], refs[i] = m.detokenize(h.Tokens), items[i].refs
	}
	return metrics.CorpusBLEU(out, metrics.ReferenceStreams(refs), metrics.BLEUOptions{Lowercase: m.cfg.Data.Pairs.Lowercase})
}

// detokenize turns target ids into text, leaving out the special tokens
// except <unk>.
func (m *Translation[T]) detokenize(ids []int) string {
	words := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == datasets.PadID || id == m.bosID() || id == m.eosID() {
			continue
		}
		words = append(words, m.tgt.Token(id))
	}
	return datasets.Detokenize(words, m.cfg.Data.Pairs.TargetLang)
}

func (m *Translation[T]) bosID() int { id, _ := m.tgt.ID(datasets.BOSToken); return id }
func (m *Translation[T]) eosID() int { id, _ := m.tgt.ID(datasets.EOSToken); return id }

// translate decodes every source (grouped by length into batches, results
// in input order) with the configured strategy. With rng nil, sampling
// draws from a fixed seed.
func (m *Translation[T]) translate(srcs [][]int, rng *rand.Rand) ([]decoding.Hypothesis, error) {
	out := make([]decoding.Hypothesis, len(srcs))
	byLen := map[int][]int{}
	var lengths []int
	for i, s := range srcs {
		if byLen[len(s)] == nil {
			lengths = append(lengths, len(s))
		}
		byLen[len(s)] = append(byLen[len(s)], i)
	}
	sort.Ints(lengths)
	d := m.cfg.Eval.Decode
	if rng == nil {
		rng = rand.New(rand.NewPCG(m.cfg.Seed, 0xdec0de))
	}
	size := decodeBatch(m.cfg)
	for _, l := range lengths {
		idx := byLen[l]
		for lo := 0; lo < len(idx); lo += size {
			part := idx[lo:min(lo+size, len(idx))]
			batch := make([][]int, len(part))
			for j, i := range part {
				batch[j] = srcs[i]
			}
			tr, err := m.newSearch(batch)
			if err != nil {
				return nil, err
			}
			hyps, err := decode(tr, len(batch), m.bosID(), m.eosID(), d, rng)
			if err != nil {
				return nil, err
			}
			for j, i := range part {
				out[i] = hyps[j]
			}
		}
	}
	return out, nil
}

// newSearch encodes a batch of sources of one length and returns the
// decoder's search over them.
func (m *Translation[T]) newSearch(srcs [][]int) (decoding.Stepper, error) {
	B, S := len(srcs), len(srcs[0])
	ids := make([]int, S*B)
	for b, s := range srcs {
		for t, id := range s {
			ids[t*B+b] = id
		}
	}
	h0, keys, err := m.encode(ids, S, B, false, nil)
	if err != nil {
		return nil, err
	}
	return m.dec.NewSearch(h0, nn.Mat[T]{}, keys, S, nil)
}

// Sample translates a few dev sentences for the run log.
func (m *Translation[T]) Sample(rng *rand.Rand) (string, error) {
	items := m.devRefs[:min(5, len(m.devRefs))]
	srcs := make([][]int, len(items))
	for i, it := range items {
		srcs[i] = it.src
	}
	hyps, err := m.translate(srcs, rng)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, it := range items {
		words, _ := m.src.Decode(it.src)
		fmt.Fprintf(&b, "source:    %s\noutput:    %s\nreference: %s\n", strings.Join(words, " "), m.detokenize(hyps[i].Tokens), it.refs[0])
	}
	return b.String(), nil
}

// maxSourceTokens bounds a sentence given to -mode predict; a longer line is
// reported and skipped rather than translated into nonsense at great cost.
const maxSourceTokens = 200

// Predict translates each line of the input (a regular file named by
// -input, or stdin) into one output line, streaming: every line is written
// as soon as it is translated. An empty line gives an empty line; a line
// longer than maxSourceTokens or datasets.MaxLineBytes gives an empty line
// and a report, and the rest of the input is translated. With
// in.AttentionDir set, each sentence's attention map is drawn into that
// folder.
func (m *Translation[T]) Predict(in Input, out io.Writer, rng *rand.Rand) error {
	r := in.Reader
	if in.Path != "" {
		f, err := datasets.OpenFile(in.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	if in.AttentionDir != "" {
		if !m.dec.Attends() {
			return fmt.Errorf("-attention: this model has no attention (decoder.attention: none)")
		}
		if err := os.MkdirAll(in.AttentionDir, 0o755); err != nil {
			return err
		}
	}
	so, _ := m.tokenizeOptions()
	w := bufio.NewWriter(out)
	lr := datasets.NewLineReader(r, datasets.MaxLineBytes)
	translated, skipped := 0, 0
	for lr.Next() {
		line, text := lr.LineNumber(), lr.Text()
		if lr.TooLong() {
			fmt.Fprintf(in.logWriter(), "line %d: skipped: longer than %d bytes\n", line, lr.Max())
			w.WriteString("\n")
			w.Flush()
			continue
		}
		words := datasets.Tokenize(text, so)
		if len(words) > maxSourceTokens {
			skipped++
			fmt.Fprintf(in.logWriter(), "line %d: skipped: %d tokens, more than the %d allowed\n", line, len(words), maxSourceTokens)
		}
		if len(words) == 0 || len(words) > maxSourceTokens {
			w.WriteString("\n")
			w.Flush()
			continue
		}
		ids, err := m.src.Encode(words)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		hyps, err := m.translate([][]int{ids}, rng)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		w.WriteString(m.detokenize(hyps[0].Tokens) + "\n")
		if err := w.Flush(); err != nil {
			return err
		}
		translated++
		if in.AttentionDir != "" && hyps[0].Attention != nil {
			outWords := make([]string, 0, len(hyps[0].Tokens)+1)
			for _, id := range hyps[0].Tokens {
				outWords = append(outWords, m.tgt.Token(id))
			}
			if hyps[0].Finished {
				outWords = append(outWords, datasets.EOSToken)
			}
			path := filepath.Join(in.AttentionDir, fmt.Sprintf("attention_%04d.png", line))
			if err := plots.Attention(path, text, words, outWords, hyps[0].Attention); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
		}
	}
	if err := lr.Err(); err != nil {
		return fmt.Errorf("line %d: %w", lr.LineNumber(), err)
	}
	if skipped > 0 || lr.Skipped() > 0 {
		fmt.Fprintf(in.logWriter(), "translated %d lines; skipped %d longer than %d tokens and %d longer than %d bytes\n",
			translated, skipped, maxSourceTokens, lr.Skipped(), lr.Max())
	}
	return nil
}

// EvaluateFile scores the model on the pairs in path: loss and perplexity
// under teacher forcing, and corpus BLEU with every translation of a
// source as its references.
func (m *Translation[T]) EvaluateFile(path string) (Metrics, error) {
	p := m.cfg.Data.Pairs
	pairs, err := datasets.ReadPairs(path, datasets.PairOptions{SrcColumn: p.SourceColumn, TgtColumn: p.TargetColumn, KeepLines: 5})
	if err != nil {
		return nil, err
	}
	so, to := m.tokenizeOptions()
	tok := datasets.TokenizePairs(pairs.Pairs, so, to)
	ex, err := datasets.EncodePairs(tok, m.src, m.tgt)
	if err != nil {
		return nil, err
	}
	sum, n, err := m.lossOn(ex)
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	var items []devItem
	for i, pr := range pairs.Pairs {
		key := datasets.SplitKey(pr.Src)
		j, ok := index[key]
		if !ok {
			j = len(items)
			index[key] = j
			items = append(items, devItem{src: ex[i].Src})
		}
		items[j].refs = append(items[j].refs, pr.Tgt)
	}
	bleu, err := m.bleu(items)
	if err != nil {
		return nil, err
	}
	loss := sum / float64(max(n, 1))
	return Metrics{"loss": loss, "perplexity": math.Exp(loss), "bleu": bleu.Score, "sentences": float64(len(items))}, nil
}
