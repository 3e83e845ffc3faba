package nn

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// quadratic is f(p) = ½ Σ (p - target)², minimised at target.
func quadraticGrad(p *Param[float64], target []float64) float64 {
	var f float64
	for i, v := range p.Value {
		d := v - target[i]
		f += d * d / 2
		p.Grad[i] = d
	}
	return f
}

func TestOptimizersMinimiseQuadratic(t *testing.T) {
	target := []float64{1, -2, 3}
	for _, tc := range []struct {
		cfg   OptimizerConfig
		lr    float64
		steps int
	}{
		{OptimizerConfig{Kind: "sgd"}, 0.1, 200},
		{OptimizerConfig{Kind: "sgd", Momentum: 0.9}, 0.02, 200},
		{OptimizerConfig{Kind: "adagrad"}, 0.5, 500},
		{OptimizerConfig{Kind: "adam"}, 0.05, 500},
	} {
		p := NewParam[float64]("p", 3)
		opt, err := NewOptimizer(tc.cfg, Params[float64]{p})
		if err != nil {
			t.Fatal(err)
		}
		first := quadraticGrad(p, target)
		var last float64
		for i := 0; i < tc.steps; i++ {
			last = quadraticGrad(p, target)
			opt.Step(Params[float64]{p}, tc.lr)
		}
		if last > first*1e-3 {
			t.Errorf("%+v: loss %g → %g, want a 1000× drop", tc.cfg, first, last)
		}
	}
	if _, err := NewOptimizer(OptimizerConfig{Kind: "adamw"}, Params[float64]{}); err == nil {
		t.Error("unknown optimizer accepted")
	}
}

func TestAdamFirstStepIsSignTimesLR(t *testing.T) {
	p := NewParam[float64]("p", 2)
	p.Value[0], p.Value[1] = 1, 1
	p.Grad[0], p.Grad[1] = 0.5, -3
	opt, _ := NewOptimizer(OptimizerConfig{Kind: "adam"}, Params[float64]{p})
	opt.Step(Params[float64]{p}, 0.1)
	// After bias correction the first Adam step is lr·g/|g| (up to eps).
	if math.Abs(p.Value[0]-0.9) > 1e-6 || math.Abs(p.Value[1]-1.1) > 1e-6 {
		t.Errorf("after one step p = %v, want [0.9 1.1]", p.Value)
	}
}

// A frozen parameter keeps its value and state under every optimizer (even
// with weight decay, which would move it), and when it thaws Adam's bias
// correction starts from its own first update: its first step is again
// lr·sign(g), whatever the optimizer's global step count.
func TestFrozenParamsAreSkipped(t *testing.T) {
	for _, kind := range OptimizerKinds {
		frozen, live := NewParam[float64]("frozen", 2), NewParam[float64]("live", 2)
		ps := Params[float64]{frozen, live}
		opt, err := NewOptimizer(OptimizerConfig{Kind: kind, Momentum: 0.9, WeightDecay: 0.1}, ps)
		if err != nil {
			t.Fatal(err)
		}
		frozen.Frozen = true
		for i := range 20 {
			for _, p := range ps {
				p.Grad[0], p.Grad[1] = 1, float64(-i)
			}
			opt.Step(ps, 0.1)
		}
		if frozen.Value[0] != 0 || frozen.Value[1] != 0 {
			t.Errorf("%s: frozen parameter moved to %v", kind, frozen.Value)
		}
		if live.Value[0] == 0 {
			t.Errorf("%s: live parameter did not move", kind)
		}
		st := opt.State()
		if got := st.Tensors[kind+".step/frozen"]; len(got) != 1 || got[0] != 0 {
			t.Errorf("%s: frozen parameter's update count %v, want [0]", kind, got)
		}
		if got := st.Tensors[kind+".step/live"]; len(got) != 1 || got[0] != 20 {
			t.Errorf("%s: live parameter's update count %v, want [20]", kind, got)
		}
	}
	p := NewParam[float64]("p", 1)
	opt, _ := NewOptimizer(OptimizerConfig{Kind: "adam"}, Params[float64]{p})
	p.Frozen = true
	for range 1000 {
		opt.Step(Params[float64]{p}, 0.1)
	}
	st := opt.State()
	st.Tensors["adam.step/p"] = []float64{1, 2}
	if err := opt.SetState(Params[float64]{p}, st); err == nil || !strings.Contains(err.Error(), `"adam.step/p" has 2 values`) {
		t.Errorf("a malformed update count accepted or not named: %v", err)
	}
	st.Tensors["adam.step/p"] = []float64{0}
	if err := opt.SetState(Params[float64]{p}, st); err != nil {
		t.Fatal(err)
	}
	p.Frozen, p.Grad[0] = false, 2
	opt.Step(Params[float64]{p}, 0.1)
	if math.Abs(p.Value[0]+0.1) > 1e-6 {
		t.Errorf("first update after thawing moved p to %g, want -0.1", p.Value[0])
	}
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	target := []float64{1, -2, 3}
	run := func(split bool) []float64 {
		p := NewParam[float64]("p", 3)
		opt, _ := NewOptimizer(OptimizerConfig{Kind: "adam"}, Params[float64]{p})
		for i := 0; i < 10; i++ {
			if split && i == 5 {
				st := opt.State()
				saved := map[string][]float64{}
				for k, v := range st.Tensors {
					saved[k] = append([]float64(nil), v...)
				}
				opt, _ = NewOptimizer(OptimizerConfig{Kind: "adam"}, Params[float64]{p})
				if err := opt.SetState(Params[float64]{p}, OptimizerState[float64]{Steps: st.Steps, Tensors: saved}); err != nil {
					t.Fatal(err)
				}
			}
			quadraticGrad(p, target)
			opt.Step(Params[float64]{p}, 0.1)
		}
		return p.Value
	}
	a, b := run(false), run(true)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("restored optimizer diverged: %v vs %v", a, b)
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	p := NewParam[float64]("p", 2)
	p.Grad[0], p.Grad[1] = 3, 4
	if n := (Params[float64]{p}).ClipGradNorm(1); n != 5 {
		t.Errorf("norm before clipping = %g, want 5", n)
	}
	if n := (Params[float64]{p}).GradNorm(); math.Abs(n-1) > 1e-5 {
		t.Errorf("norm after clipping = %g, want 1", n)
	}
}

