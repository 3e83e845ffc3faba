package decoding

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Hand-worked tables use eos = 0, a = 1, b = 2 and bos = 3 (an input-only
// token), so V = 3.
const (
	eos = 0
	a   = 1
	b   = 2
	bos = 3
)

type want struct {
	tokens   []int
	finished bool
	prob     float64 // product of the step probabilities
}

func TestHandWorked(t *testing.T) {
	tests := []struct {
		name   string
		rows   map[int][]float64
		maxLen int
		width  int
		alpha  float64
		greedy want
		beam   []want
	}{{
		// Greedy takes a (0.5) then eos (0.4): 0.2. Beam keeps b (0.4),
		// whose eos has 0.9: 0.36.
		name: "beam beats greedy",
		rows: map[int][]float64{
			bos: {0.1, 0.5, 0.4},
			a:   {0.4, 0.35, 0.25},
			b:   {0.9, 0.05, 0.05},
		},
		maxLen: 10, width: 2,
		greedy: want{[]int{a}, true, 0.5 * 0.4},
		beam:   []want{{[]int{b}, true, 0.4 * 0.9}, {[]int{a}, true, 0.5 * 0.4}},
	}, {
		// Width 3 also keeps the empty output, which finished first.
		name: "n-best",
		rows: map[int][]float64{
			bos: {0.1, 0.5, 0.4},
			a:   {0.4, 0.35, 0.25},
			b:   {0.9, 0.05, 0.05},
		},
		maxLen: 10, width: 3,
		greedy: want{[]int{a}, true, 0.5 * 0.4},
		beam: []want{
			{[]int{b}, true, 0.4 * 0.9},
			{[]int{a}, true, 0.5 * 0.4},
			{nil, true, 0.1},
		},
	}, {
		// Raw sums prefer the empty output (0.55 against 0.44*0.9 = 0.396),
		// and no longer hypothesis can beat it, so the search stops at once.
		name: "no length penalty favours short",
		rows: map[int][]float64{
			bos: {0.55, 0.44, 0.01},
			a:   {0.9, 0.05, 0.05},
			b:   {0.9, 0.05, 0.05},
		},
		maxLen: 10, width: 2, alpha: 0,
		greedy: want{nil, true, 0.55},
		beam:   []want{{nil, true, 0.55}},
	}, {
		// Per-token averages prefer [a]: ln(0.396)/2 = -0.46 > ln(0.55).
		name: "length penalty favours long",
		rows: map[int][]float64{
			bos: {0.55, 0.44, 0.01},
			a:   {0.9, 0.05, 0.05},
			b:   {0.9, 0.05, 0.05},
		},
		maxLen: 10, width: 2, alpha: 1,
		greedy: want{nil, true, 0.55},
		beam:   []want{{[]int{a}, true, 0.44 * 0.9}, {nil, true, 0.55}},
	}, {
		// eos is never likely: everything is cut at maxLen.
		name: "maxLen truncation",
		rows: map[int][]float64{
			bos: {0.01, 0.6, 0.39},
			a:   {0.01, 0.3, 0.69},
			b:   {0.01, 0.69, 0.3},
		},
		maxLen: 3, width: 2,
		greedy: want{[]int{a, b, a}, false, 0.6 * 0.69 * 0.69},
		beam: []want{
			{[]int{a, b, a}, false, 0.6 * 0.69 * 0.69},
			{[]int{b, a, b}, false, 0.39 * 0.69 * 0.69},
		},
	}, {
		// At the last step the eos of a (0.3) ranks first and finishes;
		// b's eos (0.156) ranks below a's continuations a (0.18) and so is
		// dropped, and the cut-off [a a] fills the second place.
		name: "eos at the last step",
		rows: map[int][]float64{
			bos: {0.01, 0.6, 0.39},
			a:   {0.5, 0.3, 0.2},
			b:   {0.4, 0.3, 0.3},
		},
		maxLen: 2, width: 2,
		greedy: want{[]int{a}, true, 0.6 * 0.5},
		beam:   []want{{[]int{a}, true, 0.6 * 0.5}, {[]int{a, a}, false, 0.6 * 0.3}},
	}, {
		name: "immediate eos",
		rows: map[int][]float64{
			bos: {0.7, 0.2, 0.1},
			a:   {0.5, 0.3, 0.2},
			b:   {0.5, 0.3, 0.2},
		},
		maxLen: 5, width: 2,
		greedy: want{nil, true, 0.7},
		beam:   []want{{nil, true, 0.7}},
	}, {
		name: "maxLen 0",
		rows: map[int][]float64{
			bos: {0.7, 0.2, 0.1},
		},
		maxLen: 0, width: 2,
		greedy: want{nil, false, 1},
		beam:   []want{{nil, false, 1}},
	}, {
		// All extensions tie: order by hypothesis rank, then token id, and
		// keep finished hypotheses of equal score in finishing order.
		name: "ties",
		rows: map[int][]float64{
			bos: {1. / 3, 1. / 3, 1. / 3},
			a:   {1. / 3, 1. / 3, 1. / 3},
			b:   {1. / 3, 1. / 3, 1. / 3},
		},
		maxLen: 10, width: 2, alpha: 1,
		greedy: want{nil, true, 1. / 3},
		beam:   []want{{nil, true, 1. / 3}, {[]int{a}, true, 1. / 9}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, withAtt := range []bool{false, true} {
				m := newMarkov(1, 3, fixed(tt.rows))
				g, err := Greedy(m.stepper(withAtt), 1, bos, eos, tt.maxLen)
				if err != nil {
					t.Fatal(err)
				}
				checkWant(t, "greedy", g[0], tt.greedy, 0, withAtt)

				m = newMarkov(1, 3, fixed(tt.rows))
				bs, err := Beam(m.stepper(withAtt), 1, bos, eos, tt.maxLen, tt.width, tt.alpha)
				if err != nil {
					t.Fatal(err)
				}
				if len(bs[0]) != len(tt.beam) {
					t.Fatalf("beam returned %d hypotheses %v, want %d", len(bs[0]), bs[0], len(tt.beam))
				}
				for i, w := range tt.beam {
					checkWant(t, "beam", bs[0][i], w, tt.alpha, withAtt)
				}
			}
		})
	}
}

func checkWant(t *testing.T, what string, h Hypothesis, w want, alpha float64, withAtt bool) {
	t.Helper()
	if !slices.Equal(h.Tokens, w.tokens) || h.Finished != w.finished {
		t.Errorf("%s: tokens %v finished %v, want %v %v", what, h.Tokens, h.Finished, w.tokens, w.finished)
	}
	if lp := math.Log(w.prob); math.Abs(h.LogProb-lp) > 1e-12 {
		t.Errorf("%s %v: log-prob %v, want %v", what, w.tokens, h.LogProb, lp)
	}
	n := len(h.Tokens)
	if h.Finished {
		n++
	}
	score := h.LogProb
	if what == "beam" && n > 0 {
		score /= math.Pow(float64(n), alpha)
	}
	if math.Abs(h.Score-score) > 1e-12 {
		t.Errorf("%s %v: score %v, want %v", what, w.tokens, h.Score, score)
	}
	if withAtt {
		if err := checkAttention(0, bos, h); err != nil {
			t.Errorf("%s %v: %v", what, w.tokens, err)
		}
	} else if h.Attention != nil {
		t.Errorf("%s: attention without an AttentionStepper", what)
	}
}

// TestBatchStopsPerItem checks that items stop at their own eos and that
// finished items are dropped from the model.
func TestBatchStopsPerItem(t *testing.T) {
	table := func(item, last, pos int) []float64 {
		switch item {
		case 0: // eos at once
			return logs([]float64{0.9, 0.05, 0.05})
		case 1: // a, then eos
			if last == bos {
				return logs([]float64{0.05, 0.9, 0.05})
			}
			return logs([]float64{0.9, 0.05, 0.05})
		default: // b forever
			return logs([]float64{0.01, 0.09, 0.9})
		}
	}
	wants := []want{
		{nil, true, 0.9},
		{[]int{a}, true, 0.9 * 0.9},
		{[]int{b, b, b, b}, false, 0.9 * 0.9 * 0.9 * 0.9},
	}
	m := newMarkov(3, 3, table)
	hs, err := Greedy(m.stepper(true), 3, bos, eos, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range wants {
		if !slices.Equal(hs[i].Tokens, w.tokens) || hs[i].Finished != w.finished || math.Abs(hs[i].LogProb-math.Log(w.prob)) > 1e-12 {
			t.Errorf("item %d: got %+v, want %+v", i, hs[i], w)
		}
		if err := checkAttention(i, bos, hs[i]); err != nil {
			t.Errorf("item %d: %v", i, err)
		}
	}
	if want := []int{3, 2, 1, 1}; !slices.Equal(m.calls, want) {
		t.Errorf("Step sizes %v, want %v", m.calls, want)
	}

	// Beam search drops items too: width 2, item 0 stops after step 1
	// (eos 0.9 beats any live prefix), item 1 after step 2.
	m = newMarkov(3, 3, table)
	bs, err := Beam(m.stepper(true), 3, bos, eos, 4, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range wants {
		h := bs[i][0]
		if !slices.Equal(h.Tokens, w.tokens) || h.Finished != w.finished || math.Abs(h.LogProb-math.Log(w.prob)) > 1e-12 {
			t.Errorf("beam item %d: got %+v, want %+v", i, h, w)
		}
	}
	if want := []int{3, 4, 2, 2}; !slices.Equal(m.calls, want) {
		t.Errorf("beam Step sizes %v, want %v", m.calls, want)
	}
}

// randomCase draws the shape of a random search problem.
func randomCase(r *rand.Rand) (batch, v, maxLen int, table func(item, last, pos int) []float64) {
	batch = 1 + r.IntN(4)
	v = 2 + r.IntN(5)
	maxLen = r.IntN(9)
	return batch, v, maxLen, randomTable(r, batch, v, maxLen)
}

// checkHyps checks invariants every search result must satisfy.
func checkHyps(t *testing.T, table func(item, last, pos int) []float64, item, v, bos, eos int, hs []Hypothesis, withAtt bool) {
	t.Helper()
	for _, h := range hs {
		if lp := pathLogProb(table, item, bos, eos, h); math.Abs(lp-h.LogProb) > 1e-9 {
			t.Errorf("item %d %v: log-prob %v, path has %v", item, h.Tokens, h.LogProb, lp)
		}
		for _, tok := range h.Tokens {
			if tok == eos || tok < 0 || tok >= v {
				t.Errorf("item %d: bad token %d in %v", item, tok, h.Tokens)
			}
		}
		if withAtt {
			if err := checkAttention(item, bos, h); err != nil {
				t.Errorf("item %d %v: %v", item, h.Tokens, err)
			}
		}
	}
}

func TestBeamWidthOneIsGreedy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 500 {
		batch, v, maxLen, table := randomCase(r)
		alpha := []float64{0, 0.6, 1, -0.5}[n%4]
		withAtt := n%2 == 0
		bosTok := v
		g, err := Greedy(newMarkov(batch, v, table).stepper(withAtt), batch, bosTok, 0, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := Beam(newMarkov(batch, v, table).stepper(withAtt), batch, bosTok, 0, maxLen, 1, alpha)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			checkHyps(t, table, i, v, bosTok, 0, g[i:i+1], withAtt)
			checkHyps(t, table, i, v, bosTok, 0, bs[i], withAtt)
			if len(bs[i]) != 1 {
				t.Fatalf("case %d item %d: width 1 returned %d hypotheses", n, i, len(bs[i]))
			}
			h := bs[i][0]
			if !slices.Equal(h.Tokens, g[i].Tokens) || h.Finished != g[i].Finished || h.LogProb != g[i].LogProb {
				t.Fatalf("case %d item %d: beam %v %v %v, greedy %v %v %v", n, i,
					h.Tokens, h.Finished, h.LogProb, g[i].Tokens, g[i].Finished, g[i].LogProb)
			}
			if withAtt && !slices.EqualFunc(h.Attention, g[i].Attention, slices.Equal) {
				t.Fatalf("case %d item %d: attention differs", n, i)
			}
		}
	}
}

// bruteForce returns the best score of a finished sequence of at most maxLen
// steps, or of a cut-off one if nothing can finish (maxLen 0).
func bruteForce(table func(item, last, pos int) []float64, item, v, bos, maxLen int, alpha float64) float64 {
	best := math.Inf(-1)
	var walk func(last, pos int, lp float64)
	walk = func(last, pos int, lp float64) {
		if pos == maxLen {
			return
		}
		row := table(item, last, pos)
		best = max(best, (lp+row[0])/math.Pow(float64(pos+1), alpha))
		for k := 1; k < v; k++ {
			walk(k, pos+1, lp+row[k])
		}
	}
	walk(bos, 0, 0)
	if maxLen == 0 {
		return 0
	}
	return best
}

// TestBeamExhaustive checks that a beam wide enough to hold every prefix finds
// the best sequence, so that stopping early is safe for every length penalty.
func TestBeamExhaustive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 200 {
		batch := 1 + r.IntN(2)
		v := 2 + r.IntN(3)
		maxLen := r.IntN(6)
		table := randomTable(r, batch, v, maxLen)
		alpha := []float64{0, 0.5, 1, 2, -0.5}[n%5]
		width := int(math.Pow(float64(v), float64(maxLen)))
		bs, err := Beam(newMarkov(batch, v, table).stepper(true), batch, v, 0, maxLen, width, alpha)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			checkHyps(t, table, i, v, v, 0, bs[i], true)
			want := bruteForce(table, i, v, v, maxLen, alpha)
			if got := bs[i][0].Score; math.Abs(got-want) > 1e-9 {
				t.Fatalf("case %d item %d (v %d maxLen %d alpha %v): best score %v, want %v", n, i, v, maxLen, alpha, got, want)
			}
		}
	}
}

