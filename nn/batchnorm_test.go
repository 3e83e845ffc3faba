package nn

import (
	"math"
	"runtime"
	"slices"
	"testing"
)

func TestBatchNorm2DGradients(t *testing.T) {
	for _, train := range []bool{true, false} {
		name := map[bool]string{true: "batchnorm train", false: "batchnorm eval"}[train]
		t.Run(name, func(t *testing.T) {
			rng := testRNG()
			in := ImageShape{3, 7, 5}
			b, err := NewBatchNorm2D[float64]("bn", in)
			if err != nil {
				t.Fatal(err)
			}
			InitUniform(b.Weight.Value, 2, rng)
			InitUniform(b.Bias.Value, 1, rng)
			InitUniform(b.RunningMean.Value, 1, rng)
			for i := range b.RunningVar.Value {
				b.RunningVar.Value[i] = 0.5 + rng.Float64()
			}
			const n = 2
			x := randomParam("x", rng, n, in.Size())
			proj := randomParam("proj", rng, n, in.Size())
			var c BatchNorm2DCache[float64]
			loss := func() float64 { return dot(b.Forward(&c, x.Mat(), train), proj.Value) }
			loss()
			b.Params().ZeroGrad()
			b.Backward(&c, proj.Mat(), x.GradMat())
			checkGrad(t, name, loss, append(b.Params(), x))
		})
	}
}

