package encoders

import (
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
