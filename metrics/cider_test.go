package metrics

import (
	"math"
	"strings"
	"testing"
)

// TestCIDErDHandChecked checks CIDEr-D on tiny corpora whose scores can be
// derived by hand. With two images every n-gram found in one image's
// references has IDF log(2) - log(1) = log 2, and an n-gram absent from all
// references also gets log 2, so all weights are equal and each order's
// similarity reduces to a count ratio.
func TestCIDErDHandChecked(t *testing.T) {
	sqrt := math.Sqrt
	tests := []struct {
		name  string
		cands []string
		refs  [][]string
		want  []float64 // per image
	}{
		{
			// Every order has cosine 1 and no length penalty: 10 * 1.
			name:  "identical",
			cands: []string{"a b c d", "e f g h"},
			refs:  [][]string{{"a b c d"}, {"e f g h"}},
			want:  []float64{10, 10},
		},
		{
			// Image 0 shares nothing: 0.
			name:  "nothing shared",
			cands: []string{"w x y z", "e f g h"},
			refs:  [][]string{{"a b c d"}, {"e f g h"}},
			want:  []float64{0, 10},
		},
		{
			// Orders 1..4 have cosines 3/(2·√3), 2/(√3·√2), 1/(√2·1), 0;
			// delta is 3-2 = 1 bigram, so the penalty is exp(-1/72).
			name:  "one extra word",
			cands: []string{"a b c d", "e f g"},
			refs:  [][]string{{"a b c"}, {"e f g"}},
			want: []float64{
				10 * math.Exp(-1.0/72) * (sqrt(3)/2 + sqrt(2.0/3) + 1/sqrt(2) + 0) / 4,
				10 * (1.0 + 1 + 1 + 0) / 4,
			},
		},
		{
			// The candidate's weight 2·log2 for "a" is clipped to the
			// reference's log2: unigram cosine log2²/(2log2 · √2 log2).
			name:  "clipping",
			cands: []string{"a a", "c d"},
			refs:  [][]string{{"a b"}, {"c d"}},
			want:  []float64{10 * (1 / (2 * sqrt(2))) / 4, 10 * (1.0 + 1 + 0 + 0) / 4},
		},
		{
			// Similarities are summed over references, then divided by
			// their number: (1 + 0) / 2 per order.
			name:  "two references",
			cands: []string{"a b c d", "e f g h"},
			refs:  [][]string{{"a b c d", "w x y z"}, {"e f g h"}},
			want:  []float64{5, 10},
		},
		{
			// "the" is in every image's references: IDF 0, weight 0. Only
			// "cat" and "the cat" count, each with cosine 1: 10 * 2/4.
			name:  "n-gram in every image weighs nothing",
			cands: []string{"the cat", "the dog"},
			refs:  [][]string{{"the cat"}, {"the dog"}},
			want:  []float64{5, 5},
		},
		{
			// A candidate made only of zero-weight n-grams scores 0.
			name:  "only common words",
			cands: []string{"the", "the dog"},
			refs:  [][]string{{"the cat"}, {"the dog"}},
			want:  []float64{0, 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := CIDErD(tt.cands, tt.refs, CIDErDOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var mean float64
			for i, w := range tt.want {
				if math.Abs(s.PerImage[i]-w) > 1e-9 {
					t.Errorf("image %d: %v, want %v", i, s.PerImage[i], w)
				}
				mean += w / float64(len(tt.want))
			}
			if math.Abs(s.Score-mean) > 1e-9 {
				t.Errorf("corpus score %v, want %v", s.Score, mean)
			}
		})
	}
}

func TestCIDErDErrors(t *testing.T) {
	tests := []struct {
		name    string
		cands   []string
		refs    [][]string
		opts    CIDErDOptions
		wantErr string
	}{
		{"no candidates", nil, nil, CIDErDOptions{}, "no candidates"},
		{"count mismatch", []string{"a", "b"}, [][]string{{"a"}}, CIDErDOptions{}, "2 candidates but references for 1 images"},
		{"image without references", []string{"a", "b"}, [][]string{{"a"}, {}}, CIDErDOptions{}, "image 1 has no references"},
		{"bad sigma", []string{"a"}, [][]string{{"a"}}, CIDErDOptions{Sigma: -1}, "sigma"},
		{"bad order", []string{"a"}, [][]string{{"a"}}, CIDErDOptions{MaxOrder: -2}, "order"},
	}
	for _, tt := range tests {
		_, err := CIDErD(tt.cands, tt.refs, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestCIDErDCorpusFixesDocumentFrequencies: a corpus scores each candidate
// against document frequencies counted over all its images, whichever
// images are scored, and equals CIDErD when scoring them all. An n-gram
// found in every image's references weighs nothing there, however it
// would weigh in a smaller batch.
func TestCIDErDCorpusFixesDocumentFrequencies(t *testing.T) {
	refs := [][]string{{"a dog runs", "a dog plays"}, {"a cat sits"}, {"a man runs", "the man walks"}}
	cands := []string{"a dog runs", "a cat", "a man walks"}
	corpus, err := NewCIDErDCorpus(refs, CIDErDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := CIDErD(cands, refs, CIDErDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cands {
		if got := corpus.Score(i, c); math.Abs(got-whole.PerImage[i]) > 1e-12 {
			t.Errorf("image %d: corpus score %v, CIDErD %v", i, got, whole.PerImage[i])
		}
	}
	// Scored alone, CIDErD's corpus of one image weighs everything 0;
	// the fixed corpus still weighs "dog runs" by its rarity.
	alone, err := CIDErD(cands[:1], refs[:1], CIDErDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if alone.Score != 0 || corpus.Score(0, cands[0]) <= 0 {
		t.Errorf("alone %v, in the corpus %v: want 0 and positive", alone.Score, corpus.Score(0, cands[0]))
	}
	// "a" is in every image's references: a candidate of only "a" scores 0.
	if got := corpus.Score(1, "a"); got != 0 {
		t.Errorf("a word every image's references use scored %v, want 0", got)
	}
	if corpus.Images() != 3 {
		t.Errorf("Images() = %d", corpus.Images())
	}
	if _, err := NewCIDErDCorpus(nil, CIDErDOptions{}); err == nil {
		t.Error("an empty corpus gave no error")
	}
}
