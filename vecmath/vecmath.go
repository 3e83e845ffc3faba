package vecmath

import "math"

// Exp32 sets dst[i] = e^src[i] for i < len(src). dst must be at least as
// long as src and may be the same slice (but not a shifted overlap).
func Exp32(dst, src []float32) {
	dst = fit(dst, src)
	if len(src) == 0 {
		return
	}
	exp32Slice(dst, src)
}

// Sigmoid32 sets dst[i] = 1/(1+e^-src[i]); dst may be the same slice as
// src.
func Sigmoid32(dst, src []float32) {
	dst = fit(dst, src)
	if len(src) == 0 {
		return
	}
	sigmoid32Slice(dst, src)
}

// Tanh32 sets dst[i] = tanh(src[i]); dst may be the same slice as src.
func Tanh32(dst, src []float32) {
	dst = fit(dst, src)
	if len(src) == 0 {
		return
	}
	tanh32Slice(dst, src)
}

// SumExpShifted32 sets dst[i] = e^(src[i]-shift) and returns the sum of
// those values accumulated in float64 (the numerator and denominator of a
// softmax shifted by its maximum) in a single pass. dst may be nil, in
// which case only the sum is computed, or the same slice as src.
func SumExpShifted32(dst, src []float32, shift float32) float64 {
	if dst != nil {
		dst = fit(dst, src)
	}
	if len(src) == 0 {
		return 0
	}
	return sumExpShifted32Slice(dst, src, shift)
}

// LSTMCell32 finishes an LSTM step in one pass. gates holds the activated
// gates i, f, g, o in four consecutive blocks of n = len(c); with cPrev the
// previous cell state it sets
//
//	c = f⊙cPrev + i⊙g,  tc = tanh(c),  h = o⊙tc,
//
// each product rounded before the sum (as Go's scalar code) and tanh as
// Tanh32 computes it. c may be the same slice as cPrev; tc, h and cPrev
// must be at least n long and gates 4n.
func LSTMCell32(c, tc, h, gates, cPrev []float32) {
	n := len(c)
	if len(tc) < n || len(h) < n || len(cPrev) < n || len(gates) < 4*n {
		panic("vecmath: LSTMCell32: slice shorter than the cell state")
	}
	if n == 0 {
		return
	}
	lstmCell32Slice(c, tc[:n], h[:n], gates[:4*n], cPrev[:n])
}

func lstmCell32Go(c, tc, h, gates, cPrev []float32) {
	n := len(c)
	ig, fg, gg, og := gates[:n], gates[n:2*n], gates[2*n:3*n], gates[3*n:4*n]
	tc, h, cPrev = tc[:n], h[:n], cPrev[:n]
	for j := range c {
		// Each product rounded (the conversion forbids a fused
		// multiply-add, which GOAMD64=v3 allows), as the kernel rounds it.
		c[j] = float32(fg[j]*cPrev[j]) + float32(ig[j]*gg[j])
	}
	tanh32Go(tc, c)
	for j := range h {
		h[j] = og[j] * tc[j]
	}
}

// GRUCell32 finishes a GRU step in one pass. gates holds the activated
// gates r and z and the input pre-activation of n in three consecutive
// blocks of n = len(h); hh = [hh_r hh_z hh_n] is W_hh·h' + b_hh. It sets
//
//	hnPre = hh_n,  gates_n = tanh(gates_n + r⊙hh_n),  h = (1-z)⊙gates_n + z⊙hPrev,
//
// each product rounded before its sum (as Go's scalar code) and tanh as
// Tanh32 computes it. h may be the same slice as hPrev; hnPre and hPrev
// must be at least n long, gates and hh 3n.
func GRUCell32(h, hnPre, gates, hh, hPrev []float32) {
	n := len(h)
	if len(hnPre) < n || len(hPrev) < n || len(gates) < 3*n || len(hh) < 3*n {
		panic("vecmath: GRUCell32: slice shorter than the state")
	}
	if n == 0 {
		return
	}
	gruCell32Slice(h, hnPre[:n], gates[:3*n], hh[:3*n], hPrev[:n])
}

func gruCell32Go(h, hnPre, gates, hh, hPrev []float32) {
	n := len(h)
	r, z, g := gates[:n], gates[n:2*n], gates[2*n:3*n]
	hnPre, hPrev = hnPre[:n], hPrev[:n]
	copy(hnPre, hh[2*n:3*n])
	for j := range g {
		g[j] += float32(r[j] * hnPre[j]) // rounded, as the kernel: no fused multiply-add
	}
	tanh32Go(g, g)
	for j := range h {
		h[j] = float32((1-z[j])*g[j]) + float32(z[j]*hPrev[j])
	}
}

