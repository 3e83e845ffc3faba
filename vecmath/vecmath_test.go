package vecmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// paths runs f once per available implementation, with the kernel forced.
func paths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := use
	defer func() { use = saved }()
	for _, k := range availableKernels() {
		use = k
		t.Run(k.String(), f)
	}
}

// denseInputs covers -110..90 in steps of about 1e-3, the float32 values
// around the saturation thresholds, subnormal-producing arguments and the
// special values.
func denseInputs() []float32 {
	var xs []float32
	for x := -110.0; x <= 90; x += 0.000977 {
		xs = append(xs, float32(x))
	}
	for _, c := range []float32{maxArg, minArg, 9.1, -9.1, 0.625, -0.625, 0, -87.33655, -88.72283} {
		v := c
		for i := 0; i < 40; i++ {
			v = math.Nextafter32(v, float32(math.Inf(-1)))
		}
		for i := 0; i < 80; i++ {
			xs = append(xs, v)
			v = math.Nextafter32(v, float32(math.Inf(1)))
		}
	}
	inf := float32(math.Inf(1))
	return append(xs, inf, -inf, float32(math.NaN()), -float32(math.NaN()),
		math.MaxFloat32, -math.MaxFloat32, 1e30, -1e30, 1e-30, -1e-30, float32(math.Copysign(0, -1)))
}

func ulpsApart(a, b float32) int64 {
	if a == b || (a != a && b != b) {
		return 0
	}
	if a != a || b != b || math.Signbit(float64(a)) != math.Signbit(float64(b)) {
		return math.MaxInt64
	}
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if d < 0 {
		d = -d
	}
	return d
}

func TestExp32Accuracy(t *testing.T) {
	xs := denseInputs()
	paths(t, func(t *testing.T) {
		got := make([]float32, len(xs))
		Exp32(got, xs)
		var worst float64
		var worstX float32
		for i, x := range xs {
			g := got[i]
			switch {
			case x != x:
				if g == g {
					t.Errorf("Exp32(NaN) = %g", g)
				}
				continue
			case x > maxArg:
				if !math.IsInf(float64(g), 1) {
					t.Errorf("Exp32(%g) = %g, want +Inf", x, g)
				}
				continue
			case x < minArg:
				if g != 0 {
					t.Errorf("Exp32(%g) = %g, want 0", x, g)
				}
				continue
			}
			want := math.Exp(float64(x))
			if want < 0x1p-126 {
				// Subnormal results: absolute error within an ulp of the
				// subnormal spacing (2^-149).
				if d := math.Abs(float64(g) - want); d > 0x1p-149 {
					t.Errorf("Exp32(%g) = %g, want %g (subnormal, off by %g)", x, g, want, d)
				}
				continue
			}
			if math.IsInf(float64(g), 0) || g <= 0 {
				t.Errorf("Exp32(%g) = %g, want %g", x, g, want)
				continue
			}
			if e := math.Abs(float64(g)-want) / want; e > worst {
				worst, worstX = e, x
			}
		}
		t.Logf("worst relative error %.3g at %g (%d inputs)", worst, worstX, len(xs))
		if worst > 3e-7 {
			t.Errorf("worst relative error %.3g at %g, want ≤ 3e-7", worst, worstX)
		}
		// Exact values at the extremes and at zero.
		for _, tc := range []struct{ x, want float32 }{
			{0, 1}, {100, float32(math.Inf(1))}, {-200, 0}, {float32(math.Inf(1)), float32(math.Inf(1))},
			{float32(math.Inf(-1)), 0}, {88.72284, float32(math.Inf(1))}, {-104, 0},
		} {
			d := []float32{tc.x}
			Exp32(d, d)
			if d[0] != tc.want {
				t.Errorf("Exp32(%g) = %g, want %g", tc.x, d[0], tc.want)
			}
		}
		// maxArg itself is finite and close to MaxFloat32; the smallest
		// arguments give subnormals that decrease monotonically to 0.
		d := []float32{maxArg, -100, -103, minArg}
		Exp32(d, d)
		if math.IsInf(float64(d[0]), 0) || d[0] < 3.4e38 {
			t.Errorf("Exp32(maxArg) = %g", d[0])
		}
		if !(d[1] > d[2] && d[2] >= d[3] && d[3] >= 0 && d[1] < 0x1p-126) {
			t.Errorf("subnormal range not monotone: %g", d[1:])
		}
	})
}

