// Package encoders holds the input readers a config names under encoder:
// a CNN over images (one image for captioning, every frame of a clip for
// video). Each is a forward/backward pair over a batch, built from nn's
// layers, with PyTorch-style parameter names under its prefix.
package encoders

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/seqtask/seqtask/nn"
)

// CNNConfig describes a stack of stages conv k×k (padding k/2, so the size
// is kept) → optional batch norm → ReLU → 2×2 max pool, one stage per entry
// of Channels, followed by a linear projection to Out features (with ReLU)
// when Out > 0, else the flattened last feature map.
type CNNConfig struct {
	In        nn.ImageShape
	Channels  []int
	Kernel    int
	BatchNorm bool
	Out       int
}

// CNN encodes images [N][C*H*W] into features [N][OutSize()]. It keeps
// its layers' caches, one per layer, for the Backward of its last Forward.
type CNN[T nn.Float] struct {
	cfg   CNNConfig
	convs []*nn.Conv2D[T]
	norms []*nn.BatchNorm2D[T]
	pools []*nn.MaxPool2D[T]
	proj  *nn.Linear[T]
	relu  nn.ReLU[T]

	stages   []cnnStage[T]
	projC    nn.LinearCache[T]
	projReLU nn.ReLUCache[T]

	// folded are the stages' convolutions with their batch norm folded in
	// (BatchNorm2D.FoldInto), which evaluation runs instead of the two;
	// evaluated says the last Forward did, so Backward has nothing to use.
	folded    []*nn.Conv2D[T]
	evaluated bool

	fmap  nn.Mat[T]   // the last Forward's last feature map [N][FeatureShape().Size()]
	dins  []nn.Mat[T] // per stage: gradient at the conv's input
	dflat nn.Mat[T]
}

// cnnStage holds one stage's layer caches.
type cnnStage[T nn.Float] struct {
	conv nn.Conv2DCache[T]
	norm nn.BatchNorm2DCache[T]
	relu nn.ReLUCache[T] // what ReLU.Forward takes; Backward folds the ReLU into the pool's
	pool nn.MaxPool2DCache[T]
	// act is the stage's activations (the ReLU's output, in the
	// convolution's or batch norm's output buffer), where Backward takes
	// their gradient: it needs their values no longer by then.
	act nn.Mat[T]
}

// NewCNN builds the encoder with parameters named prefix.conv0.weight,
// prefix.bn0.weight, …, prefix.proj.weight.
func NewCNN[T nn.Float](prefix string, cfg CNNConfig, rng *rand.Rand) (*CNN[T], error) {
	if len(cfg.Channels) == 0 {
		return nil, fmt.Errorf("cnn: give at least one entry in channels")
	}
	if cfg.Kernel < 1 || cfg.Kernel%2 == 0 {
		return nil, fmt.Errorf("cnn: kernel %d must be odd and positive (padding kernel/2 keeps the size)", cfg.Kernel)
	}
	c := &CNN[T]{cfg: cfg}
	shape := cfg.In
	for i, ch := range cfg.Channels {
		if shape.H < 2 || shape.W < 2 {
			return nil, fmt.Errorf("cnn: stage %d gets %v images, too small to pool; use fewer channels entries or larger images", i, shape)
		}
		conv, err := nn.NewConv2D[T](fmt.Sprintf("%s.conv%d", prefix, i), nn.Conv2DConfig{
			In: shape, Out: ch, Kernel: cfg.Kernel, Padding: cfg.Kernel / 2, NoBias: cfg.BatchNorm,
		}, rng)
		if err != nil {
			return nil, fmt.Errorf("cnn stage %d: %w", i, err)
		}
		c.convs = append(c.convs, conv)
		shape = conv.Config.OutShape()
		if cfg.BatchNorm {
			bn, err := nn.NewBatchNorm2D[T](fmt.Sprintf("%s.bn%d", prefix, i), shape)
			if err != nil {
				return nil, fmt.Errorf("cnn stage %d: %w", i, err)
			}
			c.norms = append(c.norms, bn)
		}
		pool, err := nn.NewMaxPool2D[T](shape, 2, 2)
		if err != nil {
			return nil, fmt.Errorf("cnn stage %d: %w", i, err)
		}
		c.pools = append(c.pools, pool)
		shape = pool.Out
	}
	c.stages = make([]cnnStage[T], len(cfg.Channels))
	c.folded = make([]*nn.Conv2D[T], len(c.norms))
	c.dins = make([]nn.Mat[T], len(cfg.Channels))
	if cfg.Out > 0 {
		c.proj = nn.NewLinear[T](prefix+".proj", shape.Size(), cfg.Out, rng)
	}
	return c, nil
}

