package decoding

import (
	"fmt"
	"math/rand/v2"
)

// The strategies Decode runs.
const (
	StrategyGreedy = "greedy" // the most likely token at every step
	StrategySample = "sample" // a token drawn from the softmax at Temperature
	StrategyBeam   = "beam"   // beam search of width Beam
	StrategyMBR    = "mbr"    // beam search, then the minimum-Bayes-risk choice of its n-best list
)

// Strategies lists the values of Options.Strategy.
var Strategies = []string{StrategyGreedy, StrategySample, StrategyBeam, StrategyMBR}

// Options chooses a search and its settings.
type Options struct {
	Strategy      string  // one of Strategies; "" means greedy
	Beam          int     // beam and mbr: hypotheses kept per step (mbr: the n-best list it chooses from)
	LengthPenalty float64 // beam and mbr: the α of Beam's length normalisation
	MaxLen        int     // longest output, in tokens
	Temperature   float64 // sample: softmax temperature
	// NBest is how many hypotheses per item Decode returns: the chosen one
	// first, then (beam, mbr) the rest of the n-best list by score, up to
	// Beam. 0 means 1.
	NBest int
	// Utility scores hypothesis a taking b as the reference (for example
	// sentence BLEU over their tokens); mbr needs it.
	Utility func(a, b []int) float64
}

// Decode runs the search opt names over the batch items of m, from bos
// until eos or opt.MaxLen tokens. It returns per item up to opt.NBest
// hypotheses, the chosen one first. rng draws the sample strategy's
// tokens. Invalid options are errors wrapping ErrInvalidArgument.
func Decode(m Stepper, batch, bos, eos int, opt Options, rng *rand.Rand) ([][]Hypothesis, error) {
	nbest := max(opt.NBest, 1)
	if opt.NBest < 0 {
		return nil, fmt.Errorf("%w: n-best %d < 0", ErrInvalidArgument, opt.NBest)
	}
	single := func(hyps []Hypothesis, err error) ([][]Hypothesis, error) {
		if err != nil {
			return nil, err
		}
		out := make([][]Hypothesis, len(hyps))
		for i, h := range hyps {
			out[i] = []Hypothesis{h}
		}
		return out, nil
	}
	switch opt.Strategy {
	case StrategyGreedy, "":
		return single(Greedy(m, batch, bos, eos, opt.MaxLen))
	case StrategySample:
		return single(Sample(m, batch, bos, eos, opt.MaxLen, opt.Temperature, rng))
	case StrategyBeam, StrategyMBR:
	default:
		return nil, fmt.Errorf("%w: unknown strategy %q (want one of %v)", ErrInvalidArgument, opt.Strategy, Strategies)
	}
	if opt.Strategy == StrategyMBR && opt.Utility == nil {
		return nil, fmt.Errorf("%w: mbr needs a utility function", ErrInvalidArgument)
	}
	lists, err := Beam(m, batch, bos, eos, opt.MaxLen, opt.Beam, opt.LengthPenalty)
	if err != nil {
		return nil, err
	}
	for k, list := range lists {
		if opt.Strategy == StrategyMBR {
			pick := MBR(list, func(i, j int) float64 { return opt.Utility(list[i].Tokens, list[j].Tokens) })
			if pick < 0 {
				return nil, fmt.Errorf("mbr: beam search returned no hypothesis for item %d", k)
			}
			list = append([]Hypothesis{list[pick]}, append(list[:pick:pick], list[pick+1:]...)...)
		}
		lists[k] = list[:min(nbest, len(list))]
	}
	return lists, nil
}
