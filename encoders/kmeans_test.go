package encoders

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/nn"
)

// textures makes n single-channel h×w images, even ones vertical stripes
// and odd ones a checkerboard, each at a random phase, contrast and
// brightness, with a little noise.
func textures(n, h, w int, rng *rand.Rand) nn.Mat[float64] {
	x := nn.NewMat[float64](n, h*w)
	for i := range n {
		phase, contrast, bright := rng.IntN(4), 0.5+rng.Float64(), rng.Float64()-0.5
		for y := range h {
			for c := range w {
				on := (c+phase)/2%2 == 0
				if i%2 == 1 {
					on = ((c+phase)/2+(y+phase)/2)%2 == 0
				}
				v := bright + 0.05*rng.NormFloat64()
				if on {
					v += contrast
				}
				x.Row(i)[y*w+c] = v
			}
		}
	}
	return x
}

func fitted(t *testing.T, cfg KMeansConfig, x nn.Mat[float64], seed uint64) *KMeans[float64] {
	t.Helper()
	k, err := NewKMeans[float64]("enc", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if k.Fitted() {
		t.Fatal("fitted before Fit")
	}
	if _, _, err := k.Forward(x); err == nil || !strings.Contains(err.Error(), "not fitted") {
		t.Fatalf("Forward before Fit: %v", err)
	}
	load := func(i int, dst []float64) error { copy(dst, x.Row(i)); return nil }
	if err := k.Fit(x.Rows, load, rand.New(rand.NewPCG(seed, 0))); err != nil {
		t.Fatal(err)
	}
	if !k.Fitted() {
		t.Fatal("not fitted after Fit")
	}
	return k
}

// TestKMeansForward compares the grid features, with one patch per grid
// region, with a direct computation from the definition: contrast
// normalisation, centring, whitening, Euclidean distances to the
// centroids, triangle activation, standardisation.
func TestKMeansForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := KMeansConfig{In: nn.ImageShape{C: 2, H: 7, W: 7}, Centroids: 5, Patch: 3, Stride: 2, Grid: 3}
	x := nn.NewMat[float64](6, cfg.In.Size())
	nn.InitUniform(x.Data, 1, rng)
	k := fitted(t, cfg, x, 1)
	grid, summary, err := k.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	D, K, S := k.dim, cfg.Centroids, cfg.Grid*cfg.Grid
	eps := k.contrastEps.Value[0]
	for n := range x.Rows {
		for py := range 3 {
			for px := range 3 {
				patch := make([]float64, D)
				k.patchAt(patch, x.Row(n), 2*py, 2*px)
				var mean, sq float64
				for _, v := range patch {
					mean += v / float64(D)
				}
				for _, v := range patch {
					sq += (v - mean) * (v - mean) / float64(D)
				}
				white := make([]float64, D)
				for i := range D {
					for j := range D {
						white[j] += ((patch[i]-mean)/math.Sqrt(sq+eps) - k.patchMean.Value[i]) * k.whiten.Value[i*D+j]
					}
				}
				dist := make([]float64, K)
				var avg float64
				for c := range K {
					for j := range D {
						d := white[j] - k.centroids.Value[c*D+j]
						dist[c] += d * d
					}
					dist[c] = math.Sqrt(dist[c])
					avg += dist[c] / float64(K)
				}
				for c := range K {
					want := (max(0, avg-dist[c]) - k.featMean.Value[c]) / k.featStd.Value[c]
					if got := grid.Row(n*S + py*3 + px)[c]; math.Abs(got-want) > 1e-9 {
						t.Fatalf("image %d, patch (%d, %d), centroid %d: %g, want %g", n, py, px, c, got, want)
					}
				}
			}
		}
		// The summary is the four quadrants' averages; the middle row and
		// column of a 3×3 grid belong to both halves.
		for c := range K {
			var want float64
			for _, s := range []int{0, 1, 3, 4} {
				want += grid.Row(n*S + s)[c] / 4
			}
			if got := summary.Row(n)[c]; math.Abs(got-want) > 1e-12 {
				t.Fatalf("image %d: top-left quadrant's feature %d is %g, want %g", n, c, got, want)
			}
		}
	}
	if _, _, err := k.Forward(nn.NewMat[float64](1, 5)); err == nil || !strings.Contains(err.Error(), "images of 5 values") {
		t.Errorf("images of the wrong size: %v", err)
	}
}

