package decoders

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/nn"
)

// TestForwardFromCarriesState reads a sequence in windows, each started
// from the states the last one ended in, and requires the logits of one
// Forward over the whole sequence: carrying the states is reading on.
// Starting a window from zero states instead must change them, or the
// comparison would prove nothing.
func TestForwardFromCarriesState(t *testing.T) {
	for _, cell := range []string{"rnn", "lstm", "gru"} {
		t.Run(cell, func(t *testing.T) {
			cfg := SyncedConfig{Vocab: 7, Embed: 5, Cell: cell, Hidden: 6, Layers: 2, Outputs: 7}
			d, err := NewSynced[float64](cfg, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			const steps, batch = 9, 2
			rng := rand.New(rand.NewPCG(2, 2))
			ids := make([]int, steps*batch) // time-major
			for i := range ids {
				ids[i] = rng.IntN(cfg.Vocab)
			}
			var whole SyncedCache[float64]
			want, err := d.Forward(&whole, ids, nn.Mat[float64]{}, steps, batch, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			want = want.Clone()

			var c SyncedCache[float64]
			var h0, c0 nn.Mat[float64]
			var got []float64
			for t0 := 0; t0 < steps; t0 += 4 {
				k := min(4, steps-t0)
				logits, hn, cn, err := d.ForwardFrom(&c, ids[t0*batch:(t0+k)*batch], nn.Mat[float64]{}, k, batch, h0, c0, false, nil)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, logits.Data...)
				if t0 == 4 {
					zero, err := d.Forward(&SyncedCache[float64]{}, ids[t0*batch:(t0+k)*batch], nn.Mat[float64]{}, k, batch, false, nil)
					if err != nil {
						t.Fatal(err)
					}
					if maxDiff(zero.Data, logits.Data) < 1e-6 {
						t.Fatal("a window from zero states gives the logits of one from the carried states")
					}
				}
				h0, c0 = hn.Clone(), cn
				if !cn.Empty() {
					c0 = cn.Clone()
				}
			}
			if hasCell := !c0.Empty(); hasCell != (cell == "lstm") {
				t.Fatalf("cell state returned: %v, want it for lstm only", hasCell)
			}
			if len(got) != len(want.Data) {
				t.Fatalf("windows gave %d logits, one forward %d", len(got), len(want.Data))
			}
			if diff := maxDiff(got, want.Data); diff > 1e-12 {
				t.Errorf("windows with carried states differ from one forward by %g", diff)
			}
		})
	}
}

func TestForwardFromRefusesMisshapenStates(t *testing.T) {
	cfg := SyncedConfig{Vocab: 7, Embed: 5, Cell: "lstm", Hidden: 6, Layers: 2, Outputs: 7}
	d, err := NewSynced[float32](cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, 3*2)
	for _, tc := range []struct{ h, c nn.Mat[float32] }{
		{h: nn.NewMat[float32](2, 6)},                              // one layer's rows
		{h: nn.NewMat[float32](4, 6), c: nn.NewMat[float32](4, 5)}, // cells too narrow
	} {
		_, _, _, err := d.ForwardFrom(&SyncedCache[float32]{}, ids, nn.Mat[float32]{}, 3, 2, tc.h, tc.c, false, nil)
		if err == nil || !strings.Contains(err.Error(), "initial states") {
			t.Errorf("states %d×%d, %d×%d: error %v, want one about the initial states", tc.h.Rows, tc.h.Cols, tc.c.Rows, tc.c.Cols, err)
		}
	}
	cfg.Cell = "none" // no recurrent stack: no states to start from
	flat, err := NewSynced[float32](cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = flat.ForwardFrom(&SyncedCache[float32]{}, ids, nn.Mat[float32]{}, 3, 2, nn.NewMat[float32](4, 6), nn.Mat[float32]{}, false, nil)
	if err == nil || !strings.Contains(err.Error(), "without a recurrent stack") {
		t.Errorf("states for a decoder without recurrence: error %v", err)
	}
}

func maxDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}
