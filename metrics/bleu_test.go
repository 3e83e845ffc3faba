package metrics

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestBLEUErrors(t *testing.T) {
	hyps := []string{"a b c", "d e f"}
	tests := []struct {
		name    string
		run     func() error
		wantErr string
	}{
		{"corpus no references", func() error {
			_, err := CorpusBLEU(hyps, nil, BLEUOptions{})
			return err
		}, "no references"},
		{"corpus no hypotheses", func() error {
			_, err := CorpusBLEU(nil, [][]string{{}}, BLEUOptions{})
			return err
		}, "no hypotheses"},
		{"corpus count mismatch", func() error {
			_, err := CorpusBLEU(hyps, [][]string{{"a b c", "d e f"}, {"a b c"}}, BLEUOptions{})
			return err
		}, "reference stream 1 has 1 sentences, want 2"},
		{"corpus all references empty", func() error {
			_, err := CorpusBLEU(hyps, [][]string{{"a b c", ""}, {"x", ""}}, BLEUOptions{})
			return err
		}, "sentence 1: all references are empty"},
		{"sentence no references", func() error {
			_, err := SentenceBLEU("a b", nil, BLEUOptions{})
			return err
		}, "no references"},
		{"unknown tokenizer", func() error {
			_, err := CorpusBLEU(hyps, [][]string{hyps}, BLEUOptions{Tokenize: "ja-mecab"})
			return err
		}, "unsupported tokenizer"},
		{"unknown smoothing", func() error {
			_, err := SentenceBLEU("a", []string{"a"}, BLEUOptions{Smooth: "laplace"})
			return err
		}, "unknown BLEU smoothing"},
		{"negative order", func() error {
			_, err := SentenceBLEU("a", []string{"a"}, BLEUOptions{MaxOrder: -1})
			return err
		}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestBLEUEdgeCases(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	tests := []struct {
		name       string
		score      func() (BLEUScore, error)
		wantScore  float64
		wantSys    int
		wantRef    int
		wantCounts []int
		wantBP     float64
	}{
		{"empty hypothesis", func() (BLEUScore, error) {
			return SentenceBLEU("", []string{"a b c"}, BLEUOptions{})
		}, 0, 0, 3, []int{0, 0, 0, 0}, 0},
		{"sentence identical short: effective order", func() (BLEUScore, error) {
			return SentenceBLEU("a b", []string{"a b"}, BLEUOptions{})
		}, 100, 2, 2, []int{2, 1, 0, 0}, 1},
		{"corpus identical short: no effective order", func() (BLEUScore, error) {
			return CorpusBLEU([]string{"a b"}, [][]string{{"a b"}}, BLEUOptions{})
		}, 0, 2, 2, []int{2, 1, 0, 0}, 1},
		{"closest reference, tie goes to the shorter", func() (BLEUScore, error) {
			return SentenceBLEU("a b c d e", []string{"a b c d e f", "a b c d"}, BLEUOptions{})
		}, 100, 5, 4, []int{5, 4, 3, 2}, 1},
		// Closest reference "the the dog" (3); exp smoothing gives the
		// unmatched orders 100/(2*2) and 100/(4*1).
		{"clip to max count over references", func() (BLEUScore, error) {
			return SentenceBLEU("the the the the", []string{"the cat", "the the dog"}, BLEUOptions{})
		}, math.Exp((math.Log(50) + math.Log(100.0/3) + math.Log(100.0/4) + math.Log(100.0/4)) / 4), 4, 3, []int{2, 1, 0, 0}, 1},
		{"empty reference string is skipped", func() (BLEUScore, error) {
			return CorpusBLEU([]string{"a b c d", "e f g h"}, [][]string{{"a b c d", "e f g h"}, {"", "x"}}, BLEUOptions{})
		}, 100, 8, 8, []int{8, 6, 4, 2}, 1},
		{"lowercase", func() (BLEUScore, error) {
			return SentenceBLEU("THE CAT SAT DOWN", []string{"the cat sat down"}, BLEUOptions{Lowercase: true})
		}, 100, 4, 4, []int{4, 3, 2, 1}, 1},
		{"case sensitive by default", func() (BLEUScore, error) {
			return SentenceBLEU("THE CAT SAT DOWN", []string{"the cat sat down"}, BLEUOptions{})
		}, 0, 4, 4, []int{0, 0, 0, 0}, 1},
		{"brevity penalty", func() (BLEUScore, error) {
			return SentenceBLEU("a b c d", []string{"a b c d e f g h"}, BLEUOptions{})
		}, 100 * math.Exp(1-8.0/4), 4, 8, []int{4, 3, 2, 1}, math.Exp(-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.score()
			if err != nil {
				t.Fatal(err)
			}
			if !near(s.Score, tt.wantScore) {
				t.Errorf("score %v, want %v (%v)", s.Score, tt.wantScore, s)
			}
			if s.SysLen != tt.wantSys || s.RefLen != tt.wantRef || !near(s.BP, tt.wantBP) {
				t.Errorf("sys_len %d ref_len %d bp %v, want %d %d %v", s.SysLen, s.RefLen, s.BP, tt.wantSys, tt.wantRef, tt.wantBP)
			}
			for i, c := range tt.wantCounts {
				if s.Counts[i] != c {
					t.Errorf("counts %v, want %v", s.Counts, tt.wantCounts)
					break
				}
			}
		})
	}
}

// TestBLEUSmoothing checks each smoothing method on a sentence whose
// statistics are easy to derive: hypothesis "a b c d" against "a b c e"
// matches 3/4 unigrams, 2/3 bigrams, 1/2 trigrams and 0/1 4-grams.
func TestBLEUSmoothing(t *testing.T) {
	geo := func(p ...float64) float64 {
		var s float64
		for _, x := range p {
			s += math.Log(x)
		}
		return math.Exp(s / float64(len(p)))
	}
	tests := []struct {
		smooth SmoothMethod
		value  float64
		want   float64
	}{
		{SmoothNone, 0, 0},
		{SmoothExp, 0, geo(75, 200.0/3, 50, 100.0/2)},
		{SmoothFloor, 0, geo(75, 200.0/3, 50, 100*0.1/1)},
		{SmoothFloor, 0.5, geo(75, 200.0/3, 50, 100*0.5/1)},
		{SmoothAddK, 0, geo(75, 100*3.0/4, 100*2.0/3, 100*1.0/2)},
	}
	for _, tt := range tests {
		s, err := SentenceBLEU("a b c d", []string{"a b c e"}, BLEUOptions{Smooth: tt.smooth, SmoothValue: tt.value})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(s.Score-tt.want) > 1e-9 {
			t.Errorf("%s(%v): score %v, want %v (%v)", tt.smooth, tt.value, s.Score, tt.want, s)
		}
	}
}

func TestBLEUScoreString(t *testing.T) {
	s := BLEUScore{
		Score:      84.97181334491005,
		Counts:     []int{1470, 1182, 943, 740},
		Totals:     []int{1512, 1312, 1112, 914},
		Precisions: []float64{97.22222222222223, 90.09146341463415, 84.8021582733813, 80.96280087527353},
		BP:         0.9649159443723699,
		SysLen:     1512,
		RefLen:     1566,
	}
	want := "BLEU = 84.97 97.2/90.1/84.8/81.0 (BP = 0.965 ratio = 0.966 hyp_len = 1512 ref_len = 1566)"
	if got := s.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	if got := (BLEUScore{Precisions: make([]float64, 4)}).String(); got != "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 0)" {
		t.Errorf("zero String() = %s", got)
	}
}

func TestReferenceStreams(t *testing.T) {
	got := ReferenceStreams([][]string{{"a", "b"}, {"c"}, {"d", "e", "f"}})
	want := [][]string{{"a", "c", "d"}, {"b", "", "e"}, {"", "", "f"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReferenceStreams = %q, want %q", got, want)
	}
}
