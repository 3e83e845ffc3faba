//go:build !amd64 || purego

package fastblas

var asmPack bool

func copyRows[T float](dst, src []T, lds, rows, w int) bool { return false }

func transBlock[T float](dst, src []T, lds, ldd, nj, kc int) (jd, pd int) { return 0, 0 }
