package datasets

import (
	"math/rand/v2"
	"slices"
	"sort"
)

// Batches of examples of similar length, so that little of a batch is
// padding (sequences are run as time-major matrices, and a recurrent step
// costs the same for a padded row as for a real one).

// PadID is the id of <pad>, the first of Specials, used to fill batches.
const PadID = 0

// The ids of the other reserved tokens, fixed by the order of Specials in
// every word-level vocabulary.
const (
	BOSID = 1
	EOSID = 2
	UNKID = 3
)

// Buckets groups items (sentences, clips) by length for batching: items
// whose lengths fall in the same window of Width share a bucket (Width 1:
// equal lengths only, no padding at all).
type Buckets struct {
	width   int
	lengths []int
	byKey   map[int][]int // bucket key → item indices, in order
	keys    []int         // sorted
}

// NewBuckets buckets the items of the given lengths by windows of width
// (at least 1).
func NewBuckets(lengths []int, width int) *Buckets {
	b := &Buckets{width: max(width, 1), lengths: lengths, byKey: map[int][]int{}}
	for i, l := range lengths {
		k := b.key(l)
		if b.byKey[k] == nil {
			b.keys = append(b.keys, k)
		}
		b.byKey[k] = append(b.byKey[k], i)
	}
	sort.Ints(b.keys)
	return b
}

func (b *Buckets) key(length int) int { return (length - 1) / b.width }

// Draw returns n item indices for one training batch: an anchor drawn
// uniformly from all items (so that every item is equally likely to lead a
// batch, whatever its bucket's size), then n-1 items drawn with
// replacement from the anchor's bucket. Everything comes from rng, so a run
// resumed from a checkpoint of rng's state draws the same batches.
func (b *Buckets) Draw(rng *rand.Rand, n int) []int {
	out := make([]int, n)
	out[0] = rng.IntN(len(b.lengths))
	same := b.byKey[b.key(b.lengths[out[0]])]
	for i := 1; i < n; i++ {
		out[i] = same[rng.IntN(len(same))]
	}
	return out
}

// Groups cuts every item into batches of at most size, each within one
// bucket, in order of bucket then position: the deterministic batching of
// an evaluation.
func (b *Buckets) Groups(size int) [][]int {
	var out [][]int
	for _, k := range b.keys {
		items := b.byKey[k]
		for lo := 0; lo < len(items); lo += size {
			out = append(out, slices.Clip(items[lo:min(lo+size, len(items))]))
		}
	}
	return out
}

// SortedGroups cuts the items, ordered by length (ties in input order),
// into consecutive groups of at most size: the batching of inference,
// where every group is full but the last, and each pads only to the
// longest of similar lengths. Grouping a few items by bucket instead would
// split them into many small batches, which a model runs far less
// efficiently than one padded batch.
func SortedGroups(lengths []int, size int) [][]int {
	size = max(size, 1)
	order := make([]int, len(lengths))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return lengths[a] - lengths[b] })
	var out [][]int
	for lo := 0; lo < len(order); lo += size {
		out = append(out, slices.Clip(order[lo:min(lo+size, len(order))]))
	}
	return out
}
