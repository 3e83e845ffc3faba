package decoding

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Greedy decodes batch items at once, each by taking the most likely next
// token at every step (the smallest token id on ties), until it emits eos or
// maxLen tokens have been generated (eos included).
//
// The model starts with one state per item; bos is fed to every item first.
// Items that emit eos stop, and the search reorders the model to the items
// still running, so finished items cost nothing further. The result has one
// hypothesis per item, in item order, with Score equal to LogProb.
func Greedy(m Stepper, batch, bos, eos, maxLen int) ([]Hypothesis, error) {
	if err := checkArgs(batch, eos, maxLen); err != nil {
		return nil, err
	}
	return decode(m, batch, bos, eos, maxLen, nil)
}

// Sample decodes batch items at once like [Greedy], but draws every next token
// from the model's distribution sharpened or flattened by temperature: token k
// is drawn with probability proportional to exp(logProb[k]/temperature).
//
// Temperature 1 samples from the model itself; below 1 it favours likely
// tokens and approaches greedy decoding, and temperature 0 is exactly
// [Greedy]. Above 1 it approaches the uniform distribution. The draws come
// from rng only, so a given seed reproduces the same sequences. rng may be nil
// only when temperature is 0.
func Sample(m Stepper, batch, bos, eos, maxLen int, temperature float64, rng *rand.Rand) ([]Hypothesis, error) {
	if err := checkArgs(batch, eos, maxLen); err != nil {
		return nil, err
	}
	switch {
	case math.IsNaN(temperature) || temperature < 0 || math.IsInf(temperature, 1):
		return nil, fmt.Errorf("%w: temperature %v", ErrInvalidArgument, temperature)
	case temperature == 0:
		return decode(m, batch, bos, eos, maxLen, nil)
	case rng == nil:
		return nil, fmt.Errorf("%w: nil random source", ErrInvalidArgument)
	}
	var p []float64 // unnormalised probabilities, reused across steps
	return decode(m, batch, bos, eos, maxLen, func(row []float64) int {
		p = p[:0]
		top := row[argmax(row)]
		if math.IsInf(top, -1) {
			// Every token impossible: fall back to greedy's choice.
			return 0
		}
		var sum float64
		for _, x := range row {
			e := math.Exp((x - top) / temperature)
			p = append(p, e)
			sum += e
		}
		u := rng.Float64() * sum
		last := 0
		for k, e := range p {
			if e > 0 {
				last = k
				if u < e {
					return k
				}
				u -= e
			}
		}
		return last // u landed past the end through rounding
	})
}

// decode runs a search that extends every live item by the token choose
// picks from its row of log-probabilities; a nil choose is greedy's argmax,
// through the model's StepArgmax when it is an [ArgmaxStepper].
func decode(m Stepper, batch, bos, eos, maxLen int, choose func(row []float64) int) ([]Hypothesis, error) {
	hyps := make([]Hypothesis, batch)
	if batch == 0 || maxLen == 0 {
		return hyps, nil
	}
	s := newStepper(m, eos)
	am, fast := m.(ArgmaxStepper)
	fast = fast && choose == nil
	if choose == nil {
		choose = argmax
	}
	live := make([]int, batch) // live[i] is the item held in model state i
	tokens := make([]int, batch)
	for i := range live {
		live[i] = i
		tokens[i] = bos
	}
	keep := make([]int, 0, batch)
	for t := 1; ; t++ {
		var lp, bestLP []float64
		var best []int
		var att [][]float64
		var err error
		if fast {
			best, bestLP, att, err = s.stepArgmax(am, tokens)
		} else {
			lp, att, err = s.step(tokens)
		}
		if err != nil {
			return nil, err
		}
		keep = keep[:0]
		for i, item := range live {
			var k int
			var l float64
			if fast {
				k, l = best[i], bestLP[i]
			} else {
				row := lp[i*s.v : (i+1)*s.v]
				k = choose(row)
				l = row[k]
			}
			h := &hyps[item]
			h.LogProb += l
			if att != nil {
				h.Attention = append(h.Attention, clone(att[i]))
			}
			if k == eos {
				h.Finished = true
				continue
			}
			h.Tokens = append(h.Tokens, k)
			keep = append(keep, i)
		}
		if len(keep) == 0 || t == maxLen {
			break
		}
		if err := s.reorder(keep, len(live)); err != nil {
			return nil, err
		}
		n := 0
		for _, i := range keep {
			live[n] = live[i]
			tokens[n] = hyps[live[n]].Tokens[len(hyps[live[n]].Tokens)-1]
			n++
		}
		live, tokens = live[:n], tokens[:n]
	}
	for i := range hyps {
		hyps[i].Score = hyps[i].LogProb
	}
	return hyps, nil
}
