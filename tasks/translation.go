package tasks

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/metrics"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/plots"
	"github.com/seqtask/seqtask/tokenizers"
)

func init() {
	Register("translation", Builder{New32: NewTranslation[float32], New64: NewTranslation[float64], Estimate: estimateTranslation, Ensembles: isEnsembler[*Translation[float32]]()})
	config.RegisterTask("translation", config.TaskSchema{
		Defaults:      func(c *config.Config) { c.Decoder.Kind = "autoregressive" },
		Reads:         append([]string{"data.pairs"}, sequenceOutputKeys...),
		SplitsBatches: splitsAlways,
		Check: func(cfg *config.Config, c *config.Checker) {
			checkModel(cfg, encoders.TokenInput, "autoregressive", c)
			p := cfg.Data.Pairs
			c.AtLeast("data.pairs.source_column", p.SourceColumn, 0)
			c.AtLeast("data.pairs.target_column", p.TargetColumn, 0)
			if p.SourceColumn == p.TargetColumn {
				c.Errorf("data.pairs.target_column", "equals source_column %d", p.SourceColumn)
			}
			c.InRange("data.pairs.max_len", p.MaxLen, 1, maxSourceTokens)
			c.AtLeast("data.pairs.min_freq", p.MinFreq, 1)
			c.AtLeast("data.pairs.max_vocab", p.MaxVocab, 0)
			c.InRange("data.pairs.bucket", p.Bucket, 1, p.MaxLen)
			checkTokenizer(p.Tokenizer, c)
			checkSequenceOutput(cfg, c)
		},
	})
}

// Translation is sequence-to-sequence translation: an encoder over the
// source sentence (encoder.kind rnn: an embedding and a recurrent stack)
// and an autoregressive decoder started from it, optionally attending over
// the source (package decoders), trained with teacher forcing or scheduled
// sampling and decoded as eval.decode says.
type Translation[T nn.Float] struct {
	cfg            *config.Config
	srcTok, tgtTok tokenizers.Tokenizer
	src, tgt       *datasets.Vocab
	train          []datasets.Example
	buckets        *datasets.Buckets // training examples by source length, for batches of one length
	dev            []datasets.Example
	devRefs        []devItem // distinct dev sources with all their references, for BLEU

	model *seq2seq[T]
	// decodeCopies are further copies of the model, on its weights, that
	// decode groups of a batch on other cores (DecodeOptions.Workers); made
	// on first use.
	decodeCopies []*Translation[T]
	// ensemble are further models that evaluation, prediction and
	// Translate decode with, the next token's probabilities averaged over
	// all (Ensemble).
	ensemble []*Translation[T]
	progress Progress // told how far an evaluation's decoding has come
}

// SetProgress makes evaluation (Evaluate, EvaluateFile) report its
// progress to p, in source tokens translated.
func (m *Translation[T]) SetProgress(p Progress) { m.progress = p }

// devItem is one distinct dev source sentence and every reference
// translation of it in the dev split. shortRefs are the references of the
// pairs that the word-level filter of max_len 10 keeps: the dev split the
// word-level model was measured on, for comparison.
type devItem struct {
	src       []int
	words     int // the source's words (whitespace-separated), for BLEU by length
	refs      []string
	shortRefs []string
}

// NewTranslation builds the task; vocabularies come from the checkpoint
// when restoring, else from the training pairs.
func NewTranslation[T nn.Float](cfg *config.Config, env Env) (Task[T], error) {
	m := &Translation[T]{cfg: cfg}
	if s, ok := env.Meta["source_vocab"]; ok {
		var err error
		if m.src, err = restoreVocab(s, "source_vocab", true); err != nil {
			return nil, err
		}
		if m.tgt, err = restoreVocab(env.Meta["target_vocab"], "target_vocab", true); err != nil {
			return nil, err
		}
		p := cfg.Data.Pairs
		if m.srcTok, err = restoreTokenizer(env.Meta, "source_tokenizer", p, p.SourceLang); err != nil {
			return nil, err
		}
		if m.tgtTok, err = restoreTokenizer(env.Meta, "target_tokenizer", p, p.TargetLang); err != nil {
			return nil, err
		}
	}
	if env.NeedData {
		if err := m.loadData(env.log()); err != nil {
			return nil, err
		}
	}
	if m.src == nil && env.Assume != nil {
		m.src, m.tgt = placeholderVocab(env.Assume.SourceVocab, true), placeholderVocab(env.Assume.Vocab, true)
		m.srcTok, _ = tokenizers.New(tokenizers.Options{Kind: "chars"}, nil)
		m.tgtTok = m.srcTok
	}
	if m.src == nil {
		return nil, fmt.Errorf("translation needs either the pairs (data.path) or a checkpoint's vocabularies")
	}
	if err := m.build(env.RNG); err != nil {
		return nil, err
	}
	return m, nil
}

