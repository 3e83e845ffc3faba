//go:build amd64 && !purego

#include "textflag.h"

// func packCopyAVX(dst, src unsafe.Pointer, lds uintptr, rows, width, panels int, pstride uintptr)
// For each of rows rows of src (row stride lds bytes), copies its first
// panels·width bytes as panels chunks of width bytes (a multiple of 4):
// chunk q of row r goes to dst + q·pstride + r·width. One row at a time,
// so each source row is read once and in order (panel by panel, rows far
// apart would be fetched one short piece at a time, each from afar).
TEXT ·packCopyAVX(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ width+32(FP), DX
	MOVQ panels+40(FP), R10
	MOVQ pstride+48(FP), R11
	TESTQ CX, CX
	JZ done
	TESTQ R10, R10
	JZ done
row:
	MOVQ SI, R12
	MOVQ DI, R13
	MOVQ R10, R14
panel:
	XORQ AX, AX
	MOVQ DX, R8
c32:
	CMPQ R8, $32
	JLT c16
	VMOVUPS (R12)(AX*1), Y0
	VMOVUPS Y0, (R13)(AX*1)
	ADDQ $32, AX
	SUBQ $32, R8
	JMP c32
c16:
	CMPQ R8, $16
	JLT c8
	VMOVUPS (R12)(AX*1), X1
	VMOVUPS X1, (R13)(AX*1)
	ADDQ $16, AX
	SUBQ $16, R8
c8:
	CMPQ R8, $8
	JLT c4
	MOVQ (R12)(AX*1), R9
	MOVQ R9, (R13)(AX*1)
	ADDQ $8, AX
	SUBQ $8, R8
c4:
	CMPQ R8, $4
	JLT next
	MOVL (R12)(AX*1), R9
	MOVL R9, (R13)(AX*1)
next:
	ADDQ DX, R12
	ADDQ R11, R13
	DECQ R14
	JNZ panel
	ADDQ BX, SI
	ADDQ DX, DI
	DECQ CX
	JNZ row
	VZEROUPPER
done:
	RET

// func packTrans8x8PS(dst, src unsafe.Pointer, lds uintptr, ldd, nj, kc8 int)
// For j < nj (a multiple of 8) and p < kc8 (a multiple of 8):
// dst[p*ldd+j] = src[j*lds/4+p] (float32).
TEXT ·packTrans8x8PS(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), BX
	MOVQ ldd+24(FP), R8
	MOVQ kc8+40(FP), CX
	SHLQ $2, R8          // dst row stride in bytes
	LEAQ (BX)(BX*2), R12 // 3*lds
	LEAQ (R8)(R8*2), R14 // 3*dst stride
	SHRQ $3, CX
	JZ tdone
pblk:
	MOVQ SI, R10 // src of (jb=0, pb)
	MOVQ DI, R13 // dst of (pb, jb=0)
	MOVQ nj+32(FP), DX
	SHRQ $3, DX // nj/8 blocks
jblk:
	LEAQ (R10)(BX*4), R11
	VMOVUPS (R10), Y0
	VMOVUPS (R10)(BX*1), Y1
	VMOVUPS (R10)(BX*2), Y2
	VMOVUPS (R10)(R12*1), Y3
	VMOVUPS (R11), Y4
	VMOVUPS (R11)(BX*1), Y5
	VMOVUPS (R11)(BX*2), Y6
	VMOVUPS (R11)(R12*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	LEAQ (R13)(R8*4), R15
	VMOVUPS Y8, (R13)
	VMOVUPS Y9, (R13)(R8*1)
	VMOVUPS Y10, (R13)(R8*2)
	VMOVUPS Y11, (R13)(R14*1)
	VMOVUPS Y12, (R15)
	VMOVUPS Y13, (R15)(R8*1)
	VMOVUPS Y14, (R15)(R8*2)
	VMOVUPS Y15, (R15)(R14*1)
	LEAQ (R10)(BX*8), R10 // next 8 source rows
	ADDQ $32, R13         // next 8 destination columns
	DECQ DX
	JNZ jblk
	ADDQ $32, SI          // next 8 source columns
	LEAQ (DI)(R8*8), DI   // next 8 destination rows
	DECQ CX
	JNZ pblk
	VZEROUPPER
tdone:
	RET

// func packTrans4x4PD(dst, src unsafe.Pointer, lds uintptr, ldd, nj, kc4 int)
// For j < nj (a multiple of 4) and p < kc4 (a multiple of 4):
// dst[p*ldd+j] = src[j*lds/8+p] (float64).
TEXT ·packTrans4x4PD(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), BX
	MOVQ ldd+24(FP), R8
	MOVQ kc4+40(FP), CX
	SHLQ $3, R8
	LEAQ (BX)(BX*2), R12
	LEAQ (R8)(R8*2), R14
	SHRQ $2, CX
	JZ ddone
dpblk:
	MOVQ SI, R10
	MOVQ DI, R13
	MOVQ nj+32(FP), DX
	SHRQ $2, DX // nj/4 blocks
djblk:
	VMOVUPD (R10), Y0
	VMOVUPD (R10)(BX*1), Y1
	VMOVUPD (R10)(BX*2), Y2
	VMOVUPD (R10)(R12*1), Y3
	VUNPCKLPD Y1, Y0, Y4
	VUNPCKHPD Y1, Y0, Y5
	VUNPCKLPD Y3, Y2, Y6
	VUNPCKHPD Y3, Y2, Y7
	VPERM2F128 $0x20, Y6, Y4, Y0
	VPERM2F128 $0x20, Y7, Y5, Y1
	VPERM2F128 $0x31, Y6, Y4, Y2
	VPERM2F128 $0x31, Y7, Y5, Y3
	VMOVUPD Y0, (R13)
	VMOVUPD Y1, (R13)(R8*1)
	VMOVUPD Y2, (R13)(R8*2)
	VMOVUPD Y3, (R13)(R14*1)
	LEAQ (R10)(BX*4), R10
	ADDQ $32, R13
	DECQ DX
	JNZ djblk
	ADDQ $32, SI
	LEAQ (DI)(R8*4), DI
	DECQ CX
	JNZ dpblk
	VZEROUPPER
ddone:
	RET

// func packTrans6x8PS(dst, src unsafe.Pointer, lds uintptr, kc8 int)
// For j < 6 and p < kc8 (a multiple of 8): dst[p*6+j] = src[j*lds/4+p]
// (float32): one micro-panel of the AVX2 kernel's six rows. Each block of
// eight k steps is an 8×8 transpose of the six rows and two zero rows; the
// eight results are stored 24 bytes apart in order, each 32-byte store's
// last two (zero) floats overwritten by the next, and the eighth stored as
// six floats, so nothing past the block is written.
TEXT ·packTrans6x8PS(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), BX
	MOVQ kc8+24(FP), CX
	LEAQ (BX)(BX*2), R12 // 3*lds
	LEAQ (SI)(BX*4), R11 // row 4
	SHRQ $3, CX
	JZ t6done
	VXORPS Y6, Y6, Y6
t6blk:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS (SI)(BX*2), Y2
	VMOVUPS (SI)(R12*1), Y3
	VMOVUPS (R11), Y4
	VMOVUPS (R11)(BX*1), Y5
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y6, Y12, Y4
	VSHUFPS $0xEE, Y6, Y12, Y5
	VSHUFPS $0x44, Y6, Y13, Y7
	VSHUFPS $0xEE, Y6, Y13, Y14
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y7, Y2, Y10
	VPERM2F128 $0x20, Y14, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y7, Y2, Y15
	VPERM2F128 $0x31, Y14, Y3, Y14
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 24(DI)
	VMOVUPS Y10, 48(DI)
	VMOVUPS Y11, 72(DI)
	VMOVUPS Y12, 96(DI)
	VMOVUPS Y13, 120(DI)
	VMOVUPS Y15, 144(DI)
	VMOVUPS X14, 168(DI)
	VEXTRACTF128 $1, Y14, X14
	VMOVSD X14, 184(DI)
	ADDQ $32, SI
	ADDQ $32, R11
	ADDQ $192, DI
	DECQ CX
	JNZ t6blk
	VZEROUPPER
t6done:
	RET
