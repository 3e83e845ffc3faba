package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GradCheckResult reports the worst disagreement GradCheck found.
type GradCheckResult struct {
	Checked  int     // entries compared
	WorstErr float64 // largest |analytic - numeric| / (atol + rtol*max(|a|,|n|)); <= 1 passes
	Where    string  // parameter and index of the worst entry
	Analytic float64
	Numeric  float64
}

// OK reports whether every entry agreed within tolerance.
func (r GradCheckResult) OK() bool { return r.WorstErr <= 1 }

func (r GradCheckResult) String() string {
	return fmt.Sprintf("%d entries, worst %.3g at %s (analytic %.9g, numeric %.9g)", r.Checked, r.WorstErr, r.Where, r.Analytic, r.Numeric)
}

// GradCheck compares the gradients already accumulated in params (by the
// caller's forward and backward pass) with centred finite differences of
// loss, which must rerun the forward pass deterministically and return the
// scalar. It probes up to perParam entries of each parameter, chosen by rng
// (all of them when the parameter is small enough), so that every layer's
// test is a real check of every gradient it produces — inputs and initial
// states too, when the caller wraps them as Params. The gradients are read
// before probing, so loss may run backward passes too (as a training step
// does) without spoiling the comparison.
func GradCheck(loss func() float64, params Params[float64], eps, atol, rtol float64, perParam int, rng *rand.Rand) GradCheckResult {
	var res GradCheckResult
	analytic := make([][]float64, len(params))
	for k, p := range params {
		analytic[k] = append([]float64(nil), p.Grad...)
	}
	for k, p := range params {
		idx := make([]int, p.Size())
		for i := range idx {
			idx[i] = i
		}
		if len(idx) > perParam {
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			idx = idx[:perParam]
		}
		for _, i := range idx {
			old := p.Value[i]
			p.Value[i] = old + eps
			up := loss()
			p.Value[i] = old - eps
			down := loss()
			p.Value[i] = old
			num := (up - down) / (2 * eps)
			a := analytic[k][i]
			e := math.Abs(a-num) / (atol + rtol*math.Max(math.Abs(a), math.Abs(num)))
			if math.IsNaN(e) {
				e = math.Inf(1)
			}
			res.Checked++
			if e > res.WorstErr || res.Where == "" {
				res.WorstErr, res.Where, res.Analytic, res.Numeric = e, fmt.Sprintf("%s[%d]", p.Name, i), a, num
			}
		}
	}
	return res
}
