package decoders

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/nn"
)

// TestTopTokens checks topTokens against ranking every token of the row by
// prior + its log-softmax value (ties by id), and that a NaN or +Inf logit
// shows as NaN log-probabilities.
func TestTopTokens(t *testing.T) {
	for _, tc := range []struct {
		name  string
		row   []float32
		prior float64
		k     int
	}{
		{"distinct", []float32{0.3, -1, 2.5, 0.7, 1.1, -0.2}, 0, 3},
		{"one", []float32{0.3, -1, 2.5, 0.7, 1.1, -0.2}, -2, 1},
		{"every token", []float32{0.3, -1, 2.5, 0.7}, -2, 4},
		{"ties", []float32{1, 2, 1, 2, 0, 2}, -0.5, 4},
		// -1e16 + x rounds to -1e16 for several x: those tie, smaller id first.
		{"rounded sums", []float32{-8, 0, 0.1, 0.2, 0.3, 0.35}, -1e16, 2},
		{"minus infinity", []float32{float32(math.Inf(-1)), 0, 1}, 0, 3},
	} {
		toks, lps := make([]int, tc.k), make([]float64, tc.k)
		topTokens(tc.row, tc.prior, toks, lps)
		full := make([]float64, len(tc.row))
		logSoftmax(tc.row, full)
		order := make([]int, len(tc.row))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(x, y int) int {
			kx, ky := tc.prior+full[x], tc.prior+full[y]
			switch {
			case kx > ky:
				return -1
			case kx < ky:
				return 1
			}
			return 0
		})
		if !slices.Equal(toks, order[:tc.k]) {
			t.Errorf("%s: tokens %v, want %v", tc.name, toks, order[:tc.k])
		}
		for i, tok := range toks {
			if lps[i] != full[tok] {
				t.Errorf("%s: token %d log-probability %v, logSoftmax gives %v", tc.name, tok, lps[i], full[tok])
			}
		}
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		row := []float32{0.5, bad, -1, 2}
		toks, lps := make([]int, 2), make([]float64, 2)
		topTokens(row, 0, toks, lps)
		for _, x := range lps {
			if !math.IsNaN(x) {
				t.Errorf("logit %v: log-probabilities %v, want NaN", bad, lps)
			}
		}
	}
}

// TestSearchJoin checks that items a running greedy search takes in
// (Join), with sources of other lengths, get the tokens and
// log-probabilities that each gets alone, for every attention kind and
// cell; and that Reorder then drops the keys of finished items.
func TestSearchJoin(t *testing.T) {
	for _, attention := range []nn.AttentionKind{"none", "dot", "general", "additive"} {
		for _, cell := range []nn.Cell{nn.CellGRU, nn.CellLSTM} {
			t.Run(string(attention)+"/"+string(cell), func(t *testing.T) {
				cfg := Config{Vocab: 9, Embed: 5, Cell: cell, Hidden: 6, Layers: 2, Key: 6, Attention: attention, InputFeeding: attention != "none"}
				testSearchJoin(t, cfg)
			})
		}
	}
}

func testSearchJoin(t *testing.T, cfg Config) {
	rng := rand.New(rand.NewPCG(5, 6))
	d, err := New[float64]("decoder", cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	lengths := []int{2, 5, 1, 4, 3, 6, 2}
	const bos, eos, maxLen = 1, 2, 8
	type item struct{ h0, c0, keys nn.Mat[float64] }
	items := make([]item, len(lengths))
	for i, n := range lengths {
		it := &items[i]
		it.h0 = nn.NewMat[float64](cfg.Layers, cfg.Hidden)
		nn.InitNormal(it.h0.Data, 2, rng)
		if cfg.Cell == nn.CellLSTM {
			it.c0 = nn.NewMat[float64](cfg.Layers, cfg.Hidden)
			nn.InitNormal(it.c0.Data, 1, rng)
		}
		if d.Attends() {
			it.keys = nn.NewMat[float64](n, cfg.Key)
			nn.InitNormal(it.keys.Data, 1, rng)
		}
	}
	// start starts a search over some of the items, their keys padded to
	// the longest of them.
	start := func(of ...int) decoding.Joiner {
		B, S := len(of), 0
		for _, i := range of {
			S = max(S, lengths[i])
		}
		h0 := nn.NewMat[float64](cfg.Layers*B, cfg.Hidden)
		var c0, keys nn.Mat[float64]
		if cfg.Cell == nn.CellLSTM {
			c0 = nn.NewMat[float64](cfg.Layers*B, cfg.Hidden)
		}
		var lens []int
		if d.Attends() {
			keys = nn.NewMat[float64](B*S, cfg.Key)
		} else {
			S = 0
		}
		for b, i := range of {
			for l := range cfg.Layers {
				copy(h0.Row(l*B+b), items[i].h0.Row(l))
				if !c0.Empty() {
					copy(c0.Row(l*B+b), items[i].c0.Row(l))
				}
			}
			if d.Attends() {
				keys.RowBlock(b*S, b*S+lengths[i]).CopyFrom(items[i].keys)
				lens = append(lens, lengths[i])
			}
		}
		st, err := d.NewSearch(h0, c0, keys, S, lens, SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return st.(decoding.Joiner)
	}
	want := make([]decoding.Hypothesis, len(items))
	for i := range items {
		h, err := decoding.Greedy(start(i), 1, bos, eos, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = h[0]
	}
	arrivals := [][]int{{2, 3}, nil, {4}, {5, 6}}
	calls := 0
	got := make([]decoding.Hypothesis, len(items))
	first := start(0, 1)
	joined, _ := first.(*search[float64])
	if a, ok := first.(attentive[float64]); ok {
		joined = a.search
	}
	idle := false // the first search has run dry, and another carries on
	err = decoding.GreedyStream(first, 2, bos, eos, maxLen, func(live int) (decoding.Joiner, int, error) {
		idle = idle || live == 0
		if !idle && d.Attends() && len(joined.lengths) != live {
			t.Errorf("the search keeps the keys of %d items for %d hypotheses", len(joined.lengths), live)
		}
		if calls == len(arrivals) {
			return nil, 0, nil
		}
		calls++
		if len(arrivals[calls-1]) == 0 {
			return nil, 0, nil
		}
		return start(arrivals[calls-1]...), len(arrivals[calls-1]), nil
	}, func(i int, h decoding.Hypothesis) { got[i] = h })
	if err != nil {
		t.Fatal(err)
	}
	if calls != len(arrivals) {
		t.Fatalf("the search ended after %d arrivals, want %d", calls, len(arrivals))
	}
	tokens := 0
	for i := range items {
		tokens += len(want[i].Tokens)
		if !slices.Equal(got[i].Tokens, want[i].Tokens) || got[i].Finished != want[i].Finished || math.Abs(got[i].LogProb-want[i].LogProb) > 1e-9 {
			t.Errorf("item %d: joined %v (%v), alone %v (%v)", i, got[i].Tokens, got[i].LogProb, want[i].Tokens, want[i].LogProb)
		}
		for r, row := range got[i].Attention {
			for j, w := range row {
				if j >= lengths[i] && w != 0 || j < lengths[i] && math.Abs(w-want[i].Attention[r][j]) > 1e-9 {
					t.Fatalf("item %d: attention row %d = %v joined, %v alone", i, r, row, want[i].Attention[r])
				}
			}
		}
	}
	if tokens < 2*len(items) {
		t.Fatalf("only %d tokens generated: the test exercises too little", tokens)
	}
}
