//go:build !amd64 || purego

package fastblas

// On non-amd64 platforms, and with the purego build tag, only the pure-Go
// kernels are available.
func init() { selectDefault() }

// bf16Tile and bf16Rows are nil: SgemmBF16 multiplies its rounded operands
// in float32.
var bf16Tile, bf16Rows bf16TileFunc

// bf16PairKernel is nil: SgemmBF16TN multiplies its rounded operands in
// float32.
var bf16PairKernel *gemmKernel[float32]

func toBF16Vec(dst []uint16, src []float32) int { return 0 }

func pairBF16Vec(dst []float32, lo, hi []float32) int { return 0 }

func roundBF16Vec(v []float32) int { return 0 }

// amxKernel is nil: SgemmBF16 runs on the AVX-512 BF16 tiles or in float32.
var amxKernel *amxKernels
