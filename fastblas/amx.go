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

// amxMinM is the fewest rows of A for which SgemmBF16 runs on AMX tiles
// when the matrix also keeps its rows (NewBF16Matrix's), and the fewest
// columns of SgemmBF16TN's narrower operand. A block is 32 rows, padded with zeros, and still two rows run twice as
// fast on it as on the AVX-512 BF16 dot tiles, five rows (a beam of five)
// 3.6 times, twelve 5.4 times (1,024×512 and 2,532×256 weights, one core);
// a single row, a vector times the matrix, runs faster on the dot tiles'
// row kernel (batch-1 sampling: 100k against 63k characters/s).
const amxMinM = 2

// amxTiles lays the rounded rows×stride matrix data out as the B operand
// of TDPBF16PS for x·Wᵀ: for each block of 16 rows of data (16 columns of
// the product) and each 32 values along a row, a 1 KiB tile whose row r
// holds, for each of the 16 rows, the pair of values 2r and 2r+1 as one
// 32-bit word (the low half the even one). The row blocks are padded with
// zeros to an even count, as amxBlock takes them in twos.
func amxTiles(dst []uint32, data []uint16, rows, stride int) []uint32 {
	dst = growTiles(dst, rows, stride)
	for nb := 0; stride > 0 && nb < tileBlocks(rows); nb++ {
		lo := min(nb*16, rows)
		tileRows(dst, data[lo*stride:min(lo+16, rows)*stride], stride, nb)
	}
	return dst
}

// amxTilesFrom is amxTiles of the rows×cols row-major matrix src rounded,
// sixteen rows at a time through a scratch block, so that no rounded copy
// of the whole matrix is kept.
func amxTilesFrom(dst []uint32, src []float32, rows, cols, stride int) []uint32 {
	dst = growTiles(dst, rows, stride)
	buf := getBF16(16 * stride)
	defer putBF16(buf)
	block := *buf
	for nb := 0; stride > 0 && nb < tileBlocks(rows); nb++ {
		valid := max(0, min(16, rows-nb*16))
		for r := 0; r < valid; r++ {
			row := block[r*stride : (r+1)*stride]
			toBF16(row[:cols], src[(nb*16+r)*cols:(nb*16+r+1)*cols])
			clear(row[cols:])
		}
		tileRows(dst, block[:valid*stride], stride, nb)
	}
	return dst
}

// tileBlocks is how many blocks of 16 rows the tiles of a matrix of rows
// hold: an even number, as amxBlock takes them in twos.
func tileBlocks(rows int) int { return (rows + 31) / 32 * 2 }

// growTiles sizes dst for the tiles of a rows×stride matrix (none when
// stride is 0: products with no depth do not read them).
func growTiles(dst []uint32, rows, stride int) []uint32 {
	n := tileBlocks(rows) * stride / 32 * 256
	if cap(dst) < n {
		return make([]uint32, n)
	}
	return dst[:n]
}

// tileRows writes the tiles of row block nb from its rows (stride apart,
// up to 16; missing ones are zeros). Each tile is a 16×16 transpose of
// 32-bit words, moved as float32 bit patterns by the vector transpose.
func tileRows(dst []uint32, rows []uint16, stride, nb int) {
	kTiles := stride / 32
	valid := len(rows) / stride
	words := asFloats(unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(rows))), len(rows)/2))
	tiles := asFloats(dst)
	half := stride / 2
	for kb := 0; kb < kTiles; kb++ {
		tile := tiles[(nb*kTiles+kb)*256 : (nb*kTiles+kb+1)*256]
		if valid < 16 {
			clear(tile)
		}
		if valid > 0 {
			transposeTo(tile, 16, words[kb*16:], half, valid, 16)
		}
	}
}

// asWords and asFloats view 32-bit words as the float32 bit patterns the
// vector transpose and pairRows move, and back.
func asWords(f []float32) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(f))), len(f))
}

func asFloats(w []uint32) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
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
	buf := getBF16(m32 * kp)
	defer putBF16(buf)
	ah := *buf
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
	sgemmAMX(m, n, alpha, ah, kp, pairOperand(asWords(*bp), n32), beta, c, ldc, transposed)
}
