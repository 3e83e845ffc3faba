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
