package decoding

import (
	"fmt"
	"math"
)

// Ensemble returns a [Stepper] whose next-token distribution is the mean of
// its members' (the probabilities averaged, as fairseq's ensembles do, so
// that every row stays a distribution), for decoding with several models
// trained on the same vocabulary. Each Step advances every member by the
// same tokens and each Reorder reorders them all, so the members keep one
// state per hypothesis each. When every member reports attention
// ([AttentionStepper]) the ensemble does too, with the members' weights
// averaged; they must then attend over as many positions.
func Ensemble(members ...Stepper) (Stepper, error) {
	if len(members) == 0 {
		return nil, fmt.Errorf("%w: an ensemble needs at least one model", ErrInvalidArgument)
	}
	e := &ensemble{members: members, logK: math.Log(float64(len(members)))}
	for _, m := range members {
		a, ok := m.(AttentionStepper)
		if !ok {
			return e, nil
		}
		e.attenders = append(e.attenders, a)
	}
	return &attentionEnsemble{ensemble: e}, nil
}

type ensemble struct {
	members   []Stepper
	attenders []AttentionStepper // every member, when all report attention
	logK      float64
	logProbs  []float64
}

// Step adds each member's probabilities into e.logProbs in log space, one
// member at a time: a member may return the same buffer on every call, so
// only the current one's answer is read.
func (e *ensemble) Step(tokens []int) ([]float64, error) {
	for k, m := range e.members {
		lp, err := m.Step(tokens)
		if err != nil {
			return nil, fmt.Errorf("model %d of the ensemble: %w", k+1, err)
		}
		if k == 0 {
			e.logProbs = append(e.logProbs[:0], lp...)
			continue
		}
		if len(lp) != len(e.logProbs) {
			return nil, fmt.Errorf("model %d of the ensemble returned %d log-probabilities, model 1 %d: the models' vocabularies differ", k+1, len(lp), len(e.logProbs))
		}
		AddLogProbs(e.logProbs, lp)
	}
	for i := range e.logProbs {
		e.logProbs[i] -= e.logK
	}
	return e.logProbs, nil
}

func (e *ensemble) Reorder(indices []int) error {
	for k, m := range e.members {
		if err := m.Reorder(indices); err != nil {
			return fmt.Errorf("model %d of the ensemble: %w", k+1, err)
		}
	}
	return nil
}

// AddLogProbs adds the probabilities lp holds in log space into acc, also
// in log space: acc[i] = log(exp(acc[i]) + exp(lp[i])). Subtracting log K
// after adding K models' rows gives the log of their mean, the ensemble's
// distribution.
func AddLogProbs(acc, lp []float64) {
	for i, x := range lp {
		acc[i] = logAddExp(acc[i], x)
	}
}

// logAddExp is log(exp(a) + exp(b)) without overflow; -Inf is log 0 and NaN
// stays NaN.
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// attentionEnsemble is an ensemble of AttentionSteppers.
type attentionEnsemble struct {
	*ensemble
	attention [][]float64 // the last Step's averaged rows, reused
}

// Step steps the members and averages their attention rows.
func (e *attentionEnsemble) Step(tokens []int) ([]float64, error) {
	lp, err := e.ensemble.Step(tokens)
	if err != nil {
		return nil, err
	}
	if err := e.averageAttention(len(tokens)); err != nil {
		return nil, err
	}
	return lp, nil
}

// Attention returns the members' attention of the last Step, averaged.
func (e *attentionEnsemble) Attention() [][]float64 { return e.attention }

func (e *attentionEnsemble) averageAttention(n int) error {
	if c := cap(e.attention); c < n { // keep the rows made so far for reuse
		e.attention = append(e.attention[:c], make([][]float64, n-c)...)
	}
	att := e.attention[:n]
	for k, a := range e.attenders {
		rows := a.Attention()
		if len(rows) != n {
			return fmt.Errorf("model %d of the ensemble returned %d attention rows for %d tokens", k+1, len(rows), n)
		}
		for i, row := range rows {
			if k == 0 {
				att[i] = append(att[i][:0], row...)
				continue
			}
			if len(row) != len(att[i]) {
				return fmt.Errorf("model %d of the ensemble attends over %d positions, model 1 over %d: the models read different inputs", k+1, len(row), len(att[i]))
			}
			for j, w := range row {
				att[i][j] += w
			}
		}
	}
	scale := 1 / float64(len(e.attenders))
	for _, row := range att {
		for j := range row {
			row[j] *= scale
		}
	}
	e.attention = att
	return nil
}
