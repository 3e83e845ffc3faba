package tokenizers

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// bpe is byte-pair encoding (Sennrich et al., 2016) with SentencePiece's
// treatment of whitespace and its byte fallback.
//
// Whitespace: a space is the character "▁" (U+2581) inside pieces, so pieces
// keep word boundaries and Decode needs no rules: it concatenates, turns
// every "▁" back into a space and drops the one space Encode put before the
// text (so a word starts with "▁" at the beginning of a sentence as
// elsewhere). A literal "▁" in the input is never part of the alphabet, so it
// is always spelled with byte pieces and cannot be mistaken for a space.
//
// Byte fallback: a character outside the learned alphabet becomes the pieces
// of its UTF-8 bytes, "<0xE2>" "<0x96>" "<0x81>", which are always in the
// vocabulary. So nothing is lost and Decode(Encode(x)) equals the normalised x
// exactly, for any x. Pieces spelled like "<…>" are reserved for byte pieces
// and the caller's special tokens (<unk>, <bos>, ...): no merge makes one.
//
// Ids: 0–255 are the byte pieces, then the alphabet (most frequent character
// first), then the merges in the order they were learned.
type bpe struct {
	opts Options
	norm func(string) string

	pieces []string         // id → piece
	alpha  map[rune]int32   // character → id; the space is under ' '
	ranks  map[uint64]int32 // pair(left, right) → merge rank
	merges [][2]int32       // rank → the pair it merges; its piece id is firstMerge+rank

	firstMerge int32

	// cache maps a segment (see segments) to the ids of its pieces: most
	// words recur, so most segments are looked up, not merged again.
	mu    sync.RWMutex
	cache map[string][]int32
}

// maxCached bounds the encoding cache; past it the cache starts afresh, so
// memory stays bounded on endless streams of new words.
const maxCached = 1 << 17

// spaceMark stands for a space inside pieces.
const spaceMark = '▁'

