package tasks

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/metrics"
)

// DecodeOptions are how a request asks for its output sequences to be
// made (translation, captioning): eval.decode's values, overridden per
// request by -mode predict's caller or a server's client.
type DecodeOptions struct {
	Strategy      string  `json:"strategy"` // greedy, sample, beam or mbr
	Beam          int     `json:"beam"`
	NBest         int     `json:"n_best"` // hypotheses returned per input, the chosen one first
	LengthPenalty float64 `json:"length_penalty"`
	MaxLen        int     `json:"max_len"`
	Temperature   float64 `json:"temperature"`
	// Precision is the decoder's products': "float32", or "bf16" for
	// bfloat16 operands (decoders.SearchOptions.BF16).
	Precision string `json:"precision"`
	// Workers is how many groups of the inputs a translation's greedy and
	// beam searches decode at once, each on a copy of the model (on its
	// weights) and a core of its own: 0 means one per core. Sampling stays
	// on one, as it draws from one generator in order; captioning decodes
	// on one. A server, whose copies of the model already keep the cores
	// busy, sets 1.
	Workers int `json:"-"`
}

// Precisions are the values of DecodeOptions.Precision (eval.decode.precision).
var Precisions = []string{"float32", "bf16"}

// MaxBeam caps a request's beam width: beyond it a search costs much and
// gains nothing.
const MaxBeam = 64

// decodeDefaults are eval.decode's values as DecodeOptions.
func decodeDefaults(d config.Decode) DecodeOptions {
	return DecodeOptions{Strategy: d.Strategy, Beam: d.Beam, NBest: 1, LengthPenalty: d.LengthPenalty, MaxLen: d.MaxLen, Temperature: d.Temperature, Precision: d.Precision}
}

