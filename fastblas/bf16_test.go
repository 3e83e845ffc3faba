package fastblas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
)

func TestRoundBF16(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		in   uint32 // float32 bits
		want uint32
	}{
		{0x3f800000, 0x3f800000}, // 1
		{0x3f808000, 0x3f800000}, // 1 + 2⁻⁸: a tie, to the even 1
		{0x3f818000, 0x3f820000}, // a tie from an odd value: up
		{0x3f808001, 0x3f810000}, // just above a tie: up
		{0x3f807fff, 0x3f800000}, // just below: down
		{0xbf808001, 0xbf810000}, // negative: away from zero likewise
		{0x7f7fffff, 0x7f800000}, // the largest float32 rounds to +Inf
		{0x7f800000, 0x7f800000}, // +Inf
		{0xff800000, 0xff800000}, // -Inf
		{0x00000001, 0x00000000}, // subnormals flush to zero of their sign
		{0x807fffff, 0x80000000},
		{0x00800000, 0x00800000}, // the smallest normal stays
	} {
		if got := math.Float32bits(RoundBF16(math.Float32frombits(tc.in))); got != tc.want {
			t.Errorf("RoundBF16(%#08x) = %#08x, want %#08x", tc.in, got, tc.want)
		}
	}
	for _, x := range []float32{nan, -nan, math.Float32frombits(0x7f800001)} {
		r := RoundBF16(x)
		if r == r || math.Signbit(float64(r)) != math.Signbit(float64(x)) {
			t.Errorf("RoundBF16(%#08x) = %#08x, want a NaN of the same sign", math.Float32bits(x), math.Float32bits(r))
		}
	}
}

// bf16Paths runs f with AMX tiles and with the AVX-512 BF16 kernels (when
// this CPU has them) and with the Go fallback.
func bf16Paths(t *testing.T, f func(t *testing.T)) {
	tile, pair, amx := bf16Tile, bf16PairKernel, amxKernel
	defer func() { bf16Tile, bf16PairKernel, amxKernel = tile, pair, amx }()
	if amx != nil {
		t.Run("amx", f)
	} else {
		t.Log("no AMX tiles here: the AMX path is not tested")
	}
	amxKernel = nil
	if tile != nil {
		t.Run("avx512bf16", f)
	} else {
		t.Log("no AVX-512 BF16 on this CPU: only the Go path is tested")
	}
	bf16Tile, bf16PairKernel = nil, nil
	t.Run("go", f)
}

// TestSgemmBF16 checks C = alpha·A·Wᵀ + beta·C against a float64 product of
// the bfloat16-rounded operands, on both paths, for shapes with partial
// tiles, rows that need padding, strided A and C, and a product large
// enough to be split over the cores.
func TestSgemmBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	bf16Paths(t, func(t *testing.T) {
		for _, tc := range []struct {
			m, n, k     int
			alpha, beta float32
		}{
			{1, 1, 1, 1, 0}, {1, 37, 40, 1, 0.5}, {1, 64, 256, 2, 0}, {2, 21, 96, 1, 0}, {3, 5, 7, 1, 0}, {4, 4, 32, 0.5, 1}, {7, 9, 33, 1, -0.5},
			{6, 3, 64, 2, 0}, {64, 130, 256, 1, 0}, {300, 601, 160, 1, 0.25}, {5, 8, 0, 1, 0.5},
			// AMX blocks: a half block, partial row and column blocks and
			// tiles, padding along k.
			{16, 17, 33, 1, 0}, {33, 40, 64, 0.5, 1}, {47, 100, 300, 1, -0.5}, {32, 32, 32, 1, 0},
			// bf16PairMinM rows and more, on the GEMM driver: k padded to a
			// vector, and k past a depth block of pairs.
			{bf16PairMinM, 45, 77, 1, 0.5}, {bf16PairMinM + 19, 300, 700, -1, 0},
		} {
			name := fmt.Sprintf("%dx%dx%d alpha %g beta %g", tc.m, tc.n, tc.k, tc.alpha, tc.beta)
			lda, ldc := tc.k+3, tc.n+2
			a := make([]float32, tc.m*lda)
			wv := make([]float32, tc.n*tc.k)
			c := make([]float32, tc.m*ldc)
			for _, v := range [][]float32{a, wv, c} {
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
			}
			want := make([]float64, len(c))
			for i := 0; i < tc.m; i++ {
				for j := 0; j < ldc; j++ {
					want[i*ldc+j] = float64(c[i*ldc+j])
					if j >= tc.n {
						continue
					}
					var s, size float64
					for p := 0; p < tc.k; p++ {
						x := float64(RoundBF16(a[i*lda+p])) * float64(RoundBF16(wv[j*tc.k+p]))
						s += x
						size += math.Abs(x)
					}
					want[i*ldc+j] = float64(tc.alpha)*s + float64(tc.beta)*float64(c[i*ldc+j])
					if tc.beta == 0 {
						want[i*ldc+j] = float64(tc.alpha) * s
					}
				}
			}
			w := NewBF16Matrix(tc.n, tc.k, wv)
			SgemmBF16(tc.m, tc.alpha, a, lda, w, tc.beta, c, ldc)
			for i, got := range c {
				// float32 accumulation of at most 601 products: a few ulps of
				// the sum of their magnitudes.
				if math.Abs(float64(got)-want[i]) > 1e-6*float64(tc.k+1)*(1+math.Abs(want[i])) {
					t.Fatalf("%s: c[%d] = %g, want %g", name, i, got, want[i])
				}
			}
		}
	})
}