// build makes the encoder-decoder model for the vocabularies.
func (m *Translation[T]) build(rng *rand.Rand) error {
	enc, err := encoders.New[T](encoders.Spec{Section: m.cfg.Encoder, Input: encoders.TokenInput, Vocab: m.src.Len(), Prefix: "encoder", BF16: trainsInBF16(m.cfg)}, rng)
	if err != nil {
		return err
	}
	// An LSTM decoder's cells start at zero (Luong et al.); only its states
	// come from the source.
	m.model, err = newSeq2seq(m.cfg, enc, m.tgt, false, rng)
	return err
}

// TrainReplica returns a copy of the model on the same pairs and weights
// that trains on batch pairs per step (train.workers).
func (m *Translation[T]) TrainReplica(batch int) (Task[T], error) {
	r := &Translation[T]{cfg: replicaConfig(m.cfg, batch), srcTok: m.srcTok, tgtTok: m.tgtTok, src: m.src, tgt: m.tgt,
		train: m.train, buckets: m.buckets, dev: m.dev, devRefs: m.devRefs}
	return replica[T](m, r, r.build)
}

// loadData reads the pairs, splits them so that every translation of one
// source sentence falls on the same side, learns or makes the tokenizers,
// tokenises, filters by length, builds the vocabularies from the training
// side and encodes.
func (m *Translation[T]) loadData(log io.Writer) error {
	d := m.cfg.Data
	p := d.Pairs
	pairs, err := datasets.ReadPairs(d.Path, datasets.PairOptions{SrcColumn: p.SourceColumn, TgtColumn: p.TargetColumn, KeepLines: 5})
	if err != nil {
		return fmt.Errorf("data.path: %w", err)
	}
	fmt.Fprintf(log, "translation: %s\n", pairs.Report)
	train, dev, err := datasets.SplitPairs(pairs.Pairs, datasets.SplitOptions{DevFraction: d.ValFraction, Seed: m.cfg.SplitSeed()})
	if err != nil {
		return fmt.Errorf("data.val_fraction: %w", err)
	}
	if m.srcTok == nil {
		if m.srcTok, m.tgtTok, err = learnTokenizers(p, train, log); err != nil {
			return err
		}
	}
	trainTok, trainStats := datasets.FilterByLength(tokenizePairs(train, m.srcTok, m.tgtTok), p.MaxLen, p.MaxLen)
	devTok, devStats := datasets.FilterByLength(tokenizePairs(dev, m.srcTok, m.tgtTok), p.MaxLen, p.MaxLen)
	fmt.Fprintf(log, "translation: %s tokens, max_len %d: train %s; dev %s\n", m.srcTok.Kind(), p.MaxLen, trainStats, devStats)
	if len(trainTok) == 0 || len(devTok) == 0 {
		return fmt.Errorf("%s: no training or dev pairs left after the length filter (max_len %d)", d.Path, p.MaxLen)
	}
	if m.src == nil {
		if m.src, m.tgt, err = buildVocabs(p, trainTok, m.srcTok, m.tgtTok); err != nil {
			return err
		}
	}
	if m.train, err = datasets.EncodePairs(trainTok, m.src, m.tgt); err != nil {
		return err
	}
	if m.dev, err = datasets.EncodePairs(devTok, m.src, m.tgt); err != nil {
		return err
	}
	m.buckets = datasets.NewBuckets(sourceLengths(m.train), p.Bucket)
	raw := make(map[int]datasets.Pair, len(dev))
	for _, q := range dev {
		raw[q.Line] = q
	}
	m.devRefs = m.referencesOf(devTok, m.dev, raw)
	fmt.Fprintf(log, "translation: %d training pairs, %d dev pairs (%d distinct sources); vocabularies %d source, %d target\n",
		len(m.train), len(m.dev), len(m.devRefs), m.src.Len(), m.tgt.Len())
	return nil
}

