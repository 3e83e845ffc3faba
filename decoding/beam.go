package decoding

import (
	"fmt"
	"math"
	"slices"
)

// Beam runs beam search for batch items at once and returns, for every item
// in item order, up to width hypotheses, best first.
//
// Each item keeps width live hypotheses, ranked by log-probability. At every
// step the search ranks all one-token extensions of an item's live
// hypotheses; an extension that emits eos and ranks among the best width
// moves to the item's finished list, and the best width extensions that do
// not emit eos become the new live hypotheses. Ties are broken by hypothesis
// rank, then by token id, so results are deterministic.
//
// Finished hypotheses are scored by LogProb/L^α, where L counts the generated
// tokens including eos and α is lengthPenalty: 0 ranks by the raw
// log-probability sum, which favours short outputs; 1 ranks by the average
// log-probability per token. An item stops when it has width finished
// hypotheses, when no live hypothesis can reach a better score than its best
// finished one within maxLen steps, or after maxLen steps. Its result lists
// the finished hypotheses by Score; if fewer than width finished within
// maxLen steps, the best live hypotheses follow, cut off (Finished false,
// scored by the same formula with L = len(Tokens)).
//
// The model starts with one state per item; the first Reorder expands it to
// up to width states per item. Live hypotheses are laid out item by item,
// each item's best first, and items that stop are dropped from the model.
// Width 1 gives the same sequences as [Greedy] (up to ties in floating-point
// sums).
func Beam(m Stepper, batch, bos, eos, maxLen, width int, lengthPenalty float64) ([][]Hypothesis, error) {
	if err := checkArgs(batch, eos, maxLen); err != nil {
		return nil, err
	}
	if width < 1 {
		return nil, fmt.Errorf("%w: beam width %d < 1", ErrInvalidArgument, width)
	}
	if math.IsNaN(lengthPenalty) || math.IsInf(lengthPenalty, 0) {
		return nil, fmt.Errorf("%w: length penalty %v", ErrInvalidArgument, lengthPenalty)
	}
	b := &beam{
		s:     newStepper(m, eos),
		eos:   eos,
		max:   maxLen,
		width: width,
		alpha: lengthPenalty,
		items: make([]beamItem, batch),
	}
	out := make([][]Hypothesis, batch)
	if batch == 0 {
		return out, nil
	}
	if maxLen == 0 {
		for i := range out {
			out[i] = []Hypothesis{{Score: b.score(0, 0)}}
		}
		return out, nil
	}
	for i := range b.items {
		b.items[i].live = []hyp{{}} // the empty prefix, fed bos
	}
	if err := b.run(bos); err != nil {
		return nil, err
	}
	for i := range b.items {
		out[i] = b.items[i].result(b)
	}
	return out, nil
}

// node is one token of a hypothesis. Hypotheses that share a prefix share its
// nodes, so extending a hypothesis costs one node however long it is.
type node struct {
	parent *node
	tok    int
	att    []float64 // attention of the step that produced tok, or nil
	len    int       // number of nodes from the root to here
}

// hyp is a live or finished hypothesis: its last node (nil for the empty
// prefix) and its log-probability.
type hyp struct {
	last    *node
	logProb float64
	score   float64 // ranking score, for finished hypotheses
}

type beamItem struct {
	live     []hyp // best first; nil once the item has stopped
	finished []hyp // in the order they finished
	done     bool
	cut      []hyp // live hypotheses at maxLen, if the item ran out of steps
}

// candidate is a one-token extension of a live hypothesis.
type candidate struct {
	logProb float64
	hyp     int // rank of the extended hypothesis in its item's live list
	tok     int
}

// better reports whether a ranks before b: higher log-probability, then lower
// hypothesis rank, then lower token id.
func (a candidate) better(b candidate) bool {
	if a.logProb != b.logProb {
		return a.logProb > b.logProb
	}
	if a.hyp != b.hyp {
		return a.hyp < b.hyp
	}
	return a.tok < b.tok
}

type beam struct {
	s     *stepper
	eos   int
	max   int
	width int
	alpha float64
	items []beamItem
}

// score is the length-normalised score of a hypothesis of n generated tokens.
func (b *beam) score(logProb float64, n int) float64 {
	if b.alpha == 0 || n == 0 {
		return logProb
	}
	return logProb / math.Pow(float64(n), b.alpha)
}

