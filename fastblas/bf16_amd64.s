//go:build amd64 && !purego

#include "textflag.h"

// func toBF16AVX512(dst *uint16, src *float32, n int)
// Rounds n floats (a positive multiple of 32) to bfloat16, 32 per iteration
// with VCVTNE2PS2BF16 (to nearest even; subnormals to zero; NaNs quiet),
// which the Go assembler does not know: it is emitted as its EVEX encoding
// for VCVTNE2PS2BF16 Z2, Z0, Z1 (Z2's low half from Z1, its high half from
// Z0).
TEXT ·toBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

cloop:
	VMOVUPS   (SI), Z1
	VMOVUPS   64(SI), Z0
	BYTE $0x62; BYTE $0xf2; BYTE $0x7f; BYTE $0x48; BYTE $0x72; BYTE $0xd1 // VCVTNE2PS2BF16 Z1, Z0, Z2
	VMOVDQU64 Z2, (DI)
	ADDQ      $128, SI
	ADDQ      $64, DI
	SUBQ      $32, CX
	JNZ       cloop
	VZEROUPPER
	RET
