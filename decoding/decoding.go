// Package decoding implements the search algorithms used to turn a step-wise
// sequence model into output sequences: greedy decoding, temperature sampling
// and beam search.
//
// The algorithms are written once against [Stepper], a small interface that a
// translation or captioning decoder implements on top of its recurrent state.
// The search owns the token bookkeeping (which hypotheses are alive, their
// scores, when they stop); the model owns the numerics (one batched step over
// all live hypotheses) and the state layout (permuting its state rows when the
// search reorders, drops or duplicates hypotheses).
//
// # Protocol
//
// Before a search starts, the model holds one state per batch item, in item
// order (for example the encoder's final states or the image features). The
// search then repeats:
//
//  1. Step(tokens) with the last token of every live hypothesis (the
//     beginning-of-sequence token on the first call), in the model's current
//     state order. The model advances every state by one token and returns the
//     log-probabilities of the next token, row-major, one row of V per token.
//  2. Reorder(indices), when the set of live hypotheses changes: the new
//     state i is a copy of the old state indices[i]. Indices may repeat (beam
//     search duplicating a promising prefix) and may skip states (finished
//     items and pruned hypotheses). The search does not call Reorder when the
//     new set would be identical to the old one, nor after the last step.
//
// Package decoding imports only the standard library, so any model package
// can depend on it.
package decoding

import (
	"errors"
	"fmt"
	"math"
)

// Stepper is a model that can extend a set of hypotheses by one token.
//
// The vocabulary size V is inferred from the first Step: len(logProbs) must
// be a positive multiple of len(tokens), and V must not change during one
// search.
type Stepper interface {
	// Step feeds tokens[i] to state i and returns the log-probabilities of
	// the next token as a flat slice of len(tokens)*V values: row i,
	// logProbs[i*V:(i+1)*V], belongs to state i. The search reads the slice
	// before calling the model again and never keeps it, so a model may
	// return the same buffer on every call instead of allocating.
	Step(tokens []int) (logProbs []float64, err error)

	// Reorder makes the model's states the old states at indices, in that
	// order; an index may appear more than once or not at all.
	Reorder(indices []int) error
}

// ArgmaxStepper is a [Stepper] that can also answer a step with only what
// greedy search needs: for each state i, the most likely next token best[i]
// and its log-probability logProbs[i], plus the vocabulary size. best[i]
// must be the token greedy search would pick from Step's row (the smallest
// id on ties) and logProbs[i] that row's value for it: a NaN or +Inf
// anywhere in the row must show as a NaN or +Inf logProbs[i] (a log-sum-exp
// normaliser does this), so that the search reports it as it would from
// Step. The slices may be reused on the next call.
//
// [Greedy] uses it automatically when the model implements it.
type ArgmaxStepper interface {
	Stepper

	StepArgmax(tokens []int) (best []int, logProbs []float64, vocab int, err error)
}

// TopKStepper is a [Stepper] that can also answer a step with only what
// beam search needs, instead of every token's log-probability: for each
// state i, the min(k, V) tokens that rank highest by prior[i] plus their
// log-probability, best first and the smaller id first on ties, in
// best[i*kk:(i+1)*kk] with their log-probabilities (without prior) in
// logProbs, kk = min(k, V). They must be exactly the values Step's row
// holds for those tokens, ranked by the same float64 sums the search forms,
// so that the search finds what it finds from Step; and a NaN or +Inf
// anywhere in the row must show as a NaN or +Inf among the row's answers
// (a log-sum-exp normaliser does this). The slices may be reused on the
// next call.
//
// [Beam] uses it automatically when the model implements it: a step then
// costs the model no row of V float64 values per hypothesis.
type TopKStepper interface {
	Stepper

	StepTopK(tokens []int, prior []float64, k int) (best []int, logProbs []float64, vocab int, err error)
}