// TestKMeansFit checks what fitting gives on two textures: whitened
// patches with a covariance whose eigenvalues lie in (0, 1] and reach
// nearly 1; grid features standardised over the training images;
// summaries that tell the textures apart; the same state from the same
// seed.
func TestKMeansFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cfg := KMeansConfig{In: nn.ImageShape{C: 1, H: 16, W: 16}, Centroids: 8, Patch: 4, Stride: 2, Grid: 4}
	x := textures(40, 16, 16, rng)
	k := fitted(t, cfg, x, 3)

	// Whitening: the patches' covariance becomes V·diag(λ/(λ+ε))·Vᵀ.
	patches := nn.NewMat[float64](x.Rows*169, k.dim)
	for n := range x.Rows {
		for p := range 169 {
			k.patchAt(patches.Row(n*169+p), x.Row(n), p/13, p%13)
		}
	}
	white := k.whitened(patches, nn.Mat[float64]{})
	cov := mat.NewSymDense(k.dim, nil)
	cov.SymOuterK(1/float64(white.Rows), mat.NewDense(white.Rows, white.Cols, white.Data).T())
	var eig mat.EigenSym
	if !eig.Factorize(cov, false) {
		t.Fatal("covariance did not factorise")
	}
	vals := eig.Values(nil)
	if vals[0] < -1e-9 || vals[len(vals)-1] > 1.05 || vals[len(vals)-1] < 0.8 {
		t.Errorf("eigenvalues of the whitened patches' covariance %v: want within [0, 1], the largest near 1", vals)
	}

	grid, summary, err := k.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	// Standardised: mean 0 and deviation 1, less for a centroid seldom
	// near a patch (the floor keeps its rare activations small).
	unit := 0
	for c := range cfg.Centroids {
		var mean, sq float64
		for r := range grid.Rows {
			mean += grid.Row(r)[c] / float64(grid.Rows)
		}
		for r := range grid.Rows {
			sq += (grid.Row(r)[c] - mean) * (grid.Row(r)[c] - mean) / float64(grid.Rows)
		}
		if math.Abs(mean) > 1e-9 || math.Sqrt(sq) > 1 {
			t.Errorf("feature %d over the training grids: mean %g, standard deviation %g; want 0 and at most 1", c, mean, math.Sqrt(sq))
		}
		if math.Sqrt(sq) > 0.9 {
			unit++
		}
	}
	if unit < cfg.Centroids/2 {
		t.Errorf("%d of %d features have a deviation near 1 over the training grids, want at least half", unit, cfg.Centroids)
	}

	// Each summary's nearest other summary shows the same texture.
	for i := range summary.Rows {
		best, bestD := -1, math.Inf(1)
		for j := range summary.Rows {
			if j == i {
				continue
			}
			var d float64
			for c, v := range summary.Row(i) {
				d += (v - summary.Row(j)[c]) * (v - summary.Row(j)[c])
			}
			if d < bestD {
				best, bestD = j, d
			}
		}
		if best%2 != i%2 {
			t.Errorf("image %d's nearest neighbour is %d, the other texture", i, best)
		}
	}

	again := fitted(t, cfg, x, 3)
	for i, b := range k.Buffers() {
		for j, v := range b.Value {
			if again.Buffers()[i].Value[j] != v {
				t.Fatalf("%s[%d]: %g, then %g from the same seed", b.Name, j, v, again.Buffers()[i].Value[j])
			}
		}
	}
}