// TestSgemmBF16Concurrent runs the first products on a fresh matrix, which
// pack it for the pair kernel, from several goroutines at once (a server's
// copies of a model share their weights): each must see the whole packing
// and give the product one goroutine gives.
func TestSgemmBF16Concurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	bf16Paths(t, func(t *testing.T) {
		const m, n, k, goroutines = bf16PairMinM + 5, 70, 300, 4
		a, wv := make([]float32, m*k), make([]float32, n*k)
		for _, v := range [][]float32{a, wv} {
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
		}
		want := make([]float32, m*n)
		SgemmBF16(m, 1, a, k, NewBF16Matrix(n, k, wv), 0, want, n)
		w := NewBF16Matrix(n, k, wv)
		got := make([][]float32, goroutines)
		var wg sync.WaitGroup
		for g := range got {
			got[g] = make([]float32, m*n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				SgemmBF16(m, 1, a, k, w, 0, got[g], n)
			}()
		}
		wg.Wait()
		for g := range got {
			for i := range want {
				if got[g][i] != want[i] {
					t.Fatalf("goroutine %d: c[%d] = %g on the shared matrix, %g alone", g, i, got[g][i], want[i])
				}
			}
		}
	})
}

// TestSgemmBF16TN checks C = alpha·Aᵀ·B + beta·C (a weight gradient)
// against a float64 product of the rounded operands, on both paths, for
// shapes with partial tiles and blocks, strided operands, padding over
// reused buffers, a beta of 0 over
// a C holding NaNs (not read), and a product split over the cores.
func TestSgemmBF16TN(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	bf16Paths(t, func(t *testing.T) {
		for _, tc := range []struct {
			m, n, k     int
			alpha, beta float32
		}{
			{1, 1, 1, 1, 0}, {3, 5, 7, 1, 0.5}, {17, 9, 33, 2, 1}, {40, 70, 100, 1, 0}, {64, 32, 300, 0.5, -1}, {256, 300, 700, 1, 1}, {4, 6, 0, 1, 0.5},
			{150, 70, 601, 1, 0.5}, // an odd row past the first depth block (kc pairs)
			{30, 20, 45, 1, 0},     // after a larger product: pooled buffers with stale values in the padding
		} {
			name := fmt.Sprintf("%dx%dx%d alpha %g beta %g", tc.m, tc.n, tc.k, tc.alpha, tc.beta)
			lda, ldb, ldc := tc.m+2, tc.n+5, tc.n+1
			a, b, c := make([]float32, tc.k*lda), make([]float32, tc.k*ldb), make([]float32, tc.m*ldc)
			for _, v := range [][]float32{a, b, c} {
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
			}
			if tc.beta == 0 {
				for i := range c {
					c[i] = float32(math.NaN())
				}
			}
			want := make([]float64, len(c))
			for i := 0; i < tc.m; i++ {
				for j := 0; j < tc.n; j++ {
					var sum, size float64
					for p := 0; p < tc.k; p++ {
						x := float64(RoundBF16(a[p*lda+i])) * float64(RoundBF16(b[p*ldb+j]))
						sum, size = sum+x, size+math.Abs(x)
					}
					want[i*ldc+j] = float64(tc.alpha) * sum
					if tc.beta != 0 {
						want[i*ldc+j] += float64(tc.beta) * float64(c[i*ldc+j])
					}
					want[i*ldc+tc.n] = size // the tolerance's scale, in the column past n
				}
			}
			got := slices.Clone(c)
			SgemmBF16TN(tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
			for i := 0; i < tc.m; i++ {
				for j := 0; j < tc.n; j++ {
					g, w := float64(got[i*ldc+j]), want[i*ldc+j]
					if math.Abs(g-w) > 1e-6*float64(tc.k+1)*(1+want[i*ldc+tc.n]+math.Abs(w)) || math.IsNaN(g) {
						t.Fatalf("%s: c[%d][%d] = %g, want %g", name, i, j, g, w)
					}
				}
				if got[i*ldc+tc.n] != c[i*ldc+tc.n] && !math.IsNaN(float64(c[i*ldc+tc.n])) {
					t.Fatalf("%s: row %d written past n", name, i)
				}
			}
		}
	})
}

// TestSgemmBF16RoundsOperands checks that the product really is of
// bfloat16 operands (it differs from the float32 product where rounding
// matters) and that the paths agree to float32 accumulation error.
func TestSgemmBF16RoundsOperands(t *testing.T) {
	const m, n, k = 8, 16, 64
	rng := rand.New(rand.NewPCG(9, 10))
	a := make([]float32, m*k)
	wv := make([]float32, n*k)
	for _, v := range [][]float32{a, wv} {
		for i := range v {
			v[i] = 1 + float32(rng.Float64())/64 // mantissa bits below bfloat16's
		}
	}
	exact := make([]float32, m*n)
	Implementation{}.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, a, k, wv, k, 0, exact, n)
	results := map[string][]float32{}
	bf16Paths(t, func(t *testing.T) {
		c := make([]float32, m*n)
		SgemmBF16(m, 1, a, k, NewBF16Matrix(n, k, wv), 0, c, n)
		results[t.Name()] = c
		differ := 0
		for i := range c {
			if c[i] != exact[i] {
				differ++
			}
		}
		if differ < len(c)/2 {
			t.Fatalf("only %d of %d outputs differ from the float32 product: operands not rounded", differ, len(c))
		}
	})
	if avx, ok := results[t.Name()+"/avx512bf16"]; ok {
		for i, v := range results[t.Name()+"/go"] {
			if math.Abs(float64(v-avx[i])) > 1e-5*math.Abs(float64(v)) {
				t.Fatalf("c[%d]: Go path %g, AVX-512 BF16 %g", i, v, avx[i])
			}
		}
	}
}

