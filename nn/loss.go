package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// IgnoreIndex marks a target position (padding) that contributes neither loss
// nor gradient, like PyTorch's ignore_index.
const IgnoreIndex = -1

// CrossEntropy computes softmax cross-entropy of logits [N][V] against
// targets [N] (IgnoreIndex skipped). It returns the summed loss over counted
// positions and their number, and writes into dlogits (same shape as logits)
// the gradient of sum/divisor. divisor <= 0 means "the number of counted
// positions", i.e. the mean per token.
//
// A target outside [0, V) is an error naming its position. A non-finite
// logit yields a non-finite loss, which callers turn into a clear stop.
func CrossEntropy[T Float](logits Mat[T], targets []int, dlogits Mat[T], divisor float64) (sum float64, count int, err error) {
	return CrossEntropyWith(logits, targets, dlogits, CrossEntropyOptions{Divisor: divisor})
}

// CrossEntropyOptions shape CrossEntropyWith's loss.
type CrossEntropyOptions struct {
	// Divisor: dlogits is the gradient of sum/Divisor; <= 0 means the
	// number of counted positions (the mean per token).
	Divisor float64
	// Weights, unless nil, multiply row i's loss by Weights[i]; count
	// still counts positions. They may be negative: with sampled tokens
	// as targets and each sample's advantage as its weight, the loss is
	// self-critical training's REINFORCE loss, -Σ advantage · log p.
	Weights []float64
	// Smoothing ε in [0, 1) trains towards (1-ε)·one-hot + ε/V rather than
	// the one-hot target (label smoothing, as PyTorch's label_smoothing):
	// the loss adds ε times the mean over the vocabulary of -log p.
	Smoothing float64
	// Temperature τ > 0 (0 means 1) makes the loss that of
	// softmax(logits/τ): the log-probabilities of tokens sampled at
	// temperature τ, whose REINFORCE loss must score them under the
	// distribution that drew them.
	Temperature float64
}

// CrossEntropyWith is CrossEntropy shaped by opts.
func CrossEntropyWith[T Float](logits Mat[T], targets []int, dlogits Mat[T], opts CrossEntropyOptions) (sum float64, count int, err error) {
	weights, eps := opts.Weights, opts.Smoothing
	if weights != nil && len(weights) != len(targets) {
		return 0, 0, fmt.Errorf("cross-entropy: %d weights for %d targets", len(weights), len(targets))
	}
	if !(eps >= 0 && eps < 1) {
		return 0, 0, fmt.Errorf("cross-entropy: label smoothing %v is outside [0, 1)", eps)
	}
	tau := opts.Temperature
	if tau == 0 {
		tau = 1
	}
	if !(tau > 0 && !math.IsInf(tau, 1)) {
		return 0, 0, fmt.Errorf("cross-entropy: temperature %v is not positive and finite", opts.Temperature)
	}
	if len(targets) != logits.Rows {
		return 0, 0, fmt.Errorf("cross-entropy: %d targets for %d rows of logits", len(targets), logits.Rows)
	}
	v := logits.Cols
	for i, t := range targets {
		if t == IgnoreIndex {
			continue
		}
		if t < 0 || t >= v {
			return 0, 0, fmt.Errorf("cross-entropy: target %d at position %d is outside [0,%d)", t, i, v)
		}
		count++
	}
	divisor := opts.Divisor
	if divisor <= 0 {
		divisor = float64(max(count, 1))
	}
	scale := 1 / divisor
	// Rows are independent: they are shared out among the cores, and their
	// losses summed in row order afterwards, so that the result does not
	// depend on the core count.
	losses := make([]float64, len(targets))
	parallelRange(len(targets), v, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			losses[i] = crossEntropyRow(logits.Row(i), dlogits.Row(i), targets[i], weights, i, eps, tau, scale)
		}
	})
	for _, l := range losses {
		sum += l
	}
	return sum, count, nil
}

