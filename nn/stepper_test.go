package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/seqtask/seqtask/internal/race"
)

// TestStepperMatchesForward runs token sequences through Recurrent.Forward
// (whole sequence, batch 1) and through a Stepper, one step at a time, from
// the same random initial states, and compares every step's output, the
// logits of a linear head on it (as the char LM samples) and the final
// states: exactly enough for float64, to float32 rounding for float32.
func TestStepperMatchesForward(t *testing.T) {
	for _, cell := range Cells {
		for _, layers := range []int{1, 2} {
			for _, tokens := range []bool{true, false} {
				name := fmt.Sprintf("%s/layers%d/tokens=%v", cell, layers, tokens)
				t.Run(name+"/float64", func(t *testing.T) { testStepper[float64](t, cell, layers, tokens, 1e-12) })
				t.Run(name+"/float32", func(t *testing.T) { testStepper[float32](t, cell, layers, tokens, 2e-5) })
			}
		}
	}
}

func testStepper[T Float](t *testing.T, cell Cell, layers int, tokens bool, tol float64) {
	rng := testRNG()
	const vocab, in, hid, steps = 11, 5, 37, 9 // 37: rows not a multiple of any tile
	cfg := RecurrentConfig{Cell: cell, Input: in, Hidden: hid, Layers: layers}
	r, err := NewRecurrent[T]("rnn", cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	emb := NewEmbedding[T]("emb", vocab, in, rng)
	head := NewLinear[T]("head", hid, vocab, rng)
	ids := make([]int, steps)
	for i := range ids {
		ids[i] = rng.IntN(vocab)
	}
	h0 := NewMat[T](layers, hid)
	InitUniform(h0.Data, 1, rng)
	var c0 Mat[T]
	if cell.HasCellState() {
		c0 = NewMat[T](layers, hid)
		InitUniform(c0.Data, 1, rng)
	}
	var (
		rc     RecurrentCache[T]
		ec     EmbeddingCache[T]
		hc, sc LinearCache[T]
	)
	var s *Stepper[T]
	if tokens {
		s = r.NewTokenStepper(emb.Weight.Mat())
	} else {
		s = r.NewStepper()
	}
	// Round 1 uses the weights the stepper was built with; round 2 new
	// weights after Reload.
	for round := 1; round <= 2; round++ {
		if round == 2 {
			for _, p := range append(r.Params(), emb.Weight) {
				InitUniform(p.Value, 0.5, rng)
			}
			s.Reload()
		}
		x, err := emb.Forward(&ec, ids)
		if err != nil {
			t.Fatal(err)
		}
		x = x.Clone()
		y, hn, cn := r.Forward(&rc, x, steps, 1, h0, c0, false, nil)
		y, hn, cn = y.Clone(), hn.Clone(), cn.Clone()
		logits := head.Forward(&hc, y).Clone()
		step := func(i int) Mat[T] {
			if tokens {
				return s.StepToken(ids[i])
			}
			return s.Step(x.RowBlock(i, i+1))
		}

		s.Reset(h0, c0)
		for i := range ids {
			out := step(i)
			assertClose(t, fmt.Sprintf("round %d step %d output", round, i), out.Data, y.Row(i), tol)
			assertClose(t, fmt.Sprintf("round %d step %d logits", round, i), head.Forward(&sc, out).Row(0), logits.Row(i), tol)
		}
		gotH := NewMat[T](layers, hid)
		var gotC Mat[T]
		if cell.HasCellState() {
			gotC = NewMat[T](layers, hid)
		}
		s.State(gotH, gotC)
		assertClose(t, "hn", gotH.Data, hn.Data, tol)
		if cell.HasCellState() {
			assertClose(t, "cn", gotC.Data, cn.Data, tol)
		}

		// Reset with empty states starts from zeros, as Forward does.
		s.Reset(Mat[T]{}, Mat[T]{})
		y0, _, _ := r.Forward(&rc, x.RowBlock(0, 1), 1, 1, Mat[T]{}, Mat[T]{}, false, nil)
		assertClose(t, "first step from zeros", step(0).Data, y0.Row(0), tol)
	}
}

// TestStepTokenChosen checks that a step with the token picked beside the
// next recurrent product gives the bits of the pick followed by StepToken,
// step after step, in each product mode and for stacks of one and two
// layers; at hidden 256 the LSTM's and GRU's W_hh are large enough for
// the packed mode to compute part of them on another core.
func TestStepTokenChosen(t *testing.T) {
	for _, cell := range Cells {
		for _, layers := range []int{1, 2} {
			for _, mode := range []string{"plain", "packed", "bf16"} {
				t.Run(fmt.Sprintf("%s/layers%d/%s", cell, layers, mode), func(t *testing.T) {
					testStepTokenChosen[float32](t, cell, layers, mode)
				})
			}
		}
	}
	t.Run("float64", func(t *testing.T) { testStepTokenChosen[float64](t, CellLSTM, 2, "plain") })
}

func testStepTokenChosen[T Float](t *testing.T, cell Cell, layers int, mode string) {
	rng := testRNG()
	const vocab, in, hid, steps = 67, 32, 256, 40
	r, err := NewRecurrent[T]("rnn", RecurrentConfig{Cell: cell, Input: in, Hidden: hid, Layers: layers}, rng)
	if err != nil {
		t.Fatal(err)
	}
	emb := NewEmbedding[T]("emb", vocab, in, rng)
	head := NewLinear[T]("head", hid, vocab, rng)
	steppers := [2]*Stepper[T]{r.NewTokenStepper(emb.Weight.Mat()), r.NewTokenStepper(emb.Weight.Mat())}
	for _, s := range steppers {
		switch mode {
		case "packed":
			s.UsePacked()
		case "bf16":
			s.UseBF16()
		}
	}
	// Each side samples with its own generator, seeded alike.
	var (
		caches [2]LinearCache[T]
		rngs   = [2]*rand.Rand{rand.New(rand.NewPCG(5, 6)), rand.New(rand.NewPCG(5, 6))}
		probs  = make([]float64, vocab)
	)
	choose := func(which int) func(top Mat[T]) int {
		return func(top Mat[T]) int {
			return SampleSoftmax(head.Forward(&caches[which], top).Row(0), 1, probs, rngs[which])
		}
	}
	top := steppers[0].StepToken(0)
	chosenTop := steppers[1].StepToken(0)
	seen := map[int]bool{}
	for i := range steps {
		want := choose(0)(top)
		top = steppers[0].StepToken(want)
		var got int
		got, chosenTop = steppers[1].StepTokenChosen(choose(1))
		if got != want {
			t.Fatalf("step %d: token %d chosen, want %d", i, got, want)
		}
		for j, v := range chosenTop.Data {
			if math.Float64bits(float64(v)) != math.Float64bits(float64(top.Data[j])) {
				t.Fatalf("step %d: output %d is %v, choosing then StepToken gives %v", i, j, v, top.Data[j])
			}
		}
		seen[got] = true
	}
	if len(seen) < steps/4 {
		t.Fatalf("%d distinct tokens in %d steps: the test hardly varies the input", len(seen), steps)
	}
	// In packed and bf16 modes choosing beside the product allocates no
	// more than choosing and then stepping: nothing where the products run
	// beside (fastblas's TestSgemvPackedBeside, TestSgemvBF16Beside). Measured on two
	// cores, which testing.AllocsPerRun would not allow.
	if race.Enabled || mode == "plain" {
		return // sync.Pool drops fastblas's jobs at random; plain products start goroutines
	}
	pickBeside, pickAfter := choose(1), choose(0)
	beside := mallocsPerCall(100, func() { steppers[1].StepTokenChosen(pickBeside) })
	after := mallocsPerCall(100, func() { top = steppers[0].StepToken(pickAfter(top)) })
	if beside > after+0.1 {
		t.Errorf("%v allocations per step beside the product, %v choosing and then stepping", beside, after)
	}
}

// mallocsPerCall is the mean number of heap allocations of f over n calls,
// with GOMAXPROCS as it is.
func mallocsPerCall(n int, f func()) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n)
}