// pair packs two piece ids into a map key.
func pair(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bytePiece returns the piece of byte v, "<0xE2>" for 0xE2.
func bytePiece(v int) string { return fmt.Sprintf("<0x%02X>", v) }

// byteValue returns the byte a piece spells, if it is a byte piece.
func byteValue(p string) (byte, bool) {
	if len(p) != 6 || p[:3] != "<0x" || p[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexDigit(p[3])
	lo, ok2 := hexDigit(p[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// reserved reports whether a piece has the "<…>" shape kept for byte pieces
// and special tokens.
func reserved(p string) bool {
	return len(p) > 2 && p[0] == '<' && p[len(p)-1] == '>'
}

// Character classes for segments.
const (
	classNone = iota
	classSpace
	classLetter
	classDigit
	classOther
)

// segments calls f on the consecutive segments of s that learning counts and
// encoding caches; merges never cross a segment boundary. A space starts a
// segment and belongs to it; otherwise a segment ends where the character
// class changes between letters, digits and everything else (punctuation,
// symbols, emoji, tabs), as SentencePiece splits by script and number. A
// combining mark stays with the character before it.
func segments(s string, f func(string)) {
	start, prev := 0, classNone
	for i, r := range s {
		c := classOther
		switch {
		case r == ' ':
			if i > start {
				f(s[start:i])
			}
			start, prev = i, classSpace
			continue
		case unicode.IsMark(r) && prev != classNone && prev != classSpace:
			c = prev
		case unicode.IsLetter(r) || unicode.IsMark(r):
			c = classLetter
		case unicode.IsNumber(r):
			c = classDigit
		}
		if prev != classNone && prev != classSpace && c != prev {
			f(s[start:i])
			start = i
		}
		prev = c
	}
	if start < len(s) {
		f(s[start:])
	}
}

// symbols returns the initial symbols of a segment: alphabet ids, or for a
// character outside the alphabet -(r+1), which only byte pieces can spell.
func (t *bpe) symbols(dst []int32, seg string) []int32 {
	for _, r := range seg {
		if id, ok := t.alpha[r]; ok {
			dst = append(dst, id)
		} else {
			dst = append(dst, -int32(r)-1)
		}
	}
	return dst
}

// learnBPE learns a bpe tokenizer from texts.
//
// The algorithm is the standard incremental one: count each distinct segment
// once with its frequency; count every adjacent pair of symbols over those
// counts and index which segments hold it; then repeatedly take the most
// frequent pair from a priority queue, merge it in only the segments that
// hold it, and update just the counts of the pairs around each merged
// occurrence. Queue entries whose count went stale are refreshed when they
// surface. Ties go to the pair whose left piece, then right piece, sorts
// first, so learning is deterministic.
func learnBPE(o Options, texts []string) (Tokenizer, error) {
	f, err := o.normalizer()
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int)
	for _, text := range texts {
		if s := f(text); s != "" {
			segments(" "+s, func(seg string) { counts[seg]++ })
		}
	}
	if len(counts) == 0 {
		return nil, errors.New("no training text")
	}
	// The order of segs (map order) changes nothing learned: it only orders
	// the segments a merge rewrites, and the queue's order is total.
	segs := make([]string, 0, len(counts))
	for seg := range counts {
		segs = append(segs, seg)
	}
	alphabet := chooseAlphabet(segs, counts, o.CharacterCoverage)
	if need := 256 + len(alphabet); o.VocabSize < need {
		return nil, fmt.Errorf("vocabulary size %d is too small: the 256 byte pieces and the %d base characters of the training text need %d (raise VocabSize or lower CharacterCoverage)",
			o.VocabSize, len(alphabet), need)
	}
	t := newBPE(o, f, alphabet)

	l := learner{t: t, count: make(map[uint64]int64), where: make(map[uint64][]int32)}
	l.words = make([][]int32, len(segs))
	l.freq = make([]int64, len(segs))
	for i, seg := range segs {
		w := t.symbols(nil, seg)
		l.words[i], l.freq[i] = w, int64(counts[seg])
		for j := 0; j+1 < len(w); j++ {
			l.add(w[j], w[j+1], int32(i), l.freq[i])
		}
	}
	l.queue.pieces = &t.pieces
	for p, n := range l.count {
		l.queue.items = append(l.queue.items, queued{pair: p, count: n})
	}
	heap.Init(&l.queue)

	for len(t.pieces) < o.VocabSize && l.queue.Len() > 0 {
		top := heap.Pop(&l.queue).(queued)
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		if reserved(t.pieces[a] + t.pieces[b]) {
			continue
		}
		n := l.count[top.pair]
		if n <= 0 {
			continue
		}
		if n != top.count {
			heap.Push(&l.queue, queued{pair: top.pair, count: n})
			continue
		}
		l.merge(a, b)
	}
	t.cache = make(map[string][]int32)
	return t, nil
}

// chooseAlphabet returns the base characters: the most frequent ones until
// they cover the given fraction of all character occurrences (all if
// coverage is 0 or 1), by decreasing frequency, then by code point. The space
// is always in; a literal "▁" never is (see bpe).
func chooseAlphabet(segs []string, counts map[string]int, coverage float64) []rune {
	freq := make(map[rune]int64)
	var total int64
	for _, seg := range segs {
		n := int64(counts[seg])
		for _, r := range seg {
			if r != spaceMark {
				freq[r] += n
				total += n
			}
		}
	}
	alphabet := make([]rune, 0, len(freq))
	for r := range freq {
		alphabet = append(alphabet, r)
	}
	slices.SortFunc(alphabet, func(x, y rune) int {
		if freq[x] != freq[y] {
			if freq[x] > freq[y] {
				return -1
			}
			return 1
		}
		return int(x - y)
	})
	if coverage == 0 || coverage == 1 {
		return alphabet
	}
	var covered int64
	for i, r := range alphabet {
		if float64(covered) >= coverage*float64(total) && r != ' ' {
			// Keep the space whatever its rank: every text starts with one.
			kept := slices.DeleteFunc(alphabet[i:], func(r rune) bool { return r != ' ' })
			return append(alphabet[:i], kept...)
		}
		covered += freq[r]
	}
	return alphabet
}

// newBPE returns a bpe tokenizer with the byte pieces and the given alphabet
// and no merges yet.
func newBPE(o Options, f func(string) string, alphabet []rune) *bpe {
	t := &bpe{
		opts:   o,
		norm:   f,
		pieces: make([]string, 0, max(o.VocabSize, 256+len(alphabet))),
		alpha:  make(map[rune]int32, len(alphabet)),
		ranks:  make(map[uint64]int32),
	}
	for v := range 256 {
		t.pieces = append(t.pieces, bytePiece(v))
	}
	for _, r := range alphabet {
		t.alpha[r] = int32(len(t.pieces))
		if r == ' ' {
			t.pieces = append(t.pieces, string(spaceMark))
		} else {
			t.pieces = append(t.pieces, string(r))
		}
	}
	t.firstMerge = int32(len(t.pieces))
	return t
}

// addMerge records the merge of pieces a and b as the next piece.
func (t *bpe) addMerge(a, b int32) int32 {
	id := int32(len(t.pieces))
	t.ranks[pair(a, b)] = int32(len(t.merges))
	t.merges = append(t.merges, [2]int32{a, b})
	t.pieces = append(t.pieces, t.pieces[a]+t.pieces[b])
	return id
}

// learner holds the pair statistics while merges are learned.
type learner struct {
	t     *bpe
	words [][]int32          // distinct segments as symbol ids
	freq  []int64            // how often each segment occurs
	count map[uint64]int64   // pair → occurrences over all segments
	where map[uint64][]int32 // pair → the segments that hold it (a superset)
	queue pairQueue
	fresh []uint64 // pairs made by the merge in progress
}

// add counts n more occurrences of the pair (a, b) in segment w. Pairs with
// a character outside the alphabet are not counted: such characters become
// byte pieces and never merge.
func (l *learner) add(a, b, w int32, n int64) {
	if a < 0 || b < 0 {
		return
	}
	p := pair(a, b)
	l.count[p] += n
	if ws := l.where[p]; len(ws) == 0 || ws[len(ws)-1] != w {
		l.where[p] = append(ws, w)
	}
}

// sub removes n occurrences of the pair (a, b).
func (l *learner) sub(a, b int32, n int64) {
	if a >= 0 && b >= 0 {
		l.count[pair(a, b)] -= n
	}
}

// merge makes the pair (a, b) a new piece c and rewrites every segment that
// holds it, left to right ("a a a" → "c a"). Around each occurrence the pairs
// (prev, a) and (b, next) give way to (prev, c) and (c, next), where prev is
// taken from the rewritten segment (it may be a c just made) and next from
// the original, so that adjacent occurrences are counted correctly. Only
// pairs with c gain occurrences, so only they are pushed on the queue; the
// counts of all others can only fall, which the queue notices lazily.
func (l *learner) merge(a, b int32) {
	c := l.t.addMerge(a, b)
	ab := pair(a, b)
	l.fresh = l.fresh[:0]
	for _, wi := range l.where[ab] {
		w, n := l.words[wi], l.freq[wi]
		out := w[:0]
		for i := 0; i < len(w); {
			if i+1 < len(w) && w[i] == a && w[i+1] == b {
				if len(out) > 0 {
					prev := out[len(out)-1]
					l.sub(prev, a, n)
					l.addFresh(prev, c, wi, n)
				}
				if i+2 < len(w) {
					next := w[i+2]
					l.sub(b, next, n)
					l.addFresh(c, next, wi, n)
				}
				l.sub(a, b, n)
				out = append(out, c)
				i += 2
				continue
			}
			out = append(out, w[i])
			i++
		}
		l.words[wi] = out
	}
	delete(l.where, ab)
	delete(l.count, ab)
	for _, p := range l.fresh {
		if n := l.count[p]; n > 0 {
			heap.Push(&l.queue, queued{pair: p, count: n})
		}
	}
}

// addFresh is add for a pair with the new piece, noting it for the queue.
func (l *learner) addFresh(a, b, w int32, n int64) {
	if a >= 0 && b >= 0 {
		if _, seen := l.count[pair(a, b)]; !seen {
			l.fresh = append(l.fresh, pair(a, b))
		}
	}
	l.add(a, b, w, n)
}

// queued is a pair with the count it had when it was queued.
type queued struct {
	pair  uint64
	count int64
}

// pairQueue is a max-heap of pairs by count, ties broken by the pieces'
// spelling (left, then right), for determinism.
type pairQueue struct {
	items  []queued
	pieces *[]string
}

func (q *pairQueue) Len() int { return len(q.items) }

func (q *pairQueue) Less(i, j int) bool {
	x, y := q.items[i], q.items[j]
	if x.count != y.count {
		return x.count > y.count
	}
	p := *q.pieces
	xa, ya := p[x.pair>>32], p[y.pair>>32]
	if xa != ya {
		return xa < ya
	}
	return p[uint32(x.pair)] < p[uint32(y.pair)]
}

func (q *pairQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }

func (q *pairQueue) Push(x any) { q.items = append(q.items, x.(queued)) }

func (q *pairQueue) Pop() any {
	last := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return last
}

func (t *bpe) Kind() string { return "bpe" }

// Pieces returns the byte pieces, the alphabet and the merged pieces, in id
// order.
func (t *bpe) Pieces() []string { return t.pieces }

// Encode normalises text and returns its pieces. Decode(Encode(x)) equals the
// normalised x exactly.
func (t *bpe) Encode(text string) []string {
	s := t.norm(text)
	if s == "" {
		return nil
	}
	var out []string
	segments(" "+s, func(seg string) {
		for _, id := range t.encodeSegment(seg) {
			out = append(out, t.pieces[id])
		}
	})
	return out
}

// encodeSegment returns the piece ids of one segment, from the cache if it
// was seen before. Applying the merges in the order they were learned is the
// same as repeatedly merging the adjacent pair of lowest rank: a pair of
// lower rank cannot reappear once a higher one has been merged, since its
// pieces were all made before.
func (t *bpe) encodeSegment(seg string) []int32 {
	t.mu.RLock()
	ids, ok := t.cache[seg]
	t.mu.RUnlock()
	if ok {
		return ids
	}
	w := t.symbols(make([]int32, 0, len(seg)), seg)
	for {
		best, bestRank := -1, int32(len(t.merges))
		for i := 0; i+1 < len(w); i++ {
			if r, ok := t.ranks[pair(w[i], w[i+1])]; ok && r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		a, b, c := w[best], w[best+1], t.firstMerge+bestRank
		out := w[:best]
		for i := best; i < len(w); {
			if i+1 < len(w) && w[i] == a && w[i+1] == b {
				out = append(out, c)
				i += 2
				continue
			}
			out = append(out, w[i])
			i++
		}
		w = out
	}
	ids = make([]int32, 0, len(w))
	var buf [utf8.UTFMax]byte
	for _, id := range w {
		if id >= 0 {
			ids = append(ids, id)
			continue
		}
		for _, v := range buf[:utf8.EncodeRune(buf[:], rune(-id-1))] {
			ids = append(ids, int32(v))
		}
	}
	t.mu.Lock()
	if len(t.cache) >= maxCached {
		clear(t.cache)
	}
	// A copy, as seg shares the memory of the whole text.
	t.cache[strings.Clone(seg)] = ids
	t.mu.Unlock()
	return ids
}

// Decode concatenates the pieces, byte pieces as their bytes and "▁" as a
// space, and drops the leading space Encode adds. A run of bytes that do not
// form UTF-8 (a model's output need not) becomes one U+FFFD.
func (t *bpe) Decode(pieces []string) string {
	var b []byte
	for _, p := range pieces {
		if v, ok := byteValue(p); ok {
			b = append(b, v)
			continue
		}
		for _, r := range p {
			if r == spaceMark {
				r = ' '
			}
			b = utf8.AppendRune(b, r)
		}
	}
	s := string(b)
	s = strings.TrimPrefix(s, " ")
	return strings.ToValidUTF8(s, "\uFFFD")
}

// bpeState is the JSON form of what bpe learned: the alphabet as characters
// (the space as "▁") and each merge as its two pieces separated by a space,
// as in the merges files of subword-nmt and Hugging Face (pieces never hold a
// space, so the split is unambiguous).
type bpeState struct {
	Alphabet []string `json:"alphabet"`
	Merges   []string `json:"merges"`
}

func (t *bpe) MarshalJSON() ([]byte, error) {
	st := bpeState{
		Alphabet: t.pieces[256:t.firstMerge],
		Merges:   make([]string, len(t.merges)),
	}
	for i, m := range t.merges {
		st.Merges[i] = t.pieces[m[0]] + " " + t.pieces[m[1]]
	}
	return marshal(t.opts, st)
}

// restoreBPE rebuilds a bpe tokenizer from its state, checking it as it
// goes: a state that does not describe a valid tokenizer is an error.
func restoreBPE(o Options, state json.RawMessage) (Tokenizer, error) {
	var st bpeState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	f, err := o.normalizer()
	if err != nil {
		return nil, err
	}
	alphabet := make([]rune, len(st.Alphabet))
	seen := make(map[rune]bool, len(st.Alphabet))
	for i, c := range st.Alphabet {
		r, size := utf8.DecodeRuneInString(c)
		if size == 0 || size != len(c) || r == utf8.RuneError || r == ' ' {
			return nil, fmt.Errorf("state: alphabet entry %d (%q) is not a single character", i, c)
		}
		if r == spaceMark {
			r = ' '
		}
		if seen[r] {
			return nil, fmt.Errorf("state: alphabet entry %d (%q) is repeated", i, c)
		}
		seen[r] = true
		alphabet[i] = r
	}
	if n := 256 + len(st.Alphabet) + len(st.Merges); n > o.VocabSize {
		return nil, fmt.Errorf("state: %d pieces, more than the vocabulary size %d", n, o.VocabSize)
	}
	t := newBPE(o, f, alphabet)
	ids := make(map[string]int32, 256+len(st.Alphabet)+len(st.Merges))
	for id, p := range t.pieces {
		ids[p] = int32(id)
	}
	for i, m := range st.Merges {
		left, right, ok := strings.Cut(m, " ")
		a, okA := ids[left]
		b, okB := ids[right]
		if !ok || !okA || !okB || a < 256 || b < 256 {
			return nil, fmt.Errorf("state: merge %d (%q) is not two known pieces separated by a space", i, m)
		}
		merged := left + right
		if _, dup := ids[merged]; dup || reserved(merged) {
			return nil, fmt.Errorf("state: merge %d (%q) makes %q, which is already a piece or reserved", i, m, merged)
		}
		ids[merged] = t.addMerge(a, b)
	}
	t.cache = make(map[string][]int32)
	return t, nil
}