// AttentionStepper is a [Stepper] that can also report the attention weights
// of its last Step, so that the search can return the attention matrix of each
// hypothesis (for alignment plots or replacing unknown words).
//
// The search uses it automatically when the model implements it.
type AttentionStepper interface {
	Stepper

	// Attention returns the attention weights computed by the last Step,
	// one row per token passed to it, in the same order; each row is over
	// the source positions (or image regions). The search copies the rows
	// it keeps, so the model may reuse the memory on the next Step.
	Attention() [][]float64
}

// Hypothesis is one output sequence and its score.
type Hypothesis struct {
	// Tokens is the generated sequence without the beginning- and
	// end-of-sequence tokens.
	Tokens []int

	// LogProb is the model's log-probability of the sequence: the sum of the
	// log-probabilities of Tokens and, if Finished, of the end-of-sequence
	// token. Sampling reports the model's own probabilities, not the
	// temperature-scaled ones.
	LogProb float64

	// Score is the value the search ranked hypotheses by. For beam search it
	// is LogProb/L^α with α the length penalty and L the number of generated
	// tokens, end-of-sequence included (len(Tokens)+1 if Finished); for
	// greedy decoding and sampling it equals LogProb.
	Score float64

	// Finished reports whether the sequence ended with the end-of-sequence
	// token; false means it was cut off at the maximum length.
	Finished bool

	// Attention holds, when the model is an [AttentionStepper], the attention
	// weights of every step that produced this sequence: row t is the
	// attention while generating Tokens[t] (the last row, if Finished, is the
	// step that produced end-of-sequence). It is nil otherwise. Hypotheses
	// from one beam search share the rows of their common prefix, so treat
	// them as read-only.
	Attention [][]float64
}

// ErrInvalidArgument is wrapped by the errors about a search's arguments
// (a beam width below 1, an unknown strategy), so that callers can tell a
// bad request apart from a failure of the model.
var ErrInvalidArgument = errors.New("decoding: invalid argument")

// checkArgs validates the arguments shared by all searches.
func checkArgs(batch, eos, maxLen int) error {
	switch {
	case batch < 0:
		return fmt.Errorf("%w: batch %d < 0", ErrInvalidArgument, batch)
	case eos < 0:
		return fmt.Errorf("%w: eos %d < 0", ErrInvalidArgument, eos)
	case maxLen < 0:
		return fmt.Errorf("%w: maxLen %d < 0", ErrInvalidArgument, maxLen)
	}
	return nil
}

// stepper wraps a Stepper with the shape checks and error wrapping every
// search needs.
type stepper struct {
	m     Stepper
	att   AttentionStepper // nil if m does not report attention
	eos   int
	v     int // vocabulary size, 0 until the first step
	steps int // Step calls so far
}

func newStepper(m Stepper, eos int) *stepper {
	s := &stepper{m: m, eos: eos}
	s.att, _ = m.(AttentionStepper)
	return s
}

// stepArgmax calls the model's StepArgmax and checks its answer as step
// checks Step's.
func (s *stepper) stepArgmax(m ArgmaxStepper, tokens []int) ([]int, []float64, [][]float64, error) {
	s.steps++
	best, lp, v, err := m.StepArgmax(tokens)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("decoding: step %d: %w", s.steps, err)
	}
	n := len(tokens)
	if len(best) != n || len(lp) != n || v < 1 {
		return nil, nil, nil, fmt.Errorf("decoding: step %d: model returned %d tokens and %d log-probabilities over %d for %d tokens", s.steps, len(best), len(lp), v, n)
	}
	if err := s.vocab(v); err != nil {
		return nil, nil, nil, err
	}
	for i, x := range lp {
		if best[i] < 0 || best[i] >= v {
			return nil, nil, nil, fmt.Errorf("decoding: step %d: model chose token %d outside the vocabulary of %d for hypothesis %d", s.steps, best[i], v, i)
		}
		if !(x <= math.MaxFloat64) {
			return nil, nil, nil, fmt.Errorf("decoding: step %d: log-probability %v for token %d of hypothesis %d", s.steps, x, best[i], i)
		}
	}
	att, err := s.attention(n)
	return best, lp, att, err
}

