package decoders

import (
	"math"
	"slices"
	"testing"
)

// TestTopTokens checks topTokens against ranking every token of the row by
// prior + its log-softmax value (ties by id), and that a NaN or +Inf logit
// shows as NaN log-probabilities.
func TestTopTokens(t *testing.T) {
	for _, tc := range []struct {
		name  string
		row   []float32
		prior float64
		k     int
	}{
		{"distinct", []float32{0.3, -1, 2.5, 0.7, 1.1, -0.2}, 0, 3},
		{"one", []float32{0.3, -1, 2.5, 0.7, 1.1, -0.2}, -2, 1},
		{"every token", []float32{0.3, -1, 2.5, 0.7}, -2, 4},
		{"ties", []float32{1, 2, 1, 2, 0, 2}, -0.5, 4},
		// -1e16 + x rounds to -1e16 for several x: those tie, smaller id first.
		{"rounded sums", []float32{-8, 0, 0.1, 0.2, 0.3, 0.35}, -1e16, 2},
		{"minus infinity", []float32{float32(math.Inf(-1)), 0, 1}, 0, 3},
	} {
		toks, lps := make([]int, tc.k), make([]float64, tc.k)
		topTokens(tc.row, tc.prior, toks, lps)
		full := make([]float64, len(tc.row))
		logSoftmax(tc.row, full)
		order := make([]int, len(tc.row))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(x, y int) int {
			kx, ky := tc.prior+full[x], tc.prior+full[y]
			switch {
			case kx > ky:
				return -1
			case kx < ky:
				return 1
			}
			return 0
		})
		if !slices.Equal(toks, order[:tc.k]) {
			t.Errorf("%s: tokens %v, want %v", tc.name, toks, order[:tc.k])
		}
		for i, tok := range toks {
			if lps[i] != full[tok] {
				t.Errorf("%s: token %d log-probability %v, logSoftmax gives %v", tc.name, tok, lps[i], full[tok])
			}
		}
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		row := []float32{0.5, bad, -1, 2}
		toks, lps := make([]int, 2), make([]float64, 2)
		topTokens(row, 0, toks, lps)
		for _, x := range lps {
			if !math.IsNaN(x) {
				t.Errorf("logit %v: log-probabilities %v, want NaN", bad, lps)
			}
		}
	}
}
