package decoding

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestGreedyStream checks that items joining a running greedy search get
// what Greedy gives them in one batch (tokens, log-probabilities and the
// attention of their own path), each reported once under its arrival
// number, whether they join live items or a search that has none left.
func TestGreedyStream(t *testing.T) {
	const v, bos, eos, items = 6, 6, 0, 9
	for _, tc := range []struct {
		name     string
		maxLen   int
		withAtt  bool
		arrivals [][]int // the items each call of more brings, in turn
		idle     bool    // bring them only once no item is live
	}{
		{"join live items", 5, true, [][]int{{2, 3}, nil, {4}, {5, 6, 7}, {8}}, false},
		{"join after all ended", 3, true, [][]int{{2, 3}, {4, 5, 6, 7, 8}}, true},
		{"one at a time", 6, false, [][]int{{2}, {3}, {4}, {5}, {6}, {7}, {8}}, false},
		{"maxLen 0", 0, true, [][]int{{2, 3, 4, 5, 6, 7, 8}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := randomTable(rand.New(rand.NewPCG(5, 6)), items, v, tc.maxLen)
			want, err := Greedy(newMarkov(items, v, table).stepper(tc.withAtt), items, bos, eos, tc.maxLen)
			if err != nil {
				t.Fatal(err)
			}
			got := make(map[int]Hypothesis)
			calls := 0
			more := func(live int) (Joiner, int, error) {
				if calls == len(tc.arrivals) || tc.idle && live > 0 {
					return nil, 0, nil
				}
				next := tc.arrivals[calls]
				calls++
				if len(next) == 0 {
					return nil, 0, nil
				}
				return joiner(newMarkovItems(v, table, next...), tc.withAtt), len(next), nil
			}
			done := func(item int, h Hypothesis) {
				if _, twice := got[item]; twice {
					t.Errorf("item %d reported twice", item)
				}
				got[item] = h
			}
			if err := GreedyStream(joiner(newMarkovItems(v, table, 0, 1), tc.withAtt), 2, bos, eos, tc.maxLen, more, done); err != nil {
				t.Fatal(err)
			}
			if calls != len(tc.arrivals) {
				t.Errorf("more called %d times, want every arrival taken (%d)", calls, len(tc.arrivals))
			}
			if len(got) != items {
				t.Fatalf("%d items reported, want %d", len(got), items)
			}
			tokens := 0
			for i := range items {
				tokens += len(got[i].Tokens)
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("item %d: stream %+v, batch %+v", i, got[i], want[i])
				}
			}
			if tc.maxLen > 0 && tokens < items {
				t.Errorf("only %d tokens generated: the test exercises too little", tokens)
			}
		})
	}
}

// joiner returns m as a Joiner with or without attention.
func joiner(m *markov, withAtt bool) Joiner {
	if withAtt {
		return attMarkov{m}
	}
	return m
}

// TestGreedyStreamErrors checks that a failing arrival, step or join ends
// the stream with its error.
func TestGreedyStreamErrors(t *testing.T) {
	table := randomTable(rand.New(rand.NewPCG(1, 1)), 4, 5, 4)
	boom := errors.New("boom")
	m := newMarkovItems(5, table, 0)
	err := GreedyStream(m, 1, 5, 0, 4, func(int) (Joiner, int, error) { return nil, 0, boom }, func(int, Hypothesis) {})
	if !errors.Is(err, boom) {
		t.Errorf("failing more: %v, want %v", err, boom)
	}
	m = newMarkovItems(5, table, 0, 1)
	m.failStep, m.err = 2, boom
	err = GreedyStream(m, 2, 5, 0, 4, func(int) (Joiner, int, error) { return newMarkovItems(5, table, 2), 1, nil }, func(int, Hypothesis) {})
	if !errors.Is(err, boom) {
		t.Errorf("failing step: %v, want %v", err, boom)
	}
	err = GreedyStream(newMarkovItems(5, table, 0), 1, 5, 0, 4, func(int) (Joiner, int, error) { return stranger{}, 1, nil }, func(int, Hypothesis) {})
	if err == nil {
		t.Error("joining a search of another kind succeeded")
	}
	if err := GreedyStream(m, 1, 5, 0, 4, nil, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil callbacks: %v, want ErrInvalidArgument", err)
	}
}

// stranger is a Joiner the mock cannot join.
type stranger struct{ Joiner }