// TestCNNBesideKMeans checks a CNN with k-means features beside its own:
// every region carries the CNN's features and then the k-means ones, the
// summary is the CNN's, and the CNN's gradients through both outputs
// match finite differences.
func TestCNNBesideKMeans(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	sec := &config.Encoder{Kind: "cnn", Channels: []int{3}, Kernel: 3, Out: 4, KMeans: config.KMeans{Centroids: 3, Patch: 3, Stride: 1}}
	spec := Spec{Section: sec, Input: ImageInput, Image: nn.ImageShape{C: 1, H: 8, W: 8}, Prefix: "enc"}
	e, err := newCNNEncoder[float64](spec, rng)
	if err != nil {
		t.Fatal(err)
	}
	c := e.(*cnnEncoder[float64])
	x := textures(4, 8, 8, rng)
	if err := c.Fit(x.Rows, func(i int, dst []float64) error { copy(dst, x.Row(i)); return nil }, rand.New(rand.NewPCG(1, 0))); err != nil {
		t.Fatal(err)
	}
	if w := c.Widths(); w.Summary != 4 || w.Memory != 3+3 {
		t.Fatalf("widths %+v, want a summary of 4 and regions of 3+3", w)
	}
	in := Batch[float64]{Items: x.Rows, Images: x}
	out, err := c.Forward(in, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	cnnMap, S := gridOf(c.FeatureShape(), c.FeatureMap(), nn.Mat[float64]{}, c.FeatureShape().C)
	grid, _, err := c.beside.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if out, err = c.Forward(in, true, nil); err != nil { // beside.Forward reused its buffers
		t.Fatal(err)
	}
	for b := range x.Rows {
		for s := range S {
			row := out.Memory.Row(b*S + s)
			if !slices.Equal(row[:3], cnnMap.Row(b*S+s)) || !slices.Equal(row[3:], grid.Row(b*S+s)) {
				t.Fatalf("image %d, region %d: %v, want the CNN's %v then %v", b, s, row, cnnMap.Row(b*S+s), grid.Row(b*S+s))
			}
		}
	}

	if only, err := c.Forward(Batch[float64]{Items: x.Rows, Images: x, SummaryOnly: true}, true, nil); err != nil || !only.Memory.Empty() {
		t.Errorf("a Forward for the summary only gave regions %dx%d, %v", only.Memory.Rows, only.Memory.Cols, err)
	}

	w := c.Widths()
	dsum := make([]float64, x.Rows*w.Summary)
	dmem := make([]float64, x.Rows*S*w.Memory)
	nn.InitUniform(dsum, 1, rng)
	nn.InitUniform(dmem, 1, rng)
	loss := func() float64 {
		o, err := c.Forward(in, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		var l float64
		for i, v := range o.Summary.Data[:len(dsum)] {
			l += v * dsum[i]
		}
		for i, v := range o.Memory.Data[:len(dmem)] {
			l += v * dmem[i]
		}
		return l
	}
	loss()
	c.Params().ZeroGrad()
	c.Backward(Output[float64]{
		Summary: nn.Mat[float64]{Rows: x.Rows, Cols: w.Summary, Data: slices.Clone(dsum)},
		Memory:  nn.Mat[float64]{Rows: x.Rows * S, Cols: w.Memory, Data: slices.Clone(dmem)},
	})
	res := nn.GradCheck(loss, c.Params(), 1e-6, 1e-8, 1e-5, 30, rand.New(rand.NewPCG(3, 3)))
	if !res.OK() {
		t.Fatalf("gradient check: %v", res)
	}
	t.Log(res)

	for _, tc := range []struct {
		name string
		sec  config.Encoder
		in   InputKind
		want string
	}{
		{"frames", *sec, FrameInput, "not frames"},
		{"a grid unlike the map", config.Encoder{Kind: "cnn", Channels: []int{3}, Kernel: 3, KMeans: config.KMeans{Centroids: 3, Patch: 3, Stride: 1, Grid: 2}}, ImageInput, "leave grid out"},
	} {
		spec := Spec{Section: &tc.sec, Input: tc.in, Image: nn.ImageShape{C: 1, H: 8, W: 8}, Prefix: "enc"}
		if _, err := newCNNEncoder[float32](spec, rng); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func TestKMeansConfig(t *testing.T) {
	in := nn.ImageShape{C: 3, H: 16, W: 16}
	for _, tc := range []struct {
		name string
		cfg  KMeansConfig
		want string
	}{
		{"patch larger than the image", KMeansConfig{In: in, Centroids: 4, Patch: 17, Stride: 1, Grid: 2}, "do not fit"},
		{"grid finer than the patches", KMeansConfig{In: in, Centroids: 4, Patch: 6, Stride: 4, Grid: 4}, "cannot fill a 4×4 grid"},
		{"no centroids", KMeansConfig{In: in, Patch: 6, Stride: 1, Grid: 2}, "want centroids"},
		{"grid of one region", KMeansConfig{In: in, Centroids: 4, Patch: 6, Stride: 1, Grid: 1}, "grid ≥ 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewKMeans[float32]("enc", tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestCellBounds: the cells of adaptive average pooling cover every
// position, in order, none empty, each at most one position longer than
// an even share.
func TestCellBounds(t *testing.T) {
	for _, tc := range []struct{ cells, size int }{{2, 2}, {2, 3}, {8, 62}, {8, 31}, {3, 7}, {4, 4}} {
		prevHi := 0
		for i := range tc.cells {
			lo, hi := cellBounds(i, tc.cells, tc.size)
			if lo > prevHi || lo < prevHi-1 || hi <= lo || hi-lo > (tc.size+tc.cells-1)/tc.cells+1 {
				t.Errorf("%d cells over %d: cell %d is [%d, %d) after one ending at %d", tc.cells, tc.size, i, lo, hi, prevHi)
			}
			prevHi = hi
		}
		if prevHi != tc.size {
			t.Errorf("%d cells over %d end at %d", tc.cells, tc.size, prevHi)
		}
	}
}