func TestSigmoidTanhAccuracy(t *testing.T) {
	var xs []float32
	for x := -30.0; x <= 30; x += 0.000731 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 200, -200, 9.1, -9.1, 0.625, -0.625, math.Nextafter32(0.625, 0), math.Nextafter32(9.1, 10))
	paths(t, func(t *testing.T) {
		sig := make([]float32, len(xs))
		th := make([]float32, len(xs))
		Sigmoid32(sig, xs)
		Tanh32(th, xs)
		var ws, wt float64
		for i, x := range xs {
			f := float64(x)
			if e := math.Abs(float64(sig[i]) - 1/(1+math.Exp(-f))); e > ws {
				ws = e
			}
			if e := math.Abs(float64(th[i]) - math.Tanh(f)); e > wt {
				wt = e
			}
		}
		t.Logf("worst absolute error: sigmoid %.3g, tanh %.3g", ws, wt)
		if ws > 2e-7 || wt > 3e-7 {
			t.Errorf("sigmoid %.3g / tanh %.3g absolute error too large", ws, wt)
		}
		inf := float32(math.Inf(1))
		in := []float32{inf, -inf, 20, -20, float32(math.NaN()), 0, float32(math.Copysign(0, -1))}
		s, h := make([]float32, len(in)), make([]float32, len(in))
		Sigmoid32(s, in)
		Tanh32(h, in)
		want := []struct{ s, h float32 }{{1, 1}, {0, -1}, {1, 1}, {2.0611537e-09, -1}, {}, {0.5, 0}, {0.5, 0}}
		for i, x := range in {
			if x != x {
				if s[i] == s[i] || h[i] == h[i] {
					t.Errorf("NaN: sigmoid %g, tanh %g", s[i], h[i])
				}
				continue
			}
			if ulpsApart(s[i], want[i].s) > 1 || h[i] != want[i].h {
				t.Errorf("x=%g: sigmoid %g, tanh %g; want %g, %g", x, s[i], h[i], want[i].s, want[i].h)
			}
		}
	})
}

func TestSumExpShifted32(t *testing.T) {
	src := make([]float32, 1000)
	for i := range src {
		src[i] = float32(math.Sin(float64(i)*0.37))*40 - 5
	}
	src[3] = float32(math.Inf(-1))
	src[7] = -1e6
	paths(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 15, 16, 17, 33, 1000} {
			for _, shift := range []float32{0, 35, -3} {
				dst := make([]float32, n)
				got := SumExpShifted32(dst, src[:n], shift)
				gotNil := SumExpShifted32(nil, src[:n], shift)
				var want float64
				for i, x := range src[:n] {
					e := math.Exp(float64(x - shift)) // the kernels subtract in float32
					want += e
					if r := math.Abs(float64(dst[i])-e) / e; e > 0x1p-126 && r > 3e-7 {
						t.Fatalf("n=%d shift=%g: dst[%d] = %g, want %g", n, shift, i, dst[i], e)
					}
				}
				if got != gotNil {
					t.Errorf("n=%d: sum with dst %g, without %g", n, got, gotNil)
				}
				if math.Abs(got-want) > 3e-7*want {
					t.Errorf("n=%d shift=%g: sum %g, want %g", n, shift, got, want)
				}
			}
		}
	})
}

// TestLengthsAndAliasing checks every length 0..70 (all tail sizes, with
// guard elements after the end that must stay untouched), in place and
// out of place, against the scalar reference per element.
func TestLengthsAndAliasing(t *testing.T) {
	const guard = 17
	funcs := []struct {
		name   string
		vec    func(dst, src []float32)
		scalar func(float32) float32
	}{
		{"exp", Exp32, exp32},
		{"sigmoid", Sigmoid32, func(x float32) float32 { return 1 / (1 + exp32(-x)) }},
		{"tanh", Tanh32, tanh32},
		{"sumexp", func(dst, src []float32) { SumExpShifted32(dst, src, 1.5) }, func(x float32) float32 { return exp32(x - 1.5) }},
	}
	paths(t, func(t *testing.T) {
		for _, f := range funcs {
			for n := 0; n <= 70; n++ {
				src := make([]float32, n+guard)
				for i := range src {
					src[i] = float32(i%23)*0.7 - 8
				}
				dst := make([]float32, n+guard)
				for i := range dst {
					dst[i] = -42
				}
				f.vec(dst[:n], src[:n])
				alias := append([]float32(nil), src...)
				f.vec(alias[:n], alias[:n])
				for i := range n {
					want := f.scalar(src[i])
					if ulpsApart(dst[i], want) > 1 || ulpsApart(alias[i], want) > 1 {
						t.Fatalf("%s n=%d: [%d] = %g (in place %g), want %g", f.name, n, i, dst[i], alias[i], want)
					}
				}
				for i := n; i < n+guard; i++ {
					if dst[i] != -42 || alias[i] != src[i] {
						t.Fatalf("%s n=%d: wrote past the end at %d", f.name, n, i)
					}
				}
			}
		}
	})
}

