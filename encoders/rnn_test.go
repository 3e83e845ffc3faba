package encoders

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqtask/seqtask/nn"
)

// TestTokensTrainBF16 runs a bidirectional token encoder built with BF16
// beside the same encoder in float32: in a training pass its states are
// within bfloat16's rounding of float32's but differ from them; in an
// evaluation pass they are float32's exactly.
func TestTokensTrainBF16(t *testing.T) {
	build := func(bf16 bool) *Tokens[float32] {
		e, err := NewTokens[float32]("encoder", TokenConfig{Vocab: 13, Embed: 8,
			RNN: nn.RecurrentConfig{Cell: nn.CellGRU, Hidden: 16, Layers: 1, Bidirectional: true}, BF16: bf16}, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	const steps, batch = 6, 3
	ids := make([]int, steps*batch)
	for i := range ids {
		ids[i] = 1 + i%12
	}
	exact, rounded := build(false), build(true)
	for _, train := range []bool{true, false} {
		ek, _, _, err := exact.Forward(ids, steps, batch, nil, train, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(ek.Data)
		rk, _, _, err := rounded.Forward(ids, steps, batch, nil, train, nil)
		if err != nil {
			t.Fatal(err)
		}
		var diff, norm float64
		for i, w := range want {
			d := float64(rk.Data[i] - w)
			diff, norm = diff+d*d, norm+float64(w)*float64(w)
		}
		rel := math.Sqrt(diff / norm)
		switch {
		case !train && rel != 0:
			t.Errorf("evaluation pass: states at relative distance %.2g from float32's, want equal", rel)
		case train && (rel == 0 || rel > 2e-2):
			t.Errorf("training pass: states at relative distance %.2g from float32's, want rounded (> 0) but within 2e-2", rel)
		}
	}
}
