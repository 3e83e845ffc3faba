package nn

// CellRNN is the Elman cell of torch.nn.RNN (tanh):
//
//	h = tanh(W_ih x + b_ih + W_hh h' + b_hh).
const CellRNN Cell = "rnn"

func init() { registerCell(CellRNN, 1, rnnCell[float32]{}, rnnCell[float64]{}) }

// rnnCell is one gate with the two projections summed: h = tanh(g).
type rnnCell[T Float] struct{}

func (rnnCell[T]) layout() cellLayout { return cellLayout{gates: 1} }

// forward sets g = tanh(g) and copies it into h.
func (rnnCell[T]) forward(s cellStep[T]) {
	n := s.g.Rows * s.g.Cols
	tanhSlice(s.g.Data[:n], s.g.Data[:n])
	copy(s.h.Data[:n], s.g.Data[:n])
}

// backward sets dg = dh ⊙ (1 - h²).
func (rnnCell[T]) backward(s cellStep[T], d cellGrad[T]) {
	for i, v := range s.h.Data[:s.h.Rows*s.h.Cols] {
		d.dgih.Data[i] = d.dh.Data[i] * (1 - v*v)
	}
}
