package fastblas

import "unsafe"

// amxBlockFunc is the AMX block's contract (amxBlock in amx_amd64.s): a
// 32-row block of bfloat16 A (lda bytes apart, 32·kTiles values a row)
// times two 16-column blocks of B's VNNI tiles (rows bStride bytes apart,
// the next tile along k bStep bytes on, the second block bNext bytes after
// the first), alpha·product + beta·C written to mrows rows of C (ldc bytes
// apart) in the columns the masks lo (the first 16) and hi (the next 16)
// select, through the 32×32 scratch out.
type amxBlockFunc func(cfg *[64]byte, a *uint16, lda int, b *uint32, bStride, bStep, bNext, kTiles int, out *float32, c *float32, ldc int, alpha, beta float32, mrows int, lo, hi uint16)

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
	words := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(data))), len(data)/2)
	half := stride / 2
	for nb := 0; nb < blocks; nb++ {
		for kb := 0; kb < kTiles; kb++ {
			tile := dst[(nb*kTiles+kb)*256 : (nb*kTiles+kb+1)*256]
			for c := 0; c < 16; c++ {
				row := nb*16 + c
				if row >= rows {
					for r := 0; r < 16; r++ {
						tile[r*16+c] = 0
					}
					continue
				}
				src := words[row*half+kb*16 : row*half+kb*16+16]
				for r, w := range src {
					tile[r*16+c] = w
				}
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
// and the rows padded with zeros to a multiple of 32), b is B's tiles. The
// column blocks of 32 are shared out among the workers.
func sgemmAMX(m, n int, alpha float32, ah []uint16, lda int, b amxOperand, beta float32, c []float32, ldc int) {
	kTiles := lda / 32
	rowBlocks, colBlocks := (m+31)/32, (n+31)/32
	// The tiles multiply about eight times as fast as the dot tiles, so a
	// product is worth splitting at eight times the size.
	workers, spin := smallWorkers(m*n*lda/8, colBlocks)
	run := func(wk int) {
		out := getBuf[float32](32 * 32)
		defer putBuf(out)
		for jb := colBlocks * wk / workers; jb < colBlocks*(wk+1)/workers; jb++ {
			nc := min(32, n-jb*32)
			lo, hi := uint16(1<<min(nc, 16)-1), uint16(1<<max(nc-16, 0)-1)
			for ib := 0; ib < rowBlocks; ib++ {
				amxKernel(&amxConfig, &ah[ib*32*lda], lda*2, &b.words[jb*b.block], b.stride, b.step, b.next, kTiles, &(*out)[0],
					&c[ib*32*ldc+jb*32], ldc*4, alpha, beta, min(32, m-ib*32), lo, hi)
			}
		}
	}
	if workers == 1 {
		run(0)
		return
	}
	parallelSmall(workers, spin, run)
}

// sgemmBF16TNAMX is SgemmBF16TN on AMX tiles: A transposed to rows along
// the depth (transposeToBF16), B as pairs of rows (pairRows), both padded
// with zeros to whole tiles.
func sgemmBF16TNAMX(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
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
	clear(*bp)
	pairRows(*bp, n32, b, ldb, k, n)
	words := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(*bp))), len(*bp))
	sgemmAMX(m, n, alpha, ah, kp, pairOperand(words, n32), beta, c, ldc)
}
