package metrics

import (
	"errors"
	"fmt"
)

// ConstantBLEU scores constant hypotheses — one sentence given for every
// item of a corpus — by corpus BLEU against that corpus's references, in
// time that depends on the sentence's length, not on the corpus's size.
// This is what makes an exhaustive search for the best constant output
// (the baseline a captioner must beat) affordable: every training caption
// tried on every training image.
//
// A ConstantBLEU is not safe for concurrent use: Score caches the summed
// reference lengths per hypothesis length.
//
// It relies on a constant hypothesis's statistics decomposing: for each of
// its n-grams g occurring k times, the clipped matches summed over the
// corpus are Σ_items min(k, maxref_i(g)) = Σ_{j=1..k} |{i : maxref_i(g) ≥ j}|,
// and those counts are indexed once. Scores equal CorpusBLEU's exactly.
type ConstantBLEU struct {
	c       bleuConfig
	items   int
	atLeast []map[string][]int // per order: n-gram → j-1 → items whose references hold it ≥ j times
	lens    [][]int            // each item's reference lengths
	refLen  map[int]int        // hypothesis length → summed closest reference length, filled lazily
}

// NewConstantBLEU indexes references, one slice of reference strings per
// corpus item (not streams: references[i] are item i's references). Empty
// strings are skipped as in CorpusBLEU; each item needs one non-empty.
func NewConstantBLEU(references [][]string, opts BLEUOptions) (*ConstantBLEU, error) {
	c, err := opts.resolve(false)
	if err != nil {
		return nil, fmt.Errorf("metrics: constant BLEU: %w", err)
	}
	if len(references) == 0 {
		return nil, errors.New("metrics: constant BLEU: no references")
	}
	x := &ConstantBLEU{c: c, items: len(references), atLeast: make([]map[string][]int, c.maxOrder),
		lens: make([][]int, len(references)), refLen: map[int]int{}}
	for n := range x.atLeast {
		x.atLeast[n] = map[string][]int{}
	}
	for i, refs := range references {
		info, err := c.referenceInfo(refs)
		if err != nil {
			return nil, fmt.Errorf("metrics: constant BLEU: item %d: %w", i, err)
		}
		x.lens[i] = info.lens
		for n, m := range info.ngrams {
			for g, k := range m {
				counts := x.atLeast[n][g]
				for len(counts) < k {
					counts = append(counts, 0)
				}
				for j := range k {
					counts[j]++
				}
				x.atLeast[n][g] = counts
			}
		}
	}
	return x, nil
}

// Score is the corpus BLEU of hyp given for every item.
func (x *ConstantBLEU) Score(hyp string) BLEUScore {
	toks := x.c.preprocess(hyp)
	refLen, ok := x.refLen[len(toks)]
	if !ok {
		for _, lens := range x.lens {
			refLen += closestRefLen(len(toks), lens)
		}
		x.refLen[len(toks)] = refLen
	}
	st := sentenceStats{sysLen: len(toks) * x.items, refLen: refLen,
		correct: make([]int, x.c.maxOrder), totals: make([]int, x.c.maxOrder)}
	for n := 1; n <= x.c.maxOrder; n++ {
		if k := len(toks) - n + 1; k > 0 {
			st.totals[n-1] = k * x.items
		}
	}
	for n, m := range ngramCounts(toks, x.c.maxOrder) {
		for g, k := range m {
			for _, c := range x.atLeast[n][g][:min(k, len(x.atLeast[n][g]))] {
				st.correct[n] += c
			}
		}
	}
	return x.c.compute(st)
}

// Constant is the result of BestConstant: the best constant output found,
// its score on the corpus it was chosen on, and the size of the search.
type Constant struct {
	Output     string
	Score      float64 // corpus BLEU of Output given for every item of the corpus
	Candidates int     // distinct outputs tried
	Items      int     // items each was tried on
}

// BestConstant searches exhaustively for the best constant output of a
// corpus: every distinct reference of every item is tried as the output
// for all items, scored by corpus BLEU against references, and the best
// wins (the first found on ties). The baseline a captioner must beat is
// this search over its training captions.
func BestConstant(references [][]string, opts BLEUOptions) (Constant, error) {
	index, err := NewConstantBLEU(references, opts)
	if err != nil {
		return Constant{}, err
	}
	best := Constant{Score: -1, Items: len(references)}
	seen := map[string]bool{}
	for _, refs := range references {
		for _, r := range refs {
			if r == "" || seen[r] {
				continue
			}
			seen[r] = true
			if s := index.Score(r).Score; s > best.Score {
				best.Output, best.Score = r, s
			}
		}
	}
	best.Candidates = len(seen)
	if best.Candidates == 0 {
		return Constant{}, errors.New("best constant: no non-empty reference to try")
	}
	return best, nil
}