// TestBeamProperties checks batch beam search against one item at a time,
// and the ordering of its results.
func TestBeamProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := range 300 {
		batch, v, maxLen, table := randomCase(r)
		width := 1 + r.IntN(4)
		alpha := []float64{0, 0.6, 1}[n%3]
		bs, err := Beam(newMarkov(batch, v, table).stepper(true), batch, v, 0, maxLen, width, alpha)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			checkHyps(t, table, i, v, v, 0, bs[i], true)
			hs := bs[i]
			if len(hs) == 0 || len(hs) > width {
				t.Fatalf("case %d item %d: %d hypotheses for width %d", n, i, len(hs), width)
			}
			for j := 1; j < len(hs); j++ {
				if hs[j].Finished && !hs[j-1].Finished ||
					hs[j].Finished == hs[j-1].Finished && hs[j].Score > hs[j-1].Score {
					t.Fatalf("case %d item %d: results out of order: %+v", n, i, hs)
				}
			}
			// The same item searched alone gives the same result.
			one := func(item, last, pos int) []float64 { return table(i, last, pos) }
			single, err := Beam(newMarkov(1, v, one), 1, v, 0, maxLen, width, alpha)
			if err != nil {
				t.Fatal(err)
			}
			if len(single[0]) != len(hs) {
				t.Fatalf("case %d item %d: alone %d hypotheses, in batch %d", n, i, len(single[0]), len(hs))
			}
			for j, h := range single[0] {
				if !slices.Equal(h.Tokens, hs[j].Tokens) || h.Score != hs[j].Score || h.Finished != hs[j].Finished {
					t.Fatalf("case %d item %d: alone %+v, in batch %+v", n, i, h, hs[j])
				}
			}
		}
	}
}

func TestSampleDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	table := randomTable(r, 50, 5, 10)
	run := func(seed uint64) []Hypothesis {
		hs, err := Sample(newMarkov(50, 5, table).stepper(true), 50, 5, 0, 10, 1, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range hs {
			checkHyps(t, table, i, 5, 5, 0, hs[i:i+1], true)
		}
		return hs
	}
	same := func(x, y []Hypothesis) bool {
		return slices.EqualFunc(x, y, func(p, q Hypothesis) bool {
			return slices.Equal(p.Tokens, q.Tokens) && p.Finished == q.Finished
		})
	}
	if x, y := run(1), run(1); !same(x, y) {
		t.Error("same seed gave different samples")
	}
	if x, y := run(1), run(2); same(x, y) {
		t.Error("different seeds gave the same 50 samples")
	}
}

// TestSampleDistribution draws many two-step sequences and compares their
// frequencies with the model's (tempered) probabilities by a chi-square
// statistic.
func TestSampleDistribution(t *testing.T) {
	rows := map[int][]float64{
		bos: {0.1, 0.3, 0.6},
		a:   {0.5, 0.2, 0.3},
		b:   {0.2, 0.7, 0.1},
	}
	for _, temp := range []float64{1, 0.5, 2} {
		// Tempered probabilities of every sequence of at most two steps.
		tempered := func(p []float64) []float64 {
			q := make([]float64, len(p))
			var sum float64
			for i, x := range p {
				q[i] = math.Pow(x, 1/temp)
				sum += q[i]
			}
			for i := range q {
				q[i] /= sum
			}
			return q
		}
		type seq struct{ first, second int } // second -1: stopped or cut
		expect := map[seq]float64{}
		p0 := tempered(rows[bos])
		expect[seq{eos, -1}] = p0[eos]
		for _, f := range []int{a, b} {
			p1 := tempered(rows[f])
			for s := range 3 {
				expect[seq{f, s}] = p0[f] * p1[s]
			}
		}
		const n = 20000
		hs, err := Sample(newMarkov(n, 3, fixed(rows)), n, bos, eos, 2, temp, rand.New(rand.NewPCG(9, 10)))
		if err != nil {
			t.Fatal(err)
		}
		counts := map[seq]int{}
		for _, h := range hs {
			switch {
			case len(h.Tokens) == 0:
				counts[seq{eos, -1}]++
			case h.Finished:
				counts[seq{h.Tokens[0], eos}]++
			default:
				counts[seq{h.Tokens[0], h.Tokens[1]}]++
			}
		}
		var chi2 float64
		for s, p := range expect {
			e := p * n
			d := float64(counts[s]) - e
			chi2 += d * d / e
		}
		// 6 degrees of freedom; the 99.9% quantile is 22.5.
		if chi2 > 22.5 {
			t.Errorf("temperature %v: chi-square %.1f, counts %v, expected %v", temp, chi2, counts, expect)
		}
	}
}

