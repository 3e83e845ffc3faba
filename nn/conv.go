package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"
)

// ImageShape is the geometry of one image in a batch: C channels of H×W
// pixels. Image layers take and return a Mat with one image per row, the row
// holding the image channel-major (PyTorch's NCHW without the N), so a batch
// [N][C][H][W] is a Mat of N rows of C*H*W and element (n, c, y, x) sits at
// row n, column (c*H + y)*W + x.
type ImageShape struct{ C, H, W int }

// Size is the number of values in one image, C*H*W: the Cols of a batch Mat.
func (s ImageShape) Size() int { return s.C * s.H * s.W }

func (s ImageShape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

func (s ImageShape) valid() bool { return s.C > 0 && s.H > 0 && s.W > 0 }

// Conv2DConfig describes a 2-D convolution as torch.nn.Conv2d does, with a
// square kernel and the same stride and zero padding along both axes.
type Conv2DConfig struct {
	In      ImageShape // geometry of an input image
	Out     int        // output channels
	Kernel  int        // kernel height and width
	Stride  int        // step between kernel positions; 0 means 1
	Padding int        // zeros added on every side of each input plane
	NoBias  bool       // omit the bias (as bias=False, e.g. before a BatchNorm2D)
	Init    Init       // weight initialisation; "" or InitDefault is PyTorch's
}

// OutShape is the geometry of an output image: Out channels of
// Ho = (H + 2*Padding - Kernel)/Stride + 1 by Wo likewise, as PyTorch.
func (c Conv2DConfig) OutShape() ImageShape {
	s := max(c.Stride, 1)
	return ImageShape{
		C: c.Out,
		H: (c.In.H+2*c.Padding-c.Kernel)/s + 1,
		W: (c.In.W+2*c.Padding-c.Kernel)/s + 1,
	}
}

// Validate reports the first impossible setting.
func (c Conv2DConfig) Validate() error {
	switch {
	case !c.In.valid():
		return fmt.Errorf("conv2d: input shape %v must be positive", c.In)
	case c.Out < 1 || c.Kernel < 1 || c.Stride < 0 || c.Padding < 0:
		return fmt.Errorf("conv2d: out %d and kernel %d must be at least 1, stride %d and padding %d non-negative", c.Out, c.Kernel, c.Stride, c.Padding)
	case c.In.H+2*c.Padding < c.Kernel || c.In.W+2*c.Padding < c.Kernel:
		return fmt.Errorf("conv2d: kernel %d larger than padded input %v (padding %d)", c.Kernel, c.In, c.Padding)
	}
	return nil
}

// Conv2D is a 2-D cross-correlation over a batch of images, as
// torch.nn.Conv2d: y[n][o] = b[o] + Σ_c W[o][c] ⋆ x[n][c].
//
// It lowers the convolution to matrix products one image at a time
// (im2col): the patches under every kernel position of an image become the
// columns of a [C*K*K][Ho*Wo] matrix, so Forward is one GEMM
// W[Out][C*K*K] · col per image, written straight into the image's output
// row (which is [Out][Ho*Wo], channel-major), and Backward two per image
// (dW += dY·colᵀ and dcol = Wᵀ·dY) plus col2im, which scatters dcol back
// onto the input. One image's patch matrix is small enough to stay in a
// core's L2 cache between being written and being multiplied (a batch's would
// be K*K times the input and live in main memory). The images are split into
// convChunks fixed chunks that the cores share out; each chunk sums its own
// dW, and the chunks' sums are added in chunk order, so gradients do not
// depend on the number of cores. Backward rebuilds each image's patches from
// a copy of the input instead of keeping them.
type Conv2D[T Float] struct {
	Weight *Param[T] // [Out][C][K][K]
	Bias   *Param[T] // [Out]; nil with NoBias

	Config  Conv2DConfig
	In, Out ImageShape // geometry of an input row and of an output row
}

// Conv2DCache is what Conv2D.Forward keeps for Backward (a copy of the
// input) and the buffers both reuse; its zero value is ready to use.
type Conv2DCache[T Float] struct {
	x      Mat[T]         // [N][C*H*W] copy of the input
	y      Mat[T]         // [N][Out*Ho*Wo] output
	chunks []convChunk[T] // one per chunk of images
}

// convChunk holds one chunk of images' scratch: the patches of the image at
// hand and their gradient (used by the core that starts at this chunk), and
// the chunk's share of the parameter gradients.
type convChunk[T Float] struct {
	col  []T    // [C*K*K][Ho*Wo], rows padded (patchMatrix)
	dcol Mat[T] // [C*K*K][Ho*Wo]
	dw   Mat[T] // [Out][C*K*K]
	db   []T    // [Out]
}

// convChunks is how many chunks a batch is split into: enough to keep a
// many-core machine busy, few enough that their dW sums cost nothing.
const convChunks = 16

// chunkBounds returns the images [lo, hi) of chunk i of n images split into
// m chunks.
func chunkBounds(i, m, n int) (lo, hi int) { return i * n / m, (i + 1) * n / m }

// NewConv2D returns a Conv2D named prefix.weight / prefix.bias, initialised
// as PyTorch does (kaiming-uniform with a = √5, which is U(±1/sqrt(C*K*K)),
// and the bias U(±1/sqrt(C*K*K))) unless cfg.Init picks another scheme for
// the weight.
func NewConv2D[T Float](prefix string, cfg Conv2DConfig, rng *rand.Rand) (*Conv2D[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Stride = max(cfg.Stride, 1)
	k := cfg.Kernel
	c := &Conv2D[T]{
		Weight: NewParam[T](prefix+".weight", cfg.Out, cfg.In.C, k, k),
		Config: cfg,
		In:     cfg.In,
		Out:    cfg.OutShape(),
	}
	fanIn := cfg.In.C * k * k
	bound := 1 / math.Sqrt(float64(fanIn))
	if err := InitWeight(cfg.Init, c.Weight.Value, fanIn, cfg.Out*k*k, bound, rng); err != nil {
		return nil, err
	}
	if !cfg.NoBias {
		c.Bias = NewParam[T](prefix+".bias", cfg.Out)
		InitUniform(c.Bias.Value, bound, rng)
	}
	return c, nil
}

// Params returns the weight and, unless NoBias, the bias.
func (c *Conv2D[T]) Params() Params[T] {
	if c.Bias == nil {
		return Params[T]{c.Weight}
	}
	return Params[T]{c.Weight, c.Bias}
}

// patchRows is the number of rows of an image's patch matrix, C*K*K.
func (c *Conv2D[T]) patchRows() int { return c.In.C * c.Config.Kernel * c.Config.Kernel }

// patchMatrix returns the patch matrix [C*K*K][Ho*Wo] in ch's buffer, its
// rows one cache line longer than Ho*Wo where that is a multiple of 2 KiB:
// the GEMM reads an operand with rows apart by such a multiple through a
// packed copy (in place its k steps would share a few cache sets), and for
// these products of a few output channels the copy of the patches costs
// nearly as much as the multiplication.
func (c *Conv2D[T]) patchMatrix(ch *convChunk[T]) strided[T] {
	var z T
	size := int(unsafe.Sizeof(z))
	p := c.Out.H * c.Out.W
	ld := p
	if ld*size%2048 == 0 {
		ld += 64 / size
	}
	n := (c.patchRows()-1)*ld + p
	if cap(ch.col) < n {
		ch.col = make([]T, n)
	}
	return strided[T]{rows: c.patchRows(), cols: p, ld: ld, data: ch.col[:n]}
}

// eachChunk runs fn on every chunk of cc's n images, the chunks shared out
// among the cores; scratch is the chunk whose col/dcol buffers the calling
// core uses for all of its chunks.
func (c *Conv2D[T]) eachChunk(cc *Conv2DCache[T], n int, fn func(chunk, scratch *convChunk[T], lo, hi int)) {
	m := min(n, convChunks)
	if len(cc.chunks) < m {
		cc.chunks = append(cc.chunks, make([]convChunk[T], m-len(cc.chunks))...)
	}
	perChunk := (n + m - 1) / m * c.patchRows() * c.Out.Size()
	parallelRange(m, perChunk, func(first, last int) {
		scratch := &cc.chunks[first]
		for i := first; i < last; i++ {
			lo, hi := chunkBounds(i, m, n)
			fn(&cc.chunks[i], scratch, lo, hi)
		}
	})
}

// Forward maps x [N][C*H*W] to y [N][Out*Ho*Wo] (geometry c.In to c.Out),
// held by cc until its next Forward; x is copied, so the caller may reuse
// it at once.
func (c *Conv2D[T]) Forward(cc *Conv2DCache[T], x Mat[T]) Mat[T] {
	if x.Cols != c.In.Size() {
		panic(fmt.Sprintf("nn: Conv2D.Forward: input has %d columns, want %v = %d", x.Cols, c.In, c.In.Size()))
	}
	n, p := x.Rows, c.Out.H*c.Out.W
	cc.x = resize(cc.x, n, x.Cols)
	cc.x.CopyFrom(x)
	cc.y = resize(cc.y, n, c.Out.Size())
	c.eachChunk(cc, n, func(_, s *convChunk[T], lo, hi int) {
		col := c.patchMatrix(s)
		for g := lo; g < hi; g++ {
			c.im2col(col, cc.x.Row(g))
			y := Mat[T]{Rows: c.Out.C, Cols: p, Data: cc.y.Row(g)}
			var beta T
			if c.Bias != nil {
				for o, b := range c.Bias.Value {
					fill(y.Row(o), b)
				}
				beta = 1
			}
			gemmStrided(false, false, 1, c.Weight.Mat().strided(), col, beta, y.strided())
		}
	})
	return cc.y
}

// Backward takes dy [N][Out*Ho*Wo] for the Forward that filled cc,
// accumulates dW += dY·colᵀ (and db += Σ dy per channel), and writes dx
// [N][C*H*W] when dx is not empty (pass an empty Mat for the network's
// input images).
func (c *Conv2D[T]) Backward(cc *Conv2DCache[T], dy, dx Mat[T]) {
	n, p := cc.x.Rows, c.Out.H*c.Out.W
	if dy.Rows != n || dy.Cols != c.Out.Size() {
		panic(fmt.Sprintf("nn: Conv2D.Backward: dy is %dx%d, want %dx%d", dy.Rows, dy.Cols, n, c.Out.Size()))
	}
	if !dx.Empty() && (dx.Rows != n || dx.Cols != c.In.Size()) {
		panic(fmt.Sprintf("nn: Conv2D.Backward: dx is %dx%d, want %dx%d", dx.Rows, dx.Cols, n, c.In.Size()))
	}
	rows := c.patchRows()
	c.eachChunk(cc, n, func(ch, s *convChunk[T], lo, hi int) {
		col := c.patchMatrix(s)
		ch.dw = resize(ch.dw, c.Out.C, rows)
		clear(ch.dw.Data)
		if c.Bias != nil {
			if cap(ch.db) < c.Out.C {
				ch.db = make([]T, c.Out.C)
			}
			ch.db = ch.db[:c.Out.C]
			clear(ch.db)
		}
		for g := lo; g < hi; g++ {
			dyg := Mat[T]{Rows: c.Out.C, Cols: p, Data: dy.Row(g)}
			for o := range ch.db {
				ch.db[o] += sum(dyg.Row(o))
			}
			c.im2col(col, cc.x.Row(g))
			gemmStrided(false, true, 1, dyg.strided(), col, 1, ch.dw.strided())
			if dx.Empty() {
				continue
			}
			s.dcol = resize(s.dcol, rows, p)
			Gemm(true, false, 1, c.Weight.Mat(), dyg, 0, s.dcol)
			c.col2im(s.dcol, dx.Row(g))
		}
	})
	for i := range min(n, convChunks) {
		ch := &cc.chunks[i]
		addInto(c.Weight.GradMat(), ch.dw)
		for o, v := range ch.db {
			c.Bias.Grad[o] += v
		}
	}
}

// fill sets every element of v to x, doubling a filled prefix with copy
// (which moves whole vectors) instead of storing one element at a time.
func fill[T Float](v []T, x T) {
	if len(v) == 0 {
		return
	}
	v[0] = x
	for n := 1; n < len(v); n *= 2 {
		copy(v[n:], v[:n])
	}
}

// spanX returns the output columns [lo, hi) whose input column ox*s + off
// falls inside [0, w), for a row of wo outputs.
func spanX(off, s, w, wo int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	if last := w - 1 - off; last >= 0 {
		hi = min(last/s+1, wo)
	}
	return lo, max(lo, hi)
}

// im2col writes the patches of one image x [C*H*W] into col
// [C*K*K][Ho*Wo]: row (ch*K + ky)*K + kx holds, for every output pixel, the
// input pixel under that kernel position, zero where the kernel overhangs
// the padding.
func (c *Conv2D[T]) im2col(col strided[T], x []T) {
	in := c.In
	k := c.Config.Kernel
	r := 0
	for ch := 0; ch < in.C; ch++ {
		plane := x[ch*in.H*in.W : (ch+1)*in.H*in.W]
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				c.patchRow(col.data[r*col.ld:r*col.ld+col.cols], plane, ky, kx)
				r++
			}
		}
	}
}