// TestBatchNorm2DStatistics checks the batch normalisation itself and the
// running statistics' updates against their definitions, and that
// evaluation uses the running statistics.
func TestBatchNorm2DStatistics(t *testing.T) {
	rng := testRNG()
	in := ImageShape{2, 3, 4}
	b, err := NewBatchNorm2D[float64]("bn", in)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{b.Weight.Name, b.Bias.Name, b.Buffers()[0].Name, b.Buffers()[1].Name}
	if want := []string{"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	const n, p = 3, 12
	var bc BatchNorm2DCache[float64]
	wantMean, wantVar := []float64{0, 0}, []float64{1, 1}
	for step := 0; step < 2; step++ {
		x := randomParam("x", rng, n, in.Size()).Mat()
		for i := range x.Data {
			x.Data[i] = 3*x.Data[i] + 2 // mean 2, far from the initial running mean
		}
		y := b.Forward(&bc, x, true)
		for c := 0; c < in.C; c++ {
			var s, ss, ys, yss float64
			for i := 0; i < n; i++ {
				for j := c * p; j < (c+1)*p; j++ {
					s += x.Row(i)[j]
					ys += y.Row(i)[j]
					yss += y.Row(i)[j] * y.Row(i)[j]
				}
			}
			mean := s / (n * p)
			for i := 0; i < n; i++ {
				for j := c * p; j < (c+1)*p; j++ {
					ss += (x.Row(i)[j] - mean) * (x.Row(i)[j] - mean)
				}
			}
			v := ss / (n * p)
			if math.Abs(ys/(n*p)) > 1e-12 || math.Abs(yss/(n*p)-v/(v+1e-5)) > 1e-12 {
				t.Errorf("step %d channel %d: output mean %g, mean square %g, want 0 and %g", step, c, ys/(n*p), yss/(n*p), v/(v+1e-5))
			}
			wantMean[c] = 0.9*wantMean[c] + 0.1*mean
			wantVar[c] = 0.9*wantVar[c] + 0.1*ss/(n*p-1)
			if math.Abs(b.RunningMean.Value[c]-wantMean[c]) > 1e-12 || math.Abs(b.RunningVar.Value[c]-wantVar[c]) > 1e-12 {
				t.Errorf("step %d channel %d: running mean/var %g/%g, want %g/%g", step, c,
					b.RunningMean.Value[c], b.RunningVar.Value[c], wantMean[c], wantVar[c])
			}
		}
	}
	if b.BatchesTracked != 2 {
		t.Errorf("BatchesTracked = %d, want 2", b.BatchesTracked)
	}
	x := randomParam("x", rng, 1, in.Size()).Mat()
	trainedMean, trainedVar := b.RunningMean.Value[0], b.RunningVar.Value[0]
	y := b.Forward(&bc, x, false)
	for c := 0; c < in.C; c++ {
		want := (x.Data[c*p] - wantMean[c]) / math.Sqrt(wantVar[c]+1e-5)
		if math.Abs(y.Data[c*p]-want) > 1e-12 {
			t.Errorf("eval channel %d: %g, want %g", c, y.Data[c*p], want)
		}
	}
	if b.BatchesTracked != 2 || b.RunningMean.Value[0] != trainedMean || b.RunningVar.Value[0] != trainedVar {
		t.Error("evaluation changed the running statistics")
	}
}

// TestBatchNorm2DFoldInto: the folded convolution computes what the
// convolution and the batch norm in evaluation compute, with and without
// a convolution bias, and refolds after the layers' values change.
func TestBatchNorm2DFoldInto(t *testing.T) {
	for _, noBias := range []bool{true, false} {
		rng := testRNG()
		in := ImageShape{3, 6, 5}
		conv, err := NewConv2D[float64]("conv", Conv2DConfig{In: in, Out: 4, Kernel: 3, Padding: 1, NoBias: noBias}, rng)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewBatchNorm2D[float64]("bn", conv.Out)
		if err != nil {
			t.Fatal(err)
		}
		x := randomParam("x", rng, 2, in.Size()).Mat()
		var folded *Conv2D[float64]
		for round := range 2 {
			InitUniform(b.Weight.Value, 2, rng)
			InitUniform(b.Bias.Value, 1, rng)
			InitUniform(b.RunningMean.Value, 1, rng)
			for i := range b.RunningVar.Value {
				b.RunningVar.Value[i] = 0.5 + rng.Float64()
			}
			var cc, fc Conv2DCache[float64]
			var bc BatchNorm2DCache[float64]
			want := b.Forward(&bc, conv.Forward(&cc, x), false)
			before := folded
			folded = b.FoldInto(folded, conv)
			if round == 1 && folded != before {
				t.Error("FoldInto did not reuse its earlier result")
			}
			got := folded.Forward(&fc, x)
			for i, w := range want.Data {
				if math.Abs(got.Data[i]-w) > 1e-12 {
					t.Fatalf("no bias %v, round %d: folded output %d is %g, want %g", noBias, round, i, got.Data[i], w)
				}
			}
		}
	}
}

// TestBatchNorm2DCores: a batch large enough to split its channels over
// two cores gives the bits of one core, forward and backward, in training
// and evaluation.
func TestBatchNorm2DCores(t *testing.T) {
	in := ImageShape{8, 16, 16}
	const n = 64
	run := func(cores int, train bool) (y, dx []float32, bn *BatchNorm2D[float32]) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cores))
		rng := testRNG()
		b, err := NewBatchNorm2D[float32]("bn", in)
		if err != nil {
			t.Fatal(err)
		}
		InitUniform(b.Weight.Value, 2, rng)
		InitUniform(b.Bias.Value, 1, rng)
		x, dy := NewMat[float32](n, in.Size()), NewMat[float32](n, in.Size())
		InitUniform(x.Data, 3, rng)
		InitUniform(dy.Data, 1, rng)
		var c BatchNorm2DCache[float32]
		y = slices.Clone(b.Forward(&c, x, train).Data)
		g := NewMat[float32](n, in.Size())
		b.Backward(&c, dy, g)
		return y, g.Data, b
	}
	for _, train := range []bool{true, false} {
		y1, dx1, b1 := run(1, train)
		y2, dx2, b2 := run(2, train)
		for name, pair := range map[string][2][]float32{"y": {y1, y2}, "dx": {dx1, dx2},
			"dweight": {b1.Weight.Grad, b2.Weight.Grad}, "dbias": {b1.Bias.Grad, b2.Bias.Grad},
			"running mean": {b1.RunningMean.Value, b2.RunningMean.Value}, "running var": {b1.RunningVar.Value, b2.RunningVar.Value}} {
			for i := range pair[0] {
				if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
					t.Errorf("train %v: %s[%d] is %v on two cores, %v on one", train, name, i, pair[1][i], pair[0][i])
					break
				}
			}
		}
	}
}