// referencesOf groups the raw target sentences of encoded pairs by
// source sentence, in first-seen order, marking those the word-level
// filter of max_len 10 keeps.
func (m *Translation[T]) referencesOf(tok []datasets.TokenPair, ex []datasets.Example, raw map[int]datasets.Pair) []devItem {
	p := m.cfg.Data.Pairs
	so := datasets.TokenizeOptions{Lang: p.SourceLang, Lower: p.Lowercase}
	to := datasets.TokenizeOptions{Lang: p.TargetLang, Lower: p.Lowercase}
	var items []devItem
	index := map[string]int{}
	for i, e := range ex {
		q := raw[tok[i].Line]
		items = addReference(items, index, q.Src, e.Src, q.Tgt)
		it := &items[index[datasets.SplitKey(q.Src)]]
		it.words = len(strings.Fields(q.Src))
		if len(datasets.Tokenize(q.Src, so)) <= shortLen && len(datasets.Tokenize(q.Tgt, to)) <= shortLen {
			it.shortRefs = append(it.shortRefs, q.Tgt)
		}
	}
	return items
}

// shortLen is the word-level max_len the first models were trained and
// measured with: BLEU on the dev pairs within it ("bleu_short") compares
// any model with those figures.
const shortLen = 10

// addReference adds ref as a reference of the source sentence src (ids
// ids), keeping one item per distinct source in first-seen order.
func addReference(items []devItem, index map[string]int, src string, ids []int, ref string) []devItem {
	key := datasets.SplitKey(src)
	j, ok := index[key]
	if !ok {
		j = len(items)
		index[key] = j
		items = append(items, devItem{src: ids})
	}
	items[j].refs = append(items[j].refs, ref)
	return items
}

func sourceLengths(ex []datasets.Example) []int {
	out := make([]int, len(ex))
	for i, e := range ex {
		out[i] = len(e.Src)
	}
	return out
}

// Params lists every parameter once (a tied table appears once).
func (m *Translation[T]) Params() nn.Params[T] { return m.model.params() }

// Buffers is nil: the model has no untrained state.
func (m *Translation[T]) Buffers() nn.Params[T] { return nil }

// Describe lists the layers.
func (m *Translation[T]) Describe() []string {
	return append(m.model.enc.Describe(), m.model.dec.Describe()...)
}

// Meta keeps both vocabularies and both tokenizers (a bpe's merges
// included), so that predict and serve need no other file.
func (m *Translation[T]) Meta() map[string]string {
	s, _ := json.Marshal(m.src)
	t, _ := json.Marshal(m.tgt)
	return map[string]string{"source_vocab": string(s), "target_vocab": string(t),
		"source_tokenizer": marshalTokenizer(m.srcTok), "target_tokenizer": marshalTokenizer(m.tgtTok)}
}

// sources lays out source id sequences for the encoder: time-major
// [S*B] for the longest S, shorter ones padded, with their lengths (nil
// when all have S).
func sources[T nn.Float](srcs [][]int) encoders.Batch[T] {
	B, S := len(srcs), 0
	for _, s := range srcs {
		S = max(S, len(s))
	}
	ids := make([]int, S*B) // zero is PadID
	var lengths []int
	for b, s := range srcs {
		for t, id := range s {
			ids[t*B+b] = id
		}
		if len(s) < S && lengths == nil {
			lengths = make([]int, B)
			for j := range lengths {
				lengths[j] = len(srcs[j])
			}
		}
	}
	return encoders.Batch[T]{Items: B, Tokens: ids, Steps: S, Lengths: lengths}
}

// batchOf splits examples (sources of one length) into the encoder's batch
// and the target sequences.
func batchOf[T nn.Float](ex []datasets.Example) (encoders.Batch[T], [][]int) {
	srcs, tgts := make([][]int, len(ex)), make([][]int, len(ex))
	for i, e := range ex {
		srcs[i], tgts[i] = e.Src, e.Tgt
	}
	return sources[T](srcs), tgts
}

// TrainStep trains on train.batch examples whose sources have about the
// length of a uniformly drawn anchor example (within data.pairs.bucket;
// with 1, exactly, so no source needs padding); the loss is the mean per
// target token.
func (m *Translation[T]) TrainStep(step int, rng *rand.Rand) (float64, int, error) {
	idx := m.buckets.Draw(rng, m.cfg.Train.Batch)
	ex := make([]datasets.Example, len(idx))
	for i, j := range idx {
		ex[i] = m.train[j]
	}
	in, tgts := batchOf[T](ex)
	return m.model.trainOn(in, tgts, m.model.teacherForcing(step), rng)
}

