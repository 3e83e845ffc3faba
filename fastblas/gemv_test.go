package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

func checkGemv[T float](t *testing.T, rnd *rand.Rand, tA blas.Transpose, m, n, pad, incX, incY int, alpha, beta T,
	fn, refFn func(tA blas.Transpose, m, n int, alpha T, a []T, lda int, x []T, incX int, beta T, y []T, incY int)) {
	t.Helper()
	lda := n + pad
	lenX, lenY := n, m
	if tA != blas.NoTrans {
		lenX, lenY = m, n
	}
	iabs := func(v int) int { return max(v, -v) }
	a := randMat[T](rnd, m*lda)
	x := randMat[T](rnd, (lenX-1)*iabs(incX)+1)
	y := randMat[T](rnd, (lenY-1)*iabs(incY)+1)
	if beta == 0 {
		for i := range y {
			if i%iabs(incY) == 0 {
				y[i] = T(math.NaN())
			}
		}
	}
	want := append([]T(nil), y...)
	refFn(tA, m, n, alpha, a, lda, x, incX, beta, want, incY)
	bound := abs(y)
	if beta == 0 {
		clear(bound)
	}
	refFn(tA, m, n, T(math.Abs(float64(alpha))), abs(a), lda, abs(x), incX, T(math.Abs(float64(beta))), bound, incY)
	got := append([]T(nil), y...)
	fn(tA, m, n, alpha, a, lda, x, incX, beta, got, incY)
	u := math.Pow(2, -53)
	var z T
	if _, ok := any(z).(float32); ok {
		u = math.Pow(2, -24)
	}
	kk := n
	if tA != blas.NoTrans {
		kk = m
	}
	name := fmt.Sprintf("%c m=%d n=%d pad=%d inc=%d/%d alpha=%v beta=%v", tA, m, n, pad, incX, incY, alpha, beta)
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if i%iabs(incY) != 0 {
			if g != float64(y[i]) {
				t.Fatalf("%s: y[%d] outside the vector changed", name, i)
			}
			continue
		}
		tol := 4 * float64(kk+2) * u * float64(bound[i])
		if math.IsNaN(g) || math.Abs(g-w) > tol {
			t.Fatalf("%s: y[%d] = %v, want %v (tol %g)", name, i, g, w, tol)
		}
	}
}

func TestGemv(t *testing.T) {
	withPath(t, func(t *testing.T) {
		rnd := rand.New(rand.NewPCG(9, 10))
		sizes := []int{1, 2, 7, 16, 33, 65, 257, 1030}
		incs := []int{1, 2, -1, -3}
		for _, m := range sizes {
			for _, n := range sizes {
				for _, tA := range trans {
					pad := rnd.IntN(3)
					incX, incY := incs[rnd.IntN(4)], incs[rnd.IntN(4)]
					alpha, beta := alphas[rnd.IntN(len(alphas))], betas[rnd.IntN(len(betas))]
					checkGemv(t, rnd, tA, m, n, pad, incX, incY, float32(alpha), float32(beta), Implementation{}.Sgemv, ref.Sgemv)
					checkGemv(t, rnd, tA, m, n, pad, incX, incY, alpha, beta, Implementation{}.Dgemv, ref.Dgemv)
				}
			}
		}
	})
}

func TestGemvPanics(t *testing.T) {
	a := make([]float32, 100)
	ad := make([]float64, 100)
	for _, x := range []struct {
		name       string
		tA         blas.Transpose
		m, n, lda  int
		la, lx, ly int
		incX, incY int
	}{
		{"trans", 'Z', 2, 2, 2, 4, 2, 2, 1, 1},
		{"m<0", blas.NoTrans, -1, 2, 2, 4, 2, 2, 1, 1},
		{"lda", blas.NoTrans, 2, 3, 2, 9, 3, 2, 1, 1},
		{"incX", blas.NoTrans, 2, 2, 2, 4, 2, 2, 0, 1},
		{"shortX", blas.NoTrans, 2, 3, 3, 9, 2, 2, 1, 1},
		{"shortY", blas.Trans, 2, 3, 3, 9, 2, 2, 1, 1},
		{"shortA", blas.NoTrans, 2, 2, 2, 3, 2, 2, 1, 1},
	} {
		want := panicMsg(func() {
			ref.Sgemv(x.tA, x.m, x.n, 1, a[:x.la], x.lda, a[:x.lx], x.incX, 0, a[:x.ly], x.incY)
		})
		if want == "" {
			t.Fatalf("%s: reference did not panic", x.name)
		}
		if got := panicMsg(func() {
			Implementation{}.Sgemv(x.tA, x.m, x.n, 1, a[:x.la], x.lda, a[:x.lx], x.incX, 0, a[:x.ly], x.incY)
		}); got != want {
			t.Errorf("Sgemv %s: %q, want %q", x.name, got, want)
		}
		if got := panicMsg(func() {
			Implementation{}.Dgemv(x.tA, x.m, x.n, 1, ad[:x.la], x.lda, ad[:x.lx], x.incX, 0, ad[:x.ly], x.incY)
		}); got != want {
			t.Errorf("Dgemv %s: %q, want %q", x.name, got, want)
		}
	}
}

func benchGemv[T float](b *testing.B, f func(tA blas.Transpose, m, n int, alpha T, a []T, lda int, x []T, incX int, beta T, y []T, incY int)) {
	for _, s := range []struct {
		tA   blas.Transpose
		m, n int
	}{{blas.NoTrans, 1024, 256}, {blas.Trans, 256, 1024}, {blas.NoTrans, 3000, 256}} {
		b.Run(fmt.Sprintf("%c_%dx%d", s.tA, s.m, s.n), func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(1, 1))
			a := randMat[T](rnd, s.m*s.n)
			x := randMat[T](rnd, max(s.m, s.n))
			y := randMat[T](rnd, max(s.m, s.n))
			for b.Loop() {
				f(s.tA, s.m, s.n, 1, a, s.n, x, 1, 0, y, 1)
			}
			b.ReportMetric(2*float64(s.m*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkSgemv(b *testing.B)      { benchGemv(b, Implementation{}.Sgemv) }
func BenchmarkSgemvGonum(b *testing.B) { benchGemv(b, ref.Sgemv) }
func BenchmarkDgemv(b *testing.B)      { benchGemv(b, Implementation{}.Dgemv) }
func BenchmarkDgemvGonum(b *testing.B) { benchGemv(b, ref.Dgemv) }
