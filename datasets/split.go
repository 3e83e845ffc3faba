package datasets

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
)

// Deterministic train/dev splitting of sentence pairs.
//
// One English sentence often has several French translations. If those
// pairs were split at random, the model would be scored on dev sentences it
// had already seen (with another translation) in training. Instead, each
// pair goes to the side chosen by a hash of its normalised source sentence,
// so every translation of one source lands on the same side. A hash, unlike
// a shuffled list, needs no state: the split is the same on every run and
// machine, and adding or removing other pairs never moves a sentence.

// SplitOptions controls SplitPairs and SplitBy.
type SplitOptions struct {
	// DevFraction is the expected fraction of distinct source sentences
	// that go to dev, in [0, 1].
	DevFraction float64
	// Seed selects one of many independent splits; keep it fixed (and record
	// it) to reproduce a split.
	Seed uint64
}

// SplitKey is the normalised form of a sentence that decides its side:
// Normalize, lowercase, split punctuation off, join tokens with one space.
// "Who is he?", "who  is he ?" and "Who is he\u202f?" share a key. It does not
// depend on a language, so swapping the translation direction keys on the
// other column consistently.
func SplitKey(s string) string {
	return strings.Join(Tokenize(s, TokenizeOptions{Lower: true}), " ")
}

// IsDev reports whether the sentence with the given key (see SplitKey) goes
// to dev: the key is hashed with FNV-64a after the 8 little-endian bytes of
// seed, the hash is mixed with the SplitMix64 finaliser (FNV alone leaves the
// high bits of short strings poorly mixed), and its top 53 bits, read as a
// number u in [0, 1), select dev when u < frac.
func IsDev(key string, frac float64, seed uint64) bool {
	return splitUnit(key, seed) < frac
}

// splitUnit maps key and seed to a uniform number in [0, 1).
func splitUnit(key string, seed uint64) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(key))
	x := h.Sum64()
	// SplitMix64 finaliser.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// SplitBy splits items into train and dev by IsDev(key(item)), keeping
// their order on each side. key should return a normalised sentence, e.g.
// SplitKey of the source. A fraction outside [0, 1] is an error.
func SplitBy[T any](items []T, key func(T) string, opt SplitOptions) (train, dev []T, err error) {
	f := opt.DevFraction
	if math.IsNaN(f) || f < 0 || f > 1 {
		return nil, nil, fmt.Errorf("split: dev fraction %v is outside [0, 1]", f)
	}
	for _, it := range items {
		if IsDev(key(it), f, opt.Seed) {
			dev = append(dev, it)
		} else {
			train = append(train, it)
		}
	}
	return train, dev, nil
}

// SplitPairs splits sentence pairs by SplitKey of their source side, so all
// translations of one source sentence fall on the same side.
func SplitPairs(pairs []Pair, opt SplitOptions) (train, dev []Pair, err error) {
	return SplitBy(pairs, func(p Pair) string { return SplitKey(p.Src) }, opt)
}

// EvenlySpaced returns k items spread evenly over items, first included, in
// their order (all of them when k >= len(items)). A subset for a quick
// score keeps the whole list's mix this way: taking the first k would
// score only the shortest sentences of a file sorted by length.
func EvenlySpaced[T any](items []T, k int) []T {
	if k >= len(items) {
		return items
	}
	out := make([]T, max(k, 0))
	for i := range out {
		out[i] = items[i*len(items)/k]
	}
	return out
}
