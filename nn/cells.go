package nn

import "github.com/seqtask/seqtask/vecmath"

// The element-wise halves of one recurrent step, fused: each reads its
// pre-activations once and writes activations (or gradients) in one pass,
// with no allocation. Rows are the B sequences of the step; H = len(h row).

// rnnForward: h = tanh(pre), with pre [B][H] the summed projections.
func rnnForward[T Float](pre, h Mat[T]) {
	n := pre.Rows * pre.Cols
	tanhSlice(pre.Data[:n], pre.Data[:n])
	copy(h.Data[:n], pre.Data[:n])
}

// rnnBackward: dpre = dh ⊙ (1 - h²).
func rnnBackward[T Float](h, dh, dpre Mat[T]) {
	for i, v := range h.Data[:h.Rows*h.Cols] {
		dpre.Data[i] = dh.Data[i] * (1 - v*v)
	}
}

// lstmForward: with pre-activations g = [i f g o] [B][4H] (overwritten by
// their activations),
//
//	c = σ(f)⊙c' + σ(i)⊙tanh(g),  h = σ(o)⊙tanh(c).
func lstmForward[T Float](g, cPrev, c, tc, h Mat[T]) {
	hid := h.Cols
	for b := 0; b < h.Rows; b++ {
		gr := g.Row(b)
		sigmoidSlice(gr[:2*hid])
		tanhSlice(gr[2*hid:3*hid], gr[2*hid:3*hid])
		sigmoidSlice(gr[3*hid:])
		lstmTail(gr, cPrev.Row(b), c.Row(b), tc.Row(b), h.Row(b))
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

// lstmBackward turns dh and dc (the gradients reaching h and c of this step)
// into the pre-activation gradient dpre [B][4H] and dcPrev = dc_total ⊙ f.
func lstmBackward[T Float](g, cPrev, tc, dh, dc, dpre, dcPrev Mat[T]) {
	hid := dh.Cols
	for b := 0; b < dh.Rows; b++ {
		gr, dr := g.Row(b), dpre.Row(b)
		cp, tr, dhr, dcr, dcp := cPrev.Row(b), tc.Row(b), dh.Row(b), dc.Row(b), dcPrev.Row(b)
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

// gruForward: with input pre-activations g = [r z n] [B][3H] (overwritten by
// r, z, n) and hh = h'·W_hhᵀ + b_hh [B][3H],
//
//	r = σ(g_r + hh_r), z = σ(g_z + hh_z), n = tanh(g_n + r⊙hh_n),
//	h = (1-z)⊙n + z⊙h'.
//
// hh_n is kept in hnPre for the backward pass.
func gruForward[T Float](g, hh, hPrev, hnPre, h Mat[T]) {
	hid := h.Cols
	for b := 0; b < h.Rows; b++ {
		gr, hr := g.Row(b), hh.Row(b)
		hp, np, out := hPrev.Row(b), hnPre.Row(b), h.Row(b)
		rz := gr[:2*hid]
		for j := range rz {
			rz[j] += hr[j]
		}
		sigmoidSlice(rz)
		gruTail(gr, hr, hp, np, out)
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

// gruBackward turns dh into the input-side pre-activation gradient dgih, the
// hidden-side one dghh (they differ in the n block, where the hidden part is
// scaled by r), and the direct part of dh' (dh ⊙ z); the caller adds
// dghh·W_hh to dhPrev.
func gruBackward[T Float](g, hnPre, hPrev, dh, dgih, dghh, dhPrev Mat[T]) {
	hid := dh.Cols
	for b := 0; b < dh.Rows; b++ {
		gr, np, hp, dhr := g.Row(b), hnPre.Row(b), hPrev.Row(b), dh.Row(b)
		di, dhh, dp := dgih.Row(b), dghh.Row(b), dhPrev.Row(b)
		for j := 0; j < hid; j++ {
			r, z, nv := gr[j], gr[hid+j], gr[2*hid+j]
			d := dhr[j]
			dn := d * (1 - z) * (1 - nv*nv)
			dz := d * (hp[j] - nv) * z * (1 - z)
			dr := dn * np[j] * r * (1 - r)
			di[j], di[hid+j], di[2*hid+j] = dr, dz, dn
			dhh[j], dhh[hid+j], dhh[2*hid+j] = dr, dz, dn*r
			dp[j] = d * z
		}
	}
}
