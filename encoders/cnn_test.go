package encoders

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqtask/seqtask/nn"
)

func TestCNNGradients(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  CNNConfig
	}{
		{"two stages, projection", CNNConfig{In: nn.ImageShape{C: 1, H: 8, W: 6}, Channels: []int{3, 4}, Kernel: 3, Out: 5}},
		{"batch norm, flat features", CNNConfig{In: nn.ImageShape{C: 2, H: 6, W: 6}, Channels: []int{3}, Kernel: 3, BatchNorm: true}},
		{"batch norm, two stages, projection", CNNConfig{In: nn.ImageShape{C: 2, H: 8, W: 8}, Channels: []int{3, 4}, Kernel: 3, BatchNorm: true, Out: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			c, err := NewCNN[float64]("enc", tc.cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			x := nn.NewMat[float64](n, tc.cfg.In.Size())
			nn.InitUniform(x.Data, 1, rng)
			proj := make([]float64, n*c.OutSize())
			nn.InitUniform(proj, 1, rng)
			loss := func() float64 {
				y := c.Forward(x, true)
				var s float64
				for i, v := range y.Data[:y.Rows*y.Cols] {
					s += v * proj[i]
				}
				return s
			}
			loss()
			c.Params().ZeroGrad()
			c.Backward(nn.Mat[float64]{Rows: n, Cols: c.OutSize(), Data: append([]float64(nil), proj...)})
			res := nn.GradCheck(loss, c.Params(), 1e-6, 1e-8, 1e-5, 30, rand.New(rand.NewPCG(3, 3)))
			if !res.OK() {
				t.Fatalf("gradient check: %v", res)
			}
			t.Log(res)
		})
	}
	if _, err := NewCNN[float32]("enc", CNNConfig{In: nn.ImageShape{C: 1, H: 4, W: 4}, Channels: []int{2, 2, 2}, Kernel: 3}, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("three pooling stages on 4×4 images accepted")
	}
	if _, err := NewCNN[float32]("enc", CNNConfig{In: nn.ImageShape{C: 1, H: 8, W: 8}, Channels: []int{2}, Kernel: 2}, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("even kernel accepted")
	}
}

// TestCNNEvaluationFoldsBatchNorm: a batch-norm CNN's evaluation Forward,
// which runs each stage's convolution with the batch norm folded in, gives
// what convolution, batch norm in evaluation, ReLU and pooling give stage
// by stage, after training Forwards moved the running statistics and again
// after the batch norms' weights changed; a Backward after it is refused.
func TestCNNEvaluationFoldsBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	cfg := CNNConfig{In: nn.ImageShape{C: 2, H: 8, W: 8}, Channels: []int{3, 4}, Kernel: 3, BatchNorm: true, Out: 5}
	c, err := NewCNN[float64]("enc", cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := nn.NewMat[float64](3, cfg.In.Size())
	for range 3 {
		nn.InitUniform(x.Data, 1, rng)
		c.Forward(x, true)
	}
	for round := range 2 { // the second after the weights changed: refolded
		for _, bn := range c.norms {
			nn.InitUniform(bn.Weight.Value, 2, rng)
			nn.InitUniform(bn.Bias.Value, 1, rng)
		}
		nn.InitUniform(x.Data, 1, rng)
		h := x
		for i, conv := range c.convs {
			var cc nn.Conv2DCache[float64]
			var bc nn.BatchNorm2DCache[float64]
			var rc nn.ReLUCache[float64]
			var pc nn.MaxPool2DCache[float64]
			h = c.pools[i].Forward(&pc, c.relu.Forward(&rc, c.norms[i].Forward(&bc, conv.Forward(&cc, h), false)))
		}
		var lc nn.LinearCache[float64]
		var rc nn.ReLUCache[float64]
		want := c.relu.Forward(&rc, c.proj.Forward(&lc, h))
		got := c.Forward(x, false)
		for i, w := range want.Data[:want.Rows*want.Cols] {
			if math.Abs(got.Data[i]-w) > 1e-12 {
				t.Fatalf("round %d, feature %d: %g folded, %g stage by stage", round, i, got.Data[i], w)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Backward after an evaluation Forward did not panic")
		}
	}()
	c.Backward(nn.NewMat[float64](3, c.OutSize()))
}