// assertClose fails when got and want differ by more than tol relative to
// max(1, |want|) anywhere.
func assertClose[T Float](t *testing.T, what string, got, want []T, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if !(math.Abs(g-w) <= tol*math.Max(1, math.Abs(w))) {
			t.Fatalf("%s[%d] = %g, want %g (tolerance %g)", what, i, g, w, tol)
		}
	}
}

func TestStepperRejects(t *testing.T) {
	rng := testRNG()
	bi, _ := NewRecurrent[float32]("rnn", RecurrentConfig{Cell: CellGRU, Input: 2, Hidden: 3, Layers: 1, Bidirectional: true}, rng)
	r, _ := NewRecurrent[float32]("rnn", RecurrentConfig{Cell: CellGRU, Input: 2, Hidden: 3, Layers: 1}, rng)
	for name, f := range map[string]func(){
		"bidirectional":              func() { bi.NewStepper() },
		"embedding width":            func() { r.NewTokenStepper(NewMat[float32](4, 3)) },
		"token out of range":         func() { r.NewTokenStepper(NewMat[float32](4, 2)).StepToken(4) },
		"chosen token out of range":  func() { r.NewTokenStepper(NewMat[float32](4, 2)).StepTokenChosen(func(Mat[float32]) int { return -1 }) },
		"chosen on a vector stepper": func() { r.NewStepper().StepTokenChosen(func(Mat[float32]) int { return 0 }) },
		"token on a vector stepper":  func() { r.NewStepper().StepToken(0) },
		"input width":                func() { r.NewStepper().Step(NewMat[float32](1, 3)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