// FeatureShape is the geometry of the last feature map (before projection).
func (c *CNN[T]) FeatureShape() nn.ImageShape { return c.pools[len(c.pools)-1].Out }

// OutSize is the length of one image's feature vector.
func (c *CNN[T]) OutSize() int {
	if c.proj != nil {
		return c.cfg.Out
	}
	return c.FeatureShape().Size()
}

// Params lists the trained parameters.
func (c *CNN[T]) Params() nn.Params[T] {
	var ps nn.Params[T]
	for i, conv := range c.convs {
		ps = append(ps, conv.Params()...)
		if c.cfg.BatchNorm {
			ps = append(ps, c.norms[i].Params()...)
		}
	}
	if c.proj != nil {
		ps = append(ps, c.proj.Params()...)
	}
	return ps
}

// Buffers lists the batch-norm running statistics.
func (c *CNN[T]) Buffers() nn.Params[T] {
	var bs nn.Params[T]
	for _, bn := range c.norms {
		bs = append(bs, bn.Buffers()...)
	}
	return bs
}

// Describe lists the stages for a model summary.
func (c *CNN[T]) Describe() []string {
	var out []string
	for i, conv := range c.convs {
		bn := ""
		if c.cfg.BatchNorm {
			bn = " → batch norm"
		}
		out = append(out, fmt.Sprintf("conv%d      %v → %v (%d×%d)%s → ReLU → max pool 2 → %v",
			i, conv.Config.In, conv.Config.OutShape(), c.cfg.Kernel, c.cfg.Kernel, bn, c.pools[i].Out))
	}
	if c.proj != nil {
		out = append(out, fmt.Sprintf("proj       %d → %d, ReLU", c.FeatureShape().Size(), c.cfg.Out))
	}
	return out
}

// Forward encodes a batch of images x [N][C*H*W]; train selects batch
// statistics for batch norm, else its running statistics, folded into the
// convolution before it. The result is valid until the next Forward.
// Backward needs a training Forward.
func (c *CNN[T]) Forward(x nn.Mat[T], train bool) nn.Mat[T] {
	h := x
	c.evaluated = !train
	for i, conv := range c.convs {
		st := &c.stages[i]
		switch {
		case !c.cfg.BatchNorm:
			h = conv.Forward(&st.conv, h)
		case train:
			h = c.norms[i].Forward(&st.norm, conv.Forward(&st.conv, h), true)
		default:
			c.folded[i] = c.norms[i].FoldInto(c.folded[i], conv)
			h = c.folded[i].Forward(&st.conv, h)
		}
		st.act = c.relu.Forward(&st.relu, h)
		h = c.pools[i].Forward(&st.pool, st.act)
	}
	c.fmap = h
	if c.proj != nil {
		h = c.relu.Forward(&c.projReLU, c.proj.Forward(&c.projC, h))
	}
	return h
}

// FeatureMap returns the last Forward's last feature map, before the
// projection, [N][C*H*W] in CHW order with the geometry of FeatureShape:
// the grid of image regions an attending decoder reads. It is valid until
// the next Forward.
func (c *CNN[T]) FeatureMap() nn.Mat[T] { return c.fmap }

// Backward takes the gradient of the features and accumulates every
// parameter's gradient. Images need no gradient, so none is returned.
func (c *CNN[T]) Backward(dy nn.Mat[T]) { c.BackwardWithMap(dy, nn.Mat[T]{}) }

// BackwardWithMap is Backward when the feature map was used too: dmap
// (shaped like FeatureMap, or empty) is its gradient, added to what flows
// back from the features. Like Backward, it may overwrite dy, which must
// not be the features or the map Forward returned (the pools read their
// outputs to route the gradient).
func (c *CNN[T]) BackwardWithMap(dy, dmap nn.Mat[T]) {
	if c.evaluated && c.cfg.BatchNorm {
		panic("encoders: CNN.Backward after an evaluation Forward, which folded batch norm into the convolutions")
	}
	g := dy
	if c.proj != nil {
		c.relu.Backward(&c.projReLU, g)
		c.dflat = nn.NewMatLike(c.dflat, g.Rows, c.FeatureShape().Size())
		c.proj.Backward(&c.projC, g, c.dflat)
		g = c.dflat
	}
	if !dmap.Empty() {
		for i, v := range dmap.Data[:dmap.Rows*dmap.Cols] {
			g.Data[i] += v
		}
	}
	for i := len(c.convs) - 1; i >= 0; i-- {
		conv, st := c.convs[i], &c.stages[i]
		// Through the pool and the ReLU in one pass, over the activations
		// themselves: a buffer of their size apart from them would be the
		// largest one training holds (42 MB for a batch of 160 64×64
		// frames at 16 channels).
		c.pools[i].BackwardReLU(&st.pool, g, st.act)
		g = st.act
		if c.cfg.BatchNorm {
			c.norms[i].Backward(&st.norm, g, g)
		}
		var dx nn.Mat[T] // the first stage's input is the image: no gradient
		if i > 0 {
			c.dins[i] = nn.NewMatLike(c.dins[i], g.Rows, conv.Config.In.Size())
			dx = c.dins[i]
		}
		conv.Backward(&st.conv, g, dx)
		g = dx
	}
}

