package nn

import "github.com/seqtask/seqtask/vecmath"

// CellLSTM is the cell of torch.nn.LSTM, gates in PyTorch's order i, f, g, o:
//
//	i = σ(W_ii x + b_ii + W_hi h' + b_hi)   f = σ(… f …)   o = σ(… o …)
//	g = tanh(W_ig x + b_ig + W_hg h' + b_hg)
//	c = f⊙c' + i⊙g,  h = o⊙tanh(c).
const CellLSTM Cell = "lstm"

func init() { registerCell(CellLSTM, 2, lstmCell[float32]{}, lstmCell[float64]{}) }

// lstmCell keeps tanh(c) per step (aux) for the backward pass.
type lstmCell[T Float] struct{}

func (lstmCell[T]) layout() cellLayout { return cellLayout{gates: 4, cellState: true, aux: 1} }

// forward activates the gates g = [i f g o] [B][4H] in place and sets c,
// tanh(c) (aux) and h, one row at a time.
func (lstmCell[T]) forward(s cellStep[T]) {
	hid := s.h.Cols
	for b := 0; b < s.h.Rows; b++ {
		gr := s.g.Row(b)
		sigmoidSlice(gr[:2*hid])
		tanhSlice(gr[2*hid:3*hid], gr[2*hid:3*hid])
		sigmoidSlice(gr[3*hid:])
		lstmTail(gr, s.cPrev.Row(b), s.c.Row(b), s.aux.Row(b), s.h.Row(b))
	}
}

// lstmTail sets c = f⊙c' + i⊙g, tc = tanh(c) and h = o⊙tc from the
// activated gates g = [i f g o] of one row, in one vecmath pass for float32.
func lstmTail[T Float](g, cPrev, c, tc, h []T) {
	if c32, ok := any(c).([]float32); ok {
		vecmath.LSTMCell32(c32, any(tc).([]float32), any(h).([]float32), any(g).([]float32), any(cPrev).([]float32))
		return
	}
	hid := len(c)
	ig, fg, gg, og := g[:hid], g[hid:2*hid], g[2*hid:3*hid], g[3*hid:]
	for j := range c {
		c[j] = fg[j]*cPrev[j] + ig[j]*gg[j]
	}
	tanhSlice(tc, c)
	for j := range h {
		h[j] = og[j] * tc[j]
	}
}

// backward turns dh and dc (the gradients reaching h and c of this step)
// into the pre-activation gradient dgih [B][4H] and dc' = dc_total ⊙ f.
func (lstmCell[T]) backward(s cellStep[T], d cellGrad[T]) {
	hid := d.dh.Cols
	for b := 0; b < d.dh.Rows; b++ {
		gr, dr := s.g.Row(b), d.dgih.Row(b)
		cp, tr, dhr, dcr, dcp := s.cPrev.Row(b), s.aux.Row(b), d.dh.Row(b), d.dc.Row(b), d.dcPrev.Row(b)
		if dr32, ok := any(dr).([]float32); ok {
			vecmath.LSTMCellGrad32(dr32, any(dcp).([]float32), any(gr).([]float32), any(tr).([]float32),
				any(cp).([]float32), any(dhr).([]float32), any(dcr).([]float32))
			continue
		}
		for j := 0; j < hid; j++ {
			i, f, gv, o := gr[j], gr[hid+j], gr[2*hid+j], gr[3*hid+j]
			t := tr[j]
			dct := dcr[j] + dhr[j]*o*(1-t*t)
			dr[j] = dct * gv * i * (1 - i)
			dr[hid+j] = dct * cp[j] * f * (1 - f)
			dr[2*hid+j] = dct * i * (1 - gv*gv)
			dr[3*hid+j] = dhr[j] * t * o * (1 - o)
			dcp[j] = dct * f
		}
	}
}
