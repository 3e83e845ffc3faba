package fastblas

import "unsafe"

// amxKernels are the AMX kernels (amx_amd64.s). block multiplies a 32-row
// block of bfloat16 A (lda bytes apart, 32·kTiles values a row) by two
// 16-column blocks of B's VNNI tiles (rows bStride bytes apart, the next
// tile along k bStep bytes on, the second block bNext bytes after the
// first) into the 32×32 float32 scratch out; store writes alpha·out +
// beta·C to mrows rows of C (ldc bytes apart) in the columns the masks lo
// (the first 16) and hi (the next 16) select.
type amxKernels struct {
	block func(cfg *[64]byte, a *uint16, lda int, b *uint32, bStride, bStep, bNext, kTiles int, out *float32)
	store func(out *float32, c *float32, ldc int, alpha, beta float32, mrows int, lo, hi uint16)
}

// amxConfig is the tile configuration amxBlock loads: palette 1, tiles 0–7
// each 16 rows of 64 bytes.
var amxConfig = func() (c [64]byte) {
	c[0] = 1 // palette
	for t := 0; t < 8; t++ {
		c[16+2*t] = 64 // bytes per row
		c[48+t] = 16   // rows
	}
	return c
}()

// amxMinM is the fewest rows of A for which SgemmBF16 runs on AMX tiles.
// A block is 32 rows, so 16 rows waste half of one; fewer go to the
// AVX-512 BF16 dot tiles, whose work shrinks with the rows (batch-1
// sampling is one).
const amxMinM = 16

// amxTiles lays the rounded rows×stride matrix data out as the B operand
// of TDPBF16PS for x·Wᵀ: for each block of 16 rows of data (16 columns of
// the product) and each 32 values along a row, a 1 KiB tile whose row r
// holds, for each of the 16 rows, the pair of values 2r and 2r+1 as one
// 32-bit word (the low half the even one). The row blocks are padded with
// zeros to an even count, as amxBlock takes them in twos.
func amxTiles(dst []uint32, data []uint16, rows, stride int) []uint32 {
	kTiles := stride / 32
	blocks := (rows + 31) / 32 * 2
	n := blocks * kTiles * 256
	if cap(dst) < n {
		dst = make([]uint32, n)
	}
	dst = dst[:n]
	// Each tile is a 16×16 transpose of 32-bit words, moved as float32 bit
	// patterns by the vector transpose.
	words := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(data))), len(data)/2)
	tiles := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst))
	half := stride / 2
	for nb := 0; nb < blocks; nb++ {
		valid := min(16, rows-nb*16)
		for kb := 0; kb < kTiles; kb++ {
			tile := tiles[(nb*kTiles+kb)*256 : (nb*kTiles+kb+1)*256]
			if valid < 16 {
				clear(tile)
			}
			if valid > 0 {
				transposeTo(tile, 16, words[nb*16*half+kb*16:], half, valid, 16)
			}
		}
	}
	return dst
}

// amxOperand is where amxBlock finds B's VNNI tiles: a tile's row holds
// 16 words, each the pair of bfloat16 values of one column at two
// consecutive depths (the even one in the low half).
type amxOperand struct {
	words  []uint32
	block  int // words from one 32-column block to the next
	next   int // bytes from a block's first 16 columns to its second
	stride int // bytes between a tile's rows
	step   int // bytes from one tile along the depth to the next
}

// matrixOperand is w's tiles (amxTiles) as amxBlock's B.
func matrixOperand(w *BF16Matrix) amxOperand {
	kTiles := w.stride / 32
	return amxOperand{words: w.tiles, block: 2 * kTiles * 256, next: kTiles * 1024, stride: 64, step: 1024}
}

// pairOperand is B as pairRows lays it out with rows of ld words (ld a
// multiple of 32, the pair rows a multiple of 16) as amxBlock's B.
func pairOperand(words []uint32, ld int) amxOperand {
	return amxOperand{words: words, block: 32, next: 64, stride: 4 * ld, step: 64 * ld}
}

// sgemmAMX computes C = alpha·A·B + beta·C (C m×n, ldc apart) on AMX
// tiles: ah holds A's rounded rows (lda values apart, lda a multiple of 32
// and the rows padded with zeros to a multiple of 32), b is B's tiles. With
// transposed set it computes C = alpha·(A·B)ᵀ + beta·C instead (C n×m):
// each 32×32 block is transposed on its way out. The column blocks of 32
// are shared out among the workers.
func sgemmAMX(m, n int, alpha float32, ah []uint16, lda int, b amxOperand, beta float32, c []float32, ldc int, transposed bool) {
	kTiles := lda / 32
	rowBlocks, colBlocks := (m+31)/32, (n+31)/32
	// The tiles multiply about eight times as fast as the dot tiles, so a
	// product is worth splitting at eight times the size.
	workers, spin := smallWorkers(m*n*lda/8, colBlocks)
	run := func(wk int) {
		buf := getBuf[float32](2 * 32 * 32)
		defer putBuf(buf)
		out, outT := (*buf)[:32*32], (*buf)[32*32:]
		for jb := colBlocks * wk / workers; jb < colBlocks*(wk+1)/workers; jb++ {
			for ib := 0; ib < rowBlocks; ib++ {
				amxKernel.block(&amxConfig, &ah[ib*32*lda], lda*2, &b.words[jb*b.block], b.stride, b.step, b.next, kTiles, &out[0])
				rows, cols, at, res := min(32, m-ib*32), min(32, n-jb*32), ib*32*ldc+jb*32, out
				if transposed {
					rows, cols, at = cols, rows, jb*32*ldc+ib*32
					transposeTo(outT, 32, out, 32, 32, 32)
					res = outT
				}
				lo, hi := uint16(1<<min(cols, 16)-1), uint16(1<<max(cols-16, 0)-1)
				amxKernel.store(&res[0], &c[at], ldc*4, alpha, beta, rows, lo, hi)
			}
		}
	}
	if workers == 1 {
		run(0)
		return
	}
	parallelSmall(workers, spin, run)
}

// sgemmBF16TNAMX is SgemmBF16TN on AMX tiles. Of the two operands, the
// one with fewer columns is transposed to rows along the depth
// (transposeToBF16) and the other paired in place (pairRows), both padded
// with zeros to whole tiles: pairing streams, transposing scatters, and a
// weight gradient's operands can differ tenfold (an output layer's 3,000
// columns of dy against 256 of h). With A the wider, the tiles compute
// Cᵀ = Bᵀ·A and each block is transposed on its way out.
func sgemmBF16TNAMX(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	transposed := m > n
	if transposed {
		m, n, a, lda, b, ldb = n, m, b, ldb, a, lda
	}
	kp := padBF16(k)
	m32, n32 := (m+31)/32*32, (n+31)/32*32
	buf := bf16Pool.Get().(*[]uint16)
	defer bf16Pool.Put(buf)
	if cap(*buf) < m32*kp {
		*buf = make([]uint16, m32*kp)
	}
	ah := (*buf)[:m32*kp]
	transposeToBF16(ah, kp, a, lda, k, m)
	clear(ah[m*kp:])
	bp := getBuf[float32](kp / 2 * n32)
	defer putBuf(bp)
	pairs := (k + 1) / 2
	pairRows(*bp, n32, b, ldb, k, n)
	for q := 0; q < pairs; q++ {
		clear((*bp)[q*n32+n : (q+1)*n32])
	}
	clear((*bp)[pairs*n32:])
	words := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(*bp))), len(*bp))
	sgemmAMX(m, n, alpha, ah, kp, pairOperand(words, n32), beta, c, ldc, transposed)
}