// TestPathsAgree compares the vector kernels with the pure-Go scalar
// algorithm element by element: exp and tanh at most 1 ulp apart (the
// kernels fuse multiply-adds the scalar code rounds twice). sigmoid may be
// 3 ulp apart: for large -x, 1/(1+e) turns exp's 1 ulp at a mantissa near 1
// into 2 ulp at a mantissa near 2, plus a rounding.
func TestPathsAgree(t *testing.T) {
	kernels := availableKernels()[1:]
	if len(kernels) == 0 {
		t.Skip("no vector kernels on this machine/build")
	}
	xs := denseInputs()
	saved := use
	defer func() { use = saved }()
	for _, f := range []struct {
		name   string
		fn     func(dst, src []float32)
		maxUlp int64
	}{{"exp", Exp32, 1}, {"sigmoid", Sigmoid32, 3}, {"tanh", Tanh32, 1}} {
		ref := make([]float32, len(xs))
		use = kernelGo
		f.fn(ref, xs)
		var first []float32
		for _, k := range kernels {
			vec := make([]float32, len(xs))
			use = k
			f.fn(vec, xs)
			var differ, worst int64
			for i := range xs {
				u := ulpsApart(ref[i], vec[i])
				if u > 0 {
					differ++
				}
				if u > worst {
					worst = u
				}
				if u > f.maxUlp {
					t.Errorf("%s(%g): go %g, %s %g (%d ulp)", f.name, xs[i], ref[i], k, vec[i], u)
				}
			}
			t.Logf("%s on %s: %d of %d results differ from go, worst %d ulp", f.name, k, differ, len(xs), worst)
			// The vector kernels run the same operations lane by lane, so
			// they agree with each other to the bit.
			if first == nil {
				first = vec
				continue
			}
			for i := range xs {
				if math.Float32bits(first[i]) != math.Float32bits(vec[i]) {
					t.Fatalf("%s(%g): %s %g, %s %g", f.name, xs[i], kernels[0], first[i], k, vec[i])
				}
			}
		}
	}
}

func BenchmarkVecmath(b *testing.B) {
	const n = 4096
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(i%200)*0.1 - 10
	}
	dst := make([]float32, n)
	pool := make([]int32, n)
	kernels := []struct {
		name string
		fn   func()
	}{
		{"Exp32", func() { Exp32(dst, src) }},
		{"Sigmoid32", func() { Sigmoid32(dst, src) }},
		{"Tanh32", func() { Tanh32(dst, src) }},
		{"SumExpShifted32", func() { SumExpShifted32(nil, src, 3) }},
		{"Max32", func() { Max32(src) }},
		// n/4 windows over two rows of n/2 (per element: per window ×4).
		{"MaxPool2Row32", func() { MaxPool2Row32(src, dst[:n/4], pool[:n/4], 0, n/2, 2) }},
	}
	saved := use
	defer func() { use = saved }()
	for _, k := range kernels {
		for _, impl := range availableKernels() {
			b.Run(fmt.Sprintf("%s/%s", k.name, impl), func(b *testing.B) {
				use = impl
				b.SetBytes(4 * n)
				for b.Loop() {
					k.fn()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
			})
		}
	}
}

func TestMax32(t *testing.T) {
	nan := float32(math.NaN())
	paths(t, func(t *testing.T) {
		for n := 1; n <= 100; n++ {
			x := make([]float32, n+5)
			for i := range x {
				x[i] = float32(math.Sin(float64(i)*1.7)) * 10
			}
			x[n] = 1e9 // beyond the end: must be ignored
			for _, pos := range []int{0, n / 2, n - 1} {
				y := append([]float32(nil), x...)
				y[pos] = 100 + float32(pos)
				if got := Max32(y[:n]); got != y[pos] {
					t.Fatalf("n=%d: Max32 = %g, want %g", n, got, y[pos])
				}
				y[pos] = nan // skipped unless first
				got, want := Max32(y[:n]), max32Go(y[:n])
				if (pos == 0) != (got != got) || (pos != 0 && got != want) {
					t.Fatalf("n=%d NaN at %d: Max32 = %g, want %g", n, pos, got, want)
				}
			}
			neg := make([]float32, n)
			for i := range neg {
				neg[i] = -1000 - float32(i)
			}
			if got := Max32(neg); got != -1000 {
				t.Fatalf("n=%d all negative: Max32 = %g", n, got)
			}
		}
	})
}