// LSTMCellGrad32 is the backward pass of LSTMCell32 for one row. From the
// activated gates i, f, g, o (four blocks of n = len(dh)), tc = tanh(c),
// the previous cell state cPrev and the gradients dh and dc reaching h and
// c, with dct = dc + dh⊙o⊙(1−tc²) the cell's whole gradient, it sets
//
//	dg = [dct⊙g⊙i⊙(1−i), dct⊙cPrev⊙f⊙(1−f), dct⊙i⊙(1−g²), dh⊙tc⊙o⊙(1−o)],  dcPrev = dct⊙f,
//
// the gradients of the gates' pre-activations and of cPrev, each product
// rounded from left to right as Go's scalar code rounds it. dcPrev may be
// the same slice as dc; dg and gates must be at least 4n long, the others n.
func LSTMCellGrad32(dg, dcPrev, gates, tc, cPrev, dh, dc []float32) {
	n := len(dh)
	if len(dg) < 4*n || len(gates) < 4*n || len(dcPrev) < n || len(tc) < n || len(cPrev) < n || len(dc) < n {
		panic("vecmath: LSTMCellGrad32: slice shorter than the state")
	}
	if n == 0 {
		return
	}
	lstmCellGrad32Slice(dg[:4*n], dcPrev[:n], gates[:4*n], tc[:n], cPrev[:n], dh, dc[:n])
}

// lstmCellGrad32Go computes the elements from j = from on.
func lstmCellGrad32Go(dg, dcPrev, gates, tc, cPrev, dh, dc []float32, from int) {
	n := len(dh)
	for j := from; j < n; j++ {
		i, f, g, o := gates[j], gates[n+j], gates[2*n+j], gates[3*n+j]
		t := tc[j]
		// Products rounded before each sum, as the kernel rounds them.
		dct := dc[j] + float32(dh[j]*o*(1-float32(t*t)))
		dg[j] = dct * g * i * (1 - i)
		dg[n+j] = dct * cPrev[j] * f * (1 - f)
		dg[2*n+j] = dct * i * (1 - float32(g*g))
		dg[3*n+j] = dh[j] * t * o * (1 - o)
		dcPrev[j] = dct * f
	}
}

// GRUCellGrad32 is the backward pass of GRUCell32 for one row. From the
// activated gates r, z, n (three blocks of m = len(dh)), hnPre (the hidden
// side of the candidate, W_hn·h' + b_hn), the previous state hPrev and the
// gradient dh reaching h, with
//
//	dn = dh⊙(1−z)⊙(1−n²),  dz = dh⊙(hPrev−n)⊙z⊙(1−z),  dr = dn⊙hnPre⊙r⊙(1−r),
//
// it sets the input side's gradient di = [dr, dz, dn], the hidden side's
// dhh = [dr, dz, dn⊙r] and the part of hPrev's that does not flow through
// W_hh, dhPrev = dh⊙z, each product rounded from left to right as Go's
// scalar code rounds it. di, dhh and gates must be at least 3m long, the
// others m.
func GRUCellGrad32(di, dhh, dhPrev, gates, hnPre, hPrev, dh []float32) {
	m := len(dh)
	if len(di) < 3*m || len(dhh) < 3*m || len(gates) < 3*m || len(dhPrev) < m || len(hnPre) < m || len(hPrev) < m {
		panic("vecmath: GRUCellGrad32: slice shorter than the state")
	}
	if m == 0 {
		return
	}
	gruCellGrad32Slice(di[:3*m], dhh[:3*m], dhPrev[:m], gates[:3*m], hnPre[:m], hPrev[:m], dh)
}

// gruCellGrad32Go computes the elements from j = from on.
func gruCellGrad32Go(di, dhh, dhPrev, gates, hnPre, hPrev, dh []float32, from int) {
	m := len(dh)
	for j := from; j < m; j++ {
		dv := dh[j]
		r, z, nv := gates[j], gates[m+j], gates[2*m+j]
		dn := dv * (1 - z) * (1 - float32(nv*nv)) // rounded before the difference, as the kernel
		dz := dv * (hPrev[j] - nv) * z * (1 - z)
		dr := dn * hnPre[j] * r * (1 - r)
		di[j], di[m+j], di[2*m+j] = dr, dz, dn
		dhh[j], dhh[m+j], dhh[2*m+j] = dr, dz, dn*r
		dhPrev[j] = dv * z
	}
}

// kernel names an implementation of the slice functions.
type kernel int

const (
	kernelGo     kernel = iota // pure-Go loops: every architecture, and the purego build
	kernelAVX2                 // amd64 with AVX2 and FMA
	kernelAVX512               // amd64 with AVX-512F
)

func (k kernel) String() string {
	return [...]string{"go", "avx2", "avx512"}[k]
}

// fit returns dst[:len(src)], panicking if dst is shorter than src.
func fit(dst, src []float32) []float32 {
	if len(dst) < len(src) {
		panic("vecmath: dst shorter than src")
	}
	return dst[:len(src)]
}