// kernelSpan is where kernel position (ky, kx) reaches into an image: the
// output columns [lo, hi) and rows [oy0, oy1) whose input pixel lies inside
// it (input column = ox*stride + off). For a "same" convolution (stride 1,
// output as wide as the input) output pixel (oy, ox) reads input pixel
// (oy, ox) shifted by a fixed offset, so the valid rows move as one block
// starting at input index from; block says so.
type kernelSpan struct {
	off, lo, hi, oy0, oy1 int
	block                 bool
	from                  int
}

func (c *Conv2D[T]) span(ky, kx int) kernelSpan {
	in, out := c.In, c.Out
	s, pad := c.Config.Stride, c.Config.Padding
	sp := kernelSpan{off: kx - pad, block: s == 1 && out.W == in.W}
	sp.lo, sp.hi = spanX(sp.off, s, in.W, out.W)
	sp.oy0, sp.oy1 = spanX(ky-pad, s, in.H, out.H)
	sp.from = (sp.oy0+ky-pad)*in.W + sp.off
	return sp
}

// clearRowEnds zeroes, in each valid row of v [Ho*Wo], the columns the
// kernel position cannot reach (they fall on the padding).
func clearRowEnds[T Float](v []T, sp kernelSpan, wo int) {
	for oy := sp.oy0; oy < sp.oy1; oy++ {
		row := v[oy*wo : (oy+1)*wo]
		clear(row[:sp.lo])
		clear(row[sp.hi:])
	}
}