// TestLSTMCell32 checks the fused LSTM tail against its definition —
// f*cPrev + i*g element by element, Tanh32 of that, o*tanh — bitwise, on
// every path, for lengths around the vector width, in place (c == cPrev)
// and without writing past n.
func TestLSTMCell32(t *testing.T) {
	const guard = 5
	paths(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 15, 16, 17, 31, 33, 256, 257} {
			gates := make([]float32, 4*n)
			cPrev := make([]float32, n)
			for i := range gates {
				gates[i] = float32(math.Sin(float64(i)*0.37))*0.5 + 0.5
			}
			for i := range cPrev {
				cPrev[i] = float32(i%29)*0.9 - 12
			}
			for i := 2 * n; i < 3*n; i++ { // the candidate gate is a tanh in [-1, 1]
				gates[i] = 2*gates[i] - 1
			}
			wantC, wantT, wantH := make([]float32, n), make([]float32, n), make([]float32, n)
			for j := 0; j < n; j++ {
				p, q := float32(gates[n+j]*cPrev[j]), float32(gates[j]*gates[2*n+j])
				wantC[j] = p + q
			}
			Tanh32(wantT, wantC)
			for j := 0; j < n; j++ {
				wantH[j] = gates[3*n+j] * wantT[j]
			}
			c, tc, h := make([]float32, n+guard), make([]float32, n+guard), make([]float32, n+guard)
			for i := n; i < n+guard; i++ {
				c[i], tc[i], h[i] = -42, -42, -42
			}
			LSTMCell32(c[:n], tc, h, gates, cPrev)
			inPlace := append([]float32(nil), cPrev...)
			tc2, h2 := make([]float32, n), make([]float32, n)
			LSTMCell32(inPlace, tc2, h2, gates, inPlace)
			for j := 0; j < n; j++ {
				if c[j] != wantC[j] || tc[j] != wantT[j] || h[j] != wantH[j] {
					t.Fatalf("n=%d [%d]: c %g tc %g h %g, want %g %g %g", n, j, c[j], tc[j], h[j], wantC[j], wantT[j], wantH[j])
				}
				if inPlace[j] != wantC[j] || tc2[j] != wantT[j] || h2[j] != wantH[j] {
					t.Fatalf("n=%d [%d]: in place c %g tc %g h %g, want %g %g %g", n, j, inPlace[j], tc2[j], h2[j], wantC[j], wantT[j], wantH[j])
				}
			}
			for i := n; i < n+guard; i++ {
				if c[i] != -42 || tc[i] != -42 || h[i] != -42 {
					t.Fatalf("n=%d: wrote past the end at %d", n, i)
				}
			}
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("LSTMCell32 with short gates did not panic")
		}
	}()
	LSTMCell32(make([]float32, 4), make([]float32, 4), make([]float32, 4), make([]float32, 15), make([]float32, 4))
}