// Scalar reference algorithm; the pure-Go paths below use it per element.

const (
	maxArg = 88.72283
	minArg = -103.97208
)

// exp32 is e^x in single precision.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	switch {
	case x != x:
		return x
	case x > maxArg:
		return float32(math.Inf(1))
	case x < minArg:
		return 0
	}
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*c1 - n*c2
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	k := int32(n)
	h := k / 2
	return p * math.Float32frombits(uint32(h+127)<<23) * math.Float32frombits(uint32(k-h+127)<<23)
}

// tanh32 is tanh in single precision.
func tanh32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a < 0.625 {
		z := x * x
		return ((((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z-3.33332819422e-1)*z*x + x
	}
	if a > 9.1 {
		if x < 0 {
			return -1
		}
		return 1
	}
	t := 1 - 2/(exp32(2*a)+1)
	if x < 0 {
		return -t
	}
	return t
}

func exp32Go(dst, src []float32) {
	for i, x := range src {
		dst[i] = exp32(x)
	}
}

func sigmoid32Go(dst, src []float32) {
	for i, x := range src {
		dst[i] = 1 / (1 + exp32(-x))
	}
}

func tanh32Go(dst, src []float32) {
	for i, x := range src {
		dst[i] = tanh32(x)
	}
}

func sumExpShifted32Go(dst, src []float32, shift float32) float64 {
	var z float64
	if dst == nil {
		for _, x := range src {
			z += float64(exp32(x - shift))
		}
		return z
	}
	for i, x := range src {
		e := exp32(x - shift)
		dst[i] = e
		z += float64(e)
	}
	return z
}

// Max32 returns the largest element of x, as the loop
//
//	m := x[0]; for _, v := range x[1:] { if v > m { m = v } }
//
// would: NaN elements after the first are skipped, a NaN first element is
// returned. When -0 and +0 tie for the maximum the vector paths, which
// compare in lanes, may return the other zero. It panics if x is empty.
func Max32(x []float32) float32 {
	_ = x[0]
	return max32Slice(x)
}

func max32Go(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	return m
}

// ReLU32 rectifies x in place, max(x, 0), by clearing every value whose sign
// bit is set: negatives and -0 become +0 (as do NaNs with the sign bit set),
// with no branch for a random sign to mispredict.
func ReLU32(x []float32) { relu32Slice(x) }

func relu32Go(x []float32) {
	for i, v := range x {
		b := math.Float32bits(v)
		x[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// ReLUGrad32 turns the gradient dy of a ReLU's output y (as ReLU32 left it)
// into the gradient of its input in place: dy is kept where y > 0 and zeroed
// where y is +0. It panics if y is shorter than dy.
func ReLUGrad32(dy, y []float32) {
	_ = y[:len(dy)]
	reluGrad32Slice(dy, y[:len(dy)])
}

func reluGrad32Go(dy, y []float32) {
	for i, g := range dy {
		// y's bits are in [0, 2³¹): keep g iff they are not all zero.
		keep := uint32(-int32(math.Float32bits(y[i])) >> 31)
		dy[i] = math.Float32frombits(math.Float32bits(g) & keep)
	}
}

// Sum32 returns the sum of x's elements, added in sixty-four interleaved
// partial sums (element i into partial i%64 while 64 remain, the rest into
// the first sixteen) that are then combined pairwise: as accurate as a
// pairwise sum over long slices, and the same bits on every path.
func Sum32(x []float32) float32 { return sum32Slice(x) }

func sum32Go(x []float32) float32 {
	var acc [4][16]float32
	for ; len(x) >= 64; x = x[64:] {
		for a := range acc {
			for j := range acc[a] {
				acc[a][j] += x[16*a+j]
			}
		}
	}
	for ; len(x) >= 16; x = x[16:] {
		for j := range acc[0] {
			acc[0][j] += x[j]
		}
	}
	for j, v := range x {
		acc[0][j] += v
	}
	var v [16]float32
	for j := range v {
		v[j] = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j])
	}
	for half := 8; half >= 1; half /= 2 {
		for j := range half {
			v[j] += v[j+half]
		}
	}
	return v[0]
}

// SumSquares32 returns the sum of the squares of x's elements in float64 (a
// gradient norm's square: float32 would lose the small terms of millions).
// Element i goes into partial sum i%32 while 32 remain and the rest into
// the first eight; the partials are then combined pairwise, in the same
// order on every path. Each square is exact in float64, so a fused
// multiply-add rounds as a multiply and an add do.
func SumSquares32(x []float32) float64 { return sumSquares32Slice(x) }

func sumSquares32Go(x []float32) float64 {
	var acc [4][8]float64
	for ; len(x) >= 32; x = x[32:] {
		for a := range acc {
			for j := range acc[a] {
				v := float64(x[8*a+j])
				acc[a][j] += v * v
			}
		}
	}
	for ; len(x) > 0; x = x[min(8, len(x)):] {
		for j, v := range x[:min(8, len(x))] {
			acc[0][j] += float64(v) * float64(v)
		}
	}
	var v [8]float64
	for j := range v {
		v[j] = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j])
	}
	for half := 4; half >= 1; half /= 2 {
		for j := range half {
			v[j] += v[j+half]
		}
	}
	return v[0]
}

// MaxPool2Row32 pools one row of 2×2 windows of an image x, rows w floats
// apart, whose top-left corners are x[start + ox*s] for ox < len(y): y[ox]
// is the window's maximum and arg[ox] its index in x. Values are compared
// through integer keys that order as the floats do (-0 = +0, NaN above
// +Inf); on ties the first maximum in row-major order wins, as PyTorch's CPU
// kernel does. Neither path branches on the data (on random data a branch
// per comparison would be mispredicted half the time); stride 2 has a vector
// kernel. It panics if a window reaches past x.
func MaxPool2Row32(x, y []float32, arg []int32, start, w, s int) {
	if len(y) == 0 {
		return
	}
	_ = x[start+(len(y)-1)*s+w+1]
	_ = arg[len(y)-1]
	maxPool2Row32Slice(x, y, arg, start, w, s)
}

// maxPool2RowGo pools the windows ox ≥ from of MaxPool2Row32's row.
func maxPool2RowGo(x, y []float32, arg []int32, start, w, s, from int) {
	r0, r1 := x[start:], x[start+w:]
	for ox := from; ox < len(y); ox++ {
		i := ox * s
		at, best := i, orderKey32(r0[i])
		at, best = pick(at, best, i+1, orderKey32(r0[i+1]))
		at, best = pick(at, best, i+w, orderKey32(r1[i]))
		at, _ = pick(at, best, i+w+1, orderKey32(r1[i+1]))
		y[ox], arg[ox] = x[start+at], int32(start+at)
	}
}

// pick returns (at, key) if key > best, else (bestAt, best), without a branch.
func pick(bestAt int, best int64, at int, key int64) (int, int64) {
	gt := (best - key) >> 63 // all ones iff key > best; keys are 32-bit, so no overflow
	return bestAt ^ ((bestAt ^ at) & int(gt)), best ^ ((best ^ key) & gt)
}

// orderKey32 maps v to an integer that orders as v does (with -0 = +0, and
// NaN above +Inf).
func orderKey32(v float32) int64 {
	b := int32(math.Float32bits(v + 0)) // v + 0 turns -0 into +0
	return int64(b ^ int32(uint32(b>>31)>>1))
}

// Add32 adds src to dst element by element. It panics if src is shorter
// than dst.
func Add32(dst, src []float32) {
	_ = src[:len(dst)]
	add32Slice(dst, src[:len(dst)])
}

func add32Go(dst, src []float32) {
	for i, x := range src {
		dst[i] += x
	}
}

// AdamCoefs are the per-step constants of an Adam update in float32: the
// moment decays and their complements, the bias-corrected step size
// lr/(1-β1^t), 1/sqrt(1-β2^t), ε and the (L2) weight decay. Its layout is
// read by the assembly kernel.
type AdamCoefs struct {
	B1, B2, OneMinusB1, OneMinusB2, Step, InvC2, Eps, WeightDecay float32
}

// Adam32 applies one Adam step to the weights w with gradient g and moments
// m and v (all the same length), updating all three in place:
//
//	g' = g + wd*w;  m = b1*m + (1-b1)*g';  v = b2*v + (1-b2)*g'*g'
//	w -= step*m / (sqrt(v)*invC2 + eps)
//
// every operation rounded to float32 in that order, on every path.
func Adam32(w, g, m, v []float32, c *AdamCoefs) {
	n := len(w)
	_, _, _ = g[:n], m[:n], v[:n]
	adam32Slice(w, g[:n], m[:n], v[:n], c)
}

func adam32Go(w, g, m, v []float32, c *AdamCoefs) {
	for i := range w {
		// The conversions round every product, so that no compiler fuses a
		// multiply-add and the bits match the kernel's.
		gi := g[i]
		if c.WeightDecay != 0 {
			gi += float32(c.WeightDecay * w[i])
		}
		mi := float32(c.B1*m[i]) + float32(c.OneMinusB1*gi)
		vi := float32(c.B2*v[i]) + float32(float32(c.OneMinusB2*gi)*gi)
		m[i], v[i] = mi, vi
		w[i] -= float32(c.Step*mi) / (float32(float32(math.Sqrt(float64(vi)))*c.InvC2) + c.Eps)
	}
}