// lossOn returns the total loss of examples under teacher forcing, in
// batches of similar source length.
func (m *Translation[T]) lossOn(examples []datasets.Example) (lossTotal, error) {
	var total lossTotal
	for _, g := range datasets.NewBuckets(sourceLengths(examples), m.cfg.Data.Pairs.Bucket).Groups(m.cfg.Train.Batch) {
		ex := make([]datasets.Example, len(g))
		for i, j := range g {
			ex[i] = examples[j]
		}
		in, tgts := batchOf[T](ex)
		out, err := m.model.enc.Forward(in, false, nil)
		if err != nil {
			return total, err
		}
		if err := total.add(m.model.loss(out, tgts, 1, false, nil)); err != nil {
			return total, err
		}
	}
	return total, nil
}

// Evaluate reports the dev loss per target token and perplexity, and the
// BLEU scores (bleuScores) of up to eval.bleu_sentences distinct dev
// sources decoded as eval.decode says, against all their dev references.
// The sources are spread evenly over the dev split: pair files are often
// sorted by length (Tatoeba's is), and the first ones would be the
// shortest.
func (m *Translation[T]) Evaluate() (Metrics, error) {
	total, err := m.lossOn(m.dev)
	if err != nil {
		return nil, err
	}
	items := m.devRefs
	if k := m.cfg.Eval.BLEUSentences; k > 0 {
		items = datasets.EvenlySpaced(items, k)
	}
	out, err := m.bleuScores(items)
	if err != nil {
		return nil, err
	}
	loss := total.mean()
	out["loss"], out["perplexity"] = loss, math.Exp(loss)
	return out, nil
}

// lengthBuckets are the source lengths, in words, BLEU is also reported
// by: bleu_1_5 and so on.
var lengthBuckets = []struct {
	name     string
	min, max int
}{{"bleu_1_5", 1, 5}, {"bleu_6_10", 6, 10}, {"bleu_11_20", 11, 20}, {"bleu_21", 21, math.MaxInt}}