// TestClipGradNormBlocks checks the norm and the clipping of float32
// gradients cut into several blocks each (the blocks split over the cores)
// against a float64 reference, and that the norm has the same bits on one
// core and on two.
func TestClipGradNormBlocks(t *testing.T) {
	sizes := []int{1, gradBlock + 3, 3*gradBlock - 1, 17}
	run := func(procs int) (float64, Params[float32], float64) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		rng := rand.New(rand.NewPCG(5, 5))
		var ps Params[float32]
		var want float64
		for i, n := range sizes {
			p := NewParam[float32](fmt.Sprint("p", i), n)
			InitUniform(p.Grad, 0.01, rng)
			for _, g := range p.Grad {
				want += float64(g) * float64(g)
			}
			ps = append(ps, p)
		}
		return ps.ClipGradNorm(1), ps, math.Sqrt(want)
	}
	norm, ps, want := run(1)
	if math.Abs(norm-want) > 1e-12*want {
		t.Fatalf("norm %.15g, want %.15g", norm, want)
	}
	if want <= 1 {
		t.Fatalf("test data: norm %g does not need clipping", want)
	}
	if after := ps.GradNorm(); math.Abs(after-1) > 1e-5 {
		t.Errorf("norm after clipping %g, want 1", after)
	}
	if norm2, _, _ := run(2); math.Float64bits(norm2) != math.Float64bits(norm) {
		t.Errorf("norm on two cores %.17g, on one %.17g", norm2, norm)
	}
}

