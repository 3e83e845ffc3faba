package nn

import "fmt"

// Stepper runs a unidirectional Recurrent stack one step at a time at
// batch 1, for inference (sampling, greedy decoding): it keeps no caches for
// a backward pass, and in UsePacked and UseBF16 modes allocates nothing
// per step where the products run beside the choice (StepTokenChosen).
//
// A token stepper (NewTokenStepper) feeds the first layer the embedding row
// of a token. The first layer's input projection is then a pure function of
// the token, so the stepper computes it for every token once, at
// construction — table[v] = W_ih·E[v] + b_ih (+ b_hh for the cells whose
// formulas add the two biases, RNN and LSTM; GRU keeps b_hn inside r⊙(·))
// — and a step costs only the W_hh products. Results equal Forward's up to float32
// rounding (the sums are grouped differently).
//
// The stepper copies what it precomputes (the table and the summed biases),
// so a stepper built before the weights change keeps the old values: call
// Reload after each update.
type Stepper[T Float] struct {
	WeightProducts[T] // UseBF16: the per-step products in bfloat16, weights rounded at Reload
	r                 *Recurrent[T]
	lay               cellLayout
	emb               Mat[T]   // [V][D] the token stepper's embedding table
	table             Mat[T]   // [V][G*H] first-layer pre-activations per token (token steppers)
	bias              [][]T    // per layer, the bias added before the input product (G*H)
	h, c              []Mat[T] // per layer [1][H]: the current states (c: cells with a cell state)
	hn, cn            []Mat[T] // per layer [1][H]: where the next states are written
	gates             Mat[T]   // [1][G*H]
	hh                Mat[T]   // separateHidden [1][G*H]: W_hh h' + b_hh
	ahead             Mat[T]   // [1][G*H] StepTokenChosen's W_hh h' of the first layer, for cells that add it to the gates
	// StepTokenChosen's call of choose, made once so that a step does not
	// allocate: it sets chosen to choose's pick from the top output.
	side   func()
	choose func(top Mat[T]) int
	chosen int
	aux    Mat[T] // [1][aux*H]: the cell's per-step values, unused here
}

// NewStepper returns a stepper whose first layer is fed vectors (Step).
func (r *Recurrent[T]) NewStepper() *Stepper[T] {
	cfg := r.Config
	if cfg.Bidirectional {
		panic("nn: Recurrent.NewStepper: a bidirectional stack cannot run step by step")
	}
	lay := r.dirs[0].cell.layout()
	hid, gh := cfg.Hidden, lay.gates*cfg.Hidden
	s := &Stepper[T]{r: r, lay: lay}
	for range r.dirs {
		s.bias = append(s.bias, make([]T, gh))
		s.h = append(s.h, NewMat[T](1, hid))
		s.hn = append(s.hn, NewMat[T](1, hid))
		if lay.cellState {
			s.c = append(s.c, NewMat[T](1, hid))
			s.cn = append(s.cn, NewMat[T](1, hid))
		}
	}
	s.gates = NewMat[T](1, gh)
	s.aux = NewMat[T](1, lay.aux*hid)
	if lay.separateHidden {
		s.hh = NewMat[T](1, gh)
	}
	s.Reload()
	return s
}

// NewTokenStepper returns a stepper whose first layer is fed the rows of
// emb [V][D] (an embedding table) by token id (StepToken).
func (r *Recurrent[T]) NewTokenStepper(emb Mat[T]) *Stepper[T] {
	if emb.Cols != r.Config.Input {
		panic(fmt.Sprintf("nn: Recurrent.NewTokenStepper: embedding width %d, want input %d", emb.Cols, r.Config.Input))
	}
	s := r.NewStepper()
	s.emb = emb
	s.table = NewMat[T](emb.Rows, s.gates.Cols)
	s.Reload()
	return s
}

// Reload recomputes what the stepper precomputed (the summed biases, for a
// token stepper the table from the embedding it was given, and in bfloat16
// mode the rounded weights, which for a model that only predicts are its
// parameters' own copies, made once) from the current weights, reusing its
// storage. The states are kept.
func (s *Stepper[T]) Reload() {
	s.forget()
	for l, d := range s.r.dirs {
		b := s.bias[l]
		copy(b, d.bih.Value)
		if !s.lay.separateHidden {
			for j, v := range d.bhh.Value {
				b[j] += v
			}
		}
	}
	if !s.table.Empty() {
		Gemm(false, true, 1, s.emb, s.r.dirs[0].wih.Mat(), 0, s.table)
		addRowVector(s.table, s.bias[0])
	}
}

// Reset sets the states as Forward's h0 and c0 ([layers][H], c0 for a cell
// with a cell state only); an empty matrix means zeros.
func (s *Stepper[T]) Reset(h0, c0 Mat[T]) {
	for l := range s.h {
		if h0.Empty() {
			s.h[l].Zero()
		} else {
			copy(s.h[l].Data, h0.Row(l))
		}
		if s.c != nil {
			if c0.Empty() {
				s.c[l].Zero()
			} else {
				copy(s.c[l].Data, c0.Row(l))
			}
		}
	}
}

