package decoders

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqtask/seqtask/nn"
)

// TestTrainBF16 runs decoders built with BF16 beside the same decoders in
// float32: a training pass's logits and gradients are within bfloat16's
// rounding of float32's but differ from them (the products were rounded:
// the recurrent stack and linear layers of the step-wise path with
// attention and input feeding, of the whole-sequence path, and of a
// synced decoder), while an evaluation pass (train false) is float32's
// exactly.
func TestTrainBF16(t *testing.T) {
	type pass func(d any, train bool) (logits []float32, grads []float32)
	rnnPass := func(cfg Config, stepwise bool) (func(bf16 bool) any, pass) {
		build := func(bf16 bool) any {
			cfg.BF16 = bf16
			d, err := New[float32]("decoder", cfg, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			d.Stepwise = stepwise
			return d
		}
		run := func(dd any, train bool) ([]float32, []float32) {
			d := dd.(*RNN[float32])
			rng := rand.New(rand.NewPCG(3, 4))
			const B, S, steps = 4, 5, 6
			b := Batch[float32]{H0: nn.NewMat[float32](cfg.Layers*B, cfg.Hidden), Steps: steps, Tokens: make([]int, steps*B)}
			nn.InitUniform(b.H0.Data, 1, rng)
			for i := range b.Tokens {
				b.Tokens[i] = 1 + rng.IntN(cfg.Vocab-1)
			}
			if cfg.Attention != "" {
				b.Keys, b.S, b.Lengths = nn.NewMat[float32](B*S, cfg.Key), S, []int{S, 3, S, 2}
				nn.InitUniform(b.Keys.Data, 1, rng)
			}
			d.Params().ZeroGrad()
			logits, err := d.Forward(b, 1, train, rng)
			if err != nil {
				t.Fatal(err)
			}
			out := slices.Clone(logits.Data)
			d.Backward(logits) // any gradient will do: the logits themselves
			var grads []float32
			for _, p := range d.Params() {
				grads = append(grads, p.Grad...)
			}
			return out, grads
		}
		return build, run
	}
	syncedPass := func() (func(bf16 bool) any, pass) {
		cfg := SyncedConfig{Vocab: 9, Embed: 8, Cell: "lstm", Hidden: 16, Layers: 2, Outputs: 9}
		build := func(bf16 bool) any {
			cfg.BF16 = bf16
			d, err := NewSynced[float32](cfg, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		run := func(dd any, train bool) ([]float32, []float32) {
			d := dd.(*Synced[float32])
			const steps, batch = 7, 3
			ids := make([]int, steps*batch)
			for i := range ids {
				ids[i] = i % 9
			}
			var c SyncedCache[float32]
			d.Params().ZeroGrad()
			logits, err := d.Forward(&c, ids, nn.Mat[float32]{}, steps, batch, train, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := slices.Clone(logits.Data)
			d.Backward(&c, logits)
			var grads []float32
			for _, p := range d.Params() {
				grads = append(grads, p.Grad...)
			}
			return out, grads
		}
		return build, run
	}
	attention := Config{Vocab: 11, Embed: 8, Cell: nn.CellLSTM, Hidden: 16, Layers: 2, Attention: nn.AttentionKind("general"), Key: 12, InputFeeding: true}
	plain := Config{Vocab: 11, Embed: 8, Cell: nn.CellGRU, Hidden: 16, Layers: 1}
	cases := []struct {
		name string
		make func() (func(bool) any, pass)
	}{
		{"step-wise with attention", func() (func(bool) any, pass) { return rnnPass(attention, true) }},
		{"whole sequence", func() (func(bool) any, pass) { return rnnPass(plain, false) }},
		{"synced", syncedPass},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			build, run := tc.make()
			exact, rounded := build(false), build(true)
			for _, train := range []bool{true, false} {
				el, eg := run(exact, train)
				rl, rg := run(rounded, train)
				if !train {
					if !slices.Equal(el, rl) {
						t.Fatal("evaluation pass: logits differ from float32's")
					}
					continue
				}
				for _, v := range []struct {
					what      string
					got, want []float32
				}{{"logits", rl, el}, {"gradients", rg, eg}} {
					var diff, norm float64
					for i, w := range v.want {
						d := float64(v.got[i] - w)
						diff, norm = diff+d*d, norm+float64(w)*float64(w)
					}
					rel := math.Sqrt(diff / norm)
					if rel == 0 || rel > 2e-2 {
						t.Errorf("training pass: %s at relative distance %.2g from float32's, want rounded (> 0) but within 2e-2", v.what, rel)
					}
				}
			}
		})
	}
}
