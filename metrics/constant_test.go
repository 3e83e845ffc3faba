package metrics

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// ConstantBLEU must give exactly CorpusBLEU's score for the hypothesis
// repeated over the corpus, statistics included: on hand-made corner cases
// (repeated words clipped by the references, no match at all, items with
// fewer references) and on random sentences over a small vocabulary, where
// n-grams repeat often.
func TestConstantBLEUEqualsCorpusBLEU(t *testing.T) {
	refs := [][]string{
		{"a dog runs on the grass", "a brown dog runs", "the dog is running"},
		{"a man a man rides a bike", "", "a man is riding"},
		{"two children play in the water", "kids play", "children are playing in a pool"},
	}
	hyps := []string{"a dog runs", "a man a man a man", "nothing matches here", "a", "", "the dog is running on the grass in the water today"}
	rng := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("a the dog man runs play in water is")
	for range 30 {
		n := 1 + rng.IntN(12)
		var w []string
		for range n {
			w = append(w, words[rng.IntN(len(words))])
		}
		hyps = append(hyps, strings.Join(w, " "))
	}
	for _, opts := range []BLEUOptions{{Tokenize: TokenizeNone}, {}, {MaxOrder: 2}, {Smooth: SmoothFloor, SmoothValue: 0.1}} {
		x, err := NewConstantBLEU(refs, opts)
		if err != nil {
			t.Fatal(err)
		}
		streams := ReferenceStreams(refs)
		for _, h := range hyps {
			same := make([]string, len(refs))
			for i := range same {
				same[i] = h
			}
			want, err := CorpusBLEU(same, streams, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.Score(h); !reflect.DeepEqual(got, want) {
				t.Errorf("%+v: %q: constant index gives %v, corpus BLEU %v", opts, h, got, want)
			}
		}
	}
	if _, err := NewConstantBLEU([][]string{{"a"}, {""}}, BLEUOptions{}); err == nil || !strings.Contains(err.Error(), "item 1") {
		t.Errorf("an item without references accepted or not named: %v", err)
	}
	if _, err := NewConstantBLEU(nil, BLEUOptions{}); err == nil {
		t.Error("no references accepted")
	}
}

// TestBestConstantIsBruteForce: the search's winner and score are those of
// scoring every distinct reference with CorpusBLEU, the slow way.
func TestBestConstantIsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	words := strings.Fields("a the dog man runs play in water is grass")
	sentence := func() string {
		w := make([]string, 1+rng.IntN(8))
		for i := range w {
			w[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	opts := BLEUOptions{Tokenize: TokenizeNone}
	for range 5 {
		refs := make([][]string, 12)
		for i := range refs {
			for range 3 {
				refs[i] = append(refs[i], sentence())
			}
		}
		got, err := BestConstant(refs, opts)
		if err != nil {
			t.Fatal(err)
		}
		best, bestScore, tried := "", -1.0, map[string]bool{}
		for _, rs := range refs {
			for _, r := range rs {
				if tried[r] {
					continue
				}
				tried[r] = true
				same := make([]string, len(refs))
				for i := range same {
					same[i] = r
				}
				s, err := CorpusBLEU(same, ReferenceStreams(refs), opts)
				if err != nil {
					t.Fatal(err)
				}
				if s.Score > bestScore {
					best, bestScore = r, s.Score
				}
			}
		}
		if got.Output != best || got.Score != bestScore || got.Candidates != len(tried) || got.Items != len(refs) {
			t.Errorf("BestConstant = %+v; brute force %q %v over %d candidates", got, best, bestScore, len(tried))
		}
	}
	if _, err := BestConstant([][]string{{""}}, opts); err == nil {
		t.Error("a corpus of empty references gave a best constant")
	}
}