// TestGRUCell32 checks the fused GRU tail against its definition — hh_n
// copied, tanh(n + r*hh_n) through Tanh32, (1-z)*n + z*hPrev — bitwise, on
// every path, for lengths around the vector width, in place (h == hPrev)
// and without writing past n.
func TestGRUCell32(t *testing.T) {
	const guard = 5
	paths(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 15, 16, 17, 31, 33, 256, 257} {
			gates := make([]float32, 3*n)
			hh := make([]float32, 3*n)
			hPrev := make([]float32, n)
			for i := range gates {
				gates[i] = float32(math.Sin(float64(i)*0.37))*0.5 + 0.5
				hh[i] = float32(math.Cos(float64(i)*0.11)) * 3
			}
			for i := 2 * n; i < 3*n; i++ { // n's input pre-activation is unbounded
				gates[i] = float32(i%31)*0.8 - 12
			}
			for i := range hPrev {
				hPrev[i] = float32(math.Sin(float64(i) * 1.3))
			}
			wantN, wantH := make([]float32, n), make([]float32, n)
			for j := 0; j < n; j++ {
				p := float32(gates[j] * hh[2*n+j]) // rounded: no fused multiply-add
				wantN[j] = gates[2*n+j] + p
			}
			Tanh32(wantN, wantN)
			for j := 0; j < n; j++ {
				p, q := float32((1-gates[n+j])*wantN[j]), float32(gates[n+j]*hPrev[j])
				wantH[j] = p + q
			}
			g := append([]float32(nil), gates...)
			h, hnPre := make([]float32, n+guard), make([]float32, n+guard)
			for i := n; i < n+guard; i++ {
				h[i], hnPre[i] = -42, -42
			}
			GRUCell32(h[:n], hnPre, g, hh, hPrev)
			g2 := append([]float32(nil), gates...)
			inPlace := append([]float32(nil), hPrev...)
			GRUCell32(inPlace, make([]float32, n), g2, hh, inPlace)
			for j := 0; j < n; j++ {
				if h[j] != wantH[j] || g[2*n+j] != wantN[j] || hnPre[j] != hh[2*n+j] || inPlace[j] != wantH[j] {
					t.Fatalf("n=%d [%d]: h %g (in place %g) n %g hnPre %g, want %g %g %g", n, j, h[j], inPlace[j], g[2*n+j], hnPre[j], wantH[j], wantN[j], hh[2*n+j])
				}
			}
			for i := 0; i < 2*n; i++ {
				if g[i] != gates[i] {
					t.Fatalf("n=%d: gate %d changed", n, i)
				}
			}
			for i := n; i < n+guard; i++ {
				if h[i] != -42 || hnPre[i] != -42 {
					t.Fatalf("n=%d: wrote past the end at %d", n, i)
				}
			}
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("GRUCell32 with short hh did not panic")
		}
	}()
	GRUCell32(make([]float32, 4), make([]float32, 4), make([]float32, 12), make([]float32, 11), make([]float32, 4))
}

// TestReLU32 checks the rectifier and its gradient against their
// definitions on every path, for lengths around the vector width, with the
// values whose sign bit decides (±0, ±Inf, NaNs of both signs), and that
// nothing past n is written.
func TestReLU32(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 3, -3,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), -float32(math.NaN())}
	paths(t, func(t *testing.T) {
		for n := 0; n <= 70; n++ {
			x := make([]float32, n+3)
			dy := make([]float32, n+3)
			for i := range x {
				x[i] = special[(i*7+n)%len(special)]
				dy[i] = float32(i + 1)
			}
			want := append([]float32(nil), x...)
			for i, v := range want[:n] {
				if math.Signbit(float64(v)) {
					want[i] = 0 // +0
				}
			}
			ReLU32(x[:n])
			for i := range x {
				if math.Float32bits(x[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d: ReLU32 gave %g (%#x) at %d, want %g (%#x)", n, x[i], math.Float32bits(x[i]), i, want[i], math.Float32bits(want[i]))
				}
			}
			ReLUGrad32(dy[:n], x)
			for i := range dy {
				keep := i >= n || math.Float32bits(x[i]) != 0
				if w := map[bool]float32{true: float32(i + 1), false: 0}[keep]; dy[i] != w {
					t.Fatalf("n=%d: ReLUGrad32 gave %g at %d (y = %g), want %g", n, dy[i], i, x[i], w)
				}
			}
		}
	})
}

// TestSum32 checks Sum32 against a float64 sum on every path, and that the
// paths give the same bits, for lengths around each loop's width, without
// reading past n.
func TestSum32(t *testing.T) {
	const longest = 300
	x := make([]float32, longest+1)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * float32(1+i%7)
	}
	x[longest] = float32(math.NaN()) // beyond every slice summed: must not be read
	got := map[kernel][]float32{}
	paths(t, func(t *testing.T) {
		var sums []float32
		for n := 0; n < longest; n++ {
			var want float64
			for _, v := range x[:n] {
				want += float64(v)
			}
			s := Sum32(x[:n])
			if math.Abs(float64(s)-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("n=%d: Sum32 = %g, want %g", n, s, want)
			}
			sums = append(sums, s)
		}
		got[use] = sums
	})
	for k, sums := range got {
		for n, s := range got[kernelGo] {
			if math.Float32bits(s) != math.Float32bits(sums[n]) {
				t.Fatalf("n=%d: go path %g, %s path %g", n, s, k, sums[n])
			}
		}
	}
}

