package metrics

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// MaxNGramOrder is the default (and sacreBLEU's) highest n-gram order BLEU
// counts.
const MaxNGramOrder = 4

// A SmoothMethod names how BLEU treats n-gram orders with no matches, which
// would otherwise make the geometric mean, and so the score, zero. The
// methods are those of Chen and Cherry (2014), as named by sacreBLEU.
type SmoothMethod string

// The smoothing methods sacreBLEU offers.
const (
	// SmoothNone applies no smoothing: an order with no matches scores 0.
	SmoothNone SmoothMethod = "none"
	// SmoothFloor replaces a zero match count by SmoothValue (default 0.1).
	SmoothFloor SmoothMethod = "floor"
	// SmoothAddK adds SmoothValue (default 1) to matches and totals of every
	// order above 1.
	SmoothAddK SmoothMethod = "add-k"
	// SmoothExp is the NIST (mteval-v13a) method: the k-th order with no
	// matches gets precision 1/(2^k * total). It is sacreBLEU's default for
	// both corpus and sentence BLEU.
	SmoothExp SmoothMethod = "exp"
)

// smoothDefault returns sacreBLEU's default smoothing value for m.
func smoothDefault(m SmoothMethod) float64 {
	switch m {
	case SmoothFloor:
		return 0.1
	case SmoothAddK:
		return 1
	}
	return 0
}

// EffectiveOrder selects whether BLEU averages only over the n-gram orders
// the hypothesis has n-grams of. Without it, a hypothesis shorter than
// MaxNGramOrder tokens scores 0, which is why sacreBLEU enables it for
// sentence BLEU and disables it for corpus BLEU.
type EffectiveOrder int

// The EffectiveOrder settings.
const (
	// EffectiveOrderDefault follows sacreBLEU: off for CorpusBLEU, on for
	// SentenceBLEU.
	EffectiveOrderDefault EffectiveOrder = iota
	// EffectiveOrderOn always uses the effective order.
	EffectiveOrderOn
	// EffectiveOrderOff always averages over all MaxNGramOrder orders.
	EffectiveOrderOff
)

// BLEUOptions configures BLEU. The zero value gives sacreBLEU's defaults:
// 13a tokenization, case-sensitive, exp smoothing, n-gram order 4, and the
// effective order only for sentence BLEU.
type BLEUOptions struct {
	// Tokenize names the tokenizer (see TokenizerByName); "" means "13a".
	Tokenize string
	// Lowercase lowercases hypotheses and references before tokenizing,
	// giving case-insensitive BLEU.
	Lowercase bool
	// Smooth is the smoothing method; "" means SmoothExp.
	Smooth SmoothMethod
	// SmoothValue is the parameter of SmoothFloor and SmoothAddK; 0 means
	// sacreBLEU's default for the method.
	SmoothValue float64
	// MaxOrder is the highest n-gram order; 0 means MaxNGramOrder.
	MaxOrder int
	// EffectiveOrder selects the effective-order behaviour.
	EffectiveOrder EffectiveOrder
}

// BLEUScore is a BLEU score together with the sufficient statistics it was
// computed from, so that results can be audited and compared with
// sacreBLEU's output field by field.
type BLEUScore struct {
	// Score is BLEU on a 0..100 scale.
	Score float64
	// Counts[n-1] is the number of clipped matching n-grams. Counts and
	// Totals are the raw statistics; unlike sacreBLEU's, they do not include
	// the constant SmoothAddK adds.
	Counts []int
	// Totals[n-1] is the number of n-grams in the hypotheses.
	Totals []int
	// Precisions[n-1] is the (smoothed) n-gram precision, 0..100.
	Precisions []float64
	// BP is the brevity penalty.
	BP float64
	// SysLen is the total number of hypothesis tokens.
	SysLen int
	// RefLen is the effective reference length: the sum over sentences of
	// the reference length closest to the hypothesis length.
	RefLen int
}

// Ratio returns SysLen/RefLen, or 0 when RefLen is 0.
func (s BLEUScore) Ratio() float64 {
	if s.RefLen == 0 {
		return 0
	}
	return float64(s.SysLen) / float64(s.RefLen)
}

