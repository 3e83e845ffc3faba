package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/seqtask/seqtask/fastblas"
)

// TestLinearBF16 checks a Linear whose cache is in bfloat16 mode against
// x·Wᵀ + b computed in float64 from the rounded operands (batches of one
// row, the vector kernel, and more), that it stays within bfloat16's
// rounding of the float32 layer, that float64 models keep their precision,
// and that the rounded weight is made once per cache.
func TestLinearBF16(t *testing.T) {
	rng := testRNG()
	const in, out = 40, 7
	l := NewLinear[float32]("l", in, out, rng)
	for _, n := range []int{5, 1, 3} {
		x := NewMat[float32](n, in)
		InitUniform(x.Data, 1, rng)
		var c, cr LinearCache[float32]
		cr.UseBF16()
		exact := l.Forward(&c, x)
		got := l.Forward(&cr, x)
		round := func(v float32) float64 { return float64(fastblas.RoundBF16(v)) }
		for i := 0; i < n; i++ {
			for j := 0; j < out; j++ {
				g, e := float64(got.Row(i)[j]), float64(exact.Row(i)[j])
				want := float64(l.Bias.Value[j])
				var size float64
				for p := 0; p < in; p++ {
					prod := round(x.Row(i)[p]) * round(l.Weight.Value[j*in+p])
					want += prod
					size += math.Abs(prod)
				}
				if math.Abs(g-want) > 1e-5*(1+size) {
					t.Fatalf("y[%d][%d] = %g, want %g from rounded operands", i, j, g, want)
				}
				if math.Abs(g-e) > 1e-2*(1+size) {
					t.Fatalf("y[%d][%d] = %g, float32 layer %g: beyond bfloat16 rounding", i, j, g, e)
				}
			}
		}
		if len(cr.rounded) != 1 {
			t.Fatalf("%d rounded weights kept, want 1", len(cr.rounded))
		}
	}
	l64 := NewLinear[float64]("l", in, out, rng)
	x := NewMat[float64](5, in)
	InitUniform(x.Data, 1, rng)
	var c, cr LinearCache[float64]
	cr.UseBF16()
	exact, got := l64.Forward(&c, x), l64.Forward(&cr, x)
	for i, v := range exact.Data {
		if got.Data[i] != v {
			t.Fatalf("float64: y[%d] = %g in bfloat16 mode, %g without", i, got.Data[i], v)
		}
	}
}

// TestRecurrentBF16 runs an LSTM and a GRU with caches in bfloat16 mode:
// outputs within bfloat16's rounding of float32's, but not equal to them.
func TestRecurrentBF16(t *testing.T) {
	for _, cell := range []Cell{"lstm", "gru"} {
		rng := testRNG()
		r, err := NewRecurrent[float32]("r", RecurrentConfig{Cell: cell, Input: 24, Hidden: 32, Layers: 2}, rng)
		if err != nil {
			t.Fatal(err)
		}
		const steps, batch = 5, 6
		x := NewMat[float32](steps*batch, 24)
		InitUniform(x.Data, 1, rng)
		var c, cr RecurrentCache[float32]
		cr.UseBF16()
		y, _, _ := r.Forward(&c, x, steps, batch, Mat[float32]{}, Mat[float32]{}, false, nil)
		exact := append([]float32(nil), y.Data...)
		yr, _, _ := r.Forward(&cr, x, steps, batch, Mat[float32]{}, Mat[float32]{}, false, nil)
		differ := 0
		for i, v := range yr.Data {
			if math.Abs(float64(v-exact[i])) > 2e-2 {
				t.Fatalf("%v: y[%d] = %g in bfloat16 mode, %g in float32", cell, i, v, exact[i])
			}
			if v != exact[i] {
				differ++
			}
		}
		if differ < len(exact)/2 {
			t.Fatalf("%v: only %d of %d outputs differ: the products were not rounded", cell, differ, len(exact))
		}
	}
}