// TestSumSquares32 checks SumSquares32 against a float64 sum on every path,
// and that the paths give the same bits, for lengths around each loop's
// width, without reading past n; and that it keeps the small squares that
// a float32 sum of a million values would drop.
func TestSumSquares32(t *testing.T) {
	const longest = 300
	x := make([]float32, longest+1)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * float32(1+i%7)
	}
	x[longest] = float32(math.NaN()) // beyond every slice summed: must not be read
	big := make([]float32, 1<<20)
	big[0] = 1e4
	for i := 1; i < len(big); i++ {
		big[i] = 1e-3
	}
	got := map[kernel][]float64{}
	paths(t, func(t *testing.T) {
		var sums []float64
		for n := 0; n < longest; n++ {
			var want float64
			for _, v := range x[:n] {
				want += float64(v) * float64(v)
			}
			s := SumSquares32(x[:n])
			if math.Abs(s-want) > 1e-12*(1+want) {
				t.Fatalf("n=%d: SumSquares32 = %g, want %g", n, s, want)
			}
			sums = append(sums, s)
		}
		want := 1e8 + float64(len(big)-1)*float64(float32(1e-3))*float64(float32(1e-3))
		// A float32 sum would be 10⁸ exactly, 1.05 short.
		if s := SumSquares32(big); math.Abs(s-want) > 1e-3 {
			t.Fatalf("10⁸ plus a million squares of 10⁻³: %.9f, want %.9f", s, want)
		}
		got[use] = sums
	})
	for k, sums := range got {
		for n, s := range got[kernelGo] {
			if math.Float64bits(s) != math.Float64bits(sums[n]) {
				t.Fatalf("n=%d: go path %g, %s path %g", n, s, k, sums[n])
			}
		}
	}
}

// TestMaxPool2Row32 checks the pooling row against the definition (the
// first maximum in row-major order wins, NaN beats numbers, -0 ties +0) on
// every path and stride, with rows of windows around the vector width, data
// full of ties, signed zeros and NaNs, and outputs past the row untouched.
func TestMaxPool2Row32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nan := float32(math.NaN())
	values := []float32{-2, -1, float32(math.Copysign(0, -1)), 0, 0.5, 1, 3, float32(math.Inf(-1)), nan}
	// greater reports whether v beats best under the definition.
	greater := func(v, best float32) bool {
		if best != best {
			return false
		}
		return v != v || v > best
	}
	paths(t, func(t *testing.T) {
		for _, s := range []int{2, 1, 3} {
			for n := 1; n <= 50; n++ {
				w := n*s + 3 // a few columns no window reaches
				x := make([]float32, 4*w)
				for i := range x {
					x[i] = values[rng.IntN(len(values))]
				}
				start := w + 1 // windows on rows 1 and 2, shifted by one column
				y := make([]float32, n+1)
				arg := make([]int32, n+1)
				y[n], arg[n] = 42, 42
				MaxPool2Row32(x, y[:n], arg[:n], start, w, s)
				for ox := range n {
					c := start + ox*s
					at := c
					for _, i := range []int{c + 1, c + w, c + w + 1} {
						if greater(x[i], x[at]) {
							at = i
						}
					}
					if arg[ox] != int32(at) || math.Float32bits(y[ox]) != math.Float32bits(x[at]) {
						t.Fatalf("stride %d, %d windows: window %d gave %g at %d, want %g at %d", s, n, ox, y[ox], arg[ox], x[at], at)
					}
				}
				if y[n] != 42 || arg[n] != 42 {
					t.Fatalf("stride %d, %d windows: wrote past the row", s, n)
				}
			}
		}
	})
}

// TestAdd32 checks dst += src on every path for lengths around the vector
// widths, and that nothing past n is written.
func TestAdd32(t *testing.T) {
	paths(t, func(t *testing.T) {
		for n := 0; n <= 70; n++ {
			dst := make([]float32, n+1)
			src := make([]float32, n+1)
			for i := range dst {
				dst[i], src[i] = float32(i)*0.5, float32(i*i)
			}
			Add32(dst[:n], src)
			for i, v := range dst {
				want := float32(i) * 0.5
				if i < n {
					want += float32(i * i)
				}
				if v != want {
					t.Fatalf("n=%d: dst[%d] = %g, want %g", n, i, v, want)
				}
			}
		}
	})
}