// String formats s like sacreBLEU's score line (without the signature):
//
//	BLEU = 84.97 97.2/90.1/84.8/81.0 (BP = 0.965 ratio = 0.966 hyp_len = 1512 ref_len = 1566)
func (s BLEUScore) String() string {
	prec := make([]string, len(s.Precisions))
	for i, p := range s.Precisions {
		prec[i] = fmt.Sprintf("%.1f", p)
	}
	return fmt.Sprintf("BLEU = %.2f %s (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		s.Score, strings.Join(prec, "/"), s.BP, s.Ratio(), s.SysLen, s.RefLen)
}

// bleuConfig is BLEUOptions resolved against the defaults.
type bleuConfig struct {
	tok         Tokenizer
	lowercase   bool
	smooth      SmoothMethod
	smoothValue float64
	maxOrder    int
	effective   bool
}

// resolve validates o and fills in defaults; sentence selects the default
// effective order.
func (o BLEUOptions) resolve(sentence bool) (bleuConfig, error) {
	tok, err := lookupTokenizer(o.Tokenize)
	if err != nil {
		return bleuConfig{}, err
	}
	c := bleuConfig{tok: tok, lowercase: o.Lowercase, smooth: o.Smooth,
		smoothValue: o.SmoothValue, maxOrder: o.MaxOrder}
	switch c.smooth {
	case "":
		c.smooth = SmoothExp
	case SmoothNone, SmoothFloor, SmoothAddK, SmoothExp:
	default:
		return bleuConfig{}, fmt.Errorf("unknown BLEU smoothing method %q (have none, floor, add-k, exp)", o.Smooth)
	}
	if c.smoothValue == 0 {
		c.smoothValue = smoothDefault(c.smooth)
	}
	if c.smoothValue < 0 || math.IsNaN(c.smoothValue) || math.IsInf(c.smoothValue, 0) {
		return bleuConfig{}, fmt.Errorf("BLEU smoothing value %v is not a finite non-negative number", o.SmoothValue)
	}
	switch {
	case c.maxOrder == 0:
		c.maxOrder = MaxNGramOrder
	case c.maxOrder < 0:
		return bleuConfig{}, fmt.Errorf("BLEU n-gram order %d is negative", o.MaxOrder)
	}
	switch o.EffectiveOrder {
	case EffectiveOrderDefault:
		c.effective = sentence
	case EffectiveOrderOn:
		c.effective = true
	case EffectiveOrderOff:
		c.effective = false
	default:
		return bleuConfig{}, fmt.Errorf("invalid EffectiveOrder %d", o.EffectiveOrder)
	}
	return c, nil
}

// preprocess lowercases (optionally), right-strips and tokenizes a
// sentence, and returns its tokens, as sacreBLEU does before counting.
func (c *bleuConfig) preprocess(s string) []string {
	if c.lowercase {
		s = pyLower(s)
	}
	return pyFields(c.tok.Tokenize(pyRStrip(s)))
}

// ngramCounts counts the n-grams of tokens: the result's element n-1 maps
// each n-gram, n = 1..maxOrder, to its count. An n-gram is keyed by its
// tokens joined with a space, which is unambiguous because tokens never
// contain whitespace.
func ngramCounts(tokens []string, maxOrder int) []map[string]int {
	counts := make([]map[string]int, maxOrder)
	for n := 1; n <= maxOrder; n++ {
		m := make(map[string]int)
		for i := 0; i+n <= len(tokens); i++ {
			m[strings.Join(tokens[i:i+n], " ")]++
		}
		counts[n-1] = m
	}
	return counts
}

// refInfo is the cached information about the references of one sentence:
// the maximum count of every n-gram over the references (per order), and
// their lengths.
type refInfo struct {
	ngrams []map[string]int
	lens   []int
}

// sentenceStats are the sufficient statistics of one sentence.
type sentenceStats struct {
	sysLen, refLen  int
	correct, totals []int
}

// closestRefLen returns the reference length closest to hypLen, preferring
// the shorter on ties (sacreBLEU's rule, from mteval-v13a).
func closestRefLen(hypLen int, refLens []int) int {
	closestDiff, closestLen := -1, -1
	for _, l := range refLens {
		diff := hypLen - l
		if diff < 0 {
			diff = -diff
		}
		if closestDiff == -1 || diff < closestDiff {
			closestDiff, closestLen = diff, l
		} else if diff == closestDiff && l < closestLen {
			closestLen = l
		}
	}
	return closestLen
}

// referenceInfo preprocesses the references of one sentence. As in
// sacreBLEU, empty reference strings are skipped, so a sentence may have
// fewer references than others; but at least one must remain.
func (c *bleuConfig) referenceInfo(refs []string) (refInfo, error) {
	var info refInfo
	for _, r := range refs {
		if r == "" {
			continue
		}
		toks := c.preprocess(r)
		info.lens = append(info.lens, len(toks))
		counts := ngramCounts(toks, c.maxOrder)
		if info.ngrams == nil {
			info.ngrams = counts
			continue
		}
		for n, m := range counts {
			for g, k := range m {
				if k > info.ngrams[n][g] {
					info.ngrams[n][g] = k
				}
			}
		}
	}
	if len(info.lens) == 0 {
		return refInfo{}, errors.New("all references are empty")
	}
	return info, nil
}

// segmentStats computes the clipped match statistics of one hypothesis.
func (c *bleuConfig) segmentStats(hyp string, ref refInfo) sentenceStats {
	toks := c.preprocess(hyp)
	st := sentenceStats{
		sysLen:  len(toks),
		refLen:  closestRefLen(len(toks), ref.lens),
		correct: make([]int, c.maxOrder),
		totals:  make([]int, c.maxOrder),
	}
	for n := 1; n <= c.maxOrder; n++ {
		if k := len(toks) - n + 1; k > 0 {
			st.totals[n-1] = k
		}
	}
	for n, m := range ngramCounts(toks, c.maxOrder) {
		for g, k := range m {
			st.correct[n] += min(k, ref.ngrams[n][g])
		}
	}
	return st
}

// CorpusBLEU computes corpus-level BLEU of hypotheses against references,
// exactly like sacreBLEU's corpus_bleu. references holds reference streams:
// references[k][i] is the k-th reference of hypothesis i, so every stream
// must have len(hypotheses) entries. An empty reference string means "no
// k-th reference for this sentence" (as in sacreBLEU), but every sentence
// needs at least one non-empty reference.
//
// Statistics are summed over the corpus before the score is formed, so
// CorpusBLEU is not the mean of sentence BLEU scores.
func CorpusBLEU(hypotheses []string, references [][]string, opts BLEUOptions) (BLEUScore, error) {
	c, err := opts.resolve(false)
	if err != nil {
		return BLEUScore{}, fmt.Errorf("metrics: corpus BLEU: %w", err)
	}
	if len(hypotheses) == 0 {
		return BLEUScore{}, errors.New("metrics: corpus BLEU: no hypotheses")
	}
	if len(references) == 0 {
		return BLEUScore{}, errors.New("metrics: corpus BLEU: no references")
	}
	for k, stream := range references {
		if len(stream) != len(hypotheses) {
			return BLEUScore{}, fmt.Errorf("metrics: corpus BLEU: reference stream %d has %d sentences, want %d (one per hypothesis)",
				k, len(stream), len(hypotheses))
		}
	}
	s, err := c.corpus(hypotheses, func(i int) []string {
		refs := make([]string, len(references))
		for k := range references {
			refs[k] = references[k][i]
		}
		return refs
	})
	if err != nil {
		return BLEUScore{}, fmt.Errorf("metrics: corpus BLEU: %w", err)
	}
	return s, nil
}

// SentenceBLEU computes the BLEU of one hypothesis against its references,
// exactly like sacreBLEU's sentence_bleu: by default with exp smoothing and
// the effective order, so that short sentences do not score 0.
func SentenceBLEU(hypothesis string, references []string, opts BLEUOptions) (BLEUScore, error) {
	c, err := opts.resolve(true)
	if err != nil {
		return BLEUScore{}, fmt.Errorf("metrics: sentence BLEU: %w", err)
	}
	if len(references) == 0 {
		return BLEUScore{}, errors.New("metrics: sentence BLEU: no references")
	}
	s, err := c.corpus([]string{hypothesis}, func(int) []string { return references })
	if err != nil {
		return BLEUScore{}, fmt.Errorf("metrics: sentence BLEU: %w", err)
	}
	return s, nil
}

// corpus accumulates the statistics of every hypothesis, whose references
// refsOf returns, and forms the score.
func (c *bleuConfig) corpus(hyps []string, refsOf func(i int) []string) (BLEUScore, error) {
	total := sentenceStats{correct: make([]int, c.maxOrder), totals: make([]int, c.maxOrder)}
	for i, h := range hyps {
		ref, err := c.referenceInfo(refsOf(i))
		if err != nil {
			return BLEUScore{}, fmt.Errorf("sentence %d: %w", i, err)
		}
		st := c.segmentStats(h, ref)
		total.sysLen += st.sysLen
		total.refLen += st.refLen
		for n := range total.correct {
			total.correct[n] += st.correct[n]
			total.totals[n] += st.totals[n]
		}
	}
	return c.compute(total), nil
}

// pyLogZero is the value sacreBLEU's my_log returns for log(0), so that a
// zero precision drives the score to exactly 0 instead of raising an error.
const pyLogZero = -9999999999

// compute forms the BLEU score from summed statistics, following
// sacreBLEU's compute_bleu step by step (including its floating-point
// operation order, so scores agree to the last bit where possible).
func (c *bleuConfig) compute(st sentenceStats) BLEUScore {
	s := BLEUScore{
		Counts:     append([]int(nil), st.correct...),
		Totals:     append([]int(nil), st.totals...),
		Precisions: make([]float64, c.maxOrder),
		SysLen:     st.sysLen,
		RefLen:     st.refLen,
	}
	switch {
	case st.sysLen >= st.refLen:
		s.BP = 1
	case st.sysLen > 0:
		s.BP = math.Exp(1 - float64(st.refLen)/float64(st.sysLen))
	}

	anyCorrect := false
	for _, n := range st.correct {
		if n != 0 {
			anyCorrect = true
		}
	}
	if !anyCorrect {
		return s
	}

	correct := make([]float64, c.maxOrder)
	totals := make([]float64, c.maxOrder)
	for n := range correct {
		correct[n] = float64(st.correct[n])
		totals[n] = float64(st.totals[n])
	}
	smoothMteval := 1.0
	effOrder := c.maxOrder
	for n := 1; n <= c.maxOrder; n++ {
		if c.smooth == SmoothAddK && n > 1 {
			correct[n-1] += c.smoothValue
			totals[n-1] += c.smoothValue
		}
		if totals[n-1] == 0 {
			break
		}
		if c.effective {
			effOrder = n
		}
		if correct[n-1] == 0 {
			switch c.smooth {
			case SmoothExp:
				smoothMteval *= 2
				s.Precisions[n-1] = 100 / (smoothMteval * totals[n-1])
			case SmoothFloor:
				s.Precisions[n-1] = 100 * c.smoothValue / totals[n-1]
			}
		} else {
			s.Precisions[n-1] = 100 * correct[n-1] / totals[n-1]
		}
	}
	var sum float64
	for _, p := range s.Precisions[:effOrder] {
		if p == 0 {
			sum += pyLogZero
		} else {
			sum += math.Log(p)
		}
	}
	s.Score = s.BP * math.Exp(sum/float64(effOrder))
	return s
}

// ReferenceStreams turns per-sentence reference lists (refs[i] = every
// reference of sentence i, any number) into the streams CorpusBLEU takes
// (streams[k][i] = k-th reference of sentence i), padding with empty
// strings, which BLEU skips as sacreBLEU does.
func ReferenceStreams(refs [][]string) [][]string {
	k := 0
	for _, r := range refs {
		k = max(k, len(r))
	}
	out := make([][]string, k)
	for j := range out {
		out[j] = make([]string, len(refs))
		for i, r := range refs {
			if j < len(r) {
				out[j][i] = r[j]
			}
		}
	}
	return out
}
