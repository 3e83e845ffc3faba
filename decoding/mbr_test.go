package decoding

import (
	"math"
	"testing"
)

func TestMBR(t *testing.T) {
	// Utility: how many leading tokens two sequences share.
	shared := func(c []Hypothesis) func(i, j int) float64 {
		return func(i, j int) float64 {
			n := 0
			for n < len(c[i].Tokens) && n < len(c[j].Tokens) && c[i].Tokens[n] == c[j].Tokens[n] {
				n++
			}
			return float64(n)
		}
	}
	for _, tc := range []struct {
		name string
		c    []Hypothesis
		want int
	}{
		{"empty", nil, -1},
		{"one", []Hypothesis{{Tokens: []int{1}}}, 0},
		// The most probable sequence is an outlier; the consensus of the
		// two others, nearly as probable, wins (the first of them a little
		// more probable, so that no tie is left to rounding).
		{"consensus beats the mode", []Hypothesis{
			{Tokens: []int{9, 9, 9}, LogProb: math.Log(0.4)},
			{Tokens: []int{1, 2, 3}, LogProb: math.Log(0.31)},
			{Tokens: []int{1, 2, 4}, LogProb: math.Log(0.29)},
		}, 1},
		// Far more probable: the mode wins even against a consensus.
		{"a dominant mode", []Hypothesis{
			{Tokens: []int{9, 9, 9}, LogProb: math.Log(0.9)},
			{Tokens: []int{1, 2, 3}, LogProb: math.Log(0.05)},
			{Tokens: []int{9, 2, 4}, LogProb: math.Log(0.05)},
		}, 0},
		// Log-probabilities far below zero must not underflow to all-zero weights.
		{"tiny probabilities", []Hypothesis{
			{Tokens: []int{5}, LogProb: -2000},
			{Tokens: []int{1, 2}, LogProb: -1000},
			{Tokens: []int{1, 3}, LogProb: -1000.1},
		}, 1},
	} {
		if got := MBR(tc.c, shared(tc.c)); got != tc.want {
			t.Errorf("%s: MBR chose %d, want %d", tc.name, got, tc.want)
		}
	}
}
