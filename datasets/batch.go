package datasets

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// Length-bucketed, padded mini-batches of encoded sentence pairs.
//
// Shapes use N for the batch size (examples in the batch), S for the longest
// source in the batch and T for the longest target (with <bos> and <eos>).
// Sequences are batch-major, [N][S] and [N][T]; TimeMajor turns them into
// [S][N] / [T][N] for step-by-step RNN loops.
//
// Sorting a whole epoch by length would make every batch hold sentences of
// one length but would always present them in the same order; shuffling
// freely would waste most of each batch on padding. The usual compromise,
// used here: shuffle the examples, cut them into pools of PoolBatches
// batches, sort each pool by length, cut it into batches, and shuffle the
// order of all batches. Every randomness comes from the caller's
// *rand.Rand, so an epoch is reproducible from a seed.

// PadID is the id of <pad>, the first of Specials, used to fill batches.
const PadID = 0

// SeqBatch is one padded batch of examples.
type SeqBatch struct {
	Src    [][]int // [N][S] source ids; Src[n][s] = PadID for s >= SrcLen[n]
	SrcLen []int   // [N] true source lengths, >= 1
	Tgt    [][]int // [N][T] <bos> target ids <eos>; Tgt[n][t] = PadID for t >= TgtLen[n]
	TgtLen []int   // [N] true target lengths including <bos> and <eos>
	Index  []int   // [N] position of each example in the slice given to Batches
}

// Size is N, the number of examples in the batch.
func (b *SeqBatch) Size() int { return len(b.Src) }

// SrcMask is [N][S]: true at real source tokens, false at padding.
func (b *SeqBatch) SrcMask() [][]bool { return lengthMask(b.SrcLen, width(b.Src)) }

// TgtMask is [N][T]: true at real target tokens (with <bos> and <eos>),
// false at padding.
func (b *SeqBatch) TgtMask() [][]bool { return lengthMask(b.TgtLen, width(b.Tgt)) }

// DecoderIO returns the teacher-forcing input and the labels, both
// [N][T-1]: in[n] = Tgt[n][:T-1] (starting with <bos>) and
// out[n] = Tgt[n][1:] (ending with <eos>, then padding). Label position t is
// real when t < TgtLen[n]-1. The rows share memory with Tgt.
func (b *SeqBatch) DecoderIO() (in, out [][]int) {
	in = make([][]int, len(b.Tgt))
	out = make([][]int, len(b.Tgt))
	for n, row := range b.Tgt {
		if len(row) == 0 {
			continue
		}
		in[n] = row[:len(row)-1]
		out[n] = row[1:]
	}
	return in, out
}

// PadCount is the number of padding positions in Src and Tgt together, a
// measure of the work a batch wastes.
func (b *SeqBatch) PadCount() int {
	pad := 0
	for n := range b.Src {
		pad += len(b.Src[n]) - b.SrcLen[n] + len(b.Tgt[n]) - b.TgtLen[n]
	}
	return pad
}

// TimeMajor transposes batch-major [N][T] ids into time-major [T][N].
// Rows must have equal length, as in a SeqBatch.
func TimeMajor(seqs [][]int) [][]int {
	w := width(seqs)
	out := make([][]int, w)
	flat := make([]int, w*len(seqs))
	for t := range out {
		out[t] = flat[t*len(seqs) : (t+1)*len(seqs)]
		for n, row := range seqs {
			if t < len(row) {
				out[t][n] = row[t]
			}
		}
	}
	return out
}

// BatchOptions controls Batches.
type BatchOptions struct {
	// BatchSize is N, the examples per batch; only the last batch of an
	// epoch may be smaller. Must be positive.
	BatchSize int
	// PoolBatches is the bucketing window in batches: each pool of
	// PoolBatches*BatchSize shuffled examples is sorted by length before it
	// is cut into batches. 0 means 100; 1 means no bucketing (plain random
	// batches).
	PoolBatches int
}

// Batches cuts one epoch of examples into padded batches: every example
// appears in exactly one batch. With rng nil nothing is shuffled (examples
// are pooled in the given order and batches come out in pool order), which
// suits evaluation; otherwise the examples and then the batch order are
// shuffled with rng, so the same seed gives the same epoch.
//
// An example with an empty source or a target shorter than 2 (<bos> <eos>)
// is an error naming its index and line, as is a non-positive batch size.
func Batches(examples []Example, opt BatchOptions, rng *rand.Rand) ([]SeqBatch, error) {
	if opt.BatchSize <= 0 {
		return nil, fmt.Errorf("batches: batch size %d must be positive", opt.BatchSize)
	}
	pool := opt.PoolBatches
	if pool <= 0 {
		pool = 100
	}
	for i, e := range examples {
		if len(e.Src) == 0 || len(e.Tgt) < 2 {
			return nil, fmt.Errorf("batches: example %d (line %d) has source length %d and target length %d; want >= 1 and >= 2 (<bos> <eos>)", i, e.Line, len(e.Src), len(e.Tgt))
		}
	}
	order := make([]int, len(examples))
	for i := range order {
		order[i] = i
	}
	if rng != nil {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	poolSize := pool * opt.BatchSize
	var groups [][]int
	for start := 0; start < len(order); start += poolSize {
		p := order[start:min(start+poolSize, len(order))]
		if pool > 1 {
			sort.SliceStable(p, func(a, b int) bool {
				ea, eb := examples[p[a]], examples[p[b]]
				if len(ea.Src) != len(eb.Src) {
					return len(ea.Src) < len(eb.Src)
				}
				return len(ea.Tgt) < len(eb.Tgt)
			})
		}
		for s := 0; s < len(p); s += opt.BatchSize {
			groups = append(groups, p[s:min(s+opt.BatchSize, len(p))])
		}
	}
	if rng != nil {
		rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	}
	batches := make([]SeqBatch, len(groups))
	for i, g := range groups {
		batches[i] = makeBatch(examples, g)
	}
	return batches, nil
}

// makeBatch pads the examples at the given indices into one batch.
func makeBatch(examples []Example, idx []int) SeqBatch {
	b := SeqBatch{
		Src: make([][]int, len(idx)), SrcLen: make([]int, len(idx)),
		Tgt: make([][]int, len(idx)), TgtLen: make([]int, len(idx)),
		Index: append([]int(nil), idx...),
	}
	s, t := 0, 0
	for _, i := range idx {
		s = max(s, len(examples[i].Src))
		t = max(t, len(examples[i].Tgt))
	}
	srcFlat := make([]int, len(idx)*s) // zero is PadID
	tgtFlat := make([]int, len(idx)*t)
	for n, i := range idx {
		e := examples[i]
		b.Src[n] = srcFlat[n*s : (n+1)*s : (n+1)*s]
		b.Tgt[n] = tgtFlat[n*t : (n+1)*t : (n+1)*t]
		copy(b.Src[n], e.Src)
		copy(b.Tgt[n], e.Tgt)
		b.SrcLen[n] = len(e.Src)
		b.TgtLen[n] = len(e.Tgt)
	}
	return b
}

// width is the common row length of a padded [N][W] matrix (0 when empty).
func width(rows [][]int) int {
	w := 0
	for _, r := range rows {
		w = max(w, len(r))
	}
	return w
}

// lengthMask is [N][w]: row n is true at positions < lens[n].
func lengthMask(lens []int, w int) [][]bool {
	out := make([][]bool, len(lens))
	flat := make([]bool, len(lens)*w)
	for n, l := range lens {
		out[n] = flat[n*w : (n+1)*w : (n+1)*w]
		for t := 0; t < l && t < w; t++ {
			out[n][t] = true
		}
	}
	return out
}