// TestBF16MatrixRefill checks, on every path, that Round refills a matrix
// in place to what NewBF16Matrix makes (also after products used the old
// values), that RoundTransposed stores the transpose (shapes that are not
// multiples of the 32-value blocks, padding left zero): x·(Wᵀ)ᵀ from it
// equals x·W computed from the rounded values, and that a matrix filled by
// RoundTransposed and then by Round multiplies as Round's.
func TestBF16MatrixRefill(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	bf16Paths(t, func(t *testing.T) { testBF16MatrixRefill(t, rng) })
}

func testBF16MatrixRefill(t *testing.T, rng *rand.Rand) {
	// Enough rows for the packed operands of every path: the widened
	// copy's without BF16 instructions, the pair kernel's with them.
	const packedRows = max(packedMinM, bf16PairMinM) + 16
	for _, s := range []struct{ rows, cols int }{{1, 1}, {5, 3}, {33, 70}, {64, 32}, {70, 129}} {
		w := make([]float32, s.rows*s.cols)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		m := MakeBF16Matrix(s.rows, s.cols)
		m.Round(make([]float32, s.rows*s.cols))
		// Products before the refill, of one row and of enough rows to use
		// packed operands: whatever copy they make (the widened and packed
		// one, without BF16 instructions) must follow the refill.
		for _, rows := range []int{1, packedRows} {
			SgemmBF16(rows, 1, make([]float32, rows*s.cols), s.cols, m, 0, make([]float32, rows*s.rows), s.rows)
		}
		m.Round(w)
		fresh := NewBF16Matrix(s.rows, s.cols, w)
		if m.tilesOnly {
			// Tiles rounded block by block, as laid out from the rows.
			if m.data != nil || !slices.Equal(m.tiles, fresh.tiles) {
				t.Fatalf("%d×%d: tiles rounded in place differ from NewBF16Matrix's", s.rows, s.cols)
			}
		} else {
			if m.data != nil && !slices.Equal(m.data, fresh.data) { // padding included
				t.Fatalf("%d×%d: Round in place differs from NewBF16Matrix", s.rows, s.cols)
			}
			for i := range s.rows {
				for j := range s.cols {
					if got, want := bf16At(m, i, j), bf16At(fresh, i, j); got != want {
						t.Fatalf("%d×%d: Round in place gave [%d][%d] = %#x, NewBF16Matrix %#x", s.rows, s.cols, i, j, got, want)
					}
				}
			}
		}
		// x [packedRows][cols] · Wᵀ from both: the same products.
		x := make([]float32, packedRows*s.cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		y, yFresh := make([]float32, packedRows*s.rows), make([]float32, packedRows*s.rows)
		SgemmBF16(packedRows, 1, x, s.cols, m, 0, y, s.rows)
		SgemmBF16(packedRows, 1, x, s.cols, fresh, 0, yFresh, s.rows)
		for i := range y {
			if math.Abs(float64(y[i]-yFresh[i])) > 1e-5*float64(s.cols)*(1+math.Abs(float64(yFresh[i]))) {
				t.Fatalf("%d×%d: product with the refilled matrix %v, with a fresh one %v", s.rows, s.cols, y[i], yFresh[i])
			}
		}
		tr := MakeBF16Matrix(s.cols, s.rows)
		tr.RoundTransposed(make([]float32, s.rows*s.cols))
		for _, rows := range []int{1, packedRows} {
			SgemmBF16(rows, 1, make([]float32, rows*s.rows), s.rows, tr, 0, make([]float32, rows*s.cols), s.cols)
		}
		tr.RoundTransposed(w)
		if tr.pairs != nil && len(tr.pairs) != tr.stride/2*tr.pairLD {
			t.Fatalf("%d×%d transposed: %d pair words, want %d", s.rows, s.cols, len(tr.pairs), tr.stride/2*tr.pairLD)
		}
		// Padding included, where there is any: rows padded to whole
		// vectors, and with AMX tiles columns to whole tiles.
		rows, cols := s.cols, tr.stride
		if tr.pairs != nil {
			rows = tr.pairLD
		}
		if tr.wideOnly {
			cols = s.rows
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				want := uint16(0)
				if i < s.cols && j < s.rows {
					want = bf16Of(w[j*s.cols+i])
				}
				if got := bf16At(tr, i, j); got != want {
					t.Fatalf("%d×%d transposed: [%d][%d] = %#x, want %#x", s.rows, s.cols, i, j, got, want)
				}
			}
		}
		// x [packedRows][rows] · W [rows][cols] as SgemmBF16 with the
		// transpose.
		x = make([]float32, packedRows*s.rows)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		got := make([]float32, packedRows*s.cols)
		SgemmBF16(packedRows, 1, x, s.rows, tr, 0, got, s.cols)
		for i := 0; i < packedRows; i++ {
			for j := 0; j < s.cols; j++ {
				var want, size float64
				for p := 0; p < s.rows; p++ {
					v := float64(RoundBF16(x[i*s.rows+p])) * float64(RoundBF16(w[p*s.cols+j]))
					want += v
					size += math.Abs(v)
				}
				if g := float64(got[i*s.cols+j]); math.Abs(g-want) > 1e-5*(1+size) {
					t.Fatalf("%d×%d: (x·W)[%d][%d] = %g, want %g", s.rows, s.cols, i, j, g, want)
				}
			}
		}
		// The same matrix filled by Round from the transpose multiplies
		// as RoundTransposed's.
		wt := make([]float32, len(w))
		for i := range s.rows {
			for j := range s.cols {
				wt[j*s.rows+i] = w[i*s.cols+j]
			}
		}
		tr.Round(wt)
		again := make([]float32, packedRows*s.cols)
		SgemmBF16(packedRows, 1, x, s.rows, tr, 0, again, s.cols)
		for i := range again {
			if math.Abs(float64(again[i]-got[i])) > 1e-5*float64(s.rows)*(1+math.Abs(float64(got[i]))) {
				t.Fatalf("%d×%d: x·W after Round of the transpose %v, after RoundTransposed %v", s.rows, s.cols, again[i], got[i])
			}
		}
	}
}

