package decoding_test

import (
	"fmt"
	"math"

	"github.com/seqtask/seqtask/decoding"
)

// bigram is a toy model over the vocabulary {<eos>, "the", "cat", "sat"}
// whose next-token distribution depends only on the last token. A real
// decoder would keep one recurrent state per hypothesis and permute it in
// Reorder; a bigram model has no state to keep.
type bigram struct {
	probs map[int][]float64
	out   []float64 // reused across steps
}

func (m *bigram) Step(tokens []int) ([]float64, error) {
	m.out = m.out[:0]
	for _, t := range tokens {
		for _, p := range m.probs[t] {
			m.out = append(m.out, math.Log(p))
		}
	}
	return m.out, nil
}

func (m *bigram) Reorder(indices []int) error { return nil }

func Example() {
	const eos, bos = 0, 4
	words := []string{"<eos>", "the", "cat", "sat"}
	m := &bigram{probs: map[int][]float64{
		bos: {0.1, 0.5, 0.4, 0.0},
		1:   {0.4, 0.0, 0.3, 0.3},
		2:   {0.1, 0.0, 0.0, 0.9},
		3:   {0.9, 0.1, 0.0, 0.0},
	}}
	show := func(h decoding.Hypothesis) string {
		s := ""
		for _, t := range h.Tokens {
			s += words[t] + " "
		}
		return fmt.Sprintf("%-14s p=%.3f", s, math.Exp(h.LogProb))
	}

	g, _ := decoding.Greedy(m, 1, bos, eos, 10)
	fmt.Println("greedy:", show(g[0]))

	nbest, _ := decoding.Beam(m, 1, bos, eos, 10, 3, 0)
	for i, h := range nbest[0] {
		fmt.Printf("beam %d: %s\n", i+1, show(h))
	}
	// Output:
	// greedy: the            p=0.200
	// beam 1: cat sat        p=0.324
	// beam 2: the            p=0.200
	// beam 3: the sat        p=0.135
}
