package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// RecurrentConfig describes a stack of recurrent layers as torch.nn.RNN,
// LSTM and GRU do.
type RecurrentConfig struct {
	Cell          Cell
	Input, Hidden int
	Layers        int     // stacked layers, each fed the previous one's outputs
	Bidirectional bool    // a reverse-time direction per layer, outputs concatenated
	Dropout       float64 // on the inputs of layers 2..L during training, as PyTorch
	// WeightDrop is DropConnect on every hidden-to-hidden weight W_hh
	// during training (Wan et al. 2013), as AWD-LSTM's WeightDrop (Merity
	// et al. 2018): each Forward draws one mask over W_hh's elements and
	// uses the masked weight, scaled by 1/(1-WeightDrop), at every step for
	// every sequence, so the recurrence is regularised without noise on
	// the state it carries. Forward must then see whole sequences: a
	// caller that runs one step per Forward would draw a mask per step.
	WeightDrop float64
}

// Validate reports the first impossible setting.
func (c RecurrentConfig) Validate() error {
	switch {
	case !c.Cell.valid():
		return fmt.Errorf("unknown cell %q (want one of %v)", c.Cell, Cells)
	case c.Input < 1 || c.Hidden < 1 || c.Layers < 1:
		return fmt.Errorf("input %d, hidden %d and layers %d must all be at least 1", c.Input, c.Hidden, c.Layers)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("dropout %g must be in [0, 1)", c.Dropout)
	case c.WeightDrop < 0 || c.WeightDrop >= 1:
		return fmt.Errorf("weight drop %g must be in [0, 1)", c.WeightDrop)
	}
	return nil
}

// Directions is 2 for a bidirectional stack, else 1.
func (c RecurrentConfig) Directions() int {
	if c.Bidirectional {
		return 2
	}
	return 1
}

// Recurrent runs a stack of recurrent layers over whole sequences with exact
// backpropagation through time. Inputs and outputs are time-major and flat:
// x [T*B][D], y [T*B][H*dirs]; states are [layers*dirs*B][H], block
// (layer*dirs + dir) holding one layer-direction's [B][H], as PyTorch's
// [layers*dirs][B][H]. It holds only its parameters: each Forward keeps
// what its Backward needs in a RecurrentCache the caller owns, so one
// stack can run one step per call, a cache per step (a decoder whose
// input at step t depends on its output at t-1), and backpropagate
// through those caches in reverse order.
type Recurrent[T Float] struct {
	Config RecurrentConfig

	dirs       []*direction[T] // index layer*dirs + dir
	dropout    Dropout[T]      // on the inputs of layers 2..L
	weightDrop Dropout[T]      // on W_hh
}

// RecurrentCache is what Recurrent.Forward keeps for Backward and the
// buffers both reuse; its zero value is ready to use. Outputs returned by
// Forward and Backward live in it and stay valid until its next use.
type RecurrentCache[T Float] struct {
	WeightProducts[T]
	steps, batch int
	dirs         []dirCache[T]     // index layer*dirs + dir
	drops        []DropoutCache[T] // drops[l]: the dropout on layer l's input, l >= 1
	outs         []Mat[T]          // outs[l]: layer l's output (aliases the direction's h when unidirectional)
	ins          []Mat[T]          // ins[l]: the input layer l saw (after dropout)
	dropped      []Mat[T]          // dropped[l]: storage for layer l's dropped-out input
	dIns         []Mat[T]          // gradient of each layer's input
	dDir         []Mat[T]          // per-direction slices of a bidirectional output gradient
	hn, cn       Mat[T]
	dh0, dc0     Mat[T]
}

// fit sizes c's per-layer and per-direction slices for r.
func (c *RecurrentCache[T]) fit(r *Recurrent[T]) {
	n := r.Config.Layers
	if len(c.outs) == n && len(c.dirs) == len(r.dirs) {
		return
	}
	c.dirs = make([]dirCache[T], len(r.dirs))
	c.drops = make([]DropoutCache[T], n)
	c.outs, c.ins, c.dropped, c.dIns = make([]Mat[T], n), make([]Mat[T], n), make([]Mat[T], n), make([]Mat[T], n)
	c.dDir = make([]Mat[T], r.Config.Directions())
}

