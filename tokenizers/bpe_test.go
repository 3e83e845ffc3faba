package tokenizers

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// learnedMerges returns the merges a bpe tokenizer learned, as "left right".
func learnedMerges(t *testing.T, tok Tokenizer) []string {
	t.Helper()
	data, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ State bpeState }
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	return env.State.Merges
}

// TestBPEMerges checks learning on tiny corpora against merges worked out by
// hand. Every text gets a leading space ("▁"). The alphabet is ordered by
// frequency, then code point (the space as U+0020); ties between pairs go to
// the pair whose left, then right, piece sorts first ("a" < "aa" < "▁",
// which is U+2581).
func TestBPEMerges(t *testing.T) {
	for _, c := range []struct {
		name     string
		texts    []string
		size     int
		alphabet []string
		merges   []string
	}{{
		// Segments "▁ab" ×3 and "▁abc" ×1; characters ▁ a b 4 times, c once.
		// Pairs: ▁a 4, ab 4, bc 1; ab wins the tie with ▁a. Then ▁ab 4,
		// then ▁ab+c 1.
		name:     "counts and ties",
		texts:    []string{"ab ab ab", "abc"},
		size:     256 + 4 + 3,
		alphabet: []string{"▁", "a", "b", "c"},
		merges:   []string{"a b", "▁ ab", "▁ab c"},
	}, {
		// The vocabulary size stops learning after the first two merges.
		name:     "vocabulary size",
		texts:    []string{"ab ab ab", "abc"},
		size:     256 + 4 + 2,
		alphabet: []string{"▁", "a", "b", "c"},
		merges:   []string{"a b", "▁ ab"},
	}, {
		// "▁aaaa": pairs ▁a 1, aa 3. Merging aa left to right gives
		// ▁ aa aa: pairs ▁aa 1 and aa+aa 1 (not aa+a), tie won by aa+aa.
		name:     "overlapping pairs",
		texts:    []string{"aaaa"},
		size:     1000,
		alphabet: []string{"a", "▁"},
		merges:   []string{"a a", "aa aa", "▁ aaaa"},
	}, {
		// "▁aaa": aa 2 → ▁ aa a: pairs ▁aa 1 and aa+a 1, tie won by aa+a.
		name:     "odd run",
		texts:    []string{"aaa"},
		size:     1000,
		alphabet: []string{"a", "▁"},
		merges:   []string{"a a", "aa a", "▁ aaa"},
	}, {
		// Segments "▁x" ".", "y" three times each: merges never cross a
		// segment boundary, so there is no "x." or ".y".
		name:     "segments",
		texts:    []string{"x.y x.y", "x.y"},
		size:     1000,
		alphabet: []string{"▁", ".", "x", "y"},
		merges:   []string{"▁ x"},
	}, {
		// Pairs ▁a, <=, => twice each: "<" "=" merge first, but "<=" ">"
		// would make the reserved "<=>", so ▁a comes next and learning ends.
		name:     "reserved pieces",
		texts:    []string{"a<=>b a<=>b"},
		size:     1000,
		alphabet: []string{"▁", "<", "=", ">", "a", "b"},
		merges:   []string{"< =", "▁ a"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			tok := mustNew(t, Options{Kind: "bpe", VocabSize: c.size, Normalization: "none"}, c.texts)
			pieces := tok.(Vocabulary).Pieces()
			if got := pieces[256 : 256+len(c.alphabet)]; !slices.Equal(got, c.alphabet) {
				t.Errorf("alphabet %q, want %q", got, c.alphabet)
			}
			if got := learnedMerges(t, tok); !slices.Equal(got, c.merges) {
				t.Errorf("merges %q, want %q", got, c.merges)
			}
			if len(pieces) != 256+len(c.alphabet)+len(c.merges) {
				t.Errorf("%d pieces", len(pieces))
			}
		})
	}
}

