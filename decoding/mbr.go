package decoding

import "math"

// MBR returns the index of the minimum-Bayes-risk choice among candidates
// (an n-best list): the one whose expected utility against the others is
// highest, each candidate (itself included) weighted by its probability
// under the model renormalised over the list (a softmax of LogProb).
// utility(i, j) scores candidate i taking candidate j as the reference,
// e.g. sentence BLEU.
//
// Where beam search returns the single most probable sequence, MBR returns
// the consensus of the probable ones: the sequence sharing most with what
// the model finds likely, which is what a metric such as BLEU rewards. It
// returns -1 for an empty list.
func MBR(candidates []Hypothesis, utility func(i, j int) float64) int {
	if len(candidates) == 0 {
		return -1
	}
	top := math.Inf(-1)
	for _, h := range candidates {
		top = max(top, h.LogProb)
	}
	weight := make([]float64, len(candidates))
	for j, h := range candidates {
		weight[j] = math.Exp(h.LogProb - top)
	}
	best, bestGain := 0, math.Inf(-1)
	for i := range candidates {
		var gain float64
		for j, w := range weight {
			gain += w * utility(i, j)
		}
		if gain > bestGain {
			best, bestGain = i, gain
		}
	}
	return best
}
