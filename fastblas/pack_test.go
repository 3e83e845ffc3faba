package fastblas

import (
	"math/rand/v2"
	"testing"
)

// TestCopyPanels checks the assembly copy against its definition for the
// widths the kernels pack (4 to 32 float32s, 4 to 16 float64s, and widths
// that leave every tail of the copy: 8, 4 bytes), with source rows longer
// than the panels and gaps between the panels that must stay untouched.
func TestCopyPanels(t *testing.T) {
	if !asmPack {
		t.Skip("no assembly packing on this CPU or build")
	}
	rnd := rand.New(rand.NewPCG(21, 22))
	for _, w := range []int{1, 2, 3, 4, 6, 8, 12, 16, 31, 32} {
		for _, c := range []struct{ rows, panels, extra, gap int }{{1, 1, 0, 0}, {7, 3, 5, 2}, {256, 12, 3, 9}, {3, 1, 0, 4}} {
			lds := c.panels*w + c.extra
			pstride := c.rows*w + c.gap
			src32 := randMat[float32](rnd, c.rows*lds)
			dst32 := make([]float32, c.panels*pstride)
			checkCopyPanels(t, w, c.rows, c.panels, lds, pstride, src32, dst32)
			src64 := randMat[float64](rnd, c.rows*lds)
			dst64 := make([]float64, c.panels*pstride)
			checkCopyPanels(t, w, c.rows, c.panels, lds, pstride, src64, dst64)
		}
	}
}

func checkCopyPanels[T float](t *testing.T, w, rows, panels, lds, pstride int, src, dst []T) {
	t.Helper()
	const sentinel = -7
	for i := range dst {
		dst[i] = sentinel
	}
	if !copyPanels(dst, src, lds, rows, w, panels, pstride) {
		t.Fatalf("w=%d: copyPanels declined", w)
	}
	for q := range panels {
		for off := range pstride {
			got := dst[q*pstride+off]
			want := T(sentinel)
			if off < rows*w {
				r, i := off/w, off%w
				want = src[r*lds+q*w+i]
			}
			if got != want {
				t.Fatalf("%T w=%d rows=%d panels=%d: panel %d element %d = %v, want %v", got, w, rows, panels, q, off, got, want)
			}
		}
	}
}

// TestTransBlock checks the transposing pack of a non-transposed A's rows
// into a micro-panel against its definition: the AVX2 kernel's six rows,
// the AVX-512 kernel's twelve (eight transposed, four by the caller),
// lengths with and without a remainder of k, and nothing written past the
// block the call reports.
func TestTransBlock(t *testing.T) {
	if !asmPack {
		t.Skip("no assembly packing on this CPU or build")
	}
	rnd := rand.New(rand.NewPCG(23, 24))
	for _, c := range []struct{ nj, kc, lds int }{{6, 8, 8}, {6, 256, 300}, {6, 61, 64}, {6, 7, 9}, {12, 40, 45}, {8, 16, 16}} {
		src := randMat[float32](rnd, c.nj*c.lds)
		dst := make([]float32, c.kc*c.nj+8)
		const sentinel = -7
		for i := range dst {
			dst[i] = sentinel
		}
		jd, pd := transBlock(dst, src, c.lds, c.nj, c.nj, c.kc)
		if c.nj == 6 && c.kc >= 8 && (jd != 6 || pd != c.kc/8*8) {
			t.Fatalf("%+v: transposed %d rows × %d steps, want 6 × %d", c, jd, pd, c.kc/8*8)
		}
		for i, got := range dst {
			p, j := i/c.nj, i%c.nj
			want := float32(sentinel)
			if p < pd && j < jd {
				want = src[j*c.lds+p]
			}
			if got != want {
				t.Fatalf("%+v: dst[%d] (step %d, row %d) = %v, want %v", c, i, p, j, got, want)
			}
		}
	}
}