// patchRow fills dst [Ho*Wo] with the input pixels of plane [H*W] under
// kernel position (ky, kx) for every output pixel.
func (c *Conv2D[T]) patchRow(dst, plane []T, ky, kx int) {
	in, out := c.In, c.Out
	s, pad := c.Config.Stride, c.Config.Padding
	sp := c.span(ky, kx)
	clear(dst[:sp.oy0*out.W])
	clear(dst[sp.oy1*out.W:])
	if sp.block {
		// One copy of the valid rows; what it brings in at the row ends is
		// padding, zeroed after.
		d := dst[sp.oy0*out.W : sp.oy1*out.W]
		src0 := max(sp.from, 0)
		copy(d[src0-sp.from:], plane[src0:min(sp.from+len(d), len(plane))])
		clearRowEnds(dst, sp, out.W)
		return
	}
	for oy := sp.oy0; oy < sp.oy1; oy++ {
		d := dst[oy*out.W : (oy+1)*out.W]
		src := plane[(oy*s-pad+ky)*in.W:][:in.W]
		clear(d[:sp.lo])
		clear(d[sp.hi:])
		if s == 1 {
			copy(d[sp.lo:sp.hi], src[sp.lo+sp.off:sp.hi+sp.off])
			continue
		}
		for ox := sp.lo; ox < sp.hi; ox++ {
			d[ox] = src[ox*s+sp.off]
		}
	}
}