func TestSchedules(t *testing.T) {
	for _, tc := range []struct {
		s    Schedule
		step int
		want float64
	}{
		{Schedule{Kind: "constant", BaseLR: 0.1}, 1000, 0.1},
		{Schedule{Kind: "constant", BaseLR: 0.1, Warmup: 10}, 4, 0.05},
		{Schedule{Kind: "step", BaseLR: 1, StepSize: 10, Gamma: 0.5}, 25, 0.25},
		{Schedule{Kind: "exponential", BaseLR: 1, Gamma: 0.9}, 2, 0.81},
		{Schedule{Kind: "cosine", BaseLR: 1, Total: 100, MinLR: 0}, 50, 0.5},
		{Schedule{Kind: "cosine", BaseLR: 1, Total: 100, MinLR: 0.1}, 500, 0.1},
	} {
		if err := tc.s.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := tc.s.LR(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v at step %d: lr %g, want %g", tc.s, tc.step, got, tc.want)
		}
	}
	for _, bad := range []Schedule{{Kind: "linear"}, {Kind: "step"}, {Kind: "cosine"}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

// TestScheduleLRAt: with the cosine's progress given (a time budget's
// share), the rate follows it and not the step count; warm-up still counts
// steps, and the step-counting kinds ignore it.
func TestScheduleLRAt(t *testing.T) {
	cosine := Schedule{Kind: "cosine", BaseLR: 1, Warmup: 10, Total: 1000, MinLR: 0.2}
	for _, tc := range []struct {
		name string
		s    Schedule
		step int
		frac float64
		want float64
	}{
		{"start", cosine, 10, 0, 1},
		{"half the time at step 20", cosine, 20, 0.5, 0.6},
		{"time up at step 20", cosine, 20, 1, 0.2},
		{"past the limit clamps", cosine, 20, 1.7, 0.2},
		{"negative clamps", cosine, 20, -0.3, 1},
		{"warm-up counts steps", cosine, 4, 0.9, 0.5},
		{"step kind counts steps", Schedule{Kind: "step", BaseLR: 1, StepSize: 10, Gamma: 0.5}, 25, 0.9, 0.25},
		{"constant", Schedule{Kind: "constant", BaseLR: 0.1}, 5, 0.9, 0.1},
	} {
		if got := tc.s.LRAt(tc.step, tc.frac); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: LRAt(%d, %g) = %g, want %g", tc.name, tc.step, tc.frac, got, tc.want)
		}
	}
	// LR is LRAt with the steps' own fraction.
	for _, step := range []int{0, 9, 10, 500, 1010, 5000} {
		if a, b := cosine.LR(step), cosine.LRAt(step, float64(step-10)/1000); a != b {
			t.Errorf("step %d: LR %g, LRAt %g", step, a, b)
		}
	}
}

// Adam splits large parameters over the cores; the result must equal the
// one-core update bit for bit, so that a run does not depend on the
// machine's core count.
func TestAdamParallelEqualsSerial(t *testing.T) {
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		rng := rand.New(rand.NewPCG(3, 3))
		p := NewParam[float32]("p", 300, 400)
		InitUniform(p.Value, 1, rng)
		opt, _ := NewOptimizer(OptimizerConfig{Kind: "adam", WeightDecay: 0.01}, Params[float32]{p})
		for range 3 {
			InitUniform(p.Grad, 1, rng)
			opt.Step(Params[float32]{p}, 0.01)
		}
		return p.Value
	}
	serial, parallel := run(1), run(2)
	for i := range serial {
		if serial[i] != parallel[i] {
			t.Fatalf("element %d: %v on one core, %v on two", i, serial[i], parallel[i])
		}
	}
}

// TestOptimizerStateRejectsBadState: a checkpoint's optimizer state is
// checked tensor by tensor before any of it is used, and each problem names
// the tensor.
func TestOptimizerStateRejectsBadState(t *testing.T) {
	p := NewParam[float64]("p", 2)
	good := func() OptimizerState[float64] {
		opt, _ := NewOptimizer(OptimizerConfig{Kind: "adam"}, Params[float64]{p})
		p.Grad[0] = 1
		opt.Step(Params[float64]{p}, 0.1)
		st := opt.State()
		st.Tensors = maps.Clone(st.Tensors)
		return st
	}
	for _, tc := range []struct {
		name  string
		spoil func(*OptimizerState[float64])
		want  string
	}{
		{"negative steps", func(s *OptimizerState[float64]) { s.Steps = -1 }, "-1 steps"},
		{"missing slot", func(s *OptimizerState[float64]) { delete(s.Tensors, "adam.m/p") }, `no "adam.m/p"`},
		{"short slot", func(s *OptimizerState[float64]) { s.Tensors["adam.m/p"] = []float64{1} }, `"adam.m/p" has 1 values, want 2`},
		{"NaN moment", func(s *OptimizerState[float64]) { s.Tensors["adam.m/p"] = []float64{0, math.NaN()} }, `"adam.m/p": value 1 is NaN`},
		{"negative second moment", func(s *OptimizerState[float64]) { s.Tensors["adam.v/p"] = []float64{-1, 0} }, `"adam.v/p": value 0 is -1`},
		{"fractional count", func(s *OptimizerState[float64]) { s.Tensors["adam.step/p"] = []float64{0.5} }, "0.5 updates"},
		{"count above steps", func(s *OptimizerState[float64]) { s.Tensors["adam.step/p"] = []float64{7} }, "7 updates"},
		{"foreign tensor", func(s *OptimizerState[float64]) { s.Tensors["adam.m/q"] = []float64{0} }, `"adam.m/q" belongs to no parameter`},
		{"other optimizer", func(s *OptimizerState[float64]) { s.Tensors["sgd.momentum/p"] = []float64{0, 0} }, `"sgd.momentum/p" belongs to no parameter`},
	} {
		st := good()
		tc.spoil(&st)
		opt, _ := NewOptimizer(OptimizerConfig{Kind: "adam"}, Params[float64]{p})
		if err := opt.SetState(Params[float64]{p}, st); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	opt, _ := NewOptimizer(OptimizerConfig{Kind: "adam"}, Params[float64]{p})
	if err := opt.SetState(Params[float64]{p}, good()); err != nil {
		t.Errorf("a good state was refused: %v", err)
	}
}
