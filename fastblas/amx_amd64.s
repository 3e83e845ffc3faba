//go:build amd64 && !purego

#include "textflag.h"

// The Go assembler knows no AMX instruction: each is emitted as the bytes
// GNU as 2.40 assembles it to, its AT&T form in the comment beside it.

// func amxBlock(cfg *[64]byte, a *uint16, lda int, b *uint32, bStride, bStep, bNext, kTiles int, out *float32)
// Multiplies a 32-row block of A (bfloat16 rows lda bytes apart, 32·kTiles
// values each) by two 16-column blocks of B in VNNI tiles (rows bStride
// bytes apart, the next tile along k bStep bytes on, the second column
// block bNext bytes after the first) with TDPBF16PS into out (32×32
// float32, rows 128 bytes apart). It loads cfg (every tile 16 rows of 64
// bytes) and releases the tiles before it returns, so no tile state
// outlives a call.
TEXT ·amxBlock(SB), NOSPLIT, $0-72
	MOVQ cfg+0(FP), AX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), DX
	MOVQ b+24(FP), BX
	MOVQ bStride+32(FP), CX
	MOVQ bStep+40(FP), R13
	MOVQ bNext+48(FP), R8
	ADDQ BX, R8         // B's second column block
	MOVQ kTiles+56(FP), R12
	MOVQ out+64(FP), R9
	MOVQ DX, DI
	SHLQ $4, DI
	ADDQ SI, DI         // A's rows 16–31
	MOVQ $128, R11      // out's row stride

	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0x00 // ldtilecfg (%rax)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc0 // tilezero %tmm0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xc8 // tilezero %tmm1
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd0 // tilezero %tmm2
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x49; BYTE $0xd8 // tilezero %tmm3

loop:
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x24; BYTE $0x16 // tileloadd (%rsi,%rdx,1), %tmm4
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x2c; BYTE $0x17 // tileloadd (%rdi,%rdx,1), %tmm5
	BYTE $0xc4; BYTE $0xe2; BYTE $0x7b; BYTE $0x4b; BYTE $0x34; BYTE $0x0b // tileloadd (%rbx,%rcx,1), %tmm6
	BYTE $0xc4; BYTE $0xc2; BYTE $0x7b; BYTE $0x4b; BYTE $0x3c; BYTE $0x08 // tileloadd (%r8,%rcx,1), %tmm7
	BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xc4             // tdpbf16ps %tmm6, %tmm4, %tmm0
	BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xcc             // tdpbf16ps %tmm7, %tmm4, %tmm1
	BYTE $0xc4; BYTE $0xe2; BYTE $0x4a; BYTE $0x5c; BYTE $0xd5             // tdpbf16ps %tmm6, %tmm5, %tmm2
	BYTE $0xc4; BYTE $0xe2; BYTE $0x42; BYTE $0x5c; BYTE $0xdd             // tdpbf16ps %tmm7, %tmm5, %tmm3
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ R13, BX
	ADDQ R13, R8
	DECQ R12
	JNZ  loop

	BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x04; BYTE $0x19 // tilestored %tmm0, (%r9,%r11,1)
	ADDQ $64, R9
	BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x0c; BYTE $0x19 // tilestored %tmm1, (%r9,%r11,1)
	ADDQ $1984, R9      // 16 rows of 128 bytes, back 64
	BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x14; BYTE $0x19 // tilestored %tmm2, (%r9,%r11,1)
	ADDQ $64, R9
	BYTE $0xc4; BYTE $0x82; BYTE $0x7a; BYTE $0x4b; BYTE $0x1c; BYTE $0x19 // tilestored %tmm3, (%r9,%r11,1)
	BYTE $0xc4; BYTE $0xe2; BYTE $0x78; BYTE $0x49; BYTE $0xc0             // tilerelease
	RET

// func amxStore(out *float32, c *float32, ldc int, alpha, beta float32, mrows int, lo, hi uint16)
// Writes alpha·out + beta·C into the first mrows rows of C (ldc bytes
// apart) from out's (rows 128 bytes apart), in the columns the masks lo
// (the first 16) and hi (the next 16) select; C is not read when beta is
// zero.
TEXT ·amxStore(SB), NOSPLIT, $0-44
	MOVQ         out+0(FP), SI
	MOVQ         c+8(FP), DI
	MOVQ         ldc+16(FP), DX
	VBROADCASTSS alpha+24(FP), Z30
	VBROADCASTSS beta+28(FP), Z31
	MOVQ         mrows+32(FP), R12
	KMOVW        lo+40(FP), K1
	KMOVW        hi+42(FP), K2
	MOVL         beta+28(FP), AX
	TESTL        $0x7fffffff, AX
	JZ           store

update:
	VMULPS      (SI), Z30, Z0
	VMULPS      64(SI), Z30, Z1
	VMOVUPS.Z   (DI), K1, Z2
	VMOVUPS.Z   64(DI), K2, Z3
	VFMADD231PS Z31, Z2, Z0
	VFMADD231PS Z31, Z3, Z1
	VMOVUPS     Z0, K1, (DI)
	VMOVUPS     Z1, K2, 64(DI)
	ADDQ        $128, SI
	ADDQ        DX, DI
	DECQ        R12
	JNZ         update
	VZEROUPPER
	RET

store:
	VMULPS  (SI), Z30, Z0
	VMULPS  64(SI), Z30, Z1
	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K2, 64(DI)
	ADDQ    $128, SI
	ADDQ    DX, DI
	DECQ    R12
	JNZ     store
	VZEROUPPER
	RET
