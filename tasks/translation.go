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

	enc     *encoders.Tokens[T]
	bridge  *nn.Linear[T]
	emb     *nn.Param[T] // decoder embedding [V][E]
	rnn     *nn.Recurrent[T]
	attn    *nn.Attention[T] // nil without attention
	combine *nn.Linear[T]    // [ctx; h] → attentional vector; nil without attention
	out     *nn.Linear[T]
	drop    nn.Dropout[T]

	views []*nn.Recurrent[T] // one shared view of rnn per decoder step
	run   decoderRun[T]
	// stepwise disables the whole-sequence fast path, so that tests can
	// compare the two paths.
	stepwise bool
}

// devItem is one distinct dev source sentence and every reference
// translation of it in the dev split.
type devItem struct {
	src  []int
	refs []string
}

// decoderRun holds one batch's forward values that the backward pass
// needs, step by step; the buffers are reused across batches.
type decoderRun[T nn.Float] struct {
	steps, batch int
	tokens       []int     // decoder input ids, time-major [T*B]
	targets      []int     // target ids, time-major [T*B] (IgnoreIndex on padding)
	in           nn.Mat[T] // decoder step inputs [T*B][E+feed]
	hTop         nn.Mat[T] // top-layer outputs [T*B][H]
	cat          nn.Mat[T] // combine inputs [ctx; h] [T*B][Key+H]
	att          nn.Mat[T] // attentional vectors (or h without attention) [T*B][H]
	dropped      nn.Mat[T] // att after dropout, fed to the output layer
	logits       nn.Mat[T] // [T*B][V]
	caches       []*nn.AttentionCache[T]
	h0, c0       nn.Mat[T] // decoder initial states [L*B][H]
	bridgeIn     nn.Mat[T] // top encoder layer's final states, concatenated [B][H_enc*dirs]
	bridgePre    nn.Mat[T] // the bridge's output after tanh [B][H]
	dlogits      nn.Mat[T]
	datt         nn.Mat[T] // [T*B][H] gradient of the attentional vectors from the output layer
	dcat         nn.Mat[T] // gradient of combine's pre-activation [T*B][H]
	dcatStep     nn.Mat[T] // d[ctx; h] of one step [B][Key+H]
	srcSteps     int
	whole        bool      // the decoder ran over the whole sequence at once (forwardWhole)
	dcatAll      nn.Mat[T] // forwardWhole: d[ctx; h] of all steps [T*B][Key+H]
	dyAll        nn.Mat[T] // forwardWhole: gradient of the decoder outputs [T*B][H]
	keys         nn.Mat[T] // the encoder's states of this batch, batch-major [B*S][Key]
	dstep        nn.Mat[T] // [B][H] scratch
	dq           nn.Mat[T]
	dctx         nn.Mat[T]
	dfeed        nn.Mat[T] // gradient flowing into the previous step's feed [B][feed]
	dhTopExtra   nn.Mat[T] // Bahdanau: gradient of h_{t-1} from step t's query [B][H]
	dkeysZero    nn.Mat[T]
	dbridge      nn.Mat[T]
	dhn          nn.Mat[T]
	demb         nn.Mat[T]
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

// feedSize is the width of what a decoder step feeds forward besides the
// word embedding: the attentional vector (Luong input feeding), the
// context (Bahdanau), or nothing.
func (m *Translation[T]) feedSize() int {
	switch {
	case m.attn == nil:
		return 0
	case m.bahdanau():
		return m.enc.Width()
	case m.cfg.Decoder.InputFeeding:
		return m.cfg.Decoder.Hidden
	}
	return 0
}

func (m *Translation[T]) bahdanau() bool {
	return m.attn != nil && m.attn.Config.Kind == nn.AttentionAdditive
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
	m.emb = nn.NewParam[T]("decoder.embedding.weight", m.tgt.Len(), d.Embed)
	nn.InitNormal(m.emb.Value, 1, rng)
	if d.Attention != "none" {
		m.attn, err = nn.NewAttention[T]("decoder.attention", nn.AttentionConfig{
			Kind: nn.AttentionKind(d.Attention), Query: d.Hidden, Key: m.enc.Width(), Hidden: d.Hidden}, rng)
		if err != nil {
			return fmt.Errorf("decoder.attention: %w", err)
		}
		m.combine = nn.NewLinear[T]("decoder.combine", m.enc.Width()+d.Hidden, d.Hidden, rng)
	}
	m.rnn, err = nn.NewRecurrent[T]("decoder.rnn", nn.RecurrentConfig{
		Cell: nn.Cell(d.Cell), Input: d.Embed + m.feedSize(), Hidden: d.Hidden, Layers: d.Layers, Dropout: d.Dropout}, rng)
	if err != nil {
		return fmt.Errorf("decoder: %w", err)
	}
	m.out = nn.NewLinear[T]("decoder.out", d.Hidden, m.tgt.Len(), rng)
	if d.TieEmbeddings {
		m.out.Weight = m.emb // one table, read by the embedding and the output layer
	}
	m.drop.P = d.Dropout
	return nil
}

// Params lists every parameter once (a tied table appears once).
func (m *Translation[T]) Params() nn.Params[T] {
	ps := append(nn.Params[T]{}, m.enc.Params()...)
	ps = append(ps, m.bridge.Params()...)
	ps = append(ps, m.emb)
	ps = append(ps, m.rnn.Params()...)
	if m.attn != nil {
		ps = append(ps, m.attn.Params()...)
		ps = append(ps, m.combine.Params()...)
	}
	if m.cfg.Decoder.TieEmbeddings {
		return append(ps, m.out.Bias)
	}
	return append(ps, m.out.Params()...)
}

// Buffers is nil: the model has no untrained state.
func (m *Translation[T]) Buffers() nn.Params[T] { return nil }

// Describe lists the layers.
func (m *Translation[T]) Describe() []string {
	e, d := m.cfg.Encoder, m.cfg.Decoder
	att := "no attention"
	if m.attn != nil {
		att = d.Attention + " attention"
		if m.bahdanau() {
			att += " (before the step, context fed in)"
		} else if d.InputFeeding {
			att += ", input feeding"
		}
	}
	return []string{
		fmt.Sprintf("encoder    embedding %d → %d, %s %d hidden × %d layer(s), bidirectional %v", m.src.Len(), e.Embed, e.Cell, e.Hidden, e.Layers, e.Bidirectional),
		fmt.Sprintf("bridge     %d → %d, tanh: the decoder's initial state", m.enc.Width(), d.Hidden),
		fmt.Sprintf("decoder    embedding %d → %d, %s %d hidden × %d layer(s), %s", m.tgt.Len(), d.Embed, d.Cell, d.Hidden, d.Layers, att),
		fmt.Sprintf("out        %d → %d logits (tied embeddings %v), softmax cross-entropy", d.Hidden, m.tgt.Len(), d.TieEmbeddings),
	}
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
	tokens = make([]int, steps*b)
	targets = make([]int, steps*b)
	for j, e := range ex {
		for t := 0; t < steps; t++ {
			tokens[t*b+j], targets[t*b+j] = datasets.PadID, nn.IgnoreIndex
			if t < len(e.Tgt)-1 {
				tokens[t*b+j], targets[t*b+j] = e.Tgt[t], e.Tgt[t+1]
			}
		}
	}
	return src, steps, tokens, targets
}

// encode runs the encoder and the bridge for a batch of sources of length
// S, sets the attention keys, and returns the decoder's initial states.
func (m *Translation[T]) encode(src []int, S, B int, train bool, rng *rand.Rand) (h0 nn.Mat[T], err error) {
	lengths := make([]int, B)
	for i := range lengths {
		lengths[i] = S
	}
	keys, hn, _, err := m.enc.Forward(src, S, B, lengths, train, rng)
	if err != nil {
		return h0, err
	}
	r := &m.run
	r.keys = keys
	ec := m.enc.RNN.Config
	nd, top := ec.Directions(), ec.Layers-1
	r.bridgeIn = nn.NewMatLike(r.bridgeIn, B, m.enc.Width())
	for d := 0; d < nd; d++ {
		k := top*nd + d
		for b := 0; b < B; b++ {
			copy(r.bridgeIn.Row(b)[d*ec.Hidden:(d+1)*ec.Hidden], hn.Row(k*B+b))
		}
	}
	out := m.bridge.Forward(r.bridgeIn)
	nn.Tanh(out.Data[:out.Rows*out.Cols], out.Data[:out.Rows*out.Cols])
	r.bridgePre = out
	layers := m.cfg.Decoder.Layers
	r.h0 = nn.NewMatLike(r.h0, layers*B, m.cfg.Decoder.Hidden)
	for l := 0; l < layers; l++ {
		r.h0.RowBlock(l*B, (l+1)*B).CopyFrom(out)
	}
	if m.attn != nil {
		if err := m.attn.SetKeys(keys, lengths, S); err != nil {
			return h0, err
		}
	}
	return r.h0, nil
}

// step runs decoder step t of the training pass: it builds the step input
// from the words and the previous feed, runs the recurrent view, attends,
// and leaves the attentional vector in r.att. hPrev, cPrev are the states
// entering the step; it returns those leaving it.
func (m *Translation[T]) step(t int, hPrev, cPrev nn.Mat[T], train bool, rng *rand.Rand) (hn, cn nn.Mat[T]) {
	r := &m.run
	B, H, E := r.batch, m.cfg.Decoder.Hidden, m.cfg.Decoder.Embed
	rows := func(x nn.Mat[T]) nn.Mat[T] { return x.RowBlock(t*B, (t+1)*B) }
	in := rows(r.in)
	table := nn.Mat[T]{Rows: m.emb.Shape[0], Cols: E, Data: m.emb.Value}
	for b := 0; b < B; b++ {
		copy(in.Row(b)[:E], table.Row(r.tokens[t*B+b]))
	}
	feed := m.feedSize()
	var ctx nn.Mat[T]
	switch {
	case m.bahdanau():
		q := hPrev.RowBlock((m.cfg.Decoder.Layers-1)*B, m.cfg.Decoder.Layers*B)
		var cache *nn.AttentionCache[T]
		ctx, _, cache = m.attn.Forward(q)
		r.caches[t] = cache
		for b := 0; b < B; b++ {
			copy(in.Row(b)[E:], ctx.Row(b))
		}
	case feed > 0: // Luong input feeding: the previous attentional vector
		for b := 0; b < B; b++ {
			if t == 0 {
				clear(in.Row(b)[E:])
			} else {
				copy(in.Row(b)[E:], r.att.Row((t-1)*B+b))
			}
		}
	}
	y, hn, cn := m.views[t].Forward(in, 1, B, hPrev, cPrev, train, rng)
	rows(r.hTop).CopyFrom(y)
	att := rows(r.att)
	if m.attn == nil {
		att.CopyFrom(y)
		return hn, cn
	}
	if !m.bahdanau() {
		var cache *nn.AttentionCache[T]
		ctx, _, cache = m.attn.Forward(y)
		r.caches[t] = cache
	}
	cat := rows(r.cat)
	K := m.enc.Width()
	for b := 0; b < B; b++ {
		copy(cat.Row(b)[:K], ctx.Row(b))
		copy(cat.Row(b)[K:], y.Row(b))
	}
	nn.Gemm(false, true, 1, cat, m.combine.Weight.Mat(), 0, att)
	nn.AddBias(att, m.combine.Bias.Value)
	nn.Tanh(att.Data[:B*H], att.Data[:B*H])
	return hn, cn
}

// teacherForcing is the probability of feeding the true previous word at
// training step (moving linearly over train.steps: scheduled sampling).
func (m *Translation[T]) teacherForcing(step int) float64 {
	tr := m.cfg.Train
	frac := math.Min(float64(step)/float64(max(tr.Steps, 1)), 1)
	return tr.TeacherForcing + (tr.TeacherForcingEnd-tr.TeacherForcing)*frac
}

// forward runs the whole model on a batch and returns the logits [T*B][V].
// With ratio < 1 (training), each step after the first feeds the model's
// own previous prediction instead of the true word with probability
// 1-ratio, per sequence.
func (m *Translation[T]) forward(src []int, S int, tokens, targets []int, steps int, ratio float64, train bool, rng *rand.Rand) (nn.Mat[T], error) {
	B := len(src) / S
	r := &m.run
	r.steps, r.batch, r.tokens, r.targets, r.srcSteps = steps, B, tokens, targets, S
	H, K := m.cfg.Decoder.Hidden, m.enc.Width()
	h, err := m.encode(src, S, B, train, rng)
	if err != nil {
		return nn.Mat[T]{}, err
	}
	for len(m.views) < steps {
		m.views = append(m.views, m.rnn.Share())
	}
	if cap(r.caches) < steps {
		r.caches = make([]*nn.AttentionCache[T], steps)
	}
	r.caches = r.caches[:steps]
	r.in = nn.NewMatLike(r.in, steps*B, m.cfg.Decoder.Embed+m.feedSize())
	r.hTop = nn.NewMatLike(r.hTop, steps*B, H)
	r.att = nn.NewMatLike(r.att, steps*B, H)
	if m.attn != nil {
		r.cat = nn.NewMatLike(r.cat, steps*B, K+H)
	}
	r.whole = ratio >= 1 && m.feedSize() == 0 && !m.stepwise
	if r.whole {
		m.forwardWhole(h, train, rng)
	}
	var c nn.Mat[T]
	for t := 0; t < steps && !r.whole; t++ {
		if t > 0 && ratio < 1 { // scheduled sampling: maybe feed the model's own guess
			guess := m.out.Forward(r.att.RowBlock((t-1)*B, t*B))
			for b := 0; b < B; b++ {
				if r.tokens[t*B+b] != datasets.PadID && rng.Float64() >= ratio {
					r.tokens[t*B+b] = argmax(guess.Row(b))
				}
			}
		}
		h, c = m.step(t, h, c, train, rng)
	}
	y := r.att
	if train && m.drop.P > 0 {
		r.dropped = nn.NewMatLike(r.dropped, y.Rows, y.Cols)
		r.dropped.CopyFrom(y)
		m.drop.Forward(r.dropped, true, rng)
		y = r.dropped
	} else {
		m.drop.Forward(y, false, nil)
	}
	return m.out.Forward(y), nil
}

// forwardWhole is the decoder's forward pass when no step depends on the
// previous step's output (teacher forcing, no input feeding, attention
// after the step, if any): the recurrent stack runs over the whole target
// sequence in one call — its input projection one GEMM for all steps — and
// the attentional vectors of all steps are one GEMM too.
func (m *Translation[T]) forwardWhole(h0 nn.Mat[T], train bool, rng *rand.Rand) {
	r := &m.run
	B, E, K := r.batch, m.cfg.Decoder.Embed, m.enc.Width()
	table := nn.Mat[T]{Rows: m.emb.Shape[0], Cols: E, Data: m.emb.Value}
	for i, tok := range r.tokens {
		copy(r.in.Row(i), table.Row(tok))
	}
	y, _, _ := m.rnn.Forward(r.in, r.steps, B, h0, nn.Mat[T]{}, train, rng)
	r.hTop.CopyFrom(y)
	if m.attn == nil {
		r.att.CopyFrom(y)
		return
	}
	for t := 0; t < r.steps; t++ {
		ctx, _, cache := m.attn.Forward(y.RowBlock(t*B, (t+1)*B))
		r.caches[t] = cache
		for b := 0; b < B; b++ {
			row := r.cat.Row(t*B + b)
			copy(row[:K], ctx.Row(b))
			copy(row[K:], y.Row(t*B+b))
		}
	}
	nn.Gemm(false, true, 1, r.cat, m.combine.Weight.Mat(), 0, r.att)
	nn.AddBias(r.att, m.combine.Bias.Value)
	n := r.att.Rows * r.att.Cols
	nn.Tanh(r.att.Data[:n], r.att.Data[:n])
}

// backwardWhole is the backward pass of forwardWhole, from the gradient of
// the attentional vectors in r.datt; it returns the gradient of the
// decoder's initial states.
func (m *Translation[T]) backwardWhole() nn.Mat[T] {
	r := &m.run
	B, H, E, K := r.batch, m.cfg.Decoder.Hidden, m.cfg.Decoder.Embed, m.enc.Width()
	dy := r.datt
	if m.attn != nil {
		for i, a := range r.att.Data[:r.att.Rows*H] {
			r.dcat.Data[i] = r.datt.Data[i] * (1 - a*a)
		}
		r.dcatAll = nn.NewMatLike(r.dcatAll, r.steps*B, K+H)
		nn.Gemm(false, false, 1, r.dcat, m.combine.Weight.Mat(), 0, r.dcatAll)
		r.dyAll = nn.NewMatLike(r.dyAll, r.steps*B, H)
		for t := 0; t < r.steps; t++ {
			for b := 0; b < B; b++ {
				row := r.dcatAll.Row(t*B + b)
				copy(r.dctx.Row(b), row[:K])
				copy(r.dyAll.Row(t*B+b), row[K:])
			}
			m.attn.Backward(r.dctx, nn.Mat[T]{}, r.caches[t], r.dq)
			addMat(r.dyAll.RowBlock(t*B, (t+1)*B), r.dq)
		}
		dy = r.dyAll
	}
	dx, dh0, _ := m.rnn.Backward(dy, nn.Mat[T]{}, nn.Mat[T]{})
	table := nn.Mat[T]{Rows: m.emb.Shape[0], Cols: E, Data: m.emb.Grad}
	for i, tok := range r.tokens {
		row := table.Row(tok)
		for j, v := range dx.Row(i) {
			row[j] += v
		}
	}
	return dh0
}

// backward backpropagates dlogits [T*B][V] through the decoder steps in
// reverse, then the bridge and the encoder.
func (m *Translation[T]) backward(dlogits nn.Mat[T]) {
	r := &m.run
	B, H, E, K := r.batch, m.cfg.Decoder.Hidden, m.cfg.Decoder.Embed, m.enc.Width()
	L := m.cfg.Decoder.Layers
	r.datt = nn.NewMatLike(r.datt, r.steps*B, H)
	m.out.Backward(dlogits, r.datt)
	m.drop.Backward(r.datt)
	if m.attn != nil {
		r.dcat = nn.NewMatLike(r.dcat, r.steps*B, H) // gradient of combine's pre-activation, all steps
	}
	r.dstep = nn.NewMatLike(r.dstep, B, H)
	r.dq = nn.NewMatLike(r.dq, B, H)
	r.dctx = nn.NewMatLike(r.dctx, B, K)
	feed := m.feedSize()
	r.dfeed = nn.NewMatLike(r.dfeed, B, max(feed, 1))
	r.dfeed.Zero()
	r.dhTopExtra = nn.NewMatLike(r.dhTopExtra, B, H)
	r.dhTopExtra.Zero()
	r.dcatStep = nn.NewMatLike(r.dcatStep, B, K+H) // d[ctx; h] of one step
	table := nn.Mat[T]{Rows: m.emb.Shape[0], Cols: E, Data: m.emb.Grad}
	var dh, dc nn.Mat[T]
	if r.whole {
		dh = m.backwardWhole()
	}
	for t := r.steps - 1; t >= 0 && !r.whole; t-- {
		rows := func(x nn.Mat[T]) nn.Mat[T] { return x.RowBlock(t*B, (t+1)*B) }
		datt := rows(r.datt)
		if feed > 0 && !m.bahdanau() && t < r.steps-1 { // input feeding: step t+1 read att_t
			for b := 0; b < B; b++ {
				row := datt.Row(b)
				for j, v := range r.dfeed.Row(b) {
					row[j] += v
				}
			}
		}
		dy := r.dstep
		if m.attn == nil {
			dy.CopyFrom(datt)
		} else {
			att, dpre := rows(r.att), rows(r.dcat)
			for i, a := range att.Data[:B*H] {
				dpre.Data[i] = datt.Data[i] * (1 - a*a)
			}
			nn.Gemm(false, false, 1, dpre, m.combine.Weight.Mat(), 0, r.dcatStep)
			for b := 0; b < B; b++ {
				copy(r.dctx.Row(b), r.dcatStep.Row(b)[:K])
				copy(dy.Row(b), r.dcatStep.Row(b)[K:])
			}
			if !m.bahdanau() {
				m.attn.Backward(r.dctx, nn.Mat[T]{}, r.caches[t], r.dq)
				addMat(dy, r.dq)
			}
		}
		if m.bahdanau() {
			addMat(dy, r.dhTopExtra)
		}
		dx, dh0, dc0 := m.views[t].Backward(dy, dh, dc)
		dh, dc = dh0, dc0
		for b := 0; b < B; b++ {
			row := table.Row(r.tokens[t*B+b])
			for j, v := range dx.Row(b)[:E] {
				row[j] += v
			}
		}
		switch {
		case m.bahdanau():
			for b := 0; b < B; b++ {
				row := r.dctx.Row(b)
				for j, v := range dx.Row(b)[E:] {
					row[j] += v
				}
			}
			m.attn.Backward(r.dctx, nn.Mat[T]{}, r.caches[t], r.dhTopExtra)
		case feed > 0:
			for b := 0; b < B; b++ {
				copy(r.dfeed.Row(b), dx.Row(b)[E:])
			}
		}
	}
	if m.attn != nil {
		nn.Gemm(true, false, 1, r.dcat, r.cat, 1, m.combine.Weight.GradMat())
		nn.AddColumnSums(m.combine.Bias.Grad, r.dcat)
	}
	// The bridge feeds every decoder layer's initial state.
	r.dbridge = nn.NewMatLike(r.dbridge, B, H)
	r.dbridge.Zero()
	for l := 0; l < L; l++ {
		addMat(r.dbridge, dh.RowBlock(l*B, (l+1)*B))
	}
	if m.bahdanau() {
		addMat(r.dbridge, r.dhTopExtra) // step 0's query was the top initial state
	}
	for i, o := range r.bridgePre.Data[:B*H] {
		r.dbridge.Data[i] *= 1 - o*o
	}
	db := nn.NewMatLike(r.demb, B, K)
	r.demb = db
	m.bridge.Backward(r.dbridge, db)
	ec := m.enc.RNN.Config
	nd, top := ec.Directions(), ec.Layers-1
	r.dhn = nn.NewMatLike(r.dhn, m.enc.RNN.StateRows(B), ec.Hidden)
	r.dhn.Zero()
	for d := 0; d < nd; d++ {
		k := top*nd + d
		for b := 0; b < B; b++ {
			copy(r.dhn.Row(k*B+b), db.Row(b)[d*ec.Hidden:(d+1)*ec.Hidden])
		}
	}
	var dkeys nn.Mat[T]
	if m.attn != nil {
		dkeys = m.attn.KeysGrad()
	} else {
		r.dkeysZero = nn.NewMatLike(r.dkeysZero, B*r.srcSteps, K)
		r.dkeysZero.Zero()
		dkeys = r.dkeysZero
	}
	m.enc.Backward(dkeys, r.dhn, nn.Mat[T]{})
}

func addMat[T nn.Float](dst, src nn.Mat[T]) {
	for i, v := range src.Data[:src.Rows*src.Cols] {
		dst.Data[i] += v
	}
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
	logits, err := m.forward(src, len(ex[0].Src), tokens, targets, steps, ratio, true, rng)
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
		logits, err := m.forward(src, len(group[0].Src), tokens, targets, steps, 1, false, nil)
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
	streams := 0
	for i, h := range hyps {
		out[i] = m.detokenize(h.Tokens)
		streams = max(streams, len(items[i].refs))
	}
	refs := make([][]string, streams)
	for k := range refs {
		refs[k] = make([]string, len(items))
		for i, it := range items {
			if k < len(it.refs) {
				refs[k][i] = it.refs[k]
			}
		}
	}
	return metrics.CorpusBLEU(out, refs, metrics.BLEUOptions{Lowercase: m.cfg.Data.Pairs.Lowercase})
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
	size := m.cfg.Train.Batch
	if d.Strategy == "beam" {
		size = max(1, size/d.Beam)
	}
	for _, l := range lengths {
		idx := byLen[l]
		for lo := 0; lo < len(idx); lo += size {
			part := idx[lo:min(lo+size, len(idx))]
			batch := make([][]int, len(part))
			for j, i := range part {
				batch[j] = srcs[i]
			}
			t, err := m.newTranslator(batch)
			if err != nil {
				return nil, err
			}
			tr := t.stepper()
			var hyps []decoding.Hypothesis
			switch d.Strategy {
			case "beam":
				nbest, err := decoding.Beam(tr, len(batch), m.bosID(), m.eosID(), d.MaxLen, d.Beam, d.LengthPenalty)
				if err != nil {
					return nil, err
				}
				for _, nb := range nbest {
					hyps = append(hyps, nb[0])
				}
			case "sample":
				hyps, err = decoding.Sample(tr, len(batch), m.bosID(), m.eosID(), d.MaxLen, d.Temperature, rng)
			default:
				hyps, err = decoding.Greedy(tr, len(batch), m.bosID(), m.eosID(), d.MaxLen)
			}
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

// translator adapts the model to decoding.Stepper: it holds one decoder
// state per live hypothesis and the source each hypothesis translates.
type translator[T nn.Float] struct {
	m      *Translation[T]
	S      int
	keys   nn.Mat[T] // encoder states per source item [items*S][Key]
	item   []int     // hypothesis → source item
	h, c   nn.Mat[T] // [L*n][H]
	feed   nn.Mat[T] // [n][feed]
	in     nn.Mat[T]
	cat    nn.Mat[T]
	hkeys  nn.Mat[T] // keys laid out per hypothesis [n*S][Key]
	logp   []float64
	weight [][]float64
}

func (m *Translation[T]) newTranslator(srcs [][]int) (*translator[T], error) {
	B, S := len(srcs), len(srcs[0])
	ids := make([]int, S*B)
	for b, s := range srcs {
		for t, id := range s {
			ids[t*B+b] = id
		}
	}
	h0, err := m.encode(ids, S, B, false, nil)
	if err != nil {
		return nil, err
	}

	tr := &translator[T]{m: m, S: S, item: make([]int, B), h: h0.Clone()}
	for b := range tr.item {
		tr.item[b] = b
	}
	if m.cfg.Decoder.Cell == string(nn.CellLSTM) {
		tr.c = nn.NewMat[T](h0.Rows, h0.Cols)
	}
	tr.feed = nn.NewMat[T](B, max(m.feedSize(), 1))
	tr.keys = m.run.keys.Clone()
	tr.hkeys = tr.keys.Clone()
	if m.attn != nil { // attend over the translator's own copy, which Reorder rearranges
		lengths := make([]int, B)
		for i := range lengths {
			lengths[i] = S
		}
		if err := m.attn.SetKeys(tr.hkeys, lengths, S); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// Step feeds one token per hypothesis and returns next-token log-probabilities.
func (tr *translator[T]) Step(tokens []int) ([]float64, error) {
	m := tr.m
	n := len(tokens)
	E, H, K := m.cfg.Decoder.Embed, m.cfg.Decoder.Hidden, m.enc.Width()
	L := m.cfg.Decoder.Layers
	feed := m.feedSize()
	tr.in = nn.NewMatLike(tr.in, n, E+feed)
	table := nn.Mat[T]{Rows: m.emb.Shape[0], Cols: E, Data: m.emb.Value}
	for b, tok := range tokens {
		if tok < 0 || tok >= table.Rows {
			return nil, fmt.Errorf("token %d outside the target vocabulary", tok)
		}
		copy(tr.in.Row(b)[:E], table.Row(tok))
	}
	var ctx, weights nn.Mat[T]
	if m.bahdanau() {
		ctx, weights, _ = m.attn.Forward(tr.h.RowBlock((L-1)*n, L*n))
		for b := 0; b < n; b++ {
			copy(tr.in.Row(b)[E:], ctx.Row(b))
		}
	} else if feed > 0 {
		for b := 0; b < n; b++ {
			copy(tr.in.Row(b)[E:], tr.feed.Row(b))
		}
	}
	var cPrev nn.Mat[T]
	if !tr.c.Empty() {
		cPrev = tr.c
	}
	y, hn, cn := m.rnn.Forward(tr.in, 1, n, tr.h, cPrev, false, nil)
	tr.h.CopyFrom(hn)
	if !tr.c.Empty() {
		tr.c.CopyFrom(cn)
	}
	att := y
	if m.attn != nil {
		if !m.bahdanau() {
			ctx, weights, _ = m.attn.Forward(y)
		}
		tr.cat = nn.NewMatLike(tr.cat, n, K+H)
		for b := 0; b < n; b++ {
			copy(tr.cat.Row(b)[:K], ctx.Row(b))
			copy(tr.cat.Row(b)[K:], y.Row(b))
		}
		att = m.combine.Forward(tr.cat)
		nn.Tanh(att.Data[:n*H], att.Data[:n*H])
		if feed > 0 && !m.bahdanau() {
			tr.feed.CopyFrom(att)
		}
		tr.weight = tr.weight[:0]
		for b := 0; b < n; b++ {
			row := make([]float64, tr.S)
			for s, w := range weights.Row(b) {
				row[s] = float64(w)
			}
			tr.weight = append(tr.weight, row)
		}
	}
	logits := m.out.Forward(att)
	V := logits.Cols
	if cap(tr.logp) < n*V {
		tr.logp = make([]float64, n*V)
	}
	tr.logp = tr.logp[:n*V]
	for b := 0; b < n; b++ {
		logSoftmax(logits.Row(b), tr.logp[b*V:(b+1)*V])
	}
	return tr.logp, nil
}

// attentive is a translator whose model attends: it also reports the
// attention weights, so the search can keep each hypothesis's alignment.
type attentive[T nn.Float] struct{ *translator[T] }

// Attention reports the last step's attention weights.
func (a attentive[T]) Attention() [][]float64 { return a.weight }

// stepper returns tr as the search should see it.
func (tr *translator[T]) stepper() decoding.Stepper {
	if tr.m.attn != nil {
		return attentive[T]{tr}
	}
	return tr
}

// Reorder keeps the hypotheses at indices: their states, feeds and sources.
func (tr *translator[T]) Reorder(indices []int) error {
	m := tr.m
	n, old := len(indices), len(tr.item)
	L := m.cfg.Decoder.Layers
	pick := func(src nn.Mat[T], blocks int) nn.Mat[T] {
		dst := nn.NewMat[T](blocks*n, src.Cols)
		for l := 0; l < blocks; l++ {
			for i, j := range indices {
				copy(dst.Row(l*n+i), src.Row(l*old+j))
			}
		}
		return dst
	}
	tr.h = pick(tr.h, L)
	if !tr.c.Empty() {
		tr.c = pick(tr.c, L)
	}
	tr.feed = pick(tr.feed, 1)
	item := make([]int, n)
	for i, j := range indices {
		item[i] = tr.item[j]
	}
	tr.item = item
	if m.attn == nil {
		return nil
	}
	tr.hkeys = nn.NewMatLike(tr.hkeys, n*tr.S, tr.keys.Cols)
	for i, it := range item {
		tr.hkeys.RowBlock(i*tr.S, (i+1)*tr.S).CopyFrom(tr.keys.RowBlock(it*tr.S, (it+1)*tr.S))
	}
	lengths := make([]int, n)
	for i := range lengths {
		lengths[i] = tr.S
	}
	return m.attn.SetKeys(tr.hkeys, lengths, tr.S)
}

// logSoftmax writes log(softmax(x)) into dst in float64.
func logSoftmax[T nn.Float](x []T, dst []float64) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var z float64
	for _, v := range x {
		z += math.Exp(float64(v) - mx)
	}
	lz := math.Log(z) + mx
	for i, v := range x {
		dst[i] = float64(v) - lz
	}
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

// Predict translates each line of the input (a file named by -input, or
// stdin) into one output line, streaming: every line is written as soon as
// it is translated. An empty line gives an empty line; a line longer than
// maxSourceTokens gives an empty line and a report. With in.AttentionDir set,
// each sentence's attention map is drawn into that folder.
func (m *Translation[T]) Predict(in Input, out io.Writer, rng *rand.Rand) error {
	r := in.Reader
	if in.Path != "" {
		f, err := os.Open(in.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	if in.AttentionDir != "" {
		if m.attn == nil {
			return fmt.Errorf("-attention: this model has no attention (decoder.attention: none)")
		}
		if err := os.MkdirAll(in.AttentionDir, 0o755); err != nil {
			return err
		}
	}
	so, _ := m.tokenizeOptions()
	w := bufio.NewWriter(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line, skipped := 0, 0
	for sc.Scan() {
		line++
		words := datasets.Tokenize(sc.Text(), so)
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
		if in.AttentionDir != "" && hyps[0].Attention != nil {
			outWords := make([]string, 0, len(hyps[0].Tokens)+1)
			for _, id := range hyps[0].Tokens {
				outWords = append(outWords, m.tgt.Token(id))
			}
			if hyps[0].Finished {
				outWords = append(outWords, datasets.EOSToken)
			}
			path := filepath.Join(in.AttentionDir, fmt.Sprintf("attention_%04d.png", line))
			if err := plots.Attention(path, sc.Text(), words, outWords, hyps[0].Attention); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	if skipped > 0 {
		fmt.Fprintf(in.logWriter(), "translated %d lines; skipped %d longer than %d tokens\n", line-skipped, skipped, maxSourceTokens)
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
