package decoding

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDecodeRunsEachStrategy: Decode gives each strategy's own result, in
// the n-best layout: the chosen hypothesis first, then (beam, mbr) the rest
// of the n-best list, at most NBest.
func TestDecodeRunsEachStrategy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 100 {
		batch, v, maxLen, table := randomCase(r)
		bos := v
		fresh := func() Stepper { return newMarkov(batch, v, table).stepper(false) }
		greedy, err := Greedy(fresh(), batch, bos, 0, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		beam, err := Beam(fresh(), batch, bos, 0, maxLen, 4, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		// A utility that prefers the shortest hypothesis, so that MBR's
		// choice is known in advance.
		short := func(a, b []int) float64 { return -float64(len(a)) }
		for _, tc := range []struct {
			opt  Options
			want func(item int) []Hypothesis
		}{
			{Options{Strategy: StrategyGreedy, MaxLen: maxLen, NBest: 3}, func(i int) []Hypothesis { return greedy[i : i+1] }},
			{Options{MaxLen: maxLen}, func(i int) []Hypothesis { return greedy[i : i+1] }},
			{Options{Strategy: StrategyBeam, Beam: 4, LengthPenalty: 0.6, MaxLen: maxLen}, func(i int) []Hypothesis { return beam[i][:1] }},
			{Options{Strategy: StrategyBeam, Beam: 4, LengthPenalty: 0.6, MaxLen: maxLen, NBest: 3}, func(i int) []Hypothesis { return beam[i][:min(3, len(beam[i]))] }},
			{Options{Strategy: StrategyMBR, Beam: 4, LengthPenalty: 0.6, MaxLen: maxLen, NBest: 10, Utility: short}, func(i int) []Hypothesis {
				list := beam[i]
				pick := MBR(list, func(a, b int) float64 { return short(list[a].Tokens, list[b].Tokens) })
				return append([]Hypothesis{list[pick]}, append(list[:pick:pick], list[pick+1:]...)...)
			}},
		} {
			got, err := Decode(fresh(), batch, bos, 0, tc.opt, nil)
			if err != nil {
				t.Fatalf("case %d %+v: %v", n, tc.opt, err)
			}
			for i := range batch {
				want := tc.want(i)
				if !slices.EqualFunc(got[i], want, func(a, b Hypothesis) bool { return slices.Equal(a.Tokens, b.Tokens) && a.Score == b.Score }) {
					t.Fatalf("case %d %s item %d: got %v, want %v", n, tc.opt.Strategy, i, got[i], want)
				}
			}
		}
	}
	m := newMarkov(2, 3, randomTable(r, 2, 3, 4))
	s, err := Decode(m.stepper(false), 2, 3, 0, Options{Strategy: StrategySample, MaxLen: 4, Temperature: 1}, rand.New(rand.NewPCG(1, 1)))
	if err != nil || len(s) != 2 || len(s[0]) != 1 {
		t.Errorf("sample: %v, %v", s, err)
	}
}

func TestDecodeRejectsBadOptions(t *testing.T) {
	for _, opt := range []Options{
		{Strategy: "best", MaxLen: 3},
		{Strategy: StrategyMBR, Beam: 2, MaxLen: 3},
		{Strategy: StrategyBeam, Beam: 0, MaxLen: 3},
		{Strategy: StrategyGreedy, MaxLen: 3, NBest: -1},
		{Strategy: StrategySample, MaxLen: 3, Temperature: -1},
	} {
		m := newMarkov(1, 3, randomTable(rand.New(rand.NewPCG(1, 2)), 1, 3, 3))
		if _, err := Decode(m.stepper(false), 1, 3, 0, opt, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: %v, want ErrInvalidArgument", opt, err)
		}
	}
}
