package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Cell names a recurrent cell as configs spell it.
type Cell string

// The recurrent cells, with PyTorch's equations and gate order.
const (
	CellRNN  Cell = "rnn"  // h = tanh(W_ih x + b_ih + W_hh h' + b_hh)
	CellLSTM Cell = "lstm" // gates i, f, g, o
	CellGRU  Cell = "gru"  // gates r, z, n; n = tanh(W_in x + b_in + r*(W_hn h' + b_hn))
)

// Cells lists the valid cells.
var Cells = []Cell{CellRNN, CellLSTM, CellGRU}

// Gates is the number of H-sized blocks in the cell's weights.
func (c Cell) Gates() int {
	switch c {
	case CellLSTM:
		return 4
	case CellGRU:
		return 3
	}
	return 1
}

// RecurrentConfig describes a stack of recurrent layers as torch.nn.RNN,
// LSTM and GRU do.
type RecurrentConfig struct {
	Cell          Cell
	Input, Hidden int
	Layers        int     // stacked layers, each fed the previous one's outputs
	Bidirectional bool    // a reverse-time direction per layer, outputs concatenated
	Dropout       float64 // on the inputs of layers 2..L during training, as PyTorch
}

// Validate reports the first impossible setting.
func (c RecurrentConfig) Validate() error {
	switch {
	case c.Cell != CellRNN && c.Cell != CellLSTM && c.Cell != CellGRU:
		return fmt.Errorf("unknown cell %q (want one of %v)", c.Cell, Cells)
	case c.Input < 1 || c.Hidden < 1 || c.Layers < 1:
		return fmt.Errorf("input %d, hidden %d and layers %d must all be at least 1", c.Input, c.Hidden, c.Layers)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("dropout %g must be in [0, 1)", c.Dropout)
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
// [layers*dirs][B][H].
type Recurrent[T Float] struct {
	Config RecurrentConfig

	dirs     []*direction[T] // index layer*dirs + dir
	dropouts []Dropout[T]    // dropouts[l] acts on layer l's input, l >= 1
	steps    int
	batch    int
	outs     []Mat[T] // outs[l]: layer l's output (aliases the direction's buffer when unidirectional)
	ins      []Mat[T] // ins[l]: the input layer l saw (after dropout)
	dropped  []Mat[T] // dropped[l]: storage for layer l's dropped-out input
	dIns     []Mat[T] // gradient of each layer's input
	dDir     []Mat[T] // per-direction slices of a bidirectional output gradient
	hn, cn   Mat[T]
	dh0, dc0 Mat[T]
}

// NewRecurrent builds the stack with parameters named prefix.weight_ih_l0 and
// so on, initialised U(±1/sqrt(H)) as PyTorch does.
func NewRecurrent[T Float](prefix string, cfg RecurrentConfig, rng *rand.Rand) (*Recurrent[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	r := &Recurrent[T]{Config: cfg}
	nd := cfg.Directions()
	gh := cfg.Cell.Gates() * cfg.Hidden
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
				cell: cfg.Cell, hidden: cfg.Hidden, reverse: d == 1,
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
	r.dropouts = make([]Dropout[T], cfg.Layers)
	for l := 1; l < cfg.Layers; l++ {
		r.dropouts[l].P = cfg.Dropout
	}
	r.outs = make([]Mat[T], cfg.Layers)
	r.ins = make([]Mat[T], cfg.Layers)
	r.dropped = make([]Mat[T], cfg.Layers)
	r.dIns = make([]Mat[T], cfg.Layers)
	r.dDir = make([]Mat[T], nd)
	return r, nil
}

// Share returns a stack that uses r's parameters (and accumulates into
// their gradients) but has buffers of its own. A decoder whose input at
// step t depends on its output at t-1 (input feeding, attention before the
// step, scheduled sampling) runs one step per call through one shared view
// per step, then backpropagates through the views in reverse order.
func (r *Recurrent[T]) Share() *Recurrent[T] {
	v := &Recurrent[T]{Config: r.Config}
	for _, d := range r.dirs {
		v.dirs = append(v.dirs, &direction[T]{cell: d.cell, hidden: d.hidden, reverse: d.reverse,
			wih: d.wih, whh: d.whh, bih: d.bih, bhh: d.bhh})
	}
	n := r.Config.Layers
	v.dropouts = make([]Dropout[T], n)
	for l := range v.dropouts {
		v.dropouts[l].P = r.dropouts[l].P
	}
	v.outs, v.ins, v.dropped, v.dIns = make([]Mat[T], n), make([]Mat[T], n), make([]Mat[T], n), make([]Mat[T], n)
	v.dDir = make([]Mat[T], r.Config.Directions())
	return v
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
// h0 (and c0 for LSTM), each [layers*dirs*batch][H] or empty for zeros. It
// returns y [steps*batch][H*dirs] and the final states hn, cn (cn is empty
// unless the cell is an LSTM). Outputs are valid until the next Forward. rng
// draws the inter-layer dropout masks when train is set.
func (r *Recurrent[T]) Forward(x Mat[T], steps, batch int, h0, c0 Mat[T], train bool, rng *rand.Rand) (y, hn, cn Mat[T]) {
	return r.ForwardPadded(x, steps, batch, nil, h0, c0, train, rng)
}

// ForwardPadded is Forward over a padded batch: sequence b has lengths[b]
// valid steps (nil means all are valid). Past its length a sequence's
// state is carried unchanged, so hn holds each sequence's state after its
// last valid step in both directions (the reverse direction starts at the
// last valid step), as PyTorch's packed sequences give. Outputs at padded
// positions are not meaningful and their gradients are ignored: mask them
// (attention does).
func (r *Recurrent[T]) ForwardPadded(x Mat[T], steps, batch int, lengths []int, h0, c0 Mat[T], train bool, rng *rand.Rand) (y, hn, cn Mat[T]) {
	cfg := r.Config
	if lengths != nil && len(lengths) != batch {
		panic(fmt.Sprintf("nn: Recurrent.ForwardPadded: %d lengths for batch %d", len(lengths), batch))
	}
	if x.Rows != steps*batch || x.Cols != cfg.Input {
		panic(fmt.Sprintf("nn: Recurrent.Forward: x is %dx%d, want %dx%d", x.Rows, x.Cols, steps*batch, cfg.Input))
	}
	r.steps, r.batch = steps, batch
	nd, hid := cfg.Directions(), cfg.Hidden
	r.hn = resize(r.hn, r.StateRows(batch), hid)
	lstm := cfg.Cell == CellLSTM
	if lstm {
		r.cn = resize(r.cn, r.StateRows(batch), hid)
	}
	in := x
	for l := 0; l < cfg.Layers; l++ {
		if l > 0 && train && cfg.Dropout > 0 {
			r.dropped[l] = resize(r.dropped[l], in.Rows, in.Cols)
			r.dropped[l].CopyFrom(in)
			r.dropouts[l].Forward(r.dropped[l], true, rng)
			in = r.dropped[l]
		} else if l > 0 {
			r.dropouts[l].Forward(in, false, nil)
		}
		r.ins[l] = in
		for d := 0; d < nd; d++ {
			k := l*nd + d
			var dh0, dc0 Mat[T]
			if !h0.Empty() {
				dh0 = h0.RowBlock(k*batch, (k+1)*batch)
			}
			if lstm && !c0.Empty() {
				dc0 = c0.RowBlock(k*batch, (k+1)*batch)
			}
			dir := r.dirs[k]
			dir.forward(in, steps, batch, lengths, dh0, dc0)
			last := steps - 1
			if dir.reverse {
				last = 0
			}
			r.hn.RowBlock(k*batch, (k+1)*batch).CopyFrom(dir.h.RowBlock(last*batch, (last+1)*batch))
			if lstm {
				r.cn.RowBlock(k*batch, (k+1)*batch).CopyFrom(dir.c.RowBlock(last*batch, (last+1)*batch))
			}
		}
		if nd == 1 {
			r.outs[l] = r.dirs[l].h
		} else {
			r.outs[l] = resize(r.outs[l], steps*batch, 2*hid)
			for d := 0; d < 2; d++ {
				h := r.dirs[l*2+d].h
				for row := 0; row < steps*batch; row++ {
					copy(r.outs[l].Row(row)[d*hid:(d+1)*hid], h.Row(row))
				}
			}
		}
		in = r.outs[l]
	}
	return in, r.hn, r.cn
}

// Backward takes the gradients of the last Forward's outputs — dy like y,
// dhn like hn, dcn like cn; any may be empty for zero — accumulates every
// parameter gradient, and returns the gradients of x, h0 and c0.
func (r *Recurrent[T]) Backward(dy, dhn, dcn Mat[T]) (dx, dh0, dc0 Mat[T]) {
	cfg := r.Config
	nd, hid, b := cfg.Directions(), cfg.Hidden, r.batch
	lstm := cfg.Cell == CellLSTM
	r.dh0 = resize(r.dh0, r.StateRows(b), hid)
	if lstm {
		r.dc0 = resize(r.dc0, r.StateRows(b), hid)
	}
	dOut := dy
	for l := cfg.Layers - 1; l >= 0; l-- {
		in := r.ins[l]
		r.dIns[l] = resize(r.dIns[l], in.Rows, in.Cols)
		for d := 0; d < nd; d++ {
			k := l*nd + d
			dyDir := dOut
			if nd == 2 && !dOut.Empty() {
				r.dDir[d] = resize(r.dDir[d], r.steps*b, hid)
				for row := 0; row < r.steps*b; row++ {
					copy(r.dDir[d].Row(row), dOut.Row(row)[d*hid:(d+1)*hid])
				}
				dyDir = r.dDir[d]
			}
			var dhnDir, dcnDir Mat[T]
			if !dhn.Empty() {
				dhnDir = dhn.RowBlock(k*b, (k+1)*b)
			}
			if lstm && !dcn.Empty() {
				dcnDir = dcn.RowBlock(k*b, (k+1)*b)
			}
			dhFirst, dcFirst := r.dirs[k].backward(dyDir, dhnDir, dcnDir, r.dIns[l], d > 0)
			r.dh0.RowBlock(k*b, (k+1)*b).CopyFrom(dhFirst)
			if lstm {
				r.dc0.RowBlock(k*b, (k+1)*b).CopyFrom(dcFirst)
			}
		}
		if l > 0 {
			r.dropouts[l].Backward(r.dIns[l])
		}
		dOut = r.dIns[l]
	}
	return r.dIns[0], r.dh0, r.dc0
}

// direction is one layer's pass over time in one direction. Its caches are in
// time order whatever the direction, so the weight gradients are a few large
// GEMMs over the whole sequence instead of one small GEMM per step.
type direction[T Float] struct {
	cell     Cell
	hidden   int
	reverse  bool
	wih, whh *Param[T] // [G*H][D], [G*H][H]
	bih, bhh *Param[T] // [G*H]

	x        Mat[T] // input [T*B][D], as given
	gates    Mat[T] // activated gates [T*B][G*H]
	h        Mat[T] // outputs [T*B][H]
	c, tc    Mat[T] // LSTM cell state and tanh of it [T*B][H]
	hnPre    Mat[T] // GRU W_hn h' + b_hn [T*B][H]
	h0, c0   Mat[T] // initial states [B][H] (zeros when none given)
	hh       Mat[T] // GRU scratch h'·W_hhᵀ + b_hh [B][3H]
	dgih     Mat[T] // gradient of the input pre-activations [T*B][G*H]
	dghh     Mat[T] // GRU: gradient of the hidden pre-activations [T*B][3H]
	dh, dhp  Mat[T] // [B][H] running gradient of h and of h'
	dc, dcp  Mat[T] // [B][H] running gradient of c and of c'
	zeroInit bool   // h0/c0 were absent
	lengths  []int  // valid steps per sequence; nil when all are valid
}

// padded reports whether sequence b has no step t.
func (d *direction[T]) padded(t, b int) bool { return d.lengths != nil && t >= d.lengths[b] }

func (d *direction[T]) params() Params[T] { return Params[T]{d.wih, d.whh, d.bih, d.bhh} }

// stepTime maps processing step s to the time index it handles.
func (d *direction[T]) stepTime(s, steps int) int {
	if d.reverse {
		return steps - 1 - s
	}
	return s
}

func (d *direction[T]) forward(x Mat[T], steps, batch int, lengths []int, h0, c0 Mat[T]) {
	hid, gh := d.hidden, d.cell.Gates()*d.hidden
	n := steps * batch
	d.x = x
	d.lengths = lengths
	d.gates = resize(d.gates, n, gh)
	d.h = resize(d.h, n, hid)
	d.h0 = resize(d.h0, batch, hid)
	d.zeroInit = h0.Empty()
	if d.zeroInit {
		d.h0.Zero()
	} else {
		d.h0.CopyFrom(h0)
	}
	lstm, gru := d.cell == CellLSTM, d.cell == CellGRU
	if lstm {
		d.c = resize(d.c, n, hid)
		d.tc = resize(d.tc, n, hid)
		d.c0 = resize(d.c0, batch, hid)
		if c0.Empty() {
			d.c0.Zero()
		} else {
			d.c0.CopyFrom(c0)
		}
	}
	// The input projection of every step in one GEMM.
	Gemm(false, true, 1, x, d.wih.Mat(), 0, d.gates)
	addRowVector(d.gates, d.bih.Value)
	if gru {
		d.hnPre = resize(d.hnPre, n, hid)
		d.hh = resize(d.hh, batch, gh)
	} else {
		addRowVector(d.gates, d.bhh.Value)
	}
	hPrev, cPrev := d.h0, d.c0
	for s := 0; s < steps; s++ {
		t := d.stepTime(s, steps)
		g := d.gates.RowBlock(t*batch, (t+1)*batch)
		h := d.h.RowBlock(t*batch, (t+1)*batch)
		switch d.cell {
		case CellRNN:
			Gemm(false, true, 1, hPrev, d.whh.Mat(), 1, g)
			rnnForward(g, h)
		case CellLSTM:
			Gemm(false, true, 1, hPrev, d.whh.Mat(), 1, g)
			c := d.c.RowBlock(t*batch, (t+1)*batch)
			lstmForward(g, cPrev, c, d.tc.RowBlock(t*batch, (t+1)*batch), h)
			cPrev = c
		case CellGRU:
			Gemm(false, true, 1, hPrev, d.whh.Mat(), 0, d.hh)
			addRowVector(d.hh, d.bhh.Value)
			gruForward(g, d.hh, hPrev, d.hnPre.RowBlock(t*batch, (t+1)*batch), h)
		}
		for b := 0; lengths != nil && b < batch; b++ {
			if d.padded(t, b) { // carry the state through padding
				copy(h.Row(b), hPrev.Row(b))
				if lstm {
					copy(d.c.Row(t*batch+b), d.cPrevRow(s, steps, batch, b))
				}
			}
		}
		hPrev = h
	}
}

// backward runs BPTT. dy [T*B][H] (empty for zero) is the gradient of the
// outputs, dhn/dcn of the final states. dx receives dgih·W_ih (added to its
// contents when accumulate is set). It returns the gradients of h0 and c0,
// valid until the next call.
func (d *direction[T]) backward(dy, dhn, dcn, dx Mat[T], accumulate bool) (dh0, dc0 Mat[T]) {
	hid, gh := d.hidden, d.cell.Gates()*d.hidden
	n := d.gates.Rows
	batch := d.h0.Rows
	steps := n / batch
	lstm, gru := d.cell == CellLSTM, d.cell == CellGRU
	d.dgih = resize(d.dgih, n, gh)
	dghh := d.dgih // RNN and LSTM share one pre-activation
	if gru {
		d.dghh = resize(d.dghh, n, gh)
		dghh = d.dghh
	}
	d.dh, d.dhp = resize(d.dh, batch, hid), resize(d.dhp, batch, hid)
	if dhn.Empty() {
		d.dh.Zero()
	} else {
		d.dh.CopyFrom(dhn)
	}
	if lstm {
		d.dc, d.dcp = resize(d.dc, batch, hid), resize(d.dcp, batch, hid)
		if dcn.Empty() {
			d.dc.Zero()
		} else {
			d.dc.CopyFrom(dcn)
		}
	}
	for s := steps - 1; s >= 0; s-- {
		t := d.stepTime(s, steps)
		rows := func(m Mat[T]) Mat[T] { return m.RowBlock(t*batch, (t+1)*batch) }
		hPrev, cPrev := d.h0, d.c0
		if s > 0 {
			tp := d.stepTime(s-1, steps)
			hPrev = d.h.RowBlock(tp*batch, (tp+1)*batch)
			if lstm {
				cPrev = d.c.RowBlock(tp*batch, (tp+1)*batch)
			}
		}
		if !dy.Empty() {
			addInto(d.dh, rows(dy))
			for b := 0; d.lengths != nil && b < batch; b++ {
				if d.padded(t, b) { // outputs at padding are not part of the loss
					dhb, dyb := d.dh.Row(b), dy.Row(t*batch+b)
					for j := range dhb {
						dhb[j] -= dyb[j]
					}
				}
			}
		}
		beta := T(0)
		switch d.cell {
		case CellRNN:
			rnnBackward(rows(d.h), d.dh, rows(d.dgih))
		case CellLSTM:
			lstmBackward(rows(d.gates), cPrev, rows(d.tc), d.dh, d.dc, rows(d.dgih), d.dcp)
			d.dc, d.dcp = d.dcp, d.dc
		case CellGRU:
			gruBackward(rows(d.gates), rows(d.hnPre), hPrev, d.dh, rows(d.dgih), rows(d.dghh), d.dhp)
			beta = 1
		}
		if d.lengths != nil {
			d.maskPadded(t, batch, rows(d.dgih), rows(dghh))
		}
		Gemm(false, false, 1, rows(dghh), d.whh.Mat(), beta, d.dhp)
		for b := 0; d.lengths != nil && b < batch; b++ {
			if d.padded(t, b) { // the carried state passes its gradient straight back
				copy(d.dhp.Row(b), d.dh.Row(b))
				if lstm {
					copy(d.dc.Row(b), d.dcp.Row(b)) // dc and dcp were swapped above
				}
			}
		}
		d.dh, d.dhp = d.dhp, d.dh
	}
	// Weight gradients over the whole sequence at once.
	Gemm(true, false, 1, d.dgih, d.x, 1, d.wih.GradMat())
	addColumnSums(d.bih.Grad, d.dgih)
	addColumnSums(d.bhh.Grad, dghh)
	last := (steps - 1) * batch
	if d.reverse {
		// h' of step t is h[t+1]; h0 feeds the last time index.
		Gemm(true, false, 1, dghh.RowBlock(0, last), d.h.RowBlock(batch, n), 1, d.whh.GradMat())
		if !d.zeroInit {
			Gemm(true, false, 1, dghh.RowBlock(last, n), d.h0, 1, d.whh.GradMat())
		}
	} else {
		Gemm(true, false, 1, dghh.RowBlock(batch, n), d.h.RowBlock(0, last), 1, d.whh.GradMat())
		if !d.zeroInit {
			Gemm(true, false, 1, dghh.RowBlock(0, batch), d.h0, 1, d.whh.GradMat())
		}
	}
	beta := T(0)
	if accumulate {
		beta = 1
	}
	Gemm(false, false, 1, d.dgih, d.wih.Mat(), beta, dx)
	return d.dh, d.dc
}

// cPrevRow is the LSTM cell state row b entering processing step s.
func (d *direction[T]) cPrevRow(s, steps, batch, b int) []T {
	if s == 0 {
		return d.c0.Row(b)
	}
	tp := d.stepTime(s-1, steps)
	return d.c.Row(tp*batch + b)
}

// maskPadded zeroes the pre-activation gradients of padded sequences at
// time t: a carried state received no input and used no weights.
func (d *direction[T]) maskPadded(t, batch int, dgih, dghh Mat[T]) {
	for b := 0; b < batch; b++ {
		if d.padded(t, b) {
			clear(dgih.Row(b))
			clear(dghh.Row(b))
		}
	}
}

func addInto[T Float](dst, src Mat[T]) {
	s := src.Data[:src.Rows*src.Cols]
	for i, v := range dst.Data[:len(s)] {
		dst.Data[i] = v + s[i]
	}
}