// check reports the first option out of range as an InputError naming
// its field (decode.<name>).
func (o DecodeOptions) check() error {
	bad := func(field, format string, args ...any) error {
		return inputErrorf("decode."+field, format, args...)
	}
	switch {
	case !contains(decoding.Strategies, o.Strategy):
		return bad("strategy", "%q is not one of %v", o.Strategy, decoding.Strategies)
	case o.Beam < 1 || o.Beam > MaxBeam:
		return bad("beam", "%d is outside 1..%d", o.Beam, MaxBeam)
	case o.NBest < 1:
		return bad("n_best", "%d is below 1", o.NBest)
	case o.NBest > 1 && o.Strategy != decoding.StrategyBeam && o.Strategy != decoding.StrategyMBR:
		return bad("n_best", "%d alternatives need strategy beam or mbr", o.NBest)
	case o.NBest > o.Beam:
		return bad("n_best", "%d is more than the beam keeps (%d)", o.NBest, o.Beam)
	case o.MaxLen < 1 || o.MaxLen > config.MaxDecodeLen:
		return bad("max_len", "%d is outside 1..%d", o.MaxLen, config.MaxDecodeLen)
	case o.LengthPenalty < 0 || o.LengthPenalty > 10:
		return bad("length_penalty", "%g is outside 0..10", o.LengthPenalty)
	case !(o.Temperature > 0 && o.Temperature <= 100):
		return bad("temperature", "%g is outside (0, 100]", o.Temperature)
	case !contains(Precisions, o.Precision):
		return bad("precision", "%q is not one of %v", o.Precision, Precisions)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nBest is a search's n-best list as texts and scores, the chosen
// hypothesis first, when opt asks for alternatives (nil otherwise).
func nBest(list []decoding.Hypothesis, opt DecodeOptions, text func(ids []int) string) []Scored {
	if opt.NBest <= 1 {
		return nil
	}
	out := make([]Scored, len(list))
	for i, h := range list {
		out[i] = Scored{Text: text(h.Tokens), Score: h.Score}
	}
	return out
}

// search converts the options for package decoding. MBR's utility is
// sentence BLEU over the token ids: the consensus of the probable outputs
// rather than the single most probable one.
func (o DecodeOptions) search() decoding.Options {
	return decoding.Options{Strategy: o.Strategy, Beam: o.Beam, LengthPenalty: o.LengthPenalty, MaxLen: o.MaxLen,
		Temperature: o.Temperature, NBest: o.NBest, Utility: idBLEU}
}

// idBLEU is the sentence BLEU of hypothesis a against reference b, both
// token ids: BLEU over the ids is BLEU over the words they stand for.
func idBLEU(a, b []int) float64 {
	s, _ := metrics.SentenceBLEU(idText(a), []string{idText(b)}, metrics.BLEUOptions{Tokenize: metrics.TokenizeNone})
	return s.Score
}

// maxSearchRows bounds the hypotheses one beam search holds (each keeps
// its decoder state, a copy of its item's attention keys and a row of
// log-probabilities over the vocabulary).
const maxSearchRows = 512

// batchSize is how many items one search holds: batch, and for the
// strategies that keep a beam per item no more than maxSearchRows
// hypotheses. A search over more items multiplies larger matrices per
// step: 64 sentences in one beam search of width 5 translate 27% faster
// than in six searches of 12 (BenchmarkSeq2SeqDecode/beam).
func (o DecodeOptions) batchSize(batch int) int {
	if o.Strategy == decoding.StrategyBeam || o.Strategy == decoding.StrategyMBR {
		return max(1, min(batch, maxSearchRows/o.Beam))
	}
	return batch
}

// minShare is the fewest items a group is split down to so that more
// cores decode at once: smaller searches multiply too few rows per step.
const minShare = 8

// workers is how many groups of items opt decodes at once.
func (o DecodeOptions) workers() int {
	if o.Strategy == decoding.StrategySample {
		return 1
	}
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// splitGroups halves the largest group (in its length order) until there
// are workers groups or halves would hold fewer than minShare items, so
// that a batch smaller than workers searches still fills the cores.
func splitGroups(groups [][]int, workers int) [][]int {
	for len(groups) > 0 && len(groups) < workers {
		largest := 0
		for i, g := range groups {
			if len(g) > len(groups[largest]) {
				largest = i
			}
		}
		g := groups[largest]
		if len(g) < 2*minShare {
			break
		}
		half := len(g) / 2
		groups = slices.Insert(groups, largest+1, g[half:])
		groups[largest] = g[:half:half]
	}
	return groups
}

// forEachGroup calls decode(worker, group) for every group, on up to
// workers goroutines that take the next group as they finish one (a
// group's result depends on it alone, not on the worker), and returns the
// first error.
func forEachGroup(groups [][]int, workers int, decode func(worker int, group []int) error) error {
	workers = max(1, min(workers, len(groups)))
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(groups) || errs[w] != nil {
					return
				}
				errs[w] = decode(w, groups[i])
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// idText writes token ids as space-separated numbers.
func idText(ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(id))
	}
	return b.String()
}

// DecodeRequest is a request's changes to the decoding defaults: the
// fields it gives (non-nil) replace eval.decode's.
type DecodeRequest struct {
	Strategy      *string  `json:"strategy"`
	Beam          *int     `json:"beam"`
	NBest         *int     `json:"n_best"`
	LengthPenalty *float64 `json:"length_penalty"`
	MaxLen        *int     `json:"max_len"`
	Temperature   *float64 `json:"temperature"`
	Precision     *string  `json:"precision"`
}

// With returns o changed by r, checked.
func (o DecodeOptions) With(r DecodeRequest) (DecodeOptions, error) {
	if r.Strategy != nil {
		o.Strategy = *r.Strategy
	}
	if r.Beam != nil {
		o.Beam = *r.Beam
	}
	if r.NBest != nil {
		o.NBest = *r.NBest
	}
	if r.LengthPenalty != nil {
		o.LengthPenalty = *r.LengthPenalty
	}
	if r.MaxLen != nil {
		o.MaxLen = *r.MaxLen
	}
	if r.Temperature != nil {
		o.Temperature = *r.Temperature
	}
	if r.Precision != nil {
		o.Precision = *r.Precision
	}
	return o, o.check()
}

// String describes the options for a log line.
func (o DecodeOptions) String() string {
	return fmt.Sprintf("%s (beam %d, n-best %d, max_len %d, %s)", o.Strategy, o.Beam, o.NBest, o.MaxLen, o.Precision)
}