func TestSampleColdIsGreedy(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for n := range 200 {
		batch, v, maxLen, table := randomCase(r)
		g, err := Greedy(newMarkov(batch, v, table), batch, v, 0, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		for _, temp := range []float64{0, 1e-9} {
			var rng *rand.Rand
			if temp > 0 {
				rng = rand.New(rand.NewPCG(uint64(n), 0))
			}
			s, err := Sample(newMarkov(batch, v, table), batch, v, 0, maxLen, temp, rng)
			if err != nil {
				t.Fatal(err)
			}
			for i := range g {
				if !slices.Equal(s[i].Tokens, g[i].Tokens) || s[i].Finished != g[i].Finished || s[i].LogProb != g[i].LogProb {
					t.Fatalf("case %d item %d temperature %v: sample %+v, greedy %+v", n, i, temp, s[i], g[i])
				}
			}
		}
	}
}

// funcStepper is a Stepper built from functions, for malformed models.
type funcStepper struct {
	step    func(tokens []int) ([]float64, error)
	reorder func([]int) error
}

func (f funcStepper) Step(tokens []int) ([]float64, error) { return f.step(tokens) }
func (f funcStepper) Reorder(ix []int) error {
	if f.reorder == nil {
		return nil
	}
	return f.reorder(ix)
}

func TestErrors(t *testing.T) {
	errModel := errors.New("model failed")
	rows := map[int][]float64{
		bos: {0.1, 0.5, 0.4},
		a:   {0.1, 0.5, 0.4},
		b:   {0.1, 0.5, 0.4},
	}
	mock := func(failStep, failReorder int) Stepper {
		m := newMarkov(2, 3, fixed(rows))
		m.failStep, m.failReorder, m.err = failStep, failReorder, errModel
		return m
	}
	// Item 0 stops at once and item 1 does not, so Greedy reorders.
	split := newMarkov(2, 3, func(item, last, pos int) []float64 {
		if item == 0 {
			return logs([]float64{0.8, 0.1, 0.1})
		}
		return logs([]float64{0.1, 0.8, 0.1})
	})
	split.failReorder, split.err = 1, errModel
	splitting := split.stepper(false)
	flat := func(v int) Stepper {
		return funcStepper{step: func(tokens []int) ([]float64, error) {
			return make([]float64, len(tokens)*v), nil
		}}
	}
	calls := 0
	growing := funcStepper{step: func(tokens []int) ([]float64, error) {
		calls++
		lp := make([]float64, len(tokens)*(2+calls))
		lp[0] = -1 // not eos
		return lp, nil
	}}
	nan := funcStepper{step: func(tokens []int) ([]float64, error) {
		return []float64{math.NaN(), 0, 0}, nil
	}}
	short := funcStepper{step: func(tokens []int) ([]float64, error) {
		return nil, nil
	}}
	type search func(m Stepper) error
	greedy := func(batch, maxLen int) search {
		return func(m Stepper) error { _, err := Greedy(m, batch, bos, eos, maxLen); return err }
	}
	sample := func(temp float64, rng *rand.Rand) search {
		return func(m Stepper) error { _, err := Sample(m, 2, bos, eos, 5, temp, rng); return err }
	}
	beam := func(batch, maxLen, width int, alpha float64) search {
		return func(m Stepper) error { _, err := Beam(m, batch, bos, eos, maxLen, width, alpha); return err }
	}
	rng := rand.New(rand.NewPCG(1, 1))
	tests := []struct {
		name   string
		model  Stepper
		search search
		is     error // error the result must wrap; nil for any error
	}{
		{"greedy step", mock(2, 0), greedy(2, 5), errModel},
		{"greedy reorder", splitting, greedy(2, 5), errModel},
		{"model rejects the batch", newMarkov(1, 3, fixed(rows)), greedy(2, 5), nil}, // 2 tokens for 1 state
		{"sample step", mock(3, 0), sample(1, rng), errModel},
		{"beam step", mock(2, 0), beam(2, 5, 2, 0), errModel},
		{"beam reorder", mock(0, 1), beam(2, 5, 2, 0), errModel},
		{"negative batch", mock(0, 0), greedy(-1, 5), ErrInvalidArgument},
		{"negative maxLen", mock(0, 0), greedy(2, -1), ErrInvalidArgument},
		{"beam width 0", mock(0, 0), beam(2, 5, 0, 0), ErrInvalidArgument},
		{"beam NaN penalty", mock(0, 0), beam(2, 5, 2, math.NaN()), ErrInvalidArgument},
		{"negative temperature", mock(0, 0), sample(-1, rng), ErrInvalidArgument},
		{"nil rng", mock(0, 0), sample(1, nil), ErrInvalidArgument},
		{"eos outside vocabulary", flat(3), func(m Stepper) error { _, err := Greedy(m, 1, bos, 3, 5); return err }, ErrInvalidArgument},
		{"infinite temperature", mock(0, 0), sample(math.Inf(1), rng), ErrInvalidArgument},
		{"eos outside vocabulary beam", funcStepper{step: func(tokens []int) ([]float64, error) {
			return make([]float64, len(tokens)), nil
		}}, func(m Stepper) error { _, err := Beam(m, 1, bos, 1, 5, 2, 0); return err }, ErrInvalidArgument},
		{"vocabulary changes", growing, greedy(1, 5), nil},
		{"NaN log-probability", nan, beam(1, 5, 2, 0), nil},
		{"no log-probabilities", short, greedy(1, 5), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.search(tt.model)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v does not wrap %v", err, tt.is)
			}
			t.Log(err)
		})
	}
}

// BenchmarkBeam searches a realistic vocabulary with a model that costs
// nothing, to measure the search's own overhead.
func BenchmarkBeam(b *testing.B) {
	const v, width, batch, maxLen = 10000, 5, 8, 30
	r := rand.New(rand.NewPCG(1, 2))
	row := make([]float64, v)
	for i := range row {
		row[i] = -r.Float64() * 20
	}
	row[0] = -50 // eos unlikely: run to maxLen
	var out []float64
	m := funcStepper{step: func(tokens []int) ([]float64, error) {
		out = out[:0]
		for range tokens {
			out = append(out, row...)
		}
		return out, nil
	}}
	for b.Loop() {
		if _, err := Beam(m, batch, v, 0, maxLen, width, 0.6); err != nil {
			b.Fatal(err)
		}
	}
}