// crossEntropyRow writes one row's share of CrossEntropyWith's gradient
// into drow and returns its weighted loss (0 for IgnoreIndex), at
// temperature tau.
func crossEntropyRow[T Float](row, drow []T, t int, weights []float64, i int, eps, tau, scale float64) float64 {
	if t == IgnoreIndex {
		clear(drow)
		return 0
	}
	v := len(row)
	m := row[0]
	for _, x := range row[1:] {
		if x > m {
			m = x
		}
	}
	w := 1.0
	if weights != nil {
		w = weights[i]
	}
	var z float64
	if tau == 1 {
		z = expShifted(drow, row, m)
	} else {
		for j, x := range row {
			e := math.Exp(float64(x-m) / tau)
			drow[j] = T(e)
			z += e
		}
	}
	logZ := math.Log(z) + float64(m)/tau // -log p_k = logZ - x_k/τ
	loss := logZ - float64(row[t])/tau
	if eps > 0 {
		var total float64
		for _, x := range row {
			total += float64(x)
		}
		loss = (1-eps)*loss + eps*(logZ-total/tau/float64(v))
	}
	// d loss/d x_j = (p_j - target_j)/τ.
	g := w * scale / tau
	inv := T(g / z)
	for j := range drow {
		drow[j] *= inv
	}
	if eps > 0 {
		uniform := T(g * eps / float64(v))
		for j := range drow {
			drow[j] -= uniform
		}
	}
	drow[t] -= T(g * (1 - eps))
	return w * loss
}

// Softmax writes softmax(logits/temperature) of one row into probs, in
// float64 so that sampling from it is exact enough whatever T is.
func Softmax[T Float](logits []T, temperature float64, probs []float64) {
	m := math.Inf(-1)
	for _, x := range logits {
		m = math.Max(m, float64(x)/temperature)
	}
	var z float64
	for j, x := range logits {
		probs[j] = math.Exp(float64(x)/temperature - m)
		z += probs[j]
	}
	for j := range probs {
		probs[j] /= z
	}
}

// BinaryCrossEntropy computes the sigmoid cross-entropy of logits [N][V]
// against targets of the same shape, each in [0,1] (PyTorch's
// BCEWithLogitsLoss): every entry is an independent yes/no label, as in
// multi-label prediction. It returns the summed loss and the number of
// entries, and writes into dlogits the gradient of sum/divisor; divisor
// <= 0 means the number of entries. The loss is computed in the stable
// form max(x,0) − x·y + log(1+e^−|x|).
func BinaryCrossEntropy[T Float](logits, targets, dlogits Mat[T], divisor float64) (sum float64, count int, err error) {
	for _, m := range []struct {
		name string
		m    Mat[T]
	}{{"targets", targets}, {"dlogits", dlogits}} {
		if m.m.Rows != logits.Rows || m.m.Cols != logits.Cols {
			return 0, 0, fmt.Errorf("binary cross-entropy: %s %d×%d for logits %d×%d", m.name, m.m.Rows, m.m.Cols, logits.Rows, logits.Cols)
		}
	}
	count = logits.Rows * logits.Cols
	if divisor <= 0 {
		divisor = float64(max(count, 1))
	}
	scale := 1 / divisor
	for i := range logits.Rows {
		row, trow, drow := logits.Row(i), targets.Row(i), dlogits.Row(i)
		for j, x := range row {
			y := float64(trow[j])
			if y < 0 || y > 1 || math.IsNaN(y) {
				return 0, 0, fmt.Errorf("binary cross-entropy: target %g at [%d][%d] is outside [0,1]", y, i, j)
			}
			xf := float64(x)
			sum += max(xf, 0) - xf*y + math.Log1p(math.Exp(-math.Abs(xf)))
			drow[j] = T((1/(1+math.Exp(-xf)) - y) * scale)
		}
	}
	return sum, count, nil
}

// SampleSoftmax draws an index from softmax(logits/temperature) with one
// rng.Float64, using probs [len(logits)] as scratch. It draws exactly what
// Softmax followed by an inverse-CDF walk (u < p[i], else u -= p[i]) draws —
// the same probabilities, rounded alike — but normalises only the
// probabilities it walks past.
func SampleSoftmax[T Float](logits []T, temperature float64, probs []float64, rng *rand.Rand) int {
	probs = probs[:len(logits)]
	m := math.Inf(-1)
	for j, x := range logits {
		v := float64(x) / temperature
		probs[j] = v
		if v > m || v != v { // math.Max's result, NaN included, without its call
			m = v
		}
	}
	var z float64
	for j, v := range probs {
		e := math.Exp(v - m)
		probs[j] = e
		z += e
	}
	u := rng.Float64()
	for i, e := range probs {
		p := e / z
		if u < p {
			return i
		}
		u -= p
	}
	return len(probs) - 1
}