// TestStepperBF16 steps a stepper in bfloat16 mode beside a float32 one:
// outputs within bfloat16's rounding of each other, and after the weights
// change and both reload, still (a stepper that kept its old rounded
// weights would drift away).
func TestStepperBF16(t *testing.T) {
	rng := testRNG()
	r, err := NewRecurrent[float32]("r", RecurrentConfig{Cell: "lstm", Input: 16, Hidden: 40, Layers: 2}, rng)
	if err != nil {
		t.Fatal(err)
	}
	exact, rounded := r.NewStepper(), r.NewStepper()
	rounded.UseBF16()
	x := NewMat[float32](1, 16)
	compare := func(when string) {
		for step := 0; step < 5; step++ {
			InitUniform(x.Data, 1, rng)
			e, g := exact.Step(x), rounded.Step(x)
			for i, v := range e.Data {
				if math.Abs(float64(g.Data[i]-v)) > 2e-2 {
					t.Fatalf("%s, step %d: h[%d] = %g in bfloat16 mode, %g in float32", when, step, i, g.Data[i], v)
				}
			}
		}
	}
	compare("fresh")
	for _, p := range r.Params() {
		for i := range p.Value {
			p.Value[i] = -2 * p.Value[i]
		}
	}
	exact.Reload()
	rounded.Reload()
	exact.Reset(Mat[float32]{}, Mat[float32]{})
	rounded.Reset(Mat[float32]{}, Mat[float32]{})
	compare("after the weights changed")
}

