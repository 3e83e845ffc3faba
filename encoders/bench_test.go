package encoders

import (
	"math/rand/v2"
	"testing"

	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/nn"
)

// BenchmarkCNN measures the speed issue's CNN, forward and backward, in
// images per second: 64×64×3 images, conv 3×3 (16) → ReLU → max pool 2 →
// conv 3×3 (32) → ReLU → max pool 2, batch 32, float32.
func BenchmarkCNN(b *testing.B) {
	fastblas.Install()
	rng := rand.New(rand.NewPCG(1, 1))
	c, err := NewCNN[float32]("enc", CNNConfig{In: nn.ImageShape{C: 3, H: 64, W: 64}, Channels: []int{16, 32}, Kernel: 3}, rng)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 32
	x := nn.NewMat[float32](batch, 3*64*64)
	nn.InitUniform(x.Data, 1, rng)
	dy := nn.NewMat[float32](batch, c.OutSize())
	nn.InitUniform(dy.Data, 1, rng)
	step := func() {
		c.Params().ZeroGrad()
		c.Forward(x, true)
		c.Backward(dy)
	}
	// Untimed, as bench/torch_bench.py warms PyTorch's side up: the first
	// steps lay out the layers' caches.
	for range 3 {
		step()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}
