package decoding

import "fmt"

// Joiner is a [Stepper] whose search can take in further items while it
// runs, so that a server can decode requests as they come instead of in
// batches that wait for their longest item.
type Joiner interface {
	Stepper

	// Join appends the states of other after the model's own: other is a
	// search of the same model over new items, holding one state per item
	// as a search starts. After Join the model holds its states, then
	// other's, in that order, and other is no longer used.
	Join(other Stepper) error
}

// GreedyStream decodes greedily, as [Greedy] does, items that keep
// arriving while it runs. It starts with the items of m; before every
// step it asks more, given the number of items still being decoded, for
// a search over items that have come since (a search of the same model,
// started as any search is, with one state per item) and their count, or
// nil and 0 when none have. Each item's hypothesis goes to done as soon as
// the item ends, with the item's number: m's items are 0..items-1, and
// those that join are numbered on in the order they come. Once no item is
// left, more is asked once more; the search ends when it brings none.
//
// An item's tokens are those [Greedy] chooses for it alone whenever the
// model computes each state's step independently of the others'.
func GreedyStream(m Joiner, items, bos, eos, maxLen int, more func(live int) (Joiner, int, error), done func(item int, h Hypothesis)) error {
	if err := checkArgs(items, eos, maxLen); err != nil {
		return err
	}
	if more == nil || done == nil {
		return fmt.Errorf("%w: nil more or done", ErrInvalidArgument)
	}
	return extend(m, items, bos, eos, maxLen, nil, func(live int) (Stepper, int, error) {
		j, n, err := more(live)
		if j == nil {
			return nil, n, err // no typed nil inside the interface
		}
		return j, n, err
	}, done)
}

// use makes m the model the search steps, as a search over new items
// when the old one has none left.
func (s *stepper) use(m Stepper) {
	s.m = m
	s.att, _ = m.(AttentionStepper)
}

// join appends the states of other to the model's (Joiner.Join).
func (s *stepper) join(other Stepper) error {
	j, ok := s.m.(Joiner)
	if !ok {
		return fmt.Errorf("%w: the model cannot take in items while it decodes", ErrInvalidArgument)
	}
	if err := j.Join(other); err != nil {
		return fmt.Errorf("decoding: join after step %d: %w", s.steps, err)
	}
	return nil
}