// State copies the current states into hn and cn ([layers][H], cn for a
// cell with a cell state only; either may be empty to skip it).
func (s *Stepper[T]) State(hn, cn Mat[T]) {
	for l := range s.h {
		if !hn.Empty() {
			copy(hn.Row(l), s.h[l].Data)
		}
		if s.c != nil && !cn.Empty() {
			copy(cn.Row(l), s.c[l].Data)
		}
	}
}

// StepToken advances the stack by one step with token id as input (token
// steppers only) and returns the top layer's output [1][H], valid until the
// next step.
func (s *Stepper[T]) StepToken(id int) Mat[T] {
	if s.table.Empty() {
		panic("nn: Stepper.StepToken: not a token stepper")
	}
	if id < 0 || id >= s.table.Rows {
		panic(fmt.Sprintf("nn: Stepper.StepToken: token %d outside the table of %d", id, s.table.Rows))
	}
	copy(s.gates.Data, s.table.Row(id))
	return s.run()
}

// StepTokenChosen advances the stack by one step (token steppers only) with
// the token choose picks from the top layer's current output, as a sampler
// or a greedy search does, and returns that token and the new output,
// valid until the next step. The first layer's recurrent product does not
// depend on the token: in UsePacked and UseBF16 modes, where it is large
// enough to be halved between two cores, the other core computes most of
// it while choose runs (fastblas.SgemvPackedBeside, SgemvBF16Beside). The
// results are those of choose followed by StepToken, bit for bit.
func (s *Stepper[T]) StepTokenChosen(choose func(top Mat[T]) int) (int, Mat[T]) {
	if s.table.Empty() {
		panic("nn: Stepper.StepTokenChosen: not a token stepper")
	}
	if s.side == nil {
		s.side = func() { s.chosen = s.choose(s.h[len(s.h)-1]) }
	}
	s.choose = choose
	defer func() { s.choose = nil }()
	d := s.r.dirs[0]
	var ran bool
	if s.lay.separateHidden {
		copy(s.hh.Data, d.bhh.Value)
		ran = s.gemmWeightBeside(s.side, s.h[0], d.whh, 1, s.hh)
	} else {
		if s.ahead.Empty() {
			s.ahead = NewMat[T](1, s.gates.Cols)
		}
		// W_hh h' on its own, added to the token's row below: the panel
		// kernel's beta = 1 adds the same two values.
		ran = s.gemmWeightBeside(s.side, s.h[0], d.whh, 0, s.ahead)
	}
	if !ran {
		s.side()
		return s.chosen, s.StepToken(s.chosen)
	}
	id := s.chosen
	if id < 0 || id >= s.table.Rows {
		panic(fmt.Sprintf("nn: Stepper.StepTokenChosen: token %d outside the table of %d", id, s.table.Rows))
	}
	copy(s.gates.Data, s.table.Row(id))
	if !s.lay.separateHidden {
		addSlice(s.gates.Data, s.ahead.Data)
	}
	return id, s.runFrom(true)
}

// Step advances the stack by one step with input x [1][D] and returns the
// top layer's output [1][H], valid until the next step.
func (s *Stepper[T]) Step(x Mat[T]) Mat[T] {
	if x.Rows != 1 || x.Cols != s.r.Config.Input {
		panic(fmt.Sprintf("nn: Stepper.Step: x is %dx%d, want 1x%d", x.Rows, x.Cols, s.r.Config.Input))
	}
	s.project(0, x)
	return s.run()
}

// project sets the gates to layer l's bias plus its input product.
func (s *Stepper[T]) project(l int, x Mat[T]) {
	copy(s.gates.Data, s.bias[l])
	s.gemmWeight(x, s.r.dirs[l].wih, 1, s.gates)
}

// run finishes the step whose first-layer input pre-activations are in
// s.gates, layer by layer.
func (s *Stepper[T]) run() Mat[T] { return s.runFrom(false) }

// runFrom is run; with firstDone the first layer's recurrent product is
// already in s.gates or s.hh (StepTokenChosen).
func (s *Stepper[T]) runFrom(firstDone bool) Mat[T] {
	for l, d := range s.r.dirs {
		if l > 0 {
			s.project(l, s.h[l-1])
		}
		st := cellStep[T]{g: s.gates, hPrev: s.h[l], h: s.hn[l], aux: s.aux}
		if s.lay.cellState {
			st.cPrev, st.c = s.c[l], s.cn[l]
		}
		recurrentDone := firstDone && l == 0
		if s.lay.separateHidden {
			if !recurrentDone {
				copy(s.hh.Data, d.bhh.Value)
				s.gemmWeight(st.hPrev, d.whh, 1, s.hh)
			}
			st.hh = s.hh
		} else if !recurrentDone {
			s.gemmWeight(st.hPrev, d.whh, 1, s.gates)
		}
		d.cell.forward(st)
		if s.lay.cellState {
			s.c[l], s.cn[l] = s.cn[l], s.c[l]
		}
		s.h[l], s.hn[l] = s.hn[l], s.h[l]
	}
	return s.h[len(s.h)-1]
}