// TestBPEEncode checks encoding against pieces worked out by hand.
func TestBPEEncode(t *testing.T) {
	// Merges "a a", "aa a", "▁ aaa" (see TestBPEMerges).
	tok := mustNew(t, Options{Kind: "bpe", VocabSize: 1000, Normalization: "none"}, []string{"aaa"})
	for in, want := range map[string][]string{
		"aaa":   {"▁aaa"},
		"aaaaa": {"▁", "aa", "aaa"}, // ▁ a a a a a → ▁ aa aa a → ▁ aa aaa
		"aa a":  {"▁", "aa", "▁", "a"},
		" a":    {"▁", "▁", "a"},
		"ab":    {"▁", "a", "<0x62>"},                     // b is not in the alphabet
		"a▁":    {"▁", "a", "<0xE2>", "<0x96>", "<0x81>"}, // nor is a literal ▁
		"":      nil,
	} {
		got := tok.Encode(in)
		if !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %q, want %q", in, got, want)
		}
		if back := tok.Decode(got); back != in {
			t.Errorf("Decode(%q) = %q, want %q", got, back, in)
		}
	}
	// Decode takes anything: unknown pieces as text, a run of bytes that is
	// not UTF-8 as one U+FFFD.
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"▁hello", "▁", "▁wor", "ld"}, "hello  world"},
		{[]string{"<unk>", "▁x"}, "<unk> x"},
		{[]string{"<0xE2>", "<0x96>", "▁x"}, "\uFFFD x"},
		{[]string{"<0x4a>"}, "<0x4a>"}, // byte pieces are upper-case hex
	} {
		if got := tok.Decode(c.in); got != c.want {
			t.Errorf("Decode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestBPECharacterCoverage checks that rare characters are left to byte
// pieces when the coverage is below 1.
func TestBPECharacterCoverage(t *testing.T) {
	texts := []string{strings.Repeat("ab ", 100) + "é"}
	// 301 characters: 100 spaces (with the leading one, 101), 100 a, 100 b,
	// 1 é; 0.99 of them are covered before é is reached.
	tok := mustNew(t, Options{Kind: "bpe", VocabSize: 300, CharacterCoverage: 0.99}, texts)
	if got := tok.(Vocabulary).Pieces()[256:259]; !slices.Equal(got, []string{"▁", "a", "b"}) {
		t.Errorf("alphabet %q", got)
	}
	if got := tok.Encode("é"); !slices.Equal(got, []string{"▁", "<0xC3>", "<0xA9>"}) {
		t.Errorf("Encode(é) = %q", got)
	}
}

// TestBPETatoeba learns an 8,000-piece vocabulary from both sides of the
// shipped corpus, which must take seconds, and round-trips every sentence.
func TestBPETatoeba(t *testing.T) {
	texts := readTatoeba(t)
	start := time.Now()
	tok := mustNew(t, Options{Kind: "bpe", VocabSize: 8000}, texts)
	took := time.Since(start)
	t.Logf("learned 8,000 pieces from %d sentences in %v", len(texts), took)
	if took > 20*time.Second {
		t.Errorf("learning took %v", took)
	}
	if n := len(tok.(Vocabulary).Pieces()); n != 8000 {
		t.Errorf("%d pieces, want 8000", n)
	}
	pieces, words := 0, 0
	for _, s := range texts {
		p := tok.Encode(s)
		pieces += len(p)
		words += len(strings.Fields(s))
		if got := tok.Decode(p); got != s {
			t.Fatalf("%q → %q → %q", s, p, got)
		}
	}
	t.Logf("%.2f pieces per space-separated word", float64(pieces)/float64(words))
}

// FuzzBPERoundTrip checks that any text decodes back to its normalised self.
func FuzzBPERoundTrip(f *testing.F) {
	train := append(sample(f, 200), scripts...)
	toks := []Tokenizer{
		mustNew(f, Options{Kind: "bpe", VocabSize: 1500, Normalization: "none"}, train),
		mustNew(f, Options{Kind: "bpe", VocabSize: 1500, Normalization: "nfkc", Lower: true}, train),
	}
	for _, s := range scripts {
		f.Add(s)
	}
	f.Add("\xff\xfe invalid \xc3")
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			var env struct{ Options Options }
			data, _ := tok.MarshalJSON()
			if err := json.Unmarshal(data, &env); err != nil {
				t.Fatal(err)
			}
			want, err := env.Options.Normalize(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Decode(tok.Encode(s)); got != want {
				t.Errorf("%+v: %q → %q, want %q", env.Options, s, got, want)
			}
		}
	})
}

// TestBPEMatchesNaive checks the incremental learner against the textbook
// algorithm, which counts every pair again before each merge, on real text.
func TestBPEMatchesNaive(t *testing.T) {
	texts := append(sample(t, 300), scripts...)
	const merges = 400
	o := Options{Kind: "bpe", Normalization: "nfc"}
	counts := make(map[string]int)
	for _, text := range texts {
		s, _ := o.Normalize(text)
		if s != "" {
			segments(" "+s, func(seg string) { counts[seg]++ })
		}
	}
	var segs []string
	for seg := range counts {
		segs = append(segs, seg)
	}
	alphabet := chooseAlphabet(segs, counts, 0)
	o.VocabSize = 256 + len(alphabet) + merges
	ref := newBPE(o, nil, alphabet)
	words := make([][]int32, len(segs))
	for i, seg := range segs {
		words[i] = ref.symbols(nil, seg)
	}
	var want []string
	for len(want) < merges {
		pairs := make(map[[2]int32]int)
		for i, w := range words {
			for j := 0; j+1 < len(w); j++ {
				if w[j] >= 0 && w[j+1] >= 0 && !reserved(ref.pieces[w[j]]+ref.pieces[w[j+1]]) {
					pairs[[2]int32{w[j], w[j+1]}] += counts[segs[i]]
				}
			}
		}
		var best [2]int32
		bestN := 0
		for p, n := range pairs {
			pa, pb, ba, bb := ref.pieces[p[0]], ref.pieces[p[1]], ref.pieces[best[0]], ref.pieces[best[1]]
			if n > bestN || n == bestN && (pa < ba || pa == ba && pb < bb) {
				best, bestN = p, n
			}
		}
		if bestN == 0 {
			break
		}
		c := ref.addMerge(best[0], best[1])
		want = append(want, ref.pieces[best[0]]+" "+ref.pieces[best[1]])
		for i, w := range words {
			out := w[:0]
			for j := 0; j < len(w); j++ {
				if j+1 < len(w) && w[j] == best[0] && w[j+1] == best[1] {
					out = append(out, c)
					j++
				} else {
					out = append(out, w[j])
				}
			}
			words[i] = out
		}
	}
	got := learnedMerges(t, mustNew(t, o, texts))
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("merge %d: %q, naive %q", i, got[i], want[i])
			}
		}
		t.Fatalf("%d merges, naive %d", len(got), len(want))
	}
	// The order of the texts changes nothing.
	slices.Reverse(texts)
	if again := learnedMerges(t, mustNew(t, o, texts)); !slices.Equal(again, got) {
		t.Error("learning from the texts in reverse order gave other merges")
	}
}

// TestBPEConcurrent checks that goroutines sharing a tokenizer (and its
// cache, which starts empty) get the pieces one goroutine gets alone; run
// with -race.
func TestBPEConcurrent(t *testing.T) {
	texts := sample(t, 40)
	tok := mustNew(t, Options{Kind: "bpe", VocabSize: 2000}, texts)
	data, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan string, 4)
	for g := range 4 {
		go func() {
			for i := g; i < len(texts); i += 2 {
				if got, want := fresh.Encode(texts[i]), tok.Encode(texts[i]); !slices.Equal(got, want) {
					errs <- texts[i]
					return
				}
			}
			errs <- ""
		}()
	}
	for range 4 {
		if s := <-errs; s != "" {
			t.Errorf("%q encoded differently", s)
		}
	}
}
