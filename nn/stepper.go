package nn

import "fmt"

// Stepper runs a unidirectional Recurrent stack one step at a time at
// batch 1, for inference (sampling, greedy decoding): it keeps no caches for
// a backward pass and allocates nothing per step.
//
// A token stepper (NewTokenStepper) feeds the first layer the embedding row
// of a token. The first layer's input projection is then a pure function of
// the token, so the stepper computes it for every token once, at
// construction — table[v] = W_ih·E[v] + b_ih (+ b_hh for RNN and LSTM,
// whose formulas add the two biases; GRU keeps b_hn inside r⊙(·)) — and a
// step costs only the W_hh products. Results equal Forward's up to float32
// rounding (the sums are grouped differently).
//
// The stepper copies what it precomputes (the table and the summed biases),
// so a stepper built before the weights change keeps the old values: call
// Reload after each update.
type Stepper[T Float] struct {
	r      *Recurrent[T]
	emb    Mat[T]   // [V][D] the token stepper's embedding table
	table  Mat[T]   // [V][G*H] first-layer pre-activations per token (token steppers)
	bias   [][]T    // per layer, the bias added before the input product (G*H)
	h, c   []Mat[T] // per layer [1][H]: the current states
	hn, cn []Mat[T] // per layer [1][H]: where the next states are written
	gates  Mat[T]   // [1][G*H]
	hh     Mat[T]   // GRU [1][3H]: W_hh h' + b_hh
	tc     Mat[T]   // LSTM [1][H]: tanh(c)
	hnPre  Mat[T]   // GRU [1][H]
}

// NewStepper returns a stepper whose first layer is fed vectors (Step).
func (r *Recurrent[T]) NewStepper() *Stepper[T] {
	cfg := r.Config
	if cfg.Bidirectional {
		panic("nn: Recurrent.NewStepper: a bidirectional stack cannot run step by step")
	}
	hid, gh := cfg.Hidden, cfg.Cell.Gates()*cfg.Hidden
	s := &Stepper[T]{r: r}
	for range r.dirs {
		s.bias = append(s.bias, make([]T, gh))
		s.h = append(s.h, NewMat[T](1, hid))
		s.hn = append(s.hn, NewMat[T](1, hid))
		if cfg.Cell == CellLSTM {
			s.c = append(s.c, NewMat[T](1, hid))
			s.cn = append(s.cn, NewMat[T](1, hid))
		}
	}
	s.gates = NewMat[T](1, gh)
	switch cfg.Cell {
	case CellLSTM:
		s.tc = NewMat[T](1, hid)
	case CellGRU:
		s.hh = NewMat[T](1, gh)
		s.hnPre = NewMat[T](1, hid)
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

// Reload recomputes what the stepper precomputed (the summed biases and, for
// a token stepper, the table from the embedding it was given) from the
// current weights, reusing its storage. The states are kept.
func (s *Stepper[T]) Reload() {
	for l, d := range s.r.dirs {
		b := s.bias[l]
		copy(b, d.bih.Value)
		if d.cell != CellGRU {
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

// Reset sets the states as Forward's h0 and c0 ([layers][H], c0 for LSTM
// only); an empty matrix means zeros.
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

// State copies the current states into hn and cn ([layers][H], cn for
// LSTM only; either may be empty to skip it).
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
	Gemm(false, true, 1, x, s.r.dirs[l].wih.Mat(), 1, s.gates)
}

// run finishes the step whose first-layer input pre-activations are in
// s.gates, layer by layer.
func (s *Stepper[T]) run() Mat[T] {
	for l, d := range s.r.dirs {
		if l > 0 {
			s.project(l, s.h[l-1])
		}
		hPrev, h := s.h[l], s.hn[l]
		switch d.cell {
		case CellRNN:
			s.hidden(hPrev, d.whh.Mat(), s.gates)
			rnnForward(s.gates, h)
		case CellLSTM:
			s.hidden(hPrev, d.whh.Mat(), s.gates)
			lstmForward(s.gates, s.c[l], s.cn[l], s.tc, h)
			s.c[l], s.cn[l] = s.cn[l], s.c[l]
		case CellGRU:
			copy(s.hh.Data, d.bhh.Value)
			s.hidden(hPrev, d.whh.Mat(), s.hh)
			gruForward(s.gates, s.hh, hPrev, s.hnPre, h)
		}
		s.h[l], s.hn[l] = h, hPrev
	}
	return s.h[len(s.h)-1]
}

// hidden adds h'·W_hhᵀ to dst [1][G*H].
func (s *Stepper[T]) hidden(hPrev, whh, dst Mat[T]) {
	Gemm(false, true, 1, hPrev, whh, 1, dst)
}