// cnnEncoder is the cnn kind: the CNN over one image per item (a Summary
// of features and, as Memory, the last feature map's grid of H'×W'
// regions of C features), or over every frame of a clip (a Sequence of
// each frame's features).
//
// Over images it may have k-means features beside its own
// (encoder.kmeans): their grid, as fine as its last map, after its
// channels in each region of the Memory. The Summary stays the CNN's: it
// is what word-occurrence pre-training trains the CNN through, and a head
// that also read the fixed k-means features would learn them by heart
// (its dev loss rose above the image-blind prior's) and leave the CNN
// untrained.
type cnnEncoder[T nn.Float] struct {
	*CNN[T]
	frames bool
	beside *KMeans[T] // nil without
	out    Output[T]
	items  int
	dseq   nn.Mat[T] // frames: the features' gradient, clip-major
	dmap   nn.Mat[T] // images: the feature map's gradient, [B][C*S]
}

func newCNNEncoder[T nn.Float](s Spec, rng *rand.Rand) (Encoder[T], error) {
	e := s.Section
	c, err := NewCNN[T](s.Prefix, CNNConfig{In: s.Image, Channels: e.Channels, Kernel: e.Kernel, BatchNorm: e.BatchNorm, Out: e.Out}, rng)
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	enc := &cnnEncoder[T]{CNN: c, frames: s.Input == FrameInput}
	if e.KMeans.Centroids == 0 {
		return enc, nil
	}
	fs := c.FeatureShape()
	switch {
	case enc.frames:
		return nil, errors.New("encoder.kmeans: k-means features go beside a CNN over images, not frames")
	case fs.H != fs.W:
		return nil, fmt.Errorf("encoder.kmeans: the CNN's last map is %d×%d; k-means features need a square grid", fs.H, fs.W)
	case e.KMeans.Grid != 0 && e.KMeans.Grid != fs.H:
		return nil, fmt.Errorf("encoder.kmeans.grid: %d, but beside the CNN the grid is its last map's %d×%d; leave grid out", e.KMeans.Grid, fs.H, fs.W)
	}
	kc := KMeansConfigOf(e.KMeans, s.Image)
	kc.Grid = fs.H
	if enc.beside, err = NewKMeans[T](s.Prefix+".kmeans", kc); err != nil {
		return nil, fmt.Errorf("encoder.kmeans: %w", err)
	}
	return enc, nil
}

func (c *cnnEncoder[T]) Widths() Widths {
	if c.frames {
		return Widths{Sequence: c.OutSize()}
	}
	w := Widths{Summary: c.OutSize(), Memory: c.FeatureShape().C}
	if c.beside != nil {
		w.Memory += c.beside.cfg.Centroids
	}
	return w
}

func (c *cnnEncoder[T]) Buffers() nn.Params[T] {
	if c.beside == nil {
		return c.CNN.Buffers()
	}
	return append(c.CNN.Buffers(), c.beside.Buffers()...)
}

// Fitted reports whether the k-means features beside the CNN, if any, are
// fitted.
func (c *cnnEncoder[T]) Fitted() bool { return c.beside == nil || c.beside.Fitted() }

// Fit fits the k-means features beside the CNN.
func (c *cnnEncoder[T]) Fit(n int, load func(i int, dst []T) error, rng *rand.Rand) error {
	if c.beside == nil {
		return nil
	}
	return c.beside.Fit(n, load, rng)
}

