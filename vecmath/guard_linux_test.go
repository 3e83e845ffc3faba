//go:build linux

package vecmath

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// atGuard returns n float32s copied from src that end where an unmapped
// page begins, so that a kernel touching memory past a slice faults.
func atGuard(t *testing.T, src []float32) []float32 {
	t.Helper()
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	s := unsafe.Slice((*float32)(unsafe.Pointer(&mem[page-4*len(src)])), len(src))
	copy(s, src)
	return s
}

// TestTailsStayInSlices runs every slice function on every path with each
// argument ending at an unmapped page, for lengths around the vector
// widths: a kernel that reads or writes past a slice (a masked tail whose
// masked-off lanes fault, an unmasked remainder) crashes the test. The
// results must match the Go path's: bit for bit where the package promises
// it, to the ulp the exp family may differ by, and for the cells (whose
// tanh may differ by one) to a few.
func TestTailsStayInSlices(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	vals := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	unit := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()
		}
		return s
	}
	type fn func(t *testing.T, n int, in [][]float32) []float32
	g := func(t *testing.T, s []float32) []float32 { return atGuard(t, s) }
	cases := []struct {
		name   string
		inputs func(n int) [][]float32
		run    fn
		maxUlp int64
		// absTol also accepts results this close to the Go path's: in the
		// cells' gradients a one-ulp difference of tanh meets a
		// cancellation (hPrev−n, 1−tc²), which more ulps than the result
		// has do not bound (GOAMD64=v3, whose Go tanh fuses its polynomial).
		absTol float64
	}{
		{"Exp32", func(n int) [][]float32 { return [][]float32{vals(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			d := g(t, make([]float32, n))
			Exp32(d, g(t, in[0]))
			return d
		}, 1, 0},
		{"Sigmoid32", func(n int) [][]float32 { return [][]float32{vals(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			d := g(t, make([]float32, n))
			Sigmoid32(d, g(t, in[0]))
			return d
		}, 3, 0},
		{"Tanh32", func(n int) [][]float32 { return [][]float32{vals(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			d := g(t, make([]float32, n))
			Tanh32(d, g(t, in[0]))
			return d
		}, 1, 0},
		{"SumExpShifted32", func(n int) [][]float32 { return [][]float32{vals(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			d := g(t, make([]float32, n))
			z := SumExpShifted32(d, g(t, in[0]), 0.5)
			return append(d, float32(z/float64(n)))
		}, 1, 0},
		{"Max32 Sum32 SumSquares32", func(n int) [][]float32 { return [][]float32{vals(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			x := g(t, in[0])
			return []float32{Max32(x), Sum32(x), float32(SumSquares32(x))}
		}, 0, 0},
		{"ReLU32 ReLUGrad32", func(n int) [][]float32 { return [][]float32{vals(n), vals(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			y, dy := g(t, in[0]), g(t, in[1])
			ReLU32(y)
			ReLUGrad32(dy, y)
			return append(append([]float32(nil), y...), dy...)
		}, 0, 0},
		{"Add32 Adam32", func(n int) [][]float32 { return [][]float32{vals(n), vals(n), vals(n), unit(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			w, gr, m, v := g(t, in[0]), g(t, in[1]), g(t, in[2]), g(t, in[3])
			Add32(w, gr)
			Adam32(w, gr, m, v, &AdamCoefs{B1: 0.9, B2: 0.999, OneMinusB1: 0.1, OneMinusB2: 0.001, Step: 0.01, InvC2: 1, Eps: 1e-8, WeightDecay: 0.01})
			return append(append(append([]float32(nil), w...), m...), v...)
		}, 0, 0},
		{"LSTMCell32 LSTMCellGrad32", func(n int) [][]float32 { return [][]float32{unit(4 * n), vals(n), vals(n), vals(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			gates, cPrev, dh, dc := g(t, in[0]), g(t, in[1]), g(t, in[2]), g(t, in[3])
			c, tc, h := g(t, make([]float32, n)), g(t, make([]float32, n)), g(t, make([]float32, n))
			LSTMCell32(c, tc, h, gates, cPrev)
			dg, dcPrev := g(t, make([]float32, 4*n)), g(t, make([]float32, n))
			LSTMCellGrad32(dg, dcPrev, gates, tc, cPrev, dh, dc)
			return append(append(append(append([]float32(nil), c...), h...), dg...), dcPrev...)
		}, 8, 1e-6},
		{"GRUCell32 GRUCellGrad32", func(n int) [][]float32 { return [][]float32{unit(3 * n), vals(3 * n), vals(n), vals(n)} }, func(t *testing.T, n int, in [][]float32) []float32 {
			gates, hh, hPrev, dh := g(t, in[0]), g(t, in[1]), g(t, in[2]), g(t, in[3])
			h, hnPre := g(t, make([]float32, n)), g(t, make([]float32, n))
			GRUCell32(h, hnPre, gates, hh, hPrev)
			di, dhh, dhPrev := g(t, make([]float32, 3*n)), g(t, make([]float32, 3*n)), g(t, make([]float32, n))
			GRUCellGrad32(di, dhh, dhPrev, gates, hnPre, hPrev, dh)
			return append(append(append(append([]float32(nil), h...), di...), dhh...), dhPrev...)
		}, 8, 1e-6},
	}
	saved := use
	defer func() { use = saved }()
	for _, c := range cases {
		for n := 1; n <= 40; n++ {
			in := c.inputs(n)
			use = kernelGo
			want := c.run(t, n, in)
			for _, k := range availableKernels()[1:] {
				use = k
				got := c.run(t, n, in)
				for i := range want {
					if u := ulpsApart(got[i], want[i]); u > c.maxUlp && math.Abs(float64(got[i]-want[i])) > c.absTol && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
						t.Fatalf("%s, n=%d, %s: result %d is %g, go path %g", c.name, n, k, i, got[i], want[i])
					}
				}
			}
		}
	}
}
