//go:build amd64 && !purego

package fastblas

import "golang.org/x/sys/cpu"

//go:generate go run gen_kernels.go gen_evex.go

// The assembly micro-kernels in kernels_amd64.s share one contract: with
// panels a (mr values per k step, steps sa elements apart; sa = mr when
// packed, lda when read in place) and b (nr values per k step, sb apart) they
// compute the mr×nr tile acc = Σ_p a[p]·b[p] in a fixed order
// (p ascending, one FMA per p) and store
//
//	c[i*ldc+j] = alpha*acc[i][j] + beta*c[i*ldc+j]
//
// except that when beta == 0 C is not read (NaN/Inf in C are overwritten).
// k must be ≥ 1.

//go:noescape
func sgemmKernel12x32AVX512(k int, a, b, c *float32, ldc int, alpha, beta float32, sa, sb int)

//go:noescape
func sgemmKernel8x32AVX512(k int, a, b, c *float32, ldc int, alpha, beta float32, sa, sb int)

//go:noescape
func dgemmKernel12x16AVX512(k int, a, b, c *float64, ldc int, alpha, beta float64, sa, sb int)

//go:noescape
func dgemmKernel8x16AVX512(k int, a, b, c *float64, ldc int, alpha, beta float64, sa, sb int)

// bf16gemmKernel12x32AVX512 is sgemmKernel12x32AVX512 with VDPBF16PS in
// place of the FMA: each 32-bit element of a and b is a pair of bfloat16
// values, and k counts pairs (SgemmBF16TN's kernel).
//
//go:noescape
func bf16gemmKernel12x32AVX512(k int, a, b, c *float32, ldc int, alpha, beta float32, sa, sb int)

//go:noescape
func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, alpha, beta float32, sa, sb int)

//go:noescape
func dgemmKernel6x8AVX2(k int, a, b, c *float64, ldc int, alpha, beta float64, sa, sb int)

func init() {
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasFMA && cpu.X86.HasAVX2
	hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	big := registerKernels(pathAVX512, hasAVX512,
		gemmKernel[float32]{name: "avx512-s12x32", mr: 12, nr: 32, mc: 144, kc: 256, nc: 4096, fn: sgemmKernel12x32AVX512},
		gemmKernel[float64]{name: "avx512-d12x16", mr: 12, nr: 16, mc: 96, kc: 256, nc: 2048, fn: dgemmKernel12x16AVX512})
	small := registerKernels(pathAVX512Small, hasAVX512,
		gemmKernel[float32]{name: "avx512-s8x32", mr: 8, nr: 32, mc: 128, kc: 256, nc: 4096, fn: sgemmKernel8x32AVX512},
		gemmKernel[float64]{name: "avx512-d8x16", mr: 8, nr: 16, mc: 96, kc: 256, nc: 2048, fn: dgemmKernel8x16AVX512})
	if big != nil && small != nil {
		big.sSmall, big.dSmall = &small.s, &small.d
	}
	s, d := avx512SmallKernels()
	for _, kp := range []*kernelPair{big, small} {
		if kp != nil && s != nil {
			kp.sSmallM, kp.dSmallM = s, d
		}
	}
	avx2 := registerKernels(pathAVX2, hasAVX2,
		gemmKernel[float32]{name: "avx2-s6x16", mr: 6, nr: 16, mc: 144, kc: 256, nc: 4096, fn: sgemmKernel6x16AVX2},
		gemmKernel[float64]{name: "avx2-d6x8", mr: 6, nr: 8, mc: 96, kc: 256, nc: 2048, fn: dgemmKernel6x8AVX2})
	if avx2 != nil {
		avx2.sSmallM = vecSmallKernels[float32]("avx2", true, 1)
		avx2.dSmallM = vecSmallKernels[float64]("avx2", true, 1)
	}
	selectDefault()
}
