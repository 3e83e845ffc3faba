//go:build amd64 && !purego

package fastblas

import "golang.org/x/sys/cpu"

//go:noescape
func amxBlock(cfg *[64]byte, a *uint16, lda int, b *uint32, bStride, bStep, bNext, kTiles int, out *float32)

//go:noescape
func amxStore(out *float32, c *float32, ldc int, alpha, beta float32, mrows int, lo, hi uint16)

// amxKernel is the bfloat16 products' AMX kernels: nil without AMX.
var amxKernel = func() *amxKernels {
	if haveAMX {
		return &amxKernels{block: amxBlock, store: amxStore}
	}
	return nil
}()

// haveAMX reports AMX tiles with bfloat16 products that this process may
// use (amxBlock's epilogue is AVX-512). It also asks for AVX-512 BF16,
// which every CPU with AMX has: SgemmBF16 leaves products of a few rows to
// its dot tiles.
var haveAMX = cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && cpu.X86.HasAVX512F && haveBF16 && amxPermitted()