// TestAdam32 checks the Adam step against a float64 evaluation of its
// formula, and that both paths give the same bits, with and without weight
// decay, for lengths around the vector width, leaving elements past n alone.
func TestAdam32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 53
	type state struct{ w, g, m, v []float32 }
	start := state{make([]float32, n+1), make([]float32, n+1), make([]float32, n+1), make([]float32, n+1)}
	for i := range start.w {
		start.w[i] = float32(rng.NormFloat64())
		start.g[i] = float32(rng.NormFloat64()) * 0.1
		start.m[i] = float32(rng.NormFloat64()) * 0.01
		start.v[i] = float32(rng.Float64()) * 0.001
	}
	clone := func(s state) state {
		c := func(x []float32) []float32 { return append([]float32(nil), x...) }
		return state{c(s.w), c(s.g), c(s.m), c(s.v)}
	}
	for _, wd := range []float32{0, 0.01} {
		c := &AdamCoefs{B1: 0.9, B2: 0.999, OneMinusB1: 1 - float32(0.9), OneMinusB2: 1 - float32(0.999),
			Step: 0.001 / (1 - 0.9*0.9), InvC2: float32(1 / math.Sqrt(1-0.999*0.999)), Eps: 1e-8, WeightDecay: wd}
		results := map[kernel]state{}
		paths(t, func(t *testing.T) {
			for k := 0; k <= n; k++ {
				s := clone(start)
				Adam32(s.w[:k], s.g, s.m, s.v, c)
				for i := range s.w {
					if i >= k {
						if s.w[i] != start.w[i] || s.m[i] != start.m[i] || s.v[i] != start.v[i] {
							t.Fatalf("wd %g, n=%d: element %d past the end changed", wd, k, i)
						}
						continue
					}
					g := float64(start.g[i]) + float64(wd)*float64(start.w[i])
					m := 0.9*float64(start.m[i]) + 0.1*g
					v := 0.999*float64(start.v[i]) + 0.001*g*g
					w := float64(start.w[i]) - float64(c.Step)*m/(math.Sqrt(v)*float64(c.InvC2)+1e-8)
					if math.Abs(float64(s.w[i])-w) > 1e-6*math.Max(1, math.Abs(w)) || math.Abs(float64(s.m[i])-m) > 1e-6 {
						t.Fatalf("wd %g, n=%d: element %d: w %g m %g, want %g %g", wd, k, i, s.w[i], s.m[i], w, m)
					}
				}
				if k == n {
					results[use] = s
				}
			}
		})
		for k, vec := range results {
			for i := range vec.w {
				gw, aw := results[kernelGo].w[i], vec.w[i]
				if math.Float32bits(gw) != math.Float32bits(aw) || results[kernelGo].v[i] != vec.v[i] {
					t.Fatalf("wd %g: element %d: go path w %g, %s %g", wd, i, gw, k, aw)
				}
			}
		}
	}
}

// cellGradInputs returns n standard-normal values: states and gradients of
// either sign.
func cellGradInputs(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// cellGates returns blocks blocks of n activated gates, in [0, 1) but for
// block 2, the candidate (LSTM's g, GRU's n), a tanh in [-1, 1).
func cellGates(rng *rand.Rand, blocks, n int) []float32 {
	g := unitInterval(rng, blocks*n)
	for i := 2 * n; i < 3*n; i++ {
		g[i] = 2*g[i] - 1
	}
	return g
}

// guardLen is how many sentinels guarded puts past a kernel's output.
const guardLen = 5

// guarded returns an output of n values followed by guardLen sentinels.
func guarded(n int) []float32 {
	s := make([]float32, n+guardLen)
	for i := n; i < len(s); i++ {
		s[i] = -42
	}
	return s
}

// checkGuard fails if a kernel wrote past the first n values of s.
func checkGuard(t *testing.T, s []float32, n int) {
	t.Helper()
	for i := n; i < len(s); i++ {
		if s[i] != -42 {
			t.Fatalf("n=%d: wrote past the end at %d", n, i)
		}
	}
}

// unitInterval returns n values in [0, 1): activated gates.
func unitInterval(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()
	}
	return s
}

