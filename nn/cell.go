package nn

import (
	"fmt"
	"slices"
)

// Cell names a recurrent cell as configs spell it. Each cell lives in its
// own file (cell_rnn.go, cell_lstm.go, cell_gru.go): its equations, its
// element-wise step tails forward and backward, and an init function that
// registers it. Recurrent, its Stepper and everything above them look a
// cell up by name and never switch on it, so a new cell is one file (plus
// its gradient check and PyTorch fixture).
type Cell string

// Cells lists the registered cells, in the order configs and error
// messages name them.
var Cells []Cell

// cellKind is one cell's arithmetic at one element type. The shared
// recurrent code does everything else: the input projection of all steps
// in one GEMM, each step's h'·W_hhᵀ, padding, the weight gradients over
// the whole sequence, stacking and directions.
type cellKind[T Float] interface {
	// layout says which buffers the shared code keeps for the cell.
	layout() cellLayout
	// forward finishes one step from its pre-activations: see cellStep.
	forward(s cellStep[T])
	// backward turns the gradients reaching one step's states into the
	// gradients of its pre-activations and of the states it started from:
	// see cellGrad.
	backward(s cellStep[T], d cellGrad[T])
}

// cellLayout describes a cell to the shared recurrent code.
type cellLayout struct {
	// gates is G: the H-wide blocks of W_ih, W_hh and the biases, in
	// PyTorch's order.
	gates int
	// cellState: a cell state c travels with h (LSTM); Recurrent takes c0
	// and returns cn for such cells only.
	cellState bool
	// aux is the number of H-wide values per step and sequence that the
	// backward pass needs besides the activated gates, h and c.
	aux int
	// separateHidden keeps h'·W_hhᵀ + b_hh apart from the input
	// projection (GRU, whose candidate reads r⊙(W_hn h' + b_hn)) instead
	// of adding it to the gates, with b_hh folded into the input bias.
	separateHidden bool
}

// cellStep is one step of one direction over B sequences: [B]-row blocks
// of the direction's buffers.
type cellStep[T Float] struct {
	// g holds the pre-activations on entry — x·W_ihᵀ + b_ih, plus
	// h'·W_hhᵀ + b_hh unless separateHidden — and the activated gates
	// on return [B][G*H].
	g Mat[T]
	// hh is h'·W_hhᵀ + b_hh [B][G*H] (separateHidden only; forward may
	// overwrite it).
	hh           Mat[T]
	hPrev, cPrev Mat[T] // [B][H] the states entering the step (cPrev: cellState only)
	h, c         Mat[T] // [B][H] the states leaving it, written by forward (c: cellState only)
	aux          Mat[T] // [B][aux*H] written by forward, read by backward
}

// cellGrad is the gradient side of one step.
type cellGrad[T Float] struct {
	dh, dc Mat[T] // [B][H] the gradients reaching h and c of the step (dc: cellState only)
	dgih   Mat[T] // [B][G*H] written: gradient of the input-side pre-activations
	// dghh and dhPrev (separateHidden only) are written: the gradient of
	// the hidden-side pre-activations and the part of dh' that does not
	// flow through W_hh, to which the caller adds dghh·W_hh. Without
	// separateHidden the hidden side's gradient is dgih and dh' is
	// dgih·W_hh alone.
	dghh, dhPrev Mat[T]
	dcPrev       Mat[T] // [B][H] written (cellState only): the gradient of c'
}

// cellEntry is a registered cell at both element types.
type cellEntry struct {
	order int
	f32   cellKind[float32]
	f64   cellKind[float64]
}

var cellRegistry = map[Cell]cellEntry{}

// registerCell adds a cell under name. order places it in Cells (rnn,
// lstm, gru: the order the cells were introduced in). A duplicate name or
// order is a programming error and panics.
func registerCell(name Cell, order int, f32 cellKind[float32], f64 cellKind[float64]) {
	for n, e := range cellRegistry {
		if n == name || e.order == order {
			panic(fmt.Sprintf("nn: cell %q registered twice (or at the order of %q)", name, n))
		}
	}
	cellRegistry[name] = cellEntry{order: order, f32: f32, f64: f64}
	Cells = append(Cells, name)
	slices.SortFunc(Cells, func(a, b Cell) int { return cellRegistry[a].order - cellRegistry[b].order })
}

// cellFor returns the registered cell name at element type T; the name
// must be valid.
func cellFor[T Float](name Cell) cellKind[T] {
	e := cellRegistry[name]
	if k, ok := any(e.f32).(cellKind[T]); ok {
		return k
	}
	return any(e.f64).(cellKind[T])
}

func (c Cell) valid() bool {
	_, ok := cellRegistry[c]
	return ok
}

// HasCellState reports whether the cell carries a cell state c besides h
// (LSTM), so that Recurrent takes c0 and returns cn.
func (c Cell) HasCellState() bool {
	return c.valid() && cellRegistry[c].f64.layout().cellState
}