// run steps the model until every item has stopped.
func (b *beam) run(bos int) error {
	var (
		tokens  []int
		prior   []float64 // log-probability of each live hypothesis
		rowOf   []int     // rowOf[i] is the model state of item i's first live hypothesis
		reorder []int
		cands   []candidate
	)
	tk, fast := b.s.m.(TopKStepper)
	for t := 1; ; t++ {
		// Feed the last token of every live hypothesis, item by item.
		tokens, prior, rowOf = tokens[:0], prior[:0], rowOf[:0]
		for i := range b.items {
			rowOf = append(rowOf, len(tokens))
			for _, h := range b.items[i].live {
				if h.last == nil {
					tokens = append(tokens, bos)
				} else {
					tokens = append(tokens, h.last.tok)
				}
				prior = append(prior, h.logProb)
			}
		}
		// Each state's row holds per of its extensions: all V tokens, or
		// (from StepTopK) its best 2·width, which hold every extension that
		// can rank among its item's best 2·width.
		var (
			lp   []float64
			best []int // the tokens of lp's values, nil for 0…V-1
			att  [][]float64
			err  error
		)
		if fast {
			best, lp, att, err = b.s.stepTopK(tk, tokens, prior, 2*b.width)
		} else {
			lp, att, err = b.s.step(tokens)
		}
		if err != nil {
			return err
		}
		per := len(lp) / len(tokens)
		reorder = reorder[:0]
		active := 0
		for i := range b.items {
			it := &b.items[i]
			if it.done {
				continue
			}
			r0 := rowOf[i]
			rows := (r0 + len(it.live)) * per
			var toks []int
			if best != nil {
				toks = best[r0*per : rows]
			}
			cands = b.topK(cands[:0], it.live, lp[r0*per:rows], toks, per)
			live := make([]hyp, 0, b.width)
			for rank, c := range cands {
				isEOS := c.tok == b.eos
				if isEOS && rank >= b.width || !isEOS && len(live) == b.width {
					continue
				}
				parent := it.live[c.hyp]
				n := &node{parent: parent.last, tok: c.tok, len: 1}
				if parent.last != nil {
					n.len += parent.last.len
				}
				if att != nil {
					n.att = clone(att[r0+c.hyp])
				}
				h := hyp{last: n, logProb: c.logProb}
				if isEOS {
					h.score = b.score(h.logProb, n.len)
					it.finished = append(it.finished, h)
					continue
				}
				live = append(live, h)
				reorder = append(reorder, r0+c.hyp)
			}
			it.live = live
			if b.stop(it, t) {
				it.done = true
				reorder = reorder[:len(reorder)-len(live)]
				if t == b.max {
					it.cut = live
				}
				it.live = nil
				continue
			}
			active++
		}
		if active == 0 {
			return nil
		}
		if err := b.s.reorder(reorder, len(tokens)); err != nil {
			return err
		}
	}
}

// stop reports whether an item whose live hypotheses have t tokens is done.
func (b *beam) stop(it *beamItem, t int) bool {
	if t == b.max || len(it.live) == 0 || len(it.finished) >= b.width {
		return true
	}
	if len(it.finished) == 0 {
		return false
	}
	best := math.Inf(-1)
	for _, h := range it.finished {
		best = max(best, h.score)
	}
	// Log-probabilities only fall as a hypothesis grows, but normalising by
	// its length can raise its score; a live hypothesis will end with between
	// t+1 and maxLen tokens, and its score is monotone in the length, so the
	// best it can reach is at one of the two ends. The best live hypothesis
	// bounds them all, since they have the same length.
	lp := it.live[0].logProb
	bound := max(b.score(lp, t+1), b.score(lp, b.max))
	return bound <= best
}

// topK returns, best first, the min(2*width, len(lp)) best extensions of the
// live hypotheses, whose rows of per next-token log-probabilities are lp, for
// the tokens toks (nil: 0…per-1). At most width of the extensions can emit
// eos (one per hypothesis), so among them at least width do not, enough to
// refill the beam.
func (b *beam) topK(dst []candidate, live []hyp, lp []float64, toks []int, per int) []candidate {
	k := min(2*b.width, len(lp))
	worst := math.Inf(-1) // score of dst[k-1] once dst is full
	for h, parent := range live {
		for j, x := range lp[h*per : (h+1)*per] {
			s := parent.logProb + x
			if len(dst) == k && s < worst {
				continue // the common case, kept cheap
			}
			tok := j
			if toks != nil {
				tok = toks[h*per+j]
			}
			c := candidate{logProb: s, hyp: h, tok: tok}
			if len(dst) == k {
				if !c.better(dst[k-1]) {
					continue
				}
				dst = dst[:k-1]
			}
			// Insert c after the candidates that rank before it.
			at, _ := slices.BinarySearchFunc(dst, c, func(a, c candidate) int {
				if a.better(c) {
					return -1
				}
				return 1
			})
			dst = slices.Insert(dst, at, c)
			if len(dst) == k {
				worst = dst[k-1].logProb
			}
		}
	}
	return dst
}

// result lists an item's hypotheses: finished by score, then cut-off ones, up
// to width in all.
func (it *beamItem) result(b *beam) []Hypothesis {
	slices.SortStableFunc(it.finished, func(x, y hyp) int {
		switch {
		case x.score > y.score:
			return -1
		case x.score < y.score:
			return 1
		}
		return 0
	})
	out := make([]Hypothesis, 0, b.width)
	for _, h := range it.finished {
		if len(out) == b.width {
			break
		}
		out = append(out, h.materialize(b.s.att != nil, true, b))
	}
	for _, h := range it.cut {
		if len(out) == b.width {
			break
		}
		out = append(out, h.materialize(b.s.att != nil, false, b))
	}
	return out
}

// materialize walks a hypothesis's nodes back to the root.
func (h hyp) materialize(withAtt, finished bool, b *beam) Hypothesis {
	n := 0
	if h.last != nil {
		n = h.last.len
	}
	out := Hypothesis{LogProb: h.logProb, Score: b.score(h.logProb, n), Finished: finished}
	if withAtt {
		out.Attention = make([][]float64, n)
	}
	nt := n
	if finished {
		nt-- // drop eos
	}
	if nt > 0 {
		out.Tokens = make([]int, nt)
	}
	for p, i := h.last, n-1; p != nil; p, i = p.parent, i-1 {
		if i < nt {
			out.Tokens[i] = p.tok
		}
		if withAtt {
			out.Attention[i] = p.att
		}
	}
	return out
}