// bf16At returns m[i][j], however m keeps its values: rows of bfloat16,
// (with AMX tiles, after RoundTransposed) the source's rows in pairs, or
// (without bfloat16 instructions) widened to float32, as the matrix or, after
// RoundTransposed, as its source.
func bf16At(m *BF16Matrix, i, j int) uint16 {
	switch {
	case m.wideOnly && m.wide.noTrans:
		return bf16Of(m.wide.src[j*m.Rows+i])
	case m.wideOnly:
		return bf16Of(m.wide.src[i*m.Cols+j])
	case m.pairs != nil:
		return uint16(m.pairs[j/2*m.pairLD+i] >> (16 * (j % 2)))
	}
	return m.data[i*m.stride+j]
}

// BenchmarkSgemmBF16 compares products x·Wᵀ in float32 (Sgemm) and with
// bfloat16 operands (SgemmBF16), one thread: the decoder's output layer,
// configs/charlm-15m.yaml's recurrent step forward and backward on one
// worker's 16 rows and its second layer's whole-sequence input product,
// and the reference char LM's first-layer input product (2048 rows).
func BenchmarkSgemmBF16(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{64, 8000, 256}, {320, 8000, 256}, {16, 8000, 256}, {32, 1024, 256}, {32, 256, 1024}, {704, 3000, 256}, {704, 256, 3000}, {16, 2560, 640}, {16, 640, 2560}, {1600, 2560, 640}, {2048, 1024, 64}} {
		a := make([]float32, s.m*s.k)
		wv := make([]float32, s.n*s.k)
		c := make([]float32, s.m*s.n)
		for i := range a {
			a[i] = float32(i%7) * 0.01
		}
		for i := range wv {
			wv[i] = float32(i%5) * 0.01
		}
		flops := 2 * float64(s.m*s.n*s.k)
		name := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		b.Run(name+"/float32", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Implementation{}.Sgemm(blas.NoTrans, blas.Trans, s.m, s.n, s.k, 1, a, s.k, wv, s.k, 0, c, s.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		w := NewBF16Matrix(s.n, s.k, wv)
		b.Run(name+"/bf16", func(b *testing.B) {
			if !BF16Available() {
				b.Skip("no AVX-512 BF16 on this CPU")
			}
			for i := 0; i < b.N; i++ {
				SgemmBF16(s.m, 1, a, s.k, w, 0, c, s.n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmBF16TN measures weight gradients dYᵀ·X with bfloat16
// operands on both cores: the seq2seq benchmark's output layer (3000 words,
// 704 target tokens) and decoder GRU (768 gates), and the char LM's LSTM
// over a batch of 32 windows of 64.
func BenchmarkSgemmBF16TN(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{3000, 256, 704}, {768, 512, 704}, {1024, 256, 2048}} {
		a, x, c := make([]float32, s.k*s.m), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
		for i := range a {
			a[i] = float32(i%7) * 0.01
		}
		for i := range x {
			x[i] = float32(i%5) * 0.01
		}
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			for b.Loop() {
				SgemmBF16TN(s.m, s.n, s.k, 1, a, s.m, x, s.n, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestToBF16Paths checks the vector conversion against the Go rounding on
// every kind of value (ties, NaNs, infinities, subnormals, zeros) and on
// lengths that leave a remainder to the Go loop.
func TestToBF16Paths(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	special := []uint32{0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff, 0x7f800000, 0xff800000,
		0x7fc00000, 0xffc00001, 0x7f800001, 0x00000001, 0x807fffff, 0x00800000, 0x80000000, 0}
	for _, n := range []int{0, 1, 31, 32, 33, 64, 95, 200} {
		src := make([]float32, n)
		for i := range src {
			if i%3 == 0 {
				src[i] = math.Float32frombits(special[rng.IntN(len(special))])
			} else {
				src[i] = math.Float32frombits(rng.Uint32())
			}
		}
		got := make([]uint16, n+1)
		got[n] = 0xbeef
		toBF16(got[:n], src)
		for i, x := range src {
			want := bf16Of(x)
			if x != x { // NaN: any quiet NaN of the same sign
				if got[i]&0x7fc0 != 0x7fc0 || got[i]&0x8000 != want&0x8000 {
					t.Fatalf("n=%d: %#08x gave %#04x, want a quiet NaN like %#04x", n, math.Float32bits(x), got[i], want)
				}
				continue
			}
			if got[i] != want {
				t.Fatalf("n=%d: %#08x gave %#04x, want %#04x", n, math.Float32bits(x), got[i], want)
			}
		}
		if got[n] != 0xbeef {
			t.Fatalf("n=%d: wrote past the end", n)
		}
	}
}

// TestRoundBF16InPlace checks the in-place rounding (the AVX2 kernel where
// there is one) against RoundBF16 bit for bit on every kind of value and on
// lengths that leave a remainder to the Go loop.
func TestRoundBF16InPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	special := []uint32{0x3f808000, 0x3f818000, 0x3f808001, 0xbf808001, 0x7f7fffff, 0x7f800000, 0xff800000,
		0x7fc00000, 0xffc00001, 0x7f800001, 0xff800001, 0x00000001, 0x807fffff, 0x00800000, 0x80000000, 0}
	for _, n := range []int{0, 1, 7, 8, 9, 31, 64, 200} {
		v := make([]float32, n+1)
		for i := range n {
			if i%3 == 0 {
				v[i] = math.Float32frombits(special[rng.IntN(len(special))])
			} else {
				v[i] = math.Float32frombits(rng.Uint32())
			}
		}
		v[n] = 0.3 // past the end: must stay unrounded
		src := slices.Clone(v)
		roundBF16InPlace(v[:n])
		for i, x := range src[:n] {
			if got, want := math.Float32bits(v[i]), math.Float32bits(RoundBF16(x)); got != want {
				t.Fatalf("n=%d: %#08x gave %#08x, want %#08x", n, math.Float32bits(x), got, want)
			}
		}
		if v[n] != 0.3 {
			t.Fatalf("n=%d: wrote past the end", n)
		}
	}
}

// TestPairRows checks the vector pairing against the Go rounding, for
// widths that leave a remainder to the Go loop, an odd number of rows (a
// zero row pairs with the last) and rows apart by more than their width.
func TestPairRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct{ k, cols int }{{1, 1}, {2, 16}, {3, 17}, {4, 40}, {7, 64}, {10, 33}} {
		lds, ldd := tc.cols+3, tc.cols+5
		src := make([]float32, tc.k*lds)
		for i := range src {
			src[i] = float32(rng.NormFloat64())
		}
		src[0] = math.Float32frombits(0x3f808000) // a tie
		got := make([]float32, (tc.k+1)/2*ldd)
		pairRows(got, ldd, src, lds, tc.k, tc.cols)
		for q := 0; q < (tc.k+1)/2; q++ {
			for j := 0; j < tc.cols; j++ {
				lo, hi := uint32(bf16Of(src[2*q*lds+j])), uint32(0)
				if 2*q+1 < tc.k {
					hi = uint32(bf16Of(src[(2*q+1)*lds+j]))
				}
				if w := math.Float32bits(got[q*ldd+j]); w != lo|hi<<16 {
					t.Fatalf("k %d cols %d: pair row %d column %d = %#08x, want %#08x", tc.k, tc.cols, q, j, w, lo|hi<<16)
				}
			}
		}
	}
}

// TestMadeBF16MatrixIsZero checks that a matrix made for a training pass
// multiplies as zeros before its first Round, on every path.
func TestMadeBF16MatrixIsZero(t *testing.T) {
	bf16Paths(t, func(t *testing.T) {
		for _, m := range []int{1, 5, 40} {
			w := MakeBF16Matrix(33, 70)
			a := make([]float32, m*70)
			for i := range a {
				a[i] = 1
			}
			c := make([]float32, m*33)
			for i := range c {
				c[i] = float32(math.NaN()) // beta 0: not read
			}
			SgemmBF16(m, 1, a, 70, w, 0, c, 33)
			for i, v := range c {
				if v != 0 {
					t.Fatalf("%d rows: c[%d] = %v from a matrix never rounded, want 0", m, i, v)
				}
			}
		}
	})
}