func (c *cnnEncoder[T]) Describe() []string {
	out := c.CNN.Describe()
	if c.frames {
		return append(out, "           applied to every frame; each frame's features are one step")
	}
	fs := c.FeatureShape()
	out = append(out, fmt.Sprintf("grid       the last feature map as %d×%d = %d regions of %d features (what attention reads)", fs.H, fs.W, fs.H*fs.W, fs.C))
	if c.beside == nil {
		return out
	}
	w := c.Widths()
	out = append(out, c.beside.Describe()...)
	return append(out, fmt.Sprintf("beside     each region the CNN's %d features, then these: %d; the summary is the CNN's", c.FeatureShape().C, w.Memory))
}

func (c *cnnEncoder[T]) Forward(in Batch[T], train bool, _ *rand.Rand) (Output[T], error) {
	if in.Images.Cols != c.cfg.In.Size() {
		return Output[T]{}, fmt.Errorf("encoder: images of %d values, want %v = %d", in.Images.Cols, c.cfg.In, c.cfg.In.Size())
	}
	B := in.Items
	feat := c.CNN.Forward(in.Images, train)
	c.items = B
	if c.frames {
		steps := in.Steps
		if in.Images.Rows != B*steps {
			return Output[T]{}, fmt.Errorf("encoder: %d frames for %d clips of %d", in.Images.Rows, B, steps)
		}
		c.out.Sequence = nn.NewMatLike(c.out.Sequence, steps*B, feat.Cols)
		for b := 0; b < B; b++ {
			for t := 0; t < steps; t++ {
				copy(c.out.Sequence.Row(t*B+b), feat.Row(b*steps+t))
			}
		}
		c.out.Steps = steps
		return c.out, nil
	}
	c.out.Summary = feat
	switch {
	case in.SummaryOnly:
		c.out.Memory, c.out.S = nn.Mat[T]{}, 0
		return c.out, nil
	case c.beside == nil:
		c.out.Memory, c.out.S = gridOf(c.FeatureShape(), c.FeatureMap(), c.out.Memory, c.FeatureShape().C)
		return c.out, nil
	}
	grid, _, err := c.beside.Forward(in.Images)
	if err != nil {
		return Output[T]{}, err
	}
	fs := c.FeatureShape()
	c.out.Memory, c.out.S = gridOf(fs, c.FeatureMap(), c.out.Memory, c.Widths().Memory)
	for r := range c.out.Memory.Rows {
		copy(c.out.Memory.Row(r)[fs.C:], grid.Row(r))
	}
	return c.out, nil
}

// gridOf lays feature maps fmap [B][C*H*W] (CHW order) out as positions
// dst [B*S][width], S = H*W, each position's C features in its first
// columns (width ≥ C leaves room for more beside them), reusing dst's
// storage.
func gridOf[T nn.Float](fs nn.ImageShape, fmap, dst nn.Mat[T], width int) (nn.Mat[T], int) {
	S := fs.H * fs.W
	dst = nn.NewMatLike(dst, fmap.Rows*S, width)
	for b := 0; b < fmap.Rows; b++ {
		src := fmap.Row(b)
		for ch := 0; ch < fs.C; ch++ {
			for s := 0; s < S; s++ {
				dst.Row(b*S + s)[ch] = src[ch*S+s]
			}
		}
	}
	return dst, S
}

// GridOf is gridOf for a cache of feature maps: captioning keeps the
// frozen CNN's maps and lays them out per batch.
func GridOf[T nn.Float](fs nn.ImageShape, fmap, dst nn.Mat[T]) (nn.Mat[T], int) {
	return gridOf(fs, fmap, dst, fs.C)
}

func (c *cnnEncoder[T]) Backward(d Output[T]) {
	if c.frames {
		B, steps := c.items, c.out.Steps
		c.dseq = nn.NewMatLike(c.dseq, B*steps, d.Sequence.Cols)
		for b := 0; b < B; b++ {
			for t := 0; t < steps; t++ {
				copy(c.dseq.Row(b*steps+t), d.Sequence.Row(t*B+b))
			}
		}
		c.CNN.Backward(c.dseq)
		return
	}
	var dmap nn.Mat[T]
	if !d.Memory.Empty() {
		fs := c.FeatureShape()
		S := fs.H * fs.W
		c.dmap = nn.NewMatLike(c.dmap, c.items, fs.Size())
		for b := 0; b < c.items; b++ {
			row := c.dmap.Row(b)
			for ch := 0; ch < fs.C; ch++ {
				for s := 0; s < S; s++ {
					row[ch*S+s] = d.Memory.Row(b*S + s)[ch]
				}
			}
		}
		dmap = c.dmap
	}
	c.CNN.BackwardWithMap(d.Summary, dmap)
}
