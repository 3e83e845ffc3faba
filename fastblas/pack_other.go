//go:build !amd64 || purego

package fastblas

var asmPack bool

func copyPanels[T float](dst, src []T, lds, rows, w, panels, pstride int) bool { return false }

func transBlock[T float](dst, src []T, lds, ldd, nj, kc int) (jd, pd int) { return 0, 0 }
