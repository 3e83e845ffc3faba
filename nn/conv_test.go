package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestConv2DGradients(t *testing.T) {
	for _, cfg := range []Conv2DConfig{
		{In: ImageShape{2, 7, 5}, Out: 3, Kernel: 3, Stride: 2, Padding: 1},
		{In: ImageShape{2, 7, 5}, Out: 3, Kernel: 3, Stride: 1, Padding: 1},
		{In: ImageShape{3, 6, 7}, Out: 2, Kernel: 2, Stride: 1},
		{In: ImageShape{1, 5, 7}, Out: 2, Kernel: 3, Stride: 3, Padding: 2, NoBias: true},
		{In: ImageShape{2, 4, 3}, Out: 4, Kernel: 1},
		{In: ImageShape{2, 4, 3}, Out: 2, Kernel: 5, Stride: 1, Padding: 2},
		{In: ImageShape{1, 4, 5}, Out: 2, Kernel: 3, Stride: 1, Padding: 3},
		// 16×16 outputs: rows of 2 KiB, so the patch matrix's are padded.
		{In: ImageShape{1, 16, 16}, Out: 2, Kernel: 3, Stride: 1, Padding: 1},
	} {
		name := fmt.Sprintf("in %v out %d k%d s%d p%d nobias=%v", cfg.In, cfg.Out, cfg.Kernel, cfg.Stride, cfg.Padding, cfg.NoBias)
		t.Run(name, func(t *testing.T) {
			rng := testRNG()
			c, err := NewConv2D[float64]("conv", cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			x := randomParam("x", rng, n, cfg.In.Size())
			proj := randomParam("proj", rng, n, c.Out.Size())
			var cc Conv2DCache[float64]
			loss := func() float64 { return dot(c.Forward(&cc, x.Mat()), proj.Value) }
			loss()
			c.Params().ZeroGrad()
			c.Backward(&cc, proj.Mat(), x.GradMat())
			checkGrad(t, name, loss, append(c.Params(), x))
			// A second backward without dx must add the same parameter
			// gradients again and leave the input alone.
			loss() // GradCheck's last forward saw a perturbed input
			w := append([]float64(nil), c.Weight.Grad...)
			c.Backward(&cc, proj.Mat(), Mat[float64]{})
			for i, g := range c.Weight.Grad {
				if math.Abs(g-2*w[i]) > 1e-12*math.Max(1, math.Abs(g)) {
					t.Fatalf("weight grad[%d] = %g after two backwards, want %g", i, g, 2*w[i])
				}
			}
		})
	}
}

// TestConv2DCoresAgree checks that a batch large enough to be shared out
// among the cores gives bit-identical outputs and gradients on one core and
// on four: each chunk of images sums its own dW, and the chunks are added in
// a fixed order.
func TestConv2DCoresAgree(t *testing.T) {
	cfg := Conv2DConfig{In: ImageShape{3, 16, 16}, Out: 8, Kernel: 3, Padding: 1}
	run := func(procs int) (y, dw, db, dx []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		rng := testRNG()
		c, err := NewConv2D[float32]("conv", cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		const n = 37 // not a multiple of the chunk count
		x := NewMat[float32](n, cfg.In.Size())
		InitUniform(x.Data, 1, rng)
		dy := NewMat[float32](n, c.Out.Size())
		InitUniform(dy.Data, 1, rng)
		dxm := NewMat[float32](n, cfg.In.Size())
		var cc Conv2DCache[float32]
		out := c.Forward(&cc, x)
		c.Backward(&cc, dy, dxm)
		return out.Data, c.Weight.Grad, c.Bias.Grad, dxm.Data
	}
	y1, dw1, db1, dx1 := run(1)
	y4, dw4, db4, dx4 := run(4)
	for _, v := range []struct {
		name      string
		one, four []float32
	}{{"y", y1, y4}, {"dW", dw1, dw4}, {"db", db1, db4}, {"dx", dx1, dx4}} {
		for i := range v.one {
			if v.one[i] != v.four[i] {
				t.Fatalf("%s[%d] = %g on one core, %g on four", v.name, i, v.one[i], v.four[i])
			}
		}
	}
}

// TestConv2DFloat32MatchesFloat64 runs the same convolution in float32 and
// float64 on outputs of 32×16 pixels, rows of 2 KiB in float32 (4 KiB in
// float64), so that both pad their patch matrices' rows: outputs, weight
// gradients and input gradients must agree to float32's precision.
func TestConv2DFloat32MatchesFloat64(t *testing.T) {
	cfg := Conv2DConfig{In: ImageShape{2, 32, 16}, Out: 3, Kernel: 3, Padding: 1}
	rng := testRNG()
	c64, err := NewConv2D[float64]("conv", cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	c32, err := NewConv2D[float32]("conv", cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	narrow := func(dst []float32, src []float64) {
		for i, v := range src {
			dst[i] = float32(v)
		}
	}
	narrow(c32.Weight.Value, c64.Weight.Value)
	narrow(c32.Bias.Value, c64.Bias.Value)
	const n = 3
	x64, dy64 := NewMat[float64](n, cfg.In.Size()), NewMat[float64](n, c64.Out.Size())
	InitUniform(x64.Data, 1, rng)
	InitUniform(dy64.Data, 1, rng)
	x32, dy32 := NewMat[float32](n, cfg.In.Size()), NewMat[float32](n, c64.Out.Size())
	narrow(x32.Data, x64.Data)
	narrow(dy32.Data, dy64.Data)
	var cc64 Conv2DCache[float64]
	var cc32 Conv2DCache[float32]
	y64, y32 := c64.Forward(&cc64, x64), c32.Forward(&cc32, x32)
	dx64, dx32 := NewMat[float64](n, cfg.In.Size()), NewMat[float32](n, cfg.In.Size())
	c64.Backward(&cc64, dy64, dx64)
	c32.Backward(&cc32, dy32, dx32)
	for _, v := range []struct {
		name   string
		single []float32
		double []float64
	}{{"y", y32.Data, y64.Data}, {"dW", c32.Weight.Grad, c64.Weight.Grad}, {"db", c32.Bias.Grad, c64.Bias.Grad}, {"dx", dx32.Data, dx64.Data}} {
		for i, want := range v.double {
			if got := float64(v.single[i]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("%s[%d] = %g in float32, %g in float64", v.name, i, got, want)
			}
		}
	}
}

// TestConv2DDirect compares Forward with the convolution's definition, on a
// batch smaller than an earlier one so that reused buffers are exercised:
// strided, "same" (stride 1, output as wide as the input: the block-copy
// path), padded wider than the kernel's reach, and with outputs of 2 KiB a
// row (patch rows padded).
func TestConv2DDirect(t *testing.T) {
	for _, tc := range []struct {
		cfg Conv2DConfig
		out ImageShape
	}{
		{Conv2DConfig{In: ImageShape{3, 9, 6}, Out: 4, Kernel: 3, Stride: 2, Padding: 1}, ImageShape{4, 5, 3}},
		{Conv2DConfig{In: ImageShape{2, 5, 7}, Out: 3, Kernel: 3, Stride: 1, Padding: 1}, ImageShape{3, 5, 7}},
		{Conv2DConfig{In: ImageShape{2, 4, 3}, Out: 2, Kernel: 5, Stride: 1, Padding: 2}, ImageShape{2, 4, 3}},
		{Conv2DConfig{In: ImageShape{1, 4, 5}, Out: 2, Kernel: 3, Stride: 1, Padding: 3}, ImageShape{2, 8, 9}},
		// Rows of 2 KiB: the patch matrix's rows padded.
		{Conv2DConfig{In: ImageShape{2, 16, 16}, Out: 3, Kernel: 3, Stride: 1, Padding: 1}, ImageShape{3, 16, 16}},
	} {
		cfg := tc.cfg
		rng := testRNG()
		c, err := NewConv2D[float64]("conv", cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		if c.Out != tc.out {
			t.Fatalf("%v k%d s%d p%d: output shape %v, want %v", cfg.In, cfg.Kernel, cfg.Stride, cfg.Padding, c.Out, tc.out)
		}
		var cc Conv2DCache[float64]
		c.Forward(&cc, randomParam("big", rng, 5, cfg.In.Size()).Mat())
		x := randomParam("x", rng, 2, cfg.In.Size()).Mat()
		y := c.Forward(&cc, x)
		in, out, k, st, pad := c.In, c.Out, cfg.Kernel, cfg.Stride, cfg.Padding
		for n := 0; n < 2; n++ {
			for o := 0; o < out.C; o++ {
				for oy := 0; oy < out.H; oy++ {
					for ox := 0; ox < out.W; ox++ {
						s := c.Bias.Value[o]
						for ch := 0; ch < in.C; ch++ {
							for ky := 0; ky < k; ky++ {
								for kx := 0; kx < k; kx++ {
									iy, ix := oy*st-pad+ky, ox*st-pad+kx
									if iy < 0 || iy >= in.H || ix < 0 || ix >= in.W {
										continue
									}
									s += c.Weight.Value[((o*in.C+ch)*k+ky)*k+kx] * x.Row(n)[(ch*in.H+iy)*in.W+ix]
								}
							}
						}
						if got := y.Row(n)[(o*out.H+oy)*out.W+ox]; math.Abs(got-s) > 1e-12 {
							t.Fatalf("%v k%d s%d p%d: y[%d][%d][%d][%d] = %g, want %g", cfg.In, k, st, pad, n, o, oy, ox, got, s)
						}
					}
				}
			}
		}
	}
}

func TestConv2DConfigRejects(t *testing.T) {
	for _, cfg := range []Conv2DConfig{
		{In: ImageShape{0, 4, 4}, Out: 1, Kernel: 1},
		{In: ImageShape{1, 4, 4}, Out: 0, Kernel: 1},
		{In: ImageShape{1, 4, 4}, Out: 1, Kernel: 0},
		{In: ImageShape{1, 4, 4}, Out: 1, Kernel: 3, Padding: -1},
		{In: ImageShape{1, 2, 4}, Out: 1, Kernel: 3},
		{In: ImageShape{1, 4, 4}, Out: 1, Kernel: 3, Init: "bogus"},
	} {
		if _, err := NewConv2D[float32]("c", cfg, testRNG()); err == nil {
			t.Errorf("NewConv2D(%+v) succeeded", cfg)
		}
	}
}

func TestReLUGradients(t *testing.T) {
	rng := testRNG()
	x := randomParam("x", rng, 4, 7)
	proj := randomParam("proj", rng, 4, 7)
	var r ReLU[float64]
	var c ReLUCache[float64]
	buf := NewMat[float64](4, 7)
	loss := func() float64 {
		buf.CopyFrom(x.Mat())
		return dot(r.Forward(&c, buf), proj.Value)
	}
	loss()
	g := proj.Mat().Clone()
	r.Backward(&c, g)
	copy(x.Grad, g.Data)
	checkGrad(t, "relu", loss, Params[float64]{x})
}

func TestMaxPool2DGradients(t *testing.T) {
	for _, tc := range []struct {
		in             ImageShape
		kernel, stride int
		want           ImageShape
	}{
		{ImageShape{2, 7, 5}, 2, 0, ImageShape{2, 3, 2}}, // odd sizes: last row and column unused
		{ImageShape{2, 7, 5}, 3, 2, ImageShape{2, 3, 2}}, // overlapping windows accumulate
		{ImageShape{1, 4, 6}, 1, 1, ImageShape{1, 4, 6}},
	} {
		name := fmt.Sprintf("in %v k%d s%d", tc.in, tc.kernel, tc.stride)
		t.Run(name, func(t *testing.T) {
			rng := testRNG()
			m, err := NewMaxPool2D[float64](tc.in, tc.kernel, tc.stride)
			if err != nil {
				t.Fatal(err)
			}
			if m.Out != tc.want {
				t.Fatalf("output shape %v, want %v", m.Out, tc.want)
			}
			const n = 3
			x := randomParam("x", rng, n, tc.in.Size())
			proj := randomParam("proj", rng, n, m.Out.Size())
			var c MaxPool2DCache[float64]
			loss := func() float64 { return dot(m.Forward(&c, x.Mat()), proj.Value) }
			loss()
			m.Backward(&c, proj.Mat(), x.GradMat())
			checkGrad(t, name, loss, Params[float64]{x})
		})
	}
	if _, err := NewMaxPool2D[float32](ImageShape{1, 3, 3}, 4, 0); err == nil {
		t.Error("kernel 4 over a 3×3 image accepted")
	}
}

// TestMaxPool2DBackwardReLU: the pool's backward with the ReLU's folded in
// equals the two backward passes one after the other, bit for bit (zeros,
// negatives, ties and a NaN among the inputs; overlapping windows), when
// it writes over the ReLU's output; and the composite passes the gradient
// check.
func TestMaxPool2DBackwardReLU(t *testing.T) {
	for _, tc := range []struct {
		in             ImageShape
		kernel, stride int
	}{
		{ImageShape{2, 7, 5}, 2, 0},
		{ImageShape{2, 7, 5}, 3, 2},
		{ImageShape{3, 8, 8}, 2, 0},
	} {
		name := fmt.Sprintf("in %v k%d s%d", tc.in, tc.kernel, tc.stride)
		t.Run(name, func(t *testing.T) {
			rng := testRNG()
			m, err := NewMaxPool2D[float32](tc.in, tc.kernel, tc.stride)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			x := NewMat[float32](n, tc.in.Size())
			for i := range x.Data {
				switch rng.IntN(5) {
				case 0:
					x.Data[i] = 0
				case 1:
					x.Data[i] = -1 // a window of negatives pools to +0
				default:
					x.Data[i] = float32(rng.IntN(7)) - 3 // ties
				}
			}
			x.Data[5] = float32(math.NaN())
			var relu ReLU[float32]
			var rc ReLUCache[float32]
			var pc MaxPool2DCache[float32]
			act := relu.Forward(&rc, x)
			y := m.Forward(&pc, act)
			dy := NewMat[float32](n, m.Out.Size())
			InitUniform(dy.Data, 1, rng)
			want := NewMat[float32](n, tc.in.Size())
			m.Backward(&pc, dy, want)
			relu.Backward(&rc, want)
			m.BackwardReLU(&pc, dy, act) // over the ReLU's own output
			for i := range want.Data {
				if math.Float32bits(act.Data[i]) != math.Float32bits(want.Data[i]) {
					t.Fatalf("element %d: %v, want %v (pooled %v)", i, act.Data[i], want.Data[i], y.Data)
				}
			}
		})
	}
	// The gradient check of ReLU → pool through BackwardReLU.
	rng := testRNG()
	m, err := NewMaxPool2D[float64](ImageShape{2, 6, 6}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	x := randomParam("x", rng, 2, m.In.Size())
	proj := randomParam("proj", rng, 2, m.Out.Size())
	var relu ReLU[float64]
	var rc ReLUCache[float64]
	var pc MaxPool2DCache[float64]
	buf := NewMat[float64](2, m.In.Size())
	loss := func() float64 {
		buf.CopyFrom(x.Mat())
		return dot(m.Forward(&pc, relu.Forward(&rc, buf)), proj.Value)
	}
	loss()
	m.BackwardReLU(&pc, proj.Mat(), x.GradMat())
	checkGrad(t, "relu+pool", loss, Params[float64]{x})
}

// TestMaxPool2DTies checks PyTorch's tie rule: the first maximum of a window
// in row-major order gets the whole gradient.
func TestMaxPool2DTies(t *testing.T) {
	m, err := NewMaxPool2D[float64](ImageShape{1, 2, 4}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	x := Mat[float64]{Rows: 1, Cols: 8, Data: []float64{
		1, 5, 2, 2,
		5, 0, 2, 2,
	}}
	var c MaxPool2DCache[float64]
	y := m.Forward(&c, x)
	if y.Data[0] != 5 || y.Data[1] != 2 {
		t.Fatalf("pooled %v, want [5 2]", y.Data)
	}
	dx := NewMat[float64](1, 8)
	m.Backward(&c, Mat[float64]{Rows: 1, Cols: 2, Data: []float64{10, 20}}, dx)
	want := []float64{0, 10, 20, 0, 0, 0, 0, 0}
	for i := range want {
		if dx.Data[i] != want[i] {
			t.Fatalf("dx = %v, want %v", dx.Data, want)
		}
	}
}

// cnnBench is the benchmark network: conv3×3(16, pad 1)-ReLU-maxpool2-
// conv3×3(32, pad 1)-ReLU-maxpool2 over 64×64 RGB images.
type cnnBench struct {
	c1, c2   *Conv2D[float32]
	relu     ReLU[float32]
	p1, p2   *MaxPool2D[float32]
	cc1, cc2 Conv2DCache[float32]
	rc1, rc2 ReLUCache[float32]
	pc1, pc2 MaxPool2DCache[float32]
	d1, d2   Mat[float32] // gradient buffers of the two conv outputs
	dp1      Mat[float32] // gradient of the first pool's output
}

func newCNNBench(batch int) (*cnnBench, error) {
	rng := testRNG()
	var (
		n   cnnBench
		err error
	)
	if n.c1, err = NewConv2D[float32]("c1", Conv2DConfig{In: ImageShape{3, 64, 64}, Out: 16, Kernel: 3, Padding: 1}, rng); err != nil {
		return nil, err
	}
	if n.p1, err = NewMaxPool2D[float32](n.c1.Out, 2, 0); err != nil {
		return nil, err
	}
	if n.c2, err = NewConv2D[float32]("c2", Conv2DConfig{In: n.p1.Out, Out: 32, Kernel: 3, Padding: 1}, rng); err != nil {
		return nil, err
	}
	if n.p2, err = NewMaxPool2D[float32](n.c2.Out, 2, 0); err != nil {
		return nil, err
	}
	n.d1 = NewMat[float32](batch, n.c1.Out.Size())
	n.d2 = NewMat[float32](batch, n.c2.Out.Size())
	n.dp1 = NewMat[float32](batch, n.p1.Out.Size())
	return &n, nil
}

func (n *cnnBench) step(x, dy Mat[float32]) {
	h := n.p1.Forward(&n.pc1, n.relu.Forward(&n.rc1, n.c1.Forward(&n.cc1, x)))
	n.p2.Forward(&n.pc2, n.relu.Forward(&n.rc2, n.c2.Forward(&n.cc2, h)))
	n.p2.Backward(&n.pc2, dy, n.d2)
	n.relu.Backward(&n.rc2, n.d2)
	n.c2.Backward(&n.cc2, n.d2, n.dp1)
	n.p1.Backward(&n.pc1, n.dp1, n.d1)
	n.relu.Backward(&n.rc1, n.d1)
	n.c1.Backward(&n.cc1, n.d1, Mat[float32]{})
}

// BenchmarkCNNForwardBackward times one forward and backward pass of a small
// image encoder in float32 on a batch of 32 64×64×3 images.
func BenchmarkCNNForwardBackward(b *testing.B) {
	const batch = 32
	n, err := newCNNBench(batch)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	x := NewMat[float32](batch, n.c1.In.Size())
	InitUniform(x.Data, 1, rng)
	dy := NewMat[float32](batch, n.p2.Out.Size())
	InitUniform(dy.Data, 1, rng)
	n.step(x, dy) // size the buffers
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.step(x, dy)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}

// TestMaxPool2DFloat32 checks the branch-free float32 path for 2×2 windows
// against the float64 one (the gradient-checked reference) on data full of
// ties, signed zeros included.
func TestMaxPool2DFloat32(t *testing.T) {
	rng := testRNG()
	in := ImageShape{2, 7, 9}
	for _, stride := range []int{2, 1, 3} {
		m32, err := NewMaxPool2D[float32](in, 2, stride)
		if err != nil {
			t.Fatal(err)
		}
		m64, _ := NewMaxPool2D[float64](in, 2, stride)
		x32 := NewMat[float32](3, in.Size())
		x64 := NewMat[float64](3, in.Size())
		for i := range x64.Data {
			v := []float64{-1, -0.0, 0, 0.5, 2, math.Copysign(0, -1)}[rng.IntN(6)]
			x32.Data[i], x64.Data[i] = float32(v), v
		}
		var c32 MaxPool2DCache[float32]
		var c64 MaxPool2DCache[float64]
		y32, y64 := m32.Forward(&c32, x32), m64.Forward(&c64, x64)
		for i, v := range y64.Data {
			if float64(y32.Data[i]) != v || math.Signbit(float64(y32.Data[i])) != math.Signbit(v) || c32.arg[i] != c64.arg[i] {
				t.Fatalf("stride %d: window %d: float32 gives %g at %d, float64 %g at %d", stride, i, y32.Data[i], c32.arg[i], v, c64.arg[i])
			}
		}
	}
}