// bleuScores translates the items' sources and scores the outputs with
// sacreBLEU's corpus BLEU (13a tokenisation; lowercased when the data is):
// bleu over every item; bleu_short over the word-level max_len 10 pairs
// (the dev split of the first, word-level models); by source length in
// words (lengthBuckets); and unk_rate, the fraction of outputs holding
// <unk>.
func (m *Translation[T]) bleuScores(items []devItem) (Metrics, error) {
	srcs := make([][]int, len(items))
	for i, it := range items {
		srcs[i] = it.src
	}
	tokens := 0
	for _, s := range srcs {
		tokens += len(s)
	}
	hyps, err := m.translateIDs(srcs, decodeDefaults(m.cfg.Eval.Decode), nil, newProgressCounter(m.progress, tokens))
	if err != nil {
		return nil, err
	}
	outs := make([]string, len(items))
	unk := 0
	for i, h := range hyps {
		outs[i] = m.detokenize(h[0].Tokens)
		if slices.Contains(h[0].Tokens, datasets.UNKID) {
			unk++
		}
	}
	opts := metrics.BLEUOptions{Lowercase: m.cfg.Data.Pairs.Lowercase}
	score := func(keep func(devItem) []string) (float64, bool, error) {
		var hs []string
		var refs [][]string
		for i, it := range items {
			if r := keep(it); len(r) > 0 {
				hs, refs = append(hs, outs[i]), append(refs, r)
			}
		}
		if len(hs) == 0 {
			return 0, false, nil
		}
		s, err := metrics.CorpusBLEU(hs, metrics.ReferenceStreams(refs), opts)
		return s.Score, true, err
	}
	out := Metrics{"unk_rate": float64(unk) / float64(max(len(items), 1))}
	add := func(name string, keep func(devItem) []string) error {
		v, ok, err := score(keep)
		if ok {
			out[name] = v
		}
		return err
	}
	if err := add("bleu", func(it devItem) []string { return it.refs }); err != nil {
		return nil, err
	}
	if err := add("bleu_short", func(it devItem) []string { return it.shortRefs }); err != nil {
		return nil, err
	}
	for _, b := range lengthBuckets {
		if err := add(b.name, func(it devItem) []string {
			if it.words < b.min || it.words > b.max {
				return nil
			}
			return it.refs
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// detokenize turns target ids into text (the target tokenizer joins the
// tokens: no subword marks remain), leaving out the reserved tokens but
// <unk>.
func (m *Translation[T]) detokenize(ids []int) string {
	return m.tgtTok.Decode(m.model.words(ids))
}

// translateIDs decodes every source (in batches of similar lengths,
// datasets.SortedGroups; results in input order) with opt: per source its n-best list, the chosen
// hypothesis first. With rng nil, sampling draws from a fixed seed. done
// (nil: none) counts the sources' tokens as their groups finish.
func (m *Translation[T]) translateIDs(srcs [][]int, opt DecodeOptions, rng *rand.Rand, done *progressCounter) ([][]decoding.Hypothesis, error) {
	if rng == nil {
		rng = rand.New(rand.NewPCG(m.cfg.Seed, 0xdec0de))
	}
	lengths := make([]int, len(srcs))
	for i, s := range srcs {
		lengths[i] = len(s)
	}
	out := make([][]decoding.Hypothesis, len(srcs))
	groups := datasets.SortedGroups(lengths, opt.batchSize(m.cfg.Train.Batch))
	workers := opt.workers()
	if workers > 1 {
		groups = splitGroups(groups, workers)
		workers = min(workers, len(groups))
	}
	if workers > 1 { // still, once the groups are counted
		// Each group's search keeps a core busy: its products stay on it.
		defer fastblas.SetMaxThreads(fastblas.SetMaxThreads(1))
	}
	copies := []*Translation[T]{m}
	for len(copies) < workers {
		c, err := m.decodeCopy(len(copies) - 1)
		if err != nil {
			return nil, err
		}
		copies = append(copies, c)
	}
	err := forEachGroup(groups, workers, func(w int, g []int) error {
		batch := make([][]int, len(g))
		for j, i := range g {
			batch[j] = srcs[i]
		}
		hyps, err := copies[w].decodeSources(batch, opt, rng)
		if err != nil {
			return err
		}
		for j, i := range g {
			out[i] = hyps[j]
		}
		tokens := 0
		for _, src := range batch {
			tokens += len(src)
		}
		done.add(tokens)
		return nil
	})
	return out, err
}

// decodeSources decodes a batch of sources with the model, or with the
// ensemble, every member encoding the sources itself.
func (m *Translation[T]) decodeSources(batch [][]int, opt DecodeOptions, rng *rand.Rand) ([][]decoding.Hypothesis, error) {
	searches := make([]decoding.Stepper, 0, 1+len(m.ensemble))
	for _, c := range append([]*Translation[T]{m}, m.ensemble...) {
		st, err := c.model.encodeSearch(sources[T](batch), opt)
		if err != nil {
			return nil, err
		}
		searches = append(searches, st)
	}
	return searchEnsemble(searches, len(batch), opt, rng)
}

// Ensemble makes evaluation, prediction and Translate decode with this
// model and members together, the next token's probabilities averaged over
// all (decoding.Ensemble). Members must be translation models with the
// same source and target vocabularies (the same tokenizers, data and
// split: members with other seeds keep data.pairs.split_seed). The dev loss Evaluate reports stays this
// model's.
func (m *Translation[T]) Ensemble(members []Task[T]) error {
	ensemble := m.ensemble
	for i, t := range members {
		e, ok := t.(*Translation[T])
		switch {
		case !ok:
			return fmt.Errorf("model %d of the ensemble is not a translation model", i+2)
		case !slices.Equal(e.src.Tokens(), m.src.Tokens()) || !slices.Equal(e.tgt.Tokens(), m.tgt.Tokens()):
			return fmt.Errorf("model %d of the ensemble has other vocabularies (%d and %d tokens against %d and %d): its tokenizers, data or dev split differ (models trained with other seeds need one data.pairs.split_seed)", i+2, e.src.Len(), e.tgt.Len(), m.src.Len(), m.tgt.Len())
		case e.cfg.Data.Pairs.Lowercase != m.cfg.Data.Pairs.Lowercase:
			return fmt.Errorf("model %d of the ensemble reads sentences with data.pairs.lowercase %v, model 1 with %v", i+2, e.cfg.Data.Pairs.Lowercase, m.cfg.Data.Pairs.Lowercase)
		}
		ensemble = append(ensemble, e)
	}
	m.ensemble = ensemble
	m.decodeCopies = nil // made again, with copies of the members
	return nil
}

// decodeCopy returns the i-th further copy of the model (and of its
// ensemble's members) for decoding, making it on first use.
func (m *Translation[T]) decodeCopy(i int) (*Translation[T], error) {
	for len(m.decodeCopies) <= i {
		r, err := m.TrainReplica(m.cfg.Train.Batch)
		if err != nil {
			return nil, fmt.Errorf("a copy of the model to decode on: %w", err)
		}
		c := r.(*Translation[T])
		if m.Params().Predicting() {
			c.Params().DropGrads() // it shares the model's inference copies
		}
		for _, e := range m.ensemble { // a copy of the ensemble: copies of its members
			ec, err := e.decodeCopy(len(m.decodeCopies))
			if err != nil {
				return nil, err
			}
			c.ensemble = append(c.ensemble, ec)
		}
		m.decodeCopies = append(m.decodeCopies, c)
	}
	return m.decodeCopies[i], nil
}

// DecodeDefaults are the decoding settings of the config (eval.decode),
// which a request's DecodeRequest changes.
func (m *Translation[T]) DecodeDefaults() DecodeOptions { return decodeDefaults(m.cfg.Eval.Decode) }

// Attends reports whether the model has attention (and so attention maps).
func (m *Translation[T]) Attends() bool { return m.model.dec.Attends() }

// Vocabularies are the sizes of the source and target vocabularies.
func (m *Translation[T]) Vocabularies() map[string]int {
	return map[string]int{"source": m.src.Len(), "target": m.tgt.Len()}
}

// maxSourceTokens bounds a sentence given to translate; a longer one is
// refused rather than translated into nonsense at great cost.
const maxSourceTokens = 200

// Translated is one sentence's translation.
type Translated struct {
	Text  string  `json:"text"`
	Score float64 `json:"score"` // the search's score: the log-probability, length-normalised by beam search
	// NBest lists the alternatives asked for (DecodeOptions.NBest > 1),
	// the chosen translation first.
	NBest []Scored `json:"n_best,omitempty"`
	// Attention, when asked for, is the decoder's attention over the
	// source tokens while it wrote each output token.
	Attention *Alignment `json:"attention,omitempty"`
}

// Scored is an alternative output and its score.
type Scored struct {
	Text  string  `json:"text"`
	Score float64 `json:"score"`
}

// Alignment is an attention map: Weights[t][s] is the weight of input
// position s while writing output token t.
type Alignment struct {
	Source  []string    `json:"source"`
	Output  []string    `json:"output"`
	Weights [][]float64 `json:"weights"`
}

// Source is a sentence ready to translate: tokenised, checked and
// encoded (Translation.Source).
type Source struct {
	words []string
	ids   []int
}

// Sources tokenises and encodes sentences for TranslateSources. A
// sentence that Source refuses is an InputError naming its index
// (inputs[i]).
func (m *Translation[T]) Sources(sentences []string) ([]Source, error) {
	srcs := make([]Source, len(sentences))
	for i, s := range sentences {
		var err error
		if srcs[i], err = m.Source(s); err != nil {
			return nil, &InputError{Field: fmt.Sprintf("inputs[%d]", i), Err: err}
		}
	}
	return srcs, nil
}

// Source tokenises and encodes one sentence, refusing one that is empty
// once tokenised or longer than maxSourceTokens. A server checks each
// request's sentences this way before they join a batch, so that a bad
// one fails its own request, not the batch.
func (m *Translation[T]) Source(sentence string) (Source, error) {
	words := m.srcTok.Encode(sentence)
	switch n := len(words); {
	case n == 0:
		return Source{}, errors.New("empty sentence")
	case n > maxSourceTokens:
		return Source{}, fmt.Errorf("%d tokens, more than the %d allowed", n, maxSourceTokens)
	}
	ids, err := m.src.Encode(words)
	if err != nil {
		return Source{}, err
	}
	return Source{words: words, ids: ids}, nil
}

// Translate translates sentences with opt, batching them by length; with
// withAttention each result carries its attention map. A sentence that is
// empty once tokenised or longer than maxSourceTokens is an InputError
// naming its index. -mode predict translates this way; the server checks
// each request's sentences (Source) and translates batches of them
// (TranslateSources).
func (m *Translation[T]) Translate(sentences []string, opt DecodeOptions, withAttention bool, rng *rand.Rand) ([]Translated, error) {
	srcs, err := m.Sources(sentences)
	if err != nil {
		return nil, err
	}
	return m.TranslateSources(srcs, opt, withAttention, rng)
}

// TranslateSources is Translate for sentences already through Sources.
func (m *Translation[T]) TranslateSources(srcs []Source, opt DecodeOptions, withAttention bool, rng *rand.Rand) ([]Translated, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	if withAttention && !m.model.dec.Attends() {
		return nil, inputErrorf("attention", "this model has no attention (decoder.attention: none)")
	}
	ids := make([][]int, len(srcs))
	for i, s := range srcs {
		ids[i] = s.ids
	}
	hyps, err := m.translateIDs(ids, opt, rng, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Translated, len(srcs))
	for i, list := range hyps {
		out[i] = m.translated(srcs[i], list, opt, withAttention)
	}
	return out, nil
}

// translated is a source's translation from its n-best list, the chosen
// hypothesis first: its attention rows are cut to the source's own
// positions (a batch pads its sources to the longest).
func (m *Translation[T]) translated(src Source, list []decoding.Hypothesis, opt DecodeOptions, withAttention bool) Translated {
	best := list[0]
	out := Translated{Text: m.detokenize(best.Tokens), Score: best.Score, NBest: nBest(list, opt, m.detokenize)}
	if withAttention && best.Attention != nil {
		weights := make([][]float64, len(best.Attention))
		for t, row := range best.Attention {
			weights[t] = row[:min(len(row), len(src.words))]
		}
		out.Attention = &Alignment{Source: src.words, Output: outputTokens(m.tgt, best), Weights: weights}
	}
	return out
}

// outputTokens names the tokens of a hypothesis as its attention rows do:
// each generated token, then <eos> if it finished.
func outputTokens(v *datasets.Vocab, h decoding.Hypothesis) []string {
	out := make([]string, 0, len(h.Tokens)+1)
	for _, id := range h.Tokens {
		out = append(out, v.Token(id))
	}
	if h.Finished {
		out = append(out, datasets.EOSToken)
	}
	return out
}

// Sample translates a few dev sentences for the run log.
func (m *Translation[T]) Sample(rng *rand.Rand) (string, error) {
	items := datasets.EvenlySpaced(m.devRefs, 5)
	srcs := make([][]int, len(items))
	for i, it := range items {
		srcs[i] = it.src
	}
	hyps, err := m.translateIDs(srcs, decodeDefaults(m.cfg.Eval.Decode), rng, nil)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, it := range items {
		pieces, _ := m.src.Decode(it.src)
		fmt.Fprintf(&b, "source:    %s\noutput:    %s\nreference: %s\n", m.srcTok.Decode(pieces), m.detokenize(hyps[i][0].Tokens), it.refs[0])
	}
	return b.String(), nil
}

// predictBatch is how many sentences of an -input file one search
// translates together (stdin streams one at a time).
const predictBatch = 64

// Predict translates each line of the input (a file named by -input, or
// stdin) into one output line. From stdin it streams: every line is
// written as soon as it is translated. A file is translated predictBatch
// sentences at a time, as fast as evaluation, the lines still written in
// order. An empty line gives an empty line; a line that cannot be
// translated (too long) gives an empty line and a report. With
// in.AttentionDir set, each sentence's attention map is drawn into that
// folder.
func (m *Translation[T]) Predict(in Input, out io.Writer, rng *rand.Rand) error {
	if in.AttentionDir != "" {
		if !m.model.dec.Attends() {
			return inputErrorf("attention", "this model has no attention (decoder.attention: none)")
		}
		if err := os.MkdirAll(in.AttentionDir, 0o755); err != nil {
			return err
		}
	}
	opt := decodeDefaults(m.cfg.Eval.Decode)
	batch := 1
	if in.Path != "" {
		batch = predictBatch
	}
	w := bufio.NewWriter(out)
	translated, refused := 0, 0
	type pendingLine struct {
		line  int
		text  string
		blank bool // an empty line, left empty
	}
	var pending []pendingLine
	// write writes one line's output (and its attention map).
	write := func(p pendingLine, res *Translated) error {
		if res == nil {
			w.WriteString("\n")
			return nil
		}
		w.WriteString(res.Text + "\n")
		translated++
		if a := res.Attention; a != nil {
			path := filepath.Join(in.AttentionDir, fmt.Sprintf("attention_%04d.png", p.line))
			if err := plots.Attention(path, p.text, a.Source, a.Output, a.Weights); err != nil {
				return fmt.Errorf("line %d: %w", p.line, err)
			}
		}
		return nil
	}
	// translate translates the pending lines together; when one of them is
	// refused, it translates them one at a time to tell which.
	translate := func() ([]*Translated, error) {
		results := make([]*Translated, len(pending))
		var texts []string
		for _, p := range pending {
			if !p.blank {
				texts = append(texts, p.text)
			}
		}
		if len(texts) == 0 {
			return results, nil
		}
		res, err := m.Translate(texts, opt, in.AttentionDir != "", rng)
		var ie *InputError
		switch {
		case err == nil:
			for i, j := 0, 0; i < len(pending); i++ {
				if !pending[i].blank {
					results[i] = &res[j]
					j++
				}
			}
			return results, nil
		case !errors.As(err, &ie):
			return nil, fmt.Errorf("line %d: %w", pending[0].line, err)
		}
		for i, p := range pending {
			if p.blank {
				continue
			}
			res, err := m.Translate([]string{p.text}, opt, in.AttentionDir != "", rng)
			if errors.As(err, &ie) {
				refused++
				fmt.Fprintf(in.logWriter(), "line %d: skipped: %v\n", p.line, ie.Err)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", p.line, err)
			}
			results[i] = &res[0]
		}
		return results, nil
	}
	flush := func() error {
		results, err := translate()
		if err != nil {
			return err
		}
		for i, p := range pending {
			if err := write(p, results[i]); err != nil {
				return err
			}
		}
		pending = pending[:0]
		return w.Flush()
	}
	add := func(p pendingLine) error {
		pending = append(pending, p)
		if len(pending) >= batch {
			return flush()
		}
		return nil
	}
	tooLong, err := eachLine(in, func(line int, text string) error {
		return add(pendingLine{line: line, text: text, blank: strings.TrimSpace(text) == ""})
	}, func(line int) error { return add(pendingLine{line: line, blank: true}) })
	if err == nil && len(pending) > 0 {
		err = flush()
	}
	if err != nil {
		return err
	}
	if refused > 0 || tooLong > 0 {
		fmt.Fprintf(in.logWriter(), "translated %d lines; skipped %d longer than %d tokens and %d longer than %d bytes\n",
			translated, refused, maxSourceTokens, tooLong, datasets.MaxLineBytes)
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
	tok := tokenizePairs(pairs.Pairs, m.srcTok, m.tgtTok)
	ex, err := datasets.EncodePairs(tok, m.src, m.tgt)
	if err != nil {
		return nil, err
	}
	total, err := m.lossOn(ex)
	if err != nil {
		return nil, err
	}
	raw := make(map[int]datasets.Pair, len(pairs.Pairs))
	for _, q := range pairs.Pairs {
		raw[q.Line] = q
	}
	out, err := m.bleuScores(m.referencesOf(tok, ex, raw))
	if err != nil {
		return nil, err
	}
	loss := total.mean()
	out["loss"], out["perplexity"], out["sentences"] = loss, math.Exp(loss), float64(len(m.referencesOf(tok, ex, raw)))
	return out, nil
}

// estimateTranslation counts the seq2seq parts over sentences of
// data.pairs.max_len tokens.
func estimateTranslation(cfg *config.Config, s Sizes, e *estimate) {
	en, B, S := cfg.Encoder, cfg.Train.Batch, cfg.Data.Pairs.MaxLen
	e.params("encoder embedding", "encoder.embed", int64(s.SourceVocab)*int64(en.Embed))
	rc := nn.RecurrentConfig{Cell: nn.Cell(en.Cell), Input: en.Embed, Hidden: en.Hidden, Layers: en.Layers, Bidirectional: en.Bidirectional}
	e.recurrent("encoder", rc, S, B)
	key := en.Hidden * rc.Directions()
	e.autoregressive(cfg.Decoder, s.Vocab, key, key, S, S+1, B)
}