// TestLinearTrainBF16 checks a Linear training in bfloat16: the output, the
// input gradient (dx = dy·W from the rounded transpose) and the weight
// gradient are products of rounded operands, the bias gradient is
// float32's exactly, and a new pass rounds the changed weights again while
// within a pass the rounded copy is reused.
func TestLinearTrainBF16(t *testing.T) {
	rng := testRNG()
	const n, in, out = 6, 37, 9
	l := NewLinear[float32]("l", in, out, rng)
	x, dy := NewMat[float32](n, in), NewMat[float32](n, out)
	InitUniform(x.Data, 1, rng)
	InitUniform(dy.Data, 1, rng)
	round := func(v float32) float64 { return float64(fastblas.RoundBF16(v)) }
	check := func(when string) {
		var exactC, c LinearCache[float32]
		var pass BF16Pass[float32]
		c.TrainBF16(pass.Begin(true))
		y := l.Forward(&c, x)
		l.Params().ZeroGrad()
		dx := NewMat[float32](n, in)
		l.Backward(&c, dy, dx)
		dW, db := slices.Clone(l.Weight.Grad), slices.Clone(l.Bias.Grad)
		l.Params().ZeroGrad()
		l.Forward(&exactC, x)
		l.Backward(&exactC, dy, NewMat[float32](n, in))
		if !slices.Equal(db, l.Bias.Grad) {
			t.Fatalf("%s: the bias gradient differs from float32's", when)
		}
		for j := 0; j < out; j++ {
			for p := 0; p < in; p++ {
				var want, size float64
				for i := 0; i < n; i++ {
					v := round(dy.Row(i)[j]) * round(x.Row(i)[p])
					want, size = want+v, size+math.Abs(v)
				}
				if g := float64(dW[j*in+p]); math.Abs(g-want) > 1e-5*(1+size) {
					t.Fatalf("%s: dW[%d][%d] = %g, want %g from rounded operands", when, j, p, g, want)
				}
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j < out; j++ {
				want, size := float64(l.Bias.Value[j]), 0.0
				for p := 0; p < in; p++ {
					v := round(x.Row(i)[p]) * round(l.Weight.Value[j*in+p])
					want, size = want+v, size+math.Abs(v)
				}
				if g := float64(y.Row(i)[j]); math.Abs(g-want) > 1e-5*(1+size) {
					t.Fatalf("%s: y[%d][%d] = %g, want %g from rounded operands", when, i, j, g, want)
				}
			}
			for p := 0; p < in; p++ {
				var want, size float64
				for j := 0; j < out; j++ {
					v := round(dy.Row(i)[j]) * round(l.Weight.Value[j*in+p])
					want, size = want+v, size+math.Abs(v)
				}
				if g := float64(dx.Row(i)[p]); math.Abs(g-want) > 1e-5*(1+size) {
					t.Fatalf("%s: dx[%d][%d] = %g, want %g from rounded operands", when, i, p, g, want)
				}
			}
		}
	}
	check("first pass")
	for i := range l.Weight.Value {
		l.Weight.Value[i] *= -1.5
	}
	check("after the weights changed")

	// Within a pass, two caches share the rounded weight; the next pass
	// re-rounds it in place.
	var pass BF16Pass[float32]
	var a, b LinearCache[float32]
	a.TrainBF16(pass.Begin(true))
	b.TrainBF16(&pass)
	ya := append([]float32(nil), l.Forward(&a, x).Data...)
	for i := range l.Weight.Value {
		l.Weight.Value[i] *= 2
	}
	if yb := l.Forward(&b, x); !slices.Equal(ya, yb.Data) {
		t.Fatal("a second cache in the same pass rounded the weight again")
	}
	pass.Begin(true)
	yb := l.Forward(&b, x)
	for i, v := range ya {
		if math.Abs(float64(yb.Data[i]-l.Bias.Value[i%out])-2*float64(v-l.Bias.Value[i%out])) > 1e-3*(1+math.Abs(float64(v))) {
			t.Fatalf("next pass: y[%d] = %g, want twice the weights' product (%g before)", i, yb.Data[i], v)
		}
	}
}

// TestRecurrentTrainBF16 trains one step of an LSTM and a GRU (two layers,
// one bidirectional) with a bfloat16 pass beside float32: outputs and every
// gradient within bfloat16's rounding of float32's, but not equal to them.
func TestRecurrentTrainBF16(t *testing.T) {
	for _, cfg := range []RecurrentConfig{
		{Cell: "lstm", Input: 24, Hidden: 32, Layers: 2},
		{Cell: "gru", Input: 24, Hidden: 32, Layers: 1, Bidirectional: true},
		{Cell: "lstm", Input: 24, Hidden: 32, Layers: 1, WeightDrop: 0.3},
	} {
		rng := testRNG()
		r, err := NewRecurrent[float32]("r", cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		const steps, batch = 7, 5
		x, dy := NewMat[float32](steps*batch, 24), NewMat[float32](steps*batch, cfg.Hidden*cfg.Directions())
		InitUniform(x.Data, 1, rng)
		InitUniform(dy.Data, 1, rng)
		run := func(pass *BF16Pass[float32]) (y, dx []float32, grads [][]float32) {
			var c RecurrentCache[float32]
			c.TrainBF16(pass.Begin(pass != nil))
			r.Params().ZeroGrad()
			out, _, _ := r.Forward(&c, x, steps, batch, Mat[float32]{}, Mat[float32]{}, true, rand.New(rand.NewPCG(9, 9)))
			y = append(y, out.Data...)
			d, _, _ := r.Backward(&c, dy, Mat[float32]{}, Mat[float32]{})
			dx = append(dx, d.Data...)
			for _, p := range r.Params() {
				grads = append(grads, append([]float32(nil), p.Grad...))
			}
			return y, dx, grads
		}
		ey, edx, egrads := run(nil)
		gy, gdx, ggrads := run(new(BF16Pass[float32]))
		close := func(what string, got, want []float32) {
			t.Helper()
			var diff, norm float64
			differ := 0
			for i, v := range want {
				d := float64(got[i] - v)
				diff, norm = diff+d*d, norm+float64(v)*float64(v)
				if got[i] != v {
					differ++
				}
			}
			if rel := math.Sqrt(diff / norm); rel > 1e-2 {
				t.Fatalf("%s %s: relative distance %.2g from float32, beyond bfloat16 rounding", cfg.Cell, what, rel)
			}
			if differ < len(want)/2 {
				t.Fatalf("%s %s: only %d of %d values differ from float32: not rounded", cfg.Cell, what, differ, len(want))
			}
		}
		close("outputs", gy, ey)
		close("input gradient", gdx, edx)
		for i, p := range r.Params() {
			close(p.Name+" gradient", ggrads[i], egrads[i])
		}
	}
}

// TestBF16PassShared: two copies of a layer on shared values and a shared
// pass, running at once, get their products from one rounded copy of each
// weight, made once per pass, and from the changed weights once the pass
// begins anew — the same products as a pass of their own.
func TestBF16PassShared(t *testing.T) {
	rng := testRNG()
	const in, out = 40, 7
	a, b := NewLinear[float32]("l", in, out, rng), NewLinear[float32]("l", in, out, rng)
	if err := b.Params().ShareValues(a.Params()); err != nil {
		t.Fatal(err)
	}
	shared := new(BF16Pass[float32])
	a.Params().ShareBF16(shared)
	b.Params().ShareBF16(shared)
	x, dy := NewMat[float32](5, in), NewMat[float32](5, out)
	InitUniform(x.Data, 1, rng)
	InitUniform(dy.Data, 1, rng)
	// run forwards and backwards through both copies at once, each on a
	// pass of its own that defers to the shared one.
	run := func() (ys, dxs [2][]float32) {
		shared.Begin(true)
		var wg sync.WaitGroup
		for i, l := range []*Linear[float32]{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var own BF16Pass[float32]
				var c LinearCache[float32]
				c.TrainBF16(own.Begin(true))
				ys[i] = append(ys[i], l.Forward(&c, x).Data...)
				dx := NewMat[float32](5, in)
				l.Backward(&c, dy, dx)
				dxs[i] = dx.Data
				if len(own.copies) != 0 {
					t.Errorf("copy %d rounded %d weights of its own", i, len(own.copies))
				}
			}()
		}
		wg.Wait()
		return ys, dxs
	}
	alone := func() (y, dx []float32) {
		var c LinearCache[float32]
		var own BF16Pass[float32]
		c.TrainBF16(own.Begin(true))
		a.Params().ShareBF16(nil)
		defer a.Params().ShareBF16(shared)
		y = append(y, a.Forward(&c, x).Data...)
		d := NewMat[float32](5, in)
		a.Backward(&c, dy, d)
		return y, d.Data
	}
	for round := range 2 {
		ys, dxs := run()
		wantY, wantDX := alone()
		for i := range 2 {
			if !slices.Equal(ys[i], wantY) || !slices.Equal(dxs[i], wantDX) {
				t.Fatalf("round %d, copy %d: products differ from a pass of its own", round, i)
			}
		}
		if len(shared.copies) != 2 { // W and Wᵀ
			t.Fatalf("round %d: %d rounded copies shared, want 2", round, len(shared.copies))
		}
		for i := range a.Weight.Value {
			a.Weight.Value[i] *= -1.5 // an update both copies see
		}
	}
}

// TestWeightDropBF16NewMask checks that a cache training in bfloat16
// rounds each pass's masked W_hh afresh: the second of two passes through
// one cache and one BF16Pass, with another mask, matches float32 on that
// mask, not on the first.
func TestWeightDropBF16NewMask(t *testing.T) {
	cfg := RecurrentConfig{Cell: "gru", Input: 8, Hidden: 16, Layers: 1, WeightDrop: 0.5}
	r, err := NewRecurrent[float32]("r", cfg, testRNG())
	if err != nil {
		t.Fatal(err)
	}
	const steps, batch = 6, 4
	x := NewMat[float32](steps*batch, cfg.Input)
	InitUniform(x.Data, 1, testRNG())
	forward := func(c *RecurrentCache[float32], seed uint64) []float32 {
		y, _, _ := r.Forward(c, x, steps, batch, Mat[float32]{}, Mat[float32]{}, true, rand.New(rand.NewPCG(seed, seed)))
		return append([]float32(nil), y.Data...)
	}
	float32On := func(seed uint64) []float32 {
		var c RecurrentCache[float32]
		return forward(&c, seed)
	}
	distance := func(got, want []float32) float64 {
		var diff, norm float64
		for i, v := range want {
			d := float64(got[i] - v)
			diff, norm = diff+d*d, norm+float64(v)*float64(v)
		}
		return math.Sqrt(diff / norm)
	}
	var c RecurrentCache[float32]
	var pass BF16Pass[float32]
	c.TrainBF16(pass.Begin(true))
	forward(&c, 1)
	c.TrainBF16(pass.Begin(true))
	second := forward(&c, 2)
	if d := distance(second, float32On(2)); d > 1e-2 {
		t.Errorf("second pass %.2g from float32 on its own mask, beyond bfloat16 rounding", d)
	}
	if d := distance(second, float32On(1)); d < 0.05 {
		t.Errorf("second pass only %.2g from float32 on the first pass's mask: the mask was not renewed", d)
	}
}