// stepTopK calls the model's StepTopK and checks its answer as step checks
// Step's.
func (s *stepper) stepTopK(m TopKStepper, tokens []int, prior []float64, k int) ([]int, []float64, [][]float64, error) {
	s.steps++
	best, lp, v, err := m.StepTopK(tokens, prior, k)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("decoding: step %d: %w", s.steps, err)
	}
	n := len(tokens)
	if v < 1 || len(best) != n*min(k, v) || len(lp) != len(best) {
		return nil, nil, nil, fmt.Errorf("decoding: step %d: model returned %d tokens and %d log-probabilities over %d for the best %d of %d tokens", s.steps, len(best), len(lp), v, k, n)
	}
	if err := s.vocab(v); err != nil {
		return nil, nil, nil, err
	}
	per := len(best) / n
	for i, x := range lp {
		if best[i] < 0 || best[i] >= v {
			return nil, nil, nil, fmt.Errorf("decoding: step %d: model chose token %d outside the vocabulary of %d for hypothesis %d", s.steps, best[i], v, i/per)
		}
		if !(x <= math.MaxFloat64) {
			return nil, nil, nil, fmt.Errorf("decoding: step %d: log-probability %v for token %d of hypothesis %d", s.steps, x, best[i], i/per)
		}
	}
	att, err := s.attention(n)
	return best, lp, att, err
}

// vocab checks the vocabulary size v of a step's answer: eos within it, and
// the same at every step.
func (s *stepper) vocab(v int) error {
	if s.v == 0 {
		if s.eos >= v {
			return fmt.Errorf("%w: eos %d outside the vocabulary of %d tokens", ErrInvalidArgument, s.eos, v)
		}
		s.v = v
	} else if v != s.v {
		return fmt.Errorf("decoding: step %d: vocabulary size changed from %d to %d", s.steps, s.v, v)
	}
	return nil
}

// attention returns the model's attention rows for n tokens (nil when it
// does not report attention).
func (s *stepper) attention(n int) ([][]float64, error) {
	if s.att == nil {
		return nil, nil
	}
	att := s.att.Attention()
	if len(att) != n {
		return nil, fmt.Errorf("decoding: step %d: model returned %d attention rows for %d tokens", s.steps, len(att), n)
	}
	return att, nil
}

// step calls the model and checks the shape of its answer. It returns the
// log-probabilities and, for an AttentionStepper, the attention rows.
func (s *stepper) step(tokens []int) ([]float64, [][]float64, error) {
	s.steps++
	lp, err := s.m.Step(tokens)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding: step %d: %w", s.steps, err)
	}
	n := len(tokens)
	if len(lp) == 0 || len(lp)%n != 0 {
		return nil, nil, fmt.Errorf("decoding: step %d: model returned %d log-probabilities for %d tokens", s.steps, len(lp), n)
	}
	v := len(lp) / n
	if err := s.vocab(v); err != nil {
		return nil, nil, err
	}
	for i, x := range lp {
		if !(x <= math.MaxFloat64) { // NaN or +Inf; -Inf is a valid log(0)
			return nil, nil, fmt.Errorf("decoding: step %d: log-probability %v for token %d of hypothesis %d", s.steps, x, i%v, i/v)
		}
	}
	att, err := s.attention(n)
	if err != nil {
		return nil, nil, err
	}
	return lp, att, nil
}

// reorder calls the model's Reorder unless indices is the identity on the
// current n states.
func (s *stepper) reorder(indices []int, n int) error {
	if len(indices) == n {
		identity := true
		for i, j := range indices {
			if i != j {
				identity = false
				break
			}
		}
		if identity {
			return nil
		}
	}
	if err := s.m.Reorder(indices); err != nil {
		return fmt.Errorf("decoding: reorder after step %d: %w", s.steps, err)
	}
	return nil
}

// argmax returns the index of the largest value, the smallest such index on
// ties, so that decoding is deterministic.
func argmax(row []float64) int {
	best := 0
	for i, x := range row[1:] {
		if x > row[best] {
			best = i + 1
		}
	}
	return best
}

// clone copies an attention row, which the model may overwrite.
func clone(row []float64) []float64 {
	return append([]float64(nil), row...)
}
