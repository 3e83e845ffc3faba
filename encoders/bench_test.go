package encoders

import (
	"fmt"
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

// BenchmarkKMeans measures k-means features of captioning's photos in
// images per second: 128×128×3, 6×6 patches, 256 centroids, an 8×8 grid,
// float32, at stride 2 (the kmeans kind's default) and 4.
func BenchmarkKMeans(b *testing.B) {
	fastblas.Install()
	for _, stride := range []int{2, 4} {
		b.Run(fmt.Sprintf("stride%d", stride), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			cfg := KMeansConfig{In: nn.ImageShape{C: 3, H: 128, W: 128}, Centroids: 256, Patch: 6, Stride: stride, Grid: 8}
			k, err := NewKMeans[float32]("enc", cfg)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 32
			x := nn.NewMat[float32](batch, cfg.In.Size())
			nn.InitUniform(x.Data, 1, rng)
			// Fitted to the batch itself: the speed does not depend on
			// the state.
			load := func(i int, dst []float32) error { copy(dst, x.Row(i)); return nil }
			if err := k.Fit(batch, load, rng); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, _, err := k.Forward(x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
