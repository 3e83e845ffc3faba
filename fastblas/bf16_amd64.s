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

// pairIndex interleaves the two halves of a vector of 32 words: word 2j
// from word j, word 2j+1 from word 16+j (VPERMW's indices).
DATA pairIndex<>+0(SB)/8, $0x0011000100100000
DATA pairIndex<>+8(SB)/8, $0x0013000300120002
DATA pairIndex<>+16(SB)/8, $0x0015000500140004
DATA pairIndex<>+24(SB)/8, $0x0017000700160006
DATA pairIndex<>+32(SB)/8, $0x0019000900180008
DATA pairIndex<>+40(SB)/8, $0x001b000b001a000a
DATA pairIndex<>+48(SB)/8, $0x001d000d001c000c
DATA pairIndex<>+56(SB)/8, $0x001f000f001e000e
GLOBL pairIndex<>(SB), RODATA|NOPTR, $64

// func pairBF16AVX512(dst *uint32, lo, hi *float32, n int)
// Rounds lo[j] and hi[j] to bfloat16 (as toBF16AVX512) and writes them as
// the low and high halves of dst[j], for n (a positive multiple of 16)
// values: VCVTNE2PS2BF16 Z2, Z0, Z1 puts the 16 values of lo (Z1) in Z2's
// low half and those of hi (Z0) in its high half, VPERMW interleaves them.
TEXT ·pairBF16AVX512(SB), NOSPLIT, $0-32
	MOVQ      dst+0(FP), DI
	MOVQ      lo+8(FP), SI
	MOVQ      hi+16(FP), DX
	MOVQ      n+24(FP), CX
	VMOVDQU64 pairIndex<>(SB), Z3

ploop:
	VMOVUPS   (SI), Z1
	VMOVUPS   (DX), Z0
	BYTE $0x62; BYTE $0xf2; BYTE $0x7f; BYTE $0x48; BYTE $0x72; BYTE $0xd1 // VCVTNE2PS2BF16 Z1, Z0, Z2
	VPERMW    Z2, Z3, Z4
	VMOVDQU64 Z4, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       ploop
	VZEROUPPER
	RET

// roundBF16Bits holds, as 32-bit words, the constants of roundBF16AVX2.
DATA roundBF16Bits<>+0(SB)/4, $0x80000000  // sign
DATA roundBF16Bits<>+4(SB)/4, $0x00000001  // lowest kept mantissa bit, after the shift
DATA roundBF16Bits<>+8(SB)/4, $0x00007fff  // half an ulp of bfloat16, less one
DATA roundBF16Bits<>+12(SB)/4, $0xffff0000 // the bits bfloat16 keeps
DATA roundBF16Bits<>+16(SB)/4, $0x7fffffff // all but the sign
DATA roundBF16Bits<>+20(SB)/4, $0x7f800000 // exponent (infinity)
DATA roundBF16Bits<>+24(SB)/4, $0x00400000 // quiet-NaN bit
GLOBL roundBF16Bits<>(SB), RODATA|NOPTR, $28

// func roundBF16AVX2(v *float32, n int)
// Rounds n floats (a positive multiple of 8) in place to the nearest
// bfloat16, as RoundBF16: ties to even, NaNs quiet with their sign,
// zeros and subnormals to zeros of their sign.
TEXT ·roundBF16AVX2(SB), NOSPLIT, $0-16
	MOVQ v+0(FP), SI
	MOVQ n+8(FP), CX
	VPBROADCASTD roundBF16Bits<>+0(SB), Y8
	VPBROADCASTD roundBF16Bits<>+4(SB), Y9
	VPBROADCASTD roundBF16Bits<>+8(SB), Y10
	VPBROADCASTD roundBF16Bits<>+12(SB), Y11
	VPBROADCASTD roundBF16Bits<>+16(SB), Y12
	VPBROADCASTD roundBF16Bits<>+20(SB), Y13
	VPBROADCASTD roundBF16Bits<>+24(SB), Y14
	VPXOR        Y7, Y7, Y7

rloop:
	VMOVDQU   (SI), Y0
	VPSRLD    $16, Y0, Y1
	VPAND     Y9, Y1, Y1
	VPADDD    Y10, Y1, Y1
	VPADDD    Y0, Y1, Y1
	VPAND     Y11, Y1, Y1     // finite and infinite values rounded
	VPAND     Y12, Y0, Y2
	VPCMPGTD  Y13, Y2, Y3     // NaN lanes
	VPAND     Y11, Y0, Y4
	VPOR      Y14, Y4, Y4
	VPBLENDVB Y3, Y4, Y1, Y1
	VPAND     Y13, Y0, Y5
	VPCMPEQD  Y7, Y5, Y5      // zero and subnormal lanes
	VPAND     Y8, Y0, Y6
	VPBLENDVB Y5, Y6, Y1, Y1
	VMOVDQU   Y1, (SI)
	ADDQ      $32, SI
	SUBQ      $8, CX
	JNZ       rloop
	VZEROUPPER
	RET
