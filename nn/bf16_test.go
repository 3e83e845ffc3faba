package nn

import (
	"math"
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
