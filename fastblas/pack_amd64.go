//go:build amd64 && !purego

package fastblas

import "unsafe"

//go:noescape
func packCopyAVX(dst, src unsafe.Pointer, lds uintptr, rows, width, panels int, pstride uintptr)

//go:noescape
func packTrans8x8PS(dst, src unsafe.Pointer, lds uintptr, ldd, nj, kc8 int)

//go:noescape
func packTrans6x8PS(dst, src unsafe.Pointer, lds uintptr, kc8 int)

//go:noescape
func packTrans4x4PD(dst, src unsafe.Pointer, lds uintptr, ldd, nj, kc4 int)

// asmPack enables the AVX packing routines (set in init from the CPU flags;
// tests may clear it to exercise the Go packing code).
var asmPack bool

func init() { asmPack = hasAVX2 }

// copyPanels sets dst[q*pstride+r*w+i] = src[r*lds+q*w+i] for r < rows,
// q < panels, i < w — rows of src cut into panels of width w, each panel's
// rows contiguous — and reports whether it did so (false: the caller must
// do it).
func copyPanels[T float](dst, src []T, lds, rows, w, panels, pstride int) bool {
	if !asmPack || rows == 0 || w == 0 || panels == 0 {
		return false
	}
	_ = dst[(panels-1)*pstride+rows*w-1]
	_ = src[(rows-1)*lds+panels*w-1]
	es := int(unsafe.Sizeof(dst[0]))
	packCopyAVX(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), uintptr(lds*es), rows, w*es, panels, uintptr(pstride*es))
	return true
}

// transBlock sets dst[p*ldd+j] = src[j*lds+p] for j < jd, p < pd, where
// jd ≤ nj and pd ≤ kc are the largest multiples of the transpose block size,
// and returns jd and pd.
func transBlock[T float](dst, src []T, lds, ldd, nj, kc int) (jd, pd int) {
	if !asmPack {
		return 0, 0
	}
	var z T
	bs := 8
	if unsafe.Sizeof(z) == 8 {
		bs = 4
	}
	if bs == 8 && nj == 6 && ldd == 6 && kc >= 8 {
		// A whole micro-panel of the AVX2 kernel's six rows.
		pd = kc / 8 * 8
		_ = src[5*lds+pd-1]
		_ = dst[(pd-1)*ldd+5]
		packTrans6x8PS(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), uintptr(lds*4), pd)
		return 6, pd
	}
	jd, pd = nj/bs*bs, kc/bs*bs
	if jd == 0 || pd == 0 {
		return 0, 0
	}
	_ = src[(jd-1)*lds+pd-1]
	_ = dst[(pd-1)*ldd+jd-1]
	if bs == 8 {
		packTrans8x8PS(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), uintptr(lds*4), ldd, jd, pd)
	} else {
		packTrans4x4PD(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), uintptr(lds*8), ldd, jd, pd)
	}
	return jd, pd
}