// TestLSTMCellGrad32 checks the LSTM step's backward tail against its
// definition bitwise on every path, for lengths around the vector width,
// with dcPrev the same slice as dc, and without writing past the ends.
func TestLSTMCellGrad32(t *testing.T) {
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 32))
		for _, n := range []int{0, 1, 15, 16, 17, 31, 33, 256, 257} {
			gates := cellGates(rng, 4, n)
			tc := unitInterval(rng, n)
			cPrev, dh, dc := cellGradInputs(rng, n), cellGradInputs(rng, n), cellGradInputs(rng, n)
			if n > 3 {
				dh[1], dc[2] = float32(math.NaN()), float32(math.Inf(-1))
			}
			wantG, wantC := make([]float32, 4*n), make([]float32, n)
			for j := 0; j < n; j++ {
				i, f, g, o, tv := gates[j], gates[n+j], gates[2*n+j], gates[3*n+j], tc[j]
				dct := dc[j] + float32(dh[j]*o*(1-float32(tv*tv)))
				wantG[j] = dct * g * i * (1 - i)
				wantG[n+j] = dct * cPrev[j] * f * (1 - f)
				wantG[2*n+j] = dct * i * (1 - float32(g*g))
				wantG[3*n+j] = dh[j] * tv * o * (1 - o)
				wantC[j] = dct * f
			}
			dg, dcPrev := guarded(4*n), guarded(n)
			LSTMCellGrad32(dg, dcPrev, gates, tc, cPrev, dh, dc)
			inPlace := append([]float32(nil), dc...)
			dg2 := make([]float32, 4*n)
			LSTMCellGrad32(dg2, inPlace, gates, tc, cPrev, dh, inPlace)
			for j := range wantG {
				if !sameBits(dg[j], wantG[j]) || !sameBits(dg2[j], wantG[j]) {
					t.Fatalf("n=%d dg[%d] = %g (in place %g), want %g", n, j, dg[j], dg2[j], wantG[j])
				}
			}
			for j := range wantC {
				if !sameBits(dcPrev[j], wantC[j]) || !sameBits(inPlace[j], wantC[j]) {
					t.Fatalf("n=%d dcPrev[%d] = %g (in place %g), want %g", n, j, dcPrev[j], inPlace[j], wantC[j])
				}
			}
			checkGuard(t, dg, 4*n)
			checkGuard(t, dcPrev, n)
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("LSTMCellGrad32 with short gates did not panic")
		}
	}()
	LSTMCellGrad32(make([]float32, 16), make([]float32, 4), make([]float32, 15), make([]float32, 4), make([]float32, 4), make([]float32, 4), make([]float32, 4))
}

// TestGRUCellGrad32 checks the GRU step's backward tail against its
// definition bitwise on every path, for lengths around the vector width,
// and without writing past the ends.
func TestGRUCellGrad32(t *testing.T) {
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(33, 34))
		for _, m := range []int{0, 1, 15, 16, 17, 31, 33, 256, 257} {
			gates := cellGates(rng, 3, m)
			hnPre, hPrev, dh := cellGradInputs(rng, m), cellGradInputs(rng, m), cellGradInputs(rng, m)
			if m > 3 {
				dh[1], hPrev[2] = float32(math.NaN()), float32(math.Inf(1))
			}
			wantI, wantH, wantP := make([]float32, 3*m), make([]float32, 3*m), make([]float32, m)
			for j := 0; j < m; j++ {
				r, z, nv, dv := gates[j], gates[m+j], gates[2*m+j], dh[j]
				dn := dv * (1 - z) * (1 - float32(nv*nv))
				dz := dv * (hPrev[j] - nv) * z * (1 - z)
				dr := dn * hnPre[j] * r * (1 - r)
				wantI[j], wantI[m+j], wantI[2*m+j] = dr, dz, dn
				wantH[j], wantH[m+j], wantH[2*m+j] = dr, dz, dn*r
				wantP[j] = dv * z
			}
			di, dhh, dp := guarded(3*m), guarded(3*m), guarded(m)
			GRUCellGrad32(di, dhh, dp, gates, hnPre, hPrev, dh)
			for j := range wantI {
				if !sameBits(di[j], wantI[j]) || !sameBits(dhh[j], wantH[j]) {
					t.Fatalf("m=%d [%d]: di %g dhh %g, want %g %g", m, j, di[j], dhh[j], wantI[j], wantH[j])
				}
			}
			for j := range wantP {
				if !sameBits(dp[j], wantP[j]) {
					t.Fatalf("m=%d dhPrev[%d] = %g, want %g", m, j, dp[j], wantP[j])
				}
			}
			checkGuard(t, di, 3*m)
			checkGuard(t, dhh, 3*m)
			checkGuard(t, dp, m)
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("GRUCellGrad32 with short gates did not panic")
		}
	}()
	GRUCellGrad32(make([]float32, 12), make([]float32, 12), make([]float32, 4), make([]float32, 11), make([]float32, 4), make([]float32, 4), make([]float32, 4))
}

// sameBits compares two float32s by their bits, so that NaNs compare equal
// to themselves.
func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
