package nn

import "github.com/seqtask/seqtask/vecmath"

// CellGRU is the cell of torch.nn.GRU, gates in PyTorch's order r, z, n:
//
//	r = σ(W_ir x + b_ir + W_hr h' + b_hr),  z = σ(W_iz x + b_iz + W_hz h' + b_hz),
//	n = tanh(W_in x + b_in + r⊙(W_hn h' + b_hn)),
//	h = (1-z)⊙n + z⊙h'.
const CellGRU Cell = "gru"

func init() { registerCell(CellGRU, 3, gruCell[float32]{}, gruCell[float64]{}) }

// gruCell keeps the hidden projection apart (r scales its n block) and
// W_hn h' + b_hn per step (aux) for the backward pass.
type gruCell[T Float] struct{}

func (gruCell[T]) layout() cellLayout { return cellLayout{gates: 3, aux: 1, separateHidden: true} }

// forward takes the input pre-activations g = [r z n] [B][3H] (overwritten
// by r, z, n) and hh = h'·W_hhᵀ + b_hh [B][3H], and sets h; hh_n is kept in
// aux.
func (gruCell[T]) forward(s cellStep[T]) {
	hid := s.h.Cols
	for b := 0; b < s.h.Rows; b++ {
		gr, hr := s.g.Row(b), s.hh.Row(b)
		rz := gr[:2*hid]
		for j := range rz {
			rz[j] += hr[j]
		}
		sigmoidSlice(rz)
		gruTail(gr, hr, s.hPrev.Row(b), s.aux.Row(b), s.h.Row(b))
	}
}

// gruTail sets hnPre = hh_n, n = tanh(g_n + r⊙hh_n) (in g) and
// h = (1-z)⊙n + z⊙h' from one row's activated r, z, in one vecmath pass for
// float32.
func gruTail[T Float](g, hh, hPrev, hnPre, h []T) {
	if h32, ok := any(h).([]float32); ok {
		vecmath.GRUCell32(h32, any(hnPre).([]float32), any(g).([]float32), any(hh).([]float32), any(hPrev).([]float32))
		return
	}
	hid := len(h)
	r, z, n := g[:hid], g[hid:2*hid], g[2*hid:]
	copy(hnPre, hh[2*hid:])
	for j := range n {
		n[j] += r[j] * hnPre[j]
	}
	tanhSlice(n, n)
	for j := range h {
		h[j] = (1-z[j])*n[j] + z[j]*hPrev[j]
	}
}

// backward turns dh into the input-side pre-activation gradient dgih, the
// hidden-side one dghh (they differ in the n block, where the hidden part
// is scaled by r), and the direct part of dh' (dh ⊙ z).
func (gruCell[T]) backward(s cellStep[T], d cellGrad[T]) {
	hid := d.dh.Cols
	for b := 0; b < d.dh.Rows; b++ {
		gr, np, hp, dhr := s.g.Row(b), s.aux.Row(b), s.hPrev.Row(b), d.dh.Row(b)
		di, dhh, dp := d.dgih.Row(b), d.dghh.Row(b), d.dhPrev.Row(b)
		if di32, ok := any(di).([]float32); ok {
			vecmath.GRUCellGrad32(di32, any(dhh).([]float32), any(dp).([]float32), any(gr).([]float32),
				any(np).([]float32), any(hp).([]float32), any(dhr).([]float32))
			continue
		}
		for j := 0; j < hid; j++ {
			r, z, nv := gr[j], gr[hid+j], gr[2*hid+j]
			dv := dhr[j]
			dn := dv * (1 - z) * (1 - nv*nv)
			dz := dv * (hp[j] - nv) * z * (1 - z)
			dr := dn * np[j] * r * (1 - r)
			di[j], di[hid+j], di[2*hid+j] = dr, dz, dn
			dhh[j], dhh[hid+j], dhh[2*hid+j] = dr, dz, dn*r
			dp[j] = dv * z
		}
	}
}
