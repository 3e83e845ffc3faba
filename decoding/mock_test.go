package decoding

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// markov is a mock Stepper: a small Markov model whose next-token
// log-probabilities depend on the batch item, the last token fed and its
// position. Each state remembers every token it was fed, and reports them
// through its attention rows, so tests can check that the search routed
// states correctly through Reorder.
type markov struct {
	v     int
	table func(item, last, pos int) []float64 // V log-probabilities

	states []mstate
	out    []float64   // reused on every Step, to catch a search keeping it
	att    [][]float64 // likewise, rows from pool
	pool   [][]float64
	calls  []int // len(tokens) of every Step

	failStep    int   // Step number (1-based) that fails with err, 0 for none
	failReorder int   // Reorder number (1-based) that fails with err
	err         error // the injected error
	reorders    int
	noAttention bool
}

type mstate struct {
	item int
	hist []int // tokens fed so far
}

func newMarkov(batch, v int, table func(item, last, pos int) []float64) *markov {
	m := &markov{v: v, table: table}
	for i := range batch {
		m.states = append(m.states, mstate{item: i})
	}
	return m
}

func (m *markov) Step(tokens []int) ([]float64, error) {
	m.calls = append(m.calls, len(tokens))
	if len(m.calls) == m.failStep {
		return nil, m.err
	}
	if len(tokens) != len(m.states) {
		return nil, fmt.Errorf("mock: %d tokens for %d states", len(tokens), len(m.states))
	}
	m.out = slices.Grow(m.out[:0], len(tokens)*m.v)[:0]
	m.att = m.att[:0]
	for i, tok := range tokens {
		st := &m.states[i]
		st.hist = append(slices.Clip(st.hist), tok)
		row := m.table(st.item, tok, len(st.hist)-1)
		if len(row) != m.v {
			return nil, fmt.Errorf("mock: table row of %d", len(row))
		}
		m.out = append(m.out, row...)
		if i == len(m.pool) {
			m.pool = append(m.pool, make([]float64, 4))
		}
		copy(m.pool[i], attRow(st.item, st.hist))
		m.att = append(m.att, m.pool[i])
	}
	return m.out, nil
}

func (m *markov) Reorder(indices []int) error {
	m.reorders++
	if m.reorders == m.failReorder {
		return m.err
	}
	next := make([]mstate, len(indices))
	for i, j := range indices {
		if j < 0 || j >= len(m.states) {
			return fmt.Errorf("mock: reorder index %d of %d", j, len(m.states))
		}
		next[i] = m.states[j]
	}
	m.states = next
	return nil
}

// attRow encodes a state's item and history as an "attention" row.
func attRow(item int, hist []int) []float64 {
	h := 0.0
	for _, t := range hist {
		h = math.Mod(h*31+float64(t+1), 1<<40)
	}
	return []float64{float64(item), float64(hist[len(hist)-1]), float64(len(hist) - 1), h}
}

// attMarkov hides the Attention method unless asked for.
type attMarkov struct{ *markov }

func (m attMarkov) Attention() [][]float64 { return m.att }

// stepper returns m as a Stepper with or without attention.
func (m *markov) stepper(withAtt bool) Stepper {
	if withAtt {
		return attMarkov{m}
	}
	return m
}

// fixed builds a table from rows of probabilities keyed by the last token,
// the same for every item and position.
func fixed(rows map[int][]float64) func(item, last, pos int) []float64 {
	return func(_, last, _ int) []float64 {
		return logs(rows[last])
	}
}

func logs(p []float64) []float64 {
	out := make([]float64, len(p))
	for i, x := range p {
		out[i] = math.Log(x)
	}
	return out
}

// randomTable returns a random Markov table over v tokens (plus bos = v) for
// batch items and maxLen positions. Weights are cubed uniform draws, so that
// some rows are peaked and some flat.
func randomTable(r *rand.Rand, batch, v, maxLen int) func(item, last, pos int) []float64 {
	t := make([][][][]float64, batch)
	for i := range t {
		t[i] = make([][][]float64, max(maxLen, 1))
		for p := range t[i] {
			t[i][p] = make([][]float64, v+1)
			for l := range t[i][p] {
				w := make([]float64, v)
				var sum float64
				for k := range w {
					u := r.Float64()
					w[k] = u * u * u
					sum += w[k]
				}
				for k := range w {
					w[k] = math.Log(w[k] / sum)
				}
				t[i][p][l] = w
			}
		}
	}
	return func(item, last, pos int) []float64 { return t[item][pos][last] }
}

// pathLogProb recomputes a hypothesis's log-probability from the table.
func pathLogProb(table func(item, last, pos int) []float64, item, bos, eos int, h Hypothesis) float64 {
	var lp float64
	last := bos
	for t, tok := range h.Tokens {
		lp += table(item, last, t)[tok]
		last = tok
	}
	if h.Finished {
		lp += table(item, last, len(h.Tokens))[eos]
	}
	return lp
}

// checkAttention reports whether h's attention rows are those the mock
// produced along h's own path, which fails if the search fed a hypothesis's
// token to another hypothesis's state.
func checkAttention(item, bos int, h Hypothesis) error {
	steps := len(h.Tokens)
	if h.Finished {
		steps++
	}
	if len(h.Attention) != steps {
		return fmt.Errorf("%d attention rows for %d steps", len(h.Attention), steps)
	}
	hist := []int{bos}
	for t := range steps {
		if t > 0 {
			hist = append(hist, h.Tokens[t-1])
		}
		if want := attRow(item, hist); !slices.Equal(h.Attention[t], want) {
			return fmt.Errorf("attention row %d = %v, want %v", t, h.Attention[t], want)
		}
	}
	return nil
}