// col2im is im2col's adjoint: it overwrites dx [C*H*W] with the sum, over
// kernel positions, of the entries of dcol that im2col copied from each
// input pixel. It zeroes dcol's entries that fell on the padding.
func (c *Conv2D[T]) col2im(dcol Mat[T], dx []T) {
	in := c.In
	k := c.Config.Kernel
	clear(dx)
	r := 0
	for ch := 0; ch < in.C; ch++ {
		plane := dx[ch*in.H*in.W : (ch+1)*in.H*in.W]
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				c.scatterRow(plane, dcol.Row(r), ky, kx)
				r++
			}
		}
	}
}

// scatterRow adds src [Ho*Wo], the gradients of kernel position (ky, kx)'s
// patch row, onto the input pixels of plane [H*W] that patchRow read.
func (c *Conv2D[T]) scatterRow(plane, src []T, ky, kx int) {
	in, out := c.In, c.Out
	s, pad := c.Config.Stride, c.Config.Padding
	sp := c.span(ky, kx)
	if sp.block {
		// patchRow's block in reverse: zero the row ends (padding), then
		// add the valid rows in one pass.
		clearRowEnds(src, sp, out.W)
		d := src[sp.oy0*out.W : sp.oy1*out.W]
		dst0 := max(sp.from, 0)
		addSlice(plane[dst0:min(sp.from+len(d), len(plane))], d[dst0-sp.from:])
		return
	}
	for oy := sp.oy0; oy < sp.oy1; oy++ {
		d := src[oy*out.W : (oy+1)*out.W]
		dst := plane[(oy*s-pad+ky)*in.W:][:in.W]
		if s == 1 {
			addSlice(dst[sp.lo+sp.off:sp.hi+sp.off], d[sp.lo:sp.hi])
			continue
		}
		for ox := sp.lo; ox < sp.hi; ox++ {
			dst[ox*s+sp.off] += d[ox]
		}
	}
}