// NewRecurrent builds the stack with parameters named prefix.weight_ih_l0 and
// so on, initialised U(±1/sqrt(H)) as PyTorch does.
func NewRecurrent[T Float](prefix string, cfg RecurrentConfig, rng *rand.Rand) (*Recurrent[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	r := &Recurrent[T]{Config: cfg, dropout: Dropout[T]{P: cfg.Dropout}, weightDrop: Dropout[T]{P: cfg.WeightDrop}}
	nd := cfg.Directions()
	cell := cellFor[T](cfg.Cell)
	gh := cell.layout().gates * cfg.Hidden
	bound := 1 / math.Sqrt(float64(cfg.Hidden))
	for l := 0; l < cfg.Layers; l++ {
		in := cfg.Input
		if l > 0 {
			in = cfg.Hidden * nd
		}
		for d := 0; d < nd; d++ {
			suffix := fmt.Sprintf("_l%d", l)
			if d == 1 {
				suffix += "_reverse"
			}
			dir := &direction[T]{
				cell: cell, hidden: cfg.Hidden, reverse: d == 1,
				wih: NewParam[T](prefix+".weight_ih"+suffix, gh, in),
				whh: NewParam[T](prefix+".weight_hh"+suffix, gh, cfg.Hidden),
				bih: NewParam[T](prefix+".bias_ih"+suffix, gh),
				bhh: NewParam[T](prefix+".bias_hh"+suffix, gh),
			}
			for _, p := range dir.params() {
				InitUniform(p.Value, bound, rng)
			}
			r.dirs = append(r.dirs, dir)
		}
	}
	return r, nil
}

// Params returns the parameters in PyTorch's order.
func (r *Recurrent[T]) Params() Params[T] {
	var ps Params[T]
	for _, d := range r.dirs {
		ps = append(ps, d.params()...)
	}
	return ps
}

// StateRows is the row count of h0/hn for batch size b.
func (r *Recurrent[T]) StateRows(b int) int { return r.Config.Layers * r.Config.Directions() * b }

// Forward runs x [steps*batch][D] through the stack from the initial states
// h0 (and c0 for a cell with a cell state, LSTM), each
// [layers*dirs*batch][H] or empty for zeros, keeping in c what Backward
// needs. It returns y [steps*batch][H*dirs] and the final states hn, cn
// (cn is empty unless the cell has a cell state), all held by c. rng
// draws the inter-layer dropout masks when train is set.
func (r *Recurrent[T]) Forward(c *RecurrentCache[T], x Mat[T], steps, batch int, h0, c0 Mat[T], train bool, rng *rand.Rand) (y, hn, cn Mat[T]) {
	return r.ForwardPadded(c, x, steps, batch, nil, h0, c0, train, rng)
}

// ForwardPadded is Forward over a padded batch: sequence b has lengths[b]
// valid steps (nil means all are valid). Past its length a sequence's
// state is carried unchanged, so hn holds each sequence's state after its
// last valid step in both directions (the reverse direction starts at the
// last valid step), as PyTorch's packed sequences give. Outputs at padded
// positions are not meaningful and their gradients are ignored: mask them
// (attention does).
func (r *Recurrent[T]) ForwardPadded(c *RecurrentCache[T], x Mat[T], steps, batch int, lengths []int, h0, c0 Mat[T], train bool, rng *rand.Rand) (y, hn, cn Mat[T]) {
	cfg := r.Config
	if lengths != nil && len(lengths) != batch {
		panic(fmt.Sprintf("nn: Recurrent.ForwardPadded: %d lengths for batch %d", len(lengths), batch))
	}
	if x.Rows != steps*batch || x.Cols != cfg.Input {
		panic(fmt.Sprintf("nn: Recurrent.Forward: x is %dx%d, want %dx%d", x.Rows, x.Cols, steps*batch, cfg.Input))
	}
	c.fit(r)
	c.steps, c.batch = steps, batch
	nd, hid := cfg.Directions(), cfg.Hidden
	c.hn = resize(c.hn, r.StateRows(batch), hid)
	withC := cfg.Cell.HasCellState()
	if withC {
		c.cn = resize(c.cn, r.StateRows(batch), hid)
	}
	in := x
	for l := 0; l < cfg.Layers; l++ {
		if l > 0 && train && cfg.Dropout > 0 {
			c.dropped[l] = resize(c.dropped[l], in.Rows, in.Cols)
			c.dropped[l].CopyFrom(in)
			r.dropout.Forward(&c.drops[l], c.dropped[l], true, rng)
			in = c.dropped[l]
		} else if l > 0 {
			r.dropout.Forward(&c.drops[l], in, false, nil)
		}
		c.ins[l] = in
		for d := 0; d < nd; d++ {
			k := l*nd + d
			var dh0, dc0 Mat[T]
			if !h0.Empty() {
				dh0 = h0.RowBlock(k*batch, (k+1)*batch)
			}
			if withC && !c0.Empty() {
				dc0 = c0.RowBlock(k*batch, (k+1)*batch)
			}
			dir, dc := r.dirs[k], &c.dirs[k]
			dc.whh = dir.whh
			if train && cfg.WeightDrop > 0 {
				dc.whh = dc.dropWeight(dir.whh, &r.weightDrop, rng)
			}
			dir.forward(dc, &c.WeightProducts, in, steps, batch, lengths, dh0, dc0)
			last := steps - 1
			if dir.reverse {
				last = 0
			}
			c.hn.RowBlock(k*batch, (k+1)*batch).CopyFrom(dc.h.RowBlock(last*batch, (last+1)*batch))
			if withC {
				c.cn.RowBlock(k*batch, (k+1)*batch).CopyFrom(dc.c.RowBlock(last*batch, (last+1)*batch))
			}
		}
		if nd == 1 {
			c.outs[l] = c.dirs[l].h
		} else {
			c.outs[l] = resize(c.outs[l], steps*batch, 2*hid)
			for d := 0; d < 2; d++ {
				h := c.dirs[l*2+d].h
				for row := 0; row < steps*batch; row++ {
					copy(c.outs[l].Row(row)[d*hid:(d+1)*hid], h.Row(row))
				}
			}
		}
		in = c.outs[l]
	}
	return in, c.hn, c.cn
}

// Backward takes the gradients of the outputs of the Forward that filled c
// — dy like y, dhn like hn, dcn like cn; any may be empty for zero —
// accumulates every parameter gradient, and returns the gradients of x, h0
// and c0, held by c.
func (r *Recurrent[T]) Backward(c *RecurrentCache[T], dy, dhn, dcn Mat[T]) (dx, dh0, dc0 Mat[T]) {
	cfg := r.Config
	nd, hid, b := cfg.Directions(), cfg.Hidden, c.batch
	withC := cfg.Cell.HasCellState()
	c.dh0 = resize(c.dh0, r.StateRows(b), hid)
	if withC {
		c.dc0 = resize(c.dc0, r.StateRows(b), hid)
	}
	dOut := dy
	for l := cfg.Layers - 1; l >= 0; l-- {
		in := c.ins[l]
		c.dIns[l] = resize(c.dIns[l], in.Rows, in.Cols)
		for d := 0; d < nd; d++ {
			k := l*nd + d
			dyDir := dOut
			if nd == 2 && !dOut.Empty() {
				c.dDir[d] = resize(c.dDir[d], c.steps*b, hid)
				for row := 0; row < c.steps*b; row++ {
					copy(c.dDir[d].Row(row), dOut.Row(row)[d*hid:(d+1)*hid])
				}
				dyDir = c.dDir[d]
			}
			var dhnDir, dcnDir Mat[T]
			if !dhn.Empty() {
				dhnDir = dhn.RowBlock(k*b, (k+1)*b)
			}
			if withC && !dcn.Empty() {
				dcnDir = dcn.RowBlock(k*b, (k+1)*b)
			}
			dir, dc := r.dirs[k], &c.dirs[k]
			dhFirst, dcFirst := dir.backward(dc, &c.WeightProducts, dyDir, dhnDir, dcnDir, c.dIns[l], d > 0)
			if dc.whh != dir.whh { // the masked copy's gradient reaches W_hh through the mask
				r.weightDrop.BackwardAdd(&dc.whhDrop, dir.whh.GradMat(), dc.whh.GradMat())
			}
			c.dh0.RowBlock(k*b, (k+1)*b).CopyFrom(dhFirst)
			if withC {
				c.dc0.RowBlock(k*b, (k+1)*b).CopyFrom(dcFirst)
			}
		}
		if l > 0 {
			r.dropout.Backward(&c.drops[l], c.dIns[l])
		}
		dOut = c.dIns[l]
	}
	return c.dIns[0], c.dh0, c.dc0
}

// direction is one layer's parameters for one direction in time.
type direction[T Float] struct {
	cell     cellKind[T]
	hidden   int
	reverse  bool
	wih, whh *Param[T] // [G*H][D], [G*H][H]
	bih, bhh *Param[T] // [G*H]
}

// dirCache is one direction's pass over time. Its buffers are in time
// order whatever the direction, so the weight gradients are a few large
// GEMMs over the whole sequence instead of one small GEMM per step.
type dirCache[T Float] struct {
	x        Mat[T] // input [T*B][D], as given
	gates    Mat[T] // activated gates [T*B][G*H]
	h        Mat[T] // outputs [T*B][H]
	c        Mat[T] // cell state [T*B][H] (cells with one)
	aux      Mat[T] // what the cell's backward needs besides gates, h and c [T*B][aux*H]
	h0, c0   Mat[T] // initial states [B][H] (zeros when none given)
	hh       Mat[T] // separateHidden scratch h'·W_hhᵀ + b_hh [B][G*H]
	dgih     Mat[T] // gradient of the input pre-activations [T*B][G*H]
	dghh     Mat[T] // separateHidden: gradient of the hidden pre-activations [T*B][G*H]
	dh, dhp  Mat[T] // [B][H] running gradient of h and of h'
	dc, dcp  Mat[T] // [B][H] running gradient of c and of c'
	zeroInit bool   // h0/c0 were absent
	lengths  []int  // valid steps per sequence; nil when all are valid
	// whh is the hidden-to-hidden weight of this pass: the direction's,
	// or with weight drop dropped, its masked copy (mask in whhDrop),
	// whose gradient Backward passes on through the mask.
	whh, dropped *Param[T]
	whhDrop      DropoutCache[T]
}

// dropWeight returns w with the mask of d applied, in c's own copy with a
// zeroed gradient, keeping the mask for Backward.
func (c *dirCache[T]) dropWeight(w *Param[T], d *Dropout[T], rng *rand.Rand) *Param[T] {
	if c.dropped == nil || c.dropped.Size() != w.Size() {
		c.dropped = NewParam[T](w.Name+".dropped", w.Shape...)
	}
	clear(c.dropped.Grad)
	d.ForwardFrom(&c.whhDrop, c.dropped.Mat(), w.Mat(), rng)
	return c.dropped
}

// padded reports whether sequence b has no step t.
func (c *dirCache[T]) padded(t, b int) bool { return c.lengths != nil && t >= c.lengths[b] }

func (d *direction[T]) params() Params[T] { return Params[T]{d.wih, d.whh, d.bih, d.bhh} }

// stepTime maps processing step s to the time index it handles.
func (d *direction[T]) stepTime(s, steps int) int {
	if d.reverse {
		return steps - 1 - s
	}
	return s
}

func (d *direction[T]) forward(c *dirCache[T], prod *WeightProducts[T], x Mat[T], steps, batch int, lengths []int, h0, c0 Mat[T]) {
	lay := d.cell.layout()
	hid, gh := d.hidden, lay.gates*d.hidden
	n := steps * batch
	c.x = x
	c.lengths = lengths
	c.gates = resize(c.gates, n, gh)
	c.h = resize(c.h, n, hid)
	c.aux = resize(c.aux, n, lay.aux*hid)
	c.h0 = resize(c.h0, batch, hid)
	c.zeroInit = h0.Empty()
	if c.zeroInit {
		c.h0.Zero()
	} else {
		c.h0.CopyFrom(h0)
	}
	if lay.cellState {
		c.c = resize(c.c, n, hid)
		c.c0 = resize(c.c0, batch, hid)
		if c0.Empty() {
			c.c0.Zero()
		} else {
			c.c0.CopyFrom(c0)
		}
	}
	// The input projection of every step in one GEMM.
	prod.gemmWeight(x, d.wih, 0, c.gates)
	addRowVector(c.gates, d.bih.Value)
	if lay.separateHidden {
		c.hh = resize(c.hh, batch, gh)
	} else {
		addRowVector(c.gates, d.bhh.Value)
	}
	st := cellStep[T]{hPrev: c.h0}
	if lay.cellState {
		st.cPrev = c.c0
	}
	prod.beginSteps(c.whh, steps)
	for s := 0; s < steps; s++ {
		t := d.stepTime(s, steps)
		rows := func(m Mat[T]) Mat[T] { return m.RowBlock(t*batch, (t+1)*batch) }
		st.g, st.h, st.aux = rows(c.gates), rows(c.h), rows(c.aux)
		if lay.cellState {
			st.c = rows(c.c)
		}
		if lay.separateHidden {
			prod.gemmStepWeight(st.hPrev, c.whh, 0, c.hh)
			addRowVector(c.hh, d.bhh.Value)
			st.hh = c.hh
		} else {
			prod.gemmStepWeight(st.hPrev, c.whh, 1, st.g)
		}
		d.cell.forward(st)
		for b := 0; lengths != nil && b < batch; b++ {
			if c.padded(t, b) { // carry the state through padding
				copy(st.h.Row(b), st.hPrev.Row(b))
				if lay.cellState {
					copy(st.c.Row(b), st.cPrev.Row(b))
				}
			}
		}
		st.hPrev, st.cPrev = st.h, st.c
	}
}

// backward runs BPTT. dy [T*B][H] (empty for zero) is the gradient of the
// outputs, dhn/dcn of the final states. dx receives dgih·W_ih (added to its
// contents when accumulate is set); prod computes the products with the
// weights. It returns the gradients of h0 and c0, valid until the next
// call.
func (d *direction[T]) backward(c *dirCache[T], prod *WeightProducts[T], dy, dhn, dcn, dx Mat[T], accumulate bool) (dh0, dc0 Mat[T]) {
	lay := d.cell.layout()
	hid, gh := d.hidden, lay.gates*d.hidden
	n := c.gates.Rows
	batch := c.h0.Rows
	steps := n / batch
	c.dgih = resize(c.dgih, n, gh)
	dghh := c.dgih // one pre-activation unless the hidden side is separate
	if lay.separateHidden {
		c.dghh = resize(c.dghh, n, gh)
		dghh = c.dghh
	}
	c.dh, c.dhp = resize(c.dh, batch, hid), resize(c.dhp, batch, hid)
	if dhn.Empty() {
		c.dh.Zero()
	} else {
		c.dh.CopyFrom(dhn)
	}
	if lay.cellState {
		c.dc, c.dcp = resize(c.dc, batch, hid), resize(c.dcp, batch, hid)
		if dcn.Empty() {
			c.dc.Zero()
		} else {
			c.dc.CopyFrom(dcn)
		}
	}
	beta := T(0) // the cell wrote the direct part of dh' only with a separate hidden side
	if lay.separateHidden {
		beta = 1
	}
	for s := steps - 1; s >= 0; s-- {
		t := d.stepTime(s, steps)
		rows := func(m Mat[T]) Mat[T] { return m.RowBlock(t*batch, (t+1)*batch) }
		st := cellStep[T]{g: rows(c.gates), hPrev: c.h0, h: rows(c.h), aux: rows(c.aux)}
		if lay.cellState {
			st.cPrev = c.c0
		}
		if s > 0 {
			tp := d.stepTime(s-1, steps)
			st.hPrev = c.h.RowBlock(tp*batch, (tp+1)*batch)
			if lay.cellState {
				st.cPrev = c.c.RowBlock(tp*batch, (tp+1)*batch)
			}
		}
		if !dy.Empty() {
			addInto(c.dh, rows(dy))
			for b := 0; c.lengths != nil && b < batch; b++ {
				if c.padded(t, b) { // outputs at padding are not part of the loss
					dhb, dyb := c.dh.Row(b), dy.Row(t*batch+b)
					for j := range dhb {
						dhb[j] -= dyb[j]
					}
				}
			}
		}
		g := cellGrad[T]{dh: c.dh, dgih: rows(c.dgih)}
		if lay.cellState {
			g.dc, g.dcPrev = c.dc, c.dcp
		}
		if lay.separateHidden {
			g.dghh, g.dhPrev = rows(c.dghh), c.dhp
		}
		d.cell.backward(st, g)
		if lay.cellState {
			c.dc, c.dcp = c.dcp, c.dc
		}
		if c.lengths != nil {
			c.maskPadded(t, batch, rows(c.dgih), rows(dghh))
		}
		prod.gemmStepData(rows(dghh), c.whh, beta, c.dhp)
		for b := 0; c.lengths != nil && b < batch; b++ {
			if c.padded(t, b) { // the carried state passes its gradient straight back
				copy(c.dhp.Row(b), c.dh.Row(b))
				if lay.cellState {
					copy(c.dc.Row(b), c.dcp.Row(b)) // dc and dcp were swapped above
				}
			}
		}
		c.dh, c.dhp = c.dhp, c.dh
	}
	// Weight gradients over the whole sequence at once.
	prod.gemmGrad(c.dgih, c.x, d.wih)
	addColumnSums(d.bih.Grad, c.dgih)
	addColumnSums(d.bhh.Grad, dghh)
	last := (steps - 1) * batch
	if d.reverse {
		// h' of step t is h[t+1]; h0 feeds the last time index.
		prod.gemmGrad(dghh.RowBlock(0, last), c.h.RowBlock(batch, n), c.whh)
		if !c.zeroInit {
			prod.gemmGrad(dghh.RowBlock(last, n), c.h0, c.whh)
		}
	} else {
		prod.gemmGrad(dghh.RowBlock(batch, n), c.h.RowBlock(0, last), c.whh)
		if !c.zeroInit {
			prod.gemmGrad(dghh.RowBlock(0, batch), c.h0, c.whh)
		}
	}
	beta = 0
	if accumulate {
		beta = 1
	}
	prod.gemmData(c.dgih, d.wih, beta, dx)
	return c.dh, c.dc
}

// maskPadded zeroes the pre-activation gradients of padded sequences at
// time t: a carried state received no input and used no weights.
func (c *dirCache[T]) maskPadded(t, batch int, dgih, dghh Mat[T]) {
	for b := 0; b < batch; b++ {
		if c.padded(t, b) {
			clear(dgih.Row(b))
			clear(dghh.Row(b))
		}
	}
}

func addInto[T Float](dst, src Mat[T]) {
	n := src.Rows * src.Cols
	addSlice(dst.Data[:n], src.Data[:n])
}

// ParamCount is the number of parameters of a stack of this config: per
// layer and direction W_ih [G*H][D], W_hh [G*H][H] and two biases.
func (c RecurrentConfig) ParamCount() int64 {
	g, h := int64(cellRegistry[c.Cell].f64.layout().gates), int64(c.Hidden)
	var n int64
	in := int64(c.Input)
	for range c.Layers {
		n += int64(c.Directions()) * g * h * (in + h + 2)
		in = h * int64(c.Directions())
	}
	return n
}

// ActivationCount estimates how many values a training Forward over
// steps×batch keeps for its Backward: per layer and direction the
// activated gates, the states, the cell's extra values and the layer's
// output, and the input projection of all steps.
func (c RecurrentConfig) ActivationCount(steps, batch int) int64 {
	l := cellRegistry[c.Cell].f64.layout()
	per := int64(2*l.gates+3+l.aux) * int64(c.Hidden) // gates (pre and activated), h, c, output, aux
	return int64(steps) * int64(batch) * int64(c.Layers) * int64(c.Directions()) * per
}
