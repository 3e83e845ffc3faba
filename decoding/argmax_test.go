package decoding

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// argmaxModel is an ArgmaxStepper built on a Stepper's rows: StepArgmax
// answers with argmax and the row's value, and edit may tamper with the
// answer to test the checks.
type argmaxModel struct {
	Stepper
	argmaxCalls int
	edit        func(best []int, lp []float64, v int) ([]int, []float64, int)
}

func (m *argmaxModel) StepArgmax(tokens []int) ([]int, []float64, int, error) {
	m.argmaxCalls++
	rows, err := m.Stepper.Step(tokens)
	if err != nil {
		return nil, nil, 0, err
	}
	v := len(rows) / len(tokens)
	best, lp := make([]int, len(tokens)), make([]float64, len(tokens))
	for i := range tokens {
		row := rows[i*v : (i+1)*v]
		best[i] = argmax(row)
		lp[i] = row[best[i]]
	}
	if m.edit != nil {
		best, lp, v = m.edit(best, lp, v)
	}
	return best, lp, v, nil
}

// attArgmax adds the wrapped model's attention.
type attArgmax struct{ *argmaxModel }

func (m attArgmax) Attention() [][]float64 { return m.Stepper.(AttentionStepper).Attention() }

// TestGreedyArgmaxStepper checks that Greedy takes an ArgmaxStepper's
// StepArgmax path and finds exactly what it finds from Step's rows, with and
// without attention, and that Sample at a positive temperature keeps using
// Step.
func TestGreedyArgmaxStepper(t *testing.T) {
	const batch, v, maxLen = 5, 6, 7
	for seed := uint64(1); seed <= 20; seed++ {
		for _, withAtt := range []bool{false, true} {
			table := randomTable(rand.New(rand.NewPCG(seed, 1)), batch, v, maxLen)
			want, err := Greedy(newMarkov(batch, v, table).stepper(withAtt), batch, v, 0, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			am := &argmaxModel{Stepper: newMarkov(batch, v, table).stepper(withAtt)}
			var m Stepper = am
			if withAtt {
				m = attArgmax{am}
			}
			got, err := Greedy(m, batch, v, 0, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			if am.argmaxCalls == 0 {
				t.Fatal("Greedy did not call StepArgmax")
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d attention %v: StepArgmax path %+v, Step path %+v", seed, withAtt, got, want)
			}
		}
	}
	am := &argmaxModel{Stepper: newMarkov(2, v, randomTable(rand.New(rand.NewPCG(1, 1)), 2, v, maxLen))}
	if _, err := Sample(am, 2, v, 0, maxLen, 1, rand.New(rand.NewPCG(2, 2))); err != nil || am.argmaxCalls != 0 {
		t.Errorf("Sample at temperature 1: err %v, %d StepArgmax calls", err, am.argmaxCalls)
	}
}

// badAnswer is a shortcut's answer (StepArgmax's or StepTopK's) tampered
// with in a way the search must refuse, as it refuses Step's; a nil edit
// with eos 3 asks for an eos outside the vocabulary instead.
type badAnswer struct {
	name string
	edit func(best []int, lp []float64, v int) ([]int, []float64, int)
	eos  int
	is   error
}

// badAnswers are the refusals both shortcuts share: the search checks
// their answers with the same rules.
var badAnswers = []badAnswer{
	{"NaN log-probability", func(b []int, lp []float64, v int) ([]int, []float64, int) {
		lp[0] = math.NaN()
		return b, lp, v
	}, eos, nil},
	{"+Inf log-probability", func(b []int, lp []float64, v int) ([]int, []float64, int) {
		lp[len(lp)-1] = math.Inf(1)
		return b, lp, v
	}, eos, nil},
	{"token past the vocabulary", func(b []int, lp []float64, v int) ([]int, []float64, int) {
		b[0] = v
		return b, lp, v
	}, eos, nil},
	{"negative token", func(b []int, lp []float64, v int) ([]int, []float64, int) {
		b[len(b)-1] = -1
		return b, lp, v
	}, eos, nil},
	{"too few answers", func(b []int, lp []float64, v int) ([]int, []float64, int) { return b[1:], lp[1:], v }, eos, nil},
	{"tokens and log-probabilities disagree", func(b []int, lp []float64, v int) ([]int, []float64, int) { return b, lp[1:], v }, eos, nil},
	{"no vocabulary", func(b []int, lp []float64, v int) ([]int, []float64, int) { return b, lp, 0 }, eos, nil},
	{"eos outside the vocabulary", nil, 3, ErrInvalidArgument},
}

// TestArgmaxStepperErrors checks that answers Step would have been refused
// for are refused from StepArgmax too.
func TestArgmaxStepperErrors(t *testing.T) {
	rows := map[int][]float64{bos: {0.1, 0.5, 0.4}, a: {0.1, 0.5, 0.4}, b: {0.1, 0.5, 0.4}}
	errModel := errors.New("model failed")
	for _, tc := range badAnswers {
		m := &argmaxModel{Stepper: newMarkov(2, 3, fixed(rows)), edit: tc.edit}
		_, err := Greedy(m, 2, bos, tc.eos, 5)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
	failing := newMarkov(2, 3, fixed(rows))
	failing.failStep, failing.err = 1, errModel
	if _, err := Greedy(&argmaxModel{Stepper: failing}, 2, bos, eos, 5); !errors.Is(err, errModel) {
		t.Errorf("model error: %v", err)
	}
	growing := 0
	m := &argmaxModel{Stepper: newMarkov(2, 3, fixed(rows)), edit: func(b []int, lp []float64, v int) ([]int, []float64, int) {
		growing++
		return b, lp, v + growing
	}}
	if _, err := Greedy(m, 2, bos, eos, 5); err == nil {
		t.Error("a vocabulary that changes between steps was accepted")
	}
}
