package tasks

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/seqtask/seqtask/decoding"
)

// TestSearchBatchSize: greedy and sampling searches hold a training batch
// of items; beam searches as many as fit in maxSearchRows hypotheses.
func TestSearchBatchSize(t *testing.T) {
	for _, tc := range []struct {
		strategy    string
		beam, batch int
		want        int
	}{
		{decoding.StrategyGreedy, 5, 64, 64},
		{decoding.StrategySample, 5, 64, 64},
		{decoding.StrategyBeam, 5, 64, 64},
		{decoding.StrategyMBR, 5, 32, 32},
		{decoding.StrategyBeam, 10, 128, maxSearchRows / 10},
		{decoding.StrategyBeam, 1000, 8, 1},
	} {
		if got := (DecodeOptions{Strategy: tc.strategy, Beam: tc.beam}).batchSize(tc.batch); got != tc.want {
			t.Errorf("%s beam %d batch %d: %d items per search, want %d", tc.strategy, tc.beam, tc.batch, got, tc.want)
		}
	}
}

// TestSplitGroups: groups are halved, largest first and in their order,
// until there is one per worker or a half would fall below minShare; every
// item stays, once.
func TestSplitGroups(t *testing.T) {
	seq := func(lo, n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = lo + i
		}
		return s
	}
	for _, tc := range []struct {
		sizes   []int
		workers int
		want    []int
	}{
		{[]int{64}, 2, []int{32, 32}},
		{[]int{64}, 3, []int{16, 16, 32}}, // the largest (first) half is split again
		{[]int{64, 10}, 2, []int{64, 10}}, // already enough groups
		{[]int{20, 4}, 3, []int{10, 10, 4}},
		{[]int{15}, 2, []int{15}}, // halves of 7 are too small
		{[]int{16}, 8, []int{8, 8}},
		{nil, 2, nil},
	} {
		var groups [][]int
		n := 0
		for _, s := range tc.sizes {
			groups = append(groups, seq(n, s))
			n += s
		}
		got := splitGroups(groups, tc.workers)
		var sizes, items []int
		for _, g := range got {
			sizes = append(sizes, len(g))
			items = append(items, g...)
		}
		if !slices.Equal(sizes, tc.want) || !slices.Equal(items, seq(0, n)) {
			t.Errorf("%v over %d workers: groups %v holding %v, want sizes %v holding 0..%d in order", tc.sizes, tc.workers, sizes, items, tc.want, n-1)
		}
	}
}

// TestForEachGroup: every group is decoded once, on no more workers than
// asked, and an error comes back.
func TestForEachGroup(t *testing.T) {
	groups := [][]int{{0}, {1}, {2}, {3}, {4}}
	var mu sync.Mutex
	seen := map[int]int{}
	workers := map[int]bool{}
	err := forEachGroup(groups, 2, func(w int, g []int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[g[0]]++
		workers[w] = true
		return nil
	})
	if err != nil || len(seen) != 5 || len(workers) > 2 {
		t.Fatalf("err %v, groups decoded %v, workers %v", err, seen, workers)
	}
	for g, n := range seen {
		if n != 1 {
			t.Errorf("group %d decoded %d times", g, n)
		}
	}
	bad := errors.New("no model")
	if err := forEachGroup(groups, 3, func(w int, g []int) error {
		if g[0] == 3 {
			return bad
		}
		return nil
	}); !errors.Is(err, bad) {
		t.Errorf("error %v, want %v", err, bad)
	}
}
