package nn

import (
	"math"
	"testing"
)

// TestPackedProducts: with its weights packed once (UsePacked), a Linear
// and a recurrent stack compute what they compute without, to float32's
// rounding, for batches routed to the packed kernel and below it; each
// weight is packed once per cache; float64 models keep their precision
// exactly.
func TestPackedProducts(t *testing.T) {
	rng := testRNG()
	const in, out = 72, 70
	l := NewLinear[float32]("l", in, out, rng)
	for _, n := range []int{64, 5} {
		x := NewMat[float32](n, in)
		InitUniform(x.Data, 1, rng)
		var c, cp LinearCache[float32]
		cp.UsePacked()
		want, got := l.Forward(&c, x), l.Forward(&cp, x)
		for i, v := range want.Data {
			if math.Abs(float64(got.Data[i]-v)) > 1e-5*(1+math.Abs(float64(v))) {
				t.Fatalf("batch %d: y[%d] = %g packed, %g not", n, i, got.Data[i], v)
			}
		}
		l.Forward(&cp, x)
		if len(cp.packs) != 1 {
			t.Fatalf("%d packed weights kept, want 1", len(cp.packs))
		}
	}
	r, err := NewRecurrent[float32]("r", RecurrentConfig{Cell: "gru", Input: 24, Hidden: 40, Layers: 2}, rng)
	if err != nil {
		t.Fatal(err)
	}
	const steps, batch = 3, 50
	x := NewMat[float32](steps*batch, 24)
	InitUniform(x.Data, 1, rng)
	var c, cp RecurrentCache[float32]
	cp.UsePacked()
	want, _, _ := r.Forward(&c, x, steps, batch, Mat[float32]{}, Mat[float32]{}, false, nil)
	got, _, _ := r.Forward(&cp, x, steps, batch, Mat[float32]{}, Mat[float32]{}, false, nil)
	for i, v := range want.Data {
		if math.Abs(float64(got.Data[i]-v)) > 1e-5 {
			t.Fatalf("recurrent y[%d] = %g packed, %g not", i, got.Data[i], v)
		}
	}
	if len(cp.packs) == 0 {
		t.Fatal("the recurrent stack packed no weight")
	}
	l64 := NewLinear[float64]("l", in, out, rng)
	x64 := NewMat[float64](64, in)
	InitUniform(x64.Data, 1, rng)
	var c64, cp64 LinearCache[float64]
	cp64.UsePacked()
	exact, packed := l64.Forward(&c64, x64), l64.Forward(&cp64, x64)
	for i, v := range exact.Data {
		if packed.Data[i] != v {
			t.Fatalf("float64: y[%d] = %g in packed mode, %g without", i, packed.Data[i], v)
		}
	}
}

// TestStepPacksFollowWeights: a recurrent layer's step products multiply
// W_hh packed once per pass; a pass after the weights change (as an
// optimizer step changes them) must use the new values, forward and
// backward. The cache that saw the old weights is compared, to the bit,
// with a fresh cache on the new ones, at a batch that the packed kernel
// takes on every CPU (and for one where only CPUs without small-m kernels
// pack), for the cells whose step products differ (LSTM's sum into the
// gates, GRU's separate hidden product).
func TestStepPacksFollowWeights(t *testing.T) {
	for _, cell := range []Cell{CellLSTM, CellGRU} {
		for _, batch := range []int{64, 8} {
			rng := testRNG()
			r, err := NewRecurrent[float32]("r", RecurrentConfig{Cell: cell, Input: 12, Hidden: 40, Layers: 2}, rng)
			if err != nil {
				t.Fatal(err)
			}
			const steps = 4
			x := NewMat[float32](steps*batch, 12)
			InitUniform(x.Data, 1, rng)
			dy := NewMat[float32](steps*batch, 40)
			InitUniform(dy.Data, 1, rng)
			pass := func(c *RecurrentCache[float32]) (y, dx Mat[float32], grads [][]float32) {
				r.Params().ZeroGrad()
				y, _, _ = r.Forward(c, x, steps, batch, Mat[float32]{}, Mat[float32]{}, true, nil)
				y = y.Clone()
				dx, _, _ = r.Backward(c, dy, Mat[float32]{}, Mat[float32]{})
				for _, p := range r.Params() {
					grads = append(grads, append([]float32(nil), p.Grad...))
				}
				return y, dx.Clone(), grads
			}
			var used RecurrentCache[float32]
			pass(&used)
			for _, p := range r.Params() {
				for i := range p.Value {
					p.Value[i] *= 0.75
				}
			}
			y, dx, grads := pass(&used)
			var fresh RecurrentCache[float32]
			wantY, wantDx, wantGrads := pass(&fresh)
			same := func(what string, got, want []float32) {
				t.Helper()
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s, batch %d: %s[%d] = %g after the weights changed, %g from a fresh cache", cell, batch, what, i, got[i], want[i])
					}
				}
			}
			same("y", y.Data, wantY.Data)
			same("dx", dx.Data, wantDx.Data)
			for i, p := range r.Params() {
				same(p.Name+" grad", grads[i], wantGrads[i])
			}
		}
	}
}

// TestStepPacksOnlyForSeveralSteps: a pass of one step (a decoder keeps a
// cache per time step) packs no copy of W_hh, and a cache whose earlier
// pass had several steps does not multiply its old packs in a later pass
// of one step after the weights changed.
func TestStepPacksOnlyForSeveralSteps(t *testing.T) {
	rng := testRNG()
	r, err := NewRecurrent[float32]("r", RecurrentConfig{Cell: CellLSTM, Input: 12, Hidden: 40, Layers: 1}, rng)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 64
	x := NewMat[float32](4*batch, 12)
	InitUniform(x.Data, 1, rng)
	var one RecurrentCache[float32]
	r.Forward(&one, x.RowBlock(0, batch), 1, batch, Mat[float32]{}, Mat[float32]{}, true, nil)
	if len(one.WeightProducts.steps) != 0 {
		t.Fatalf("a one-step pass kept %d packed weights, want none", len(one.WeightProducts.steps))
	}
	var several RecurrentCache[float32]
	r.Forward(&several, x, 4, batch, Mat[float32]{}, Mat[float32]{}, true, nil)
	if len(several.WeightProducts.steps) == 0 {
		t.Fatal("a four-step pass packed no weight")
	}
	for _, p := range r.Params() {
		for i := range p.Value {
			p.Value[i] *= 0.75
		}
	}
	// A state to start from: from zeros a step's W_hh product is zero.
	h0, c0 := NewMat[float32](r.StateRows(batch), 40), NewMat[float32](r.StateRows(batch), 40)
	InitUniform(h0.Data, 1, rng)
	InitUniform(c0.Data, 1, rng)
	got, _, _ := r.Forward(&several, x.RowBlock(0, batch), 1, batch, h0, c0, true, nil)
	got = got.Clone()
	var fresh RecurrentCache[float32]
	want, _, _ := r.Forward(&fresh, x.RowBlock(0, batch), 1, batch, h0, c0, true, nil)
	for i, v := range want.Data {
		if math.Float32bits(got.Data[i]) != math.Float32bits(v) {
			t.Fatalf("y[%d] = %g after an earlier four-step pass, %g from a fresh cache", i, got.Data[i], v)
		}
	}
}
