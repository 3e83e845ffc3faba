package fastblas

import "unsafe"

// genericKernel4x4 is the portable micro-kernel (4×4 tile) used on CPUs
// without AVX2+FMA, on non-amd64 architectures and with the purego tag.
func genericKernel4x4[T float](k int, a, b, c *T, ldc int, alpha, beta T, sa, sb int) {
	as := unsafe.Slice(a, (k-1)*sa+4)
	bs := unsafe.Slice(b, (k-1)*sb+4)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
	for p := 0; p < k; p++ {
		ap := as[sa*p : sa*p+4 : sa*p+4]
		bp := bs[sb*p : sb*p+4 : sb*p+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	store := func(row []T, v0, v1, v2, v3 T) {
		row = row[:4:4]
		if beta == 0 {
			row[0], row[1], row[2], row[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
			return
		}
		row[0] = alpha*v0 + beta*row[0]
		row[1] = alpha*v1 + beta*row[1]
		row[2] = alpha*v2 + beta*row[2]
		row[3] = alpha*v3 + beta*row[3]
	}
	store(cs[0:], c00, c01, c02, c03)
	store(cs[ldc:], c10, c11, c12, c13)
	store(cs[2*ldc:], c20, c21, c22, c23)
	store(cs[3*ldc:], c30, c31, c32, c33)
}
