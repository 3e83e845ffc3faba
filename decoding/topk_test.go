package decoding

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// topKModel is a TopKStepper built on a markov mock's rows: StepTopK ranks
// each row's tokens by prior + log-probability, as the interface asks, and
// checks that prior is the log-probability of the state's own history (so a
// search that passes the wrong priors fails). edit may tamper with the
// answer to test the checks.
type topKModel struct {
	*markov
	table    func(item, last, pos int) []float64
	bos      int
	calls    int
	badPrior error
	edit     func(best []int, lp []float64, v int) ([]int, []float64, int)
}

func (m *topKModel) StepTopK(tokens []int, prior []float64, k int) ([]int, []float64, int, error) {
	m.calls++
	for i, st := range m.states {
		// The history so far, then tokens[i], which Step is about to append.
		hist := append(slices.Clip(st.hist), tokens[i])
		var lp float64
		for p := 1; p < len(hist); p++ {
			lp += m.table(st.item, hist[p-1], p-1)[hist[p]]
		}
		if i < len(prior) && prior[i] != lp && m.badPrior == nil {
			m.badPrior = errors.New("prior is not the hypothesis's log-probability")
		}
	}
	rows, err := m.markov.Step(tokens)
	if err != nil {
		return nil, nil, 0, err
	}
	v := len(rows) / len(tokens)
	kk := min(k, v)
	var best []int
	var lp []float64
	for i := range tokens {
		row := rows[i*v : (i+1)*v]
		order := make([]int, v)
		for j := range order {
			order[j] = j
		}
		slices.SortStableFunc(order, func(x, y int) int {
			kx, ky := prior[i]+row[x], prior[i]+row[y]
			switch {
			case kx > ky:
				return -1
			case kx < ky:
				return 1
			}
			return 0
		})
		for _, tok := range order[:kk] {
			best = append(best, tok)
			lp = append(lp, row[tok])
		}
	}
	if m.edit != nil {
		best, lp, v = m.edit(best, lp, v)
	}
	return best, lp, v, nil
}

// attTopK adds the wrapped model's attention.
type attTopK struct{ *topKModel }

func (m attTopK) Attention() [][]float64 { return m.att }

// TestBeamTopKStepper checks that Beam takes a TopKStepper's StepTopK path,
// passes it the hypotheses' log-probabilities, and finds exactly what it
// finds from Step's rows: for random tables, tables full of ties, widths
// whose 2·width exceeds the vocabulary, and priors so large that distinct
// log-probabilities add up to equal sums.
func TestBeamTopKStepper(t *testing.T) {
	type tc struct {
		name          string
		batch, v, max int
		table         func(item, last, pos int) []float64
	}
	var cases []tc
	r := rand.New(rand.NewPCG(7, 8))
	for range 40 {
		batch, v, maxLen, table := randomCase(r)
		cases = append(cases, tc{"random", batch, v, maxLen, table})
	}
	// Four probability levels: most extensions tie with others.
	ties := func(item, last, pos int) []float64 {
		return logs([]float64{0.1, 0.3, 0.3, 0.1, 0.1, 0.1}[(item+last+pos)%2:][:5])
	}
	cases = append(cases, tc{"ties", 3, 5, 6, ties})
	// A first step that costs -1e16, after which -1e16 + x is -1e16 for
	// every x in (-1, 0): ranked by the sums (ties by id) the best two are
	// tokens 1 and 2, ranked by x alone 4 and 3.
	huge := func(_, _, pos int) []float64 {
		if pos == 0 {
			return []float64{-1e17, -1e16, -1e16, -1e16, -1e16}
		}
		return []float64{-3, -0.9, -0.6, -0.3, -0.1}
	}
	cases = append(cases, tc{"rounded sums", 2, 5, 4, huge})
	for _, c := range cases {
		for _, width := range []int{1, 2, 3, 5} {
			for _, withAtt := range []bool{false, true} {
				bosTok := c.v
				want, err := Beam(newMarkov(c.batch, c.v, c.table).stepper(withAtt), c.batch, bosTok, 0, c.max, width, 0.6)
				if err != nil {
					t.Fatal(err)
				}
				tm := &topKModel{markov: newMarkov(c.batch, c.v, c.table), table: c.table, bos: bosTok}
				var m Stepper = tm
				if withAtt {
					m = attTopK{tm}
				}
				got, err := Beam(m, c.batch, bosTok, 0, c.max, width, 0.6)
				if err != nil {
					t.Fatal(err)
				}
				if c.max > 0 && tm.calls == 0 {
					t.Fatal("Beam did not call StepTopK")
				}
				if tm.badPrior != nil {
					t.Fatalf("%s width %d: %v", c.name, width, tm.badPrior)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s width %d attention %v: StepTopK path %+v, Step path %+v", c.name, width, withAtt, got, want)
				}
			}
		}
	}
}

// TestTopKStepperErrors checks that answers Step would have been refused
// for are refused from StepTopK too.
func TestTopKStepperErrors(t *testing.T) {
	rows := map[int][]float64{bos: {0.1, 0.5, 0.4}, a: {0.1, 0.5, 0.4}, b: {0.1, 0.5, 0.4}}
	for _, tc := range badAnswers {
		table := fixed(rows)
		m := &topKModel{markov: newMarkov(2, 3, table), table: table, bos: bos, edit: tc.edit}
		_, err := Beam(m, 2, bos, tc.eos, 5, 2, 0)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
	errModel := errors.New("model failed")
	failing := newMarkov(2, 3, fixed(rows))
	failing.failStep, failing.err = 2, errModel
	if _, err := Beam(&topKModel{markov: failing, table: fixed(rows), bos: bos}, 2, bos, eos, 5, 2, 0); !errors.Is(err, errModel) {
		t.Errorf("model error: %v", err)
	}
}
