//go:build amd64 && !purego

// AVX2+FMA kernels for CPUs without AVX-512 (AMD Zen 2 and 3, Intel client
// cores before Ice Lake), written by hand. Each runs the same operations as
// its AVX-512 twin in vecmath_amd64.s on eight lanes at a time, so that the
// two paths give the same bits: where the AVX-512 kernel keeps sixteen lanes
// of partial results (Max32, Sum32, SumSquares32, SumExpShifted32) these keep
// the same lanes in pairs of Y registers and combine them in the same order.
// The last n%8 elements (n%16 where lanes come in pairs) go through
// VMASKMOVPS, which neither reads nor writes memory past the slices;
// masked-off lanes load as zero.
//
// Constants live in a table of eight-lane vectors (VEC8) and are used as
// memory operands, because AVX2 has sixteen Y registers, too few to hold
// them all beside the kernels' own values.

#include "textflag.h"

#define VEC8(off, bits) DATA avx2const<>+(off)(SB)/4, $bits; DATA avx2const<>+(off+4)(SB)/4, $bits; DATA avx2const<>+(off+8)(SB)/4, $bits; DATA avx2const<>+(off+12)(SB)/4, $bits; DATA avx2const<>+(off+16)(SB)/4, $bits; DATA avx2const<>+(off+20)(SB)/4, $bits; DATA avx2const<>+(off+24)(SB)/4, $bits; DATA avx2const<>+(off+28)(SB)/4, $bits

VEC8(0, 0x3fb8aa3b)   // log2(e)
VEC8(32, 0x3f000000)  // 0.5
VEC8(64, 0x3f318000)  // c1 = 0.693359375
VEC8(96, 0xb95e8083)  // c2 = -2.12194440e-4
VEC8(128, 0x39506967) // p0
VEC8(160, 0x3ab743ce) // p1
VEC8(192, 0x3c088908) // p2
VEC8(224, 0x3d2aa9c1) // p3
VEC8(256, 0x3e2aaaaa) // p4
VEC8(288, 0x3f000000) // p5
VEC8(320, 0x3f800000) // 1
VEC8(352, 0x0000007f) // exponent bias 127 (int32)
VEC8(384, 0x42b17217) // maxArg
VEC8(416, 0xc2cff1b4) // minArg
VEC8(448, 0x7f800000) // +Inf
VEC8(480, 0x80000000) // sign bit
VEC8(512, 0x7fffffff) // abs mask
VEC8(544, 0x40000000) // 2
VEC8(576, 0x4111999a) // 9.1
VEC8(608, 0x3f200000) // 0.625
VEC8(640, 0xbbbaf0ea) // t0
VEC8(672, 0x3ca9134e) // t1
VEC8(704, 0xbd5c1e2d) // t2
VEC8(736, 0x3e088393) // t3
VEC8(768, 0xbeaaaa99) // t4
VEC8(800, 0xffffffff) // tail masks: eight lanes set,
VEC8(832, 0x00000000) // then eight clear
VEC8(864, 0x00000010) // 16: a pooling row's index step per eight windows
DATA avx2const<>+896(SB)/4, $0  // 2*lane: the left column of window lane
DATA avx2const<>+900(SB)/4, $2
DATA avx2const<>+904(SB)/4, $4
DATA avx2const<>+908(SB)/4, $6
DATA avx2const<>+912(SB)/4, $8
DATA avx2const<>+916(SB)/4, $10
DATA avx2const<>+920(SB)/4, $12
DATA avx2const<>+924(SB)/4, $14
VEC8(928, 0x00000001) // 1
GLOBL avx2const<>(SB), RODATA|NOPTR, $960

#define LOG2E avx2const<>+0(SB)
#define HALF avx2const<>+32(SB)
#define EXPC1 avx2const<>+64(SB)
#define EXPC2 avx2const<>+96(SB)
#define EXPP0 avx2const<>+128(SB)
#define EXPP1 avx2const<>+160(SB)
#define EXPP2 avx2const<>+192(SB)
#define EXPP3 avx2const<>+224(SB)
#define EXPP4 avx2const<>+256(SB)
#define EXPP5 avx2const<>+288(SB)
#define ONE avx2const<>+320(SB)
#define BIAS avx2const<>+352(SB)
#define MAXARG avx2const<>+384(SB)
#define MINARG avx2const<>+416(SB)
#define INF avx2const<>+448(SB)
#define SIGN avx2const<>+480(SB)
#define ABS avx2const<>+512(SB)
#define TWO avx2const<>+544(SB)
#define TANHSAT avx2const<>+576(SB)
#define TANHPOLY avx2const<>+608(SB)
#define TANHT0 avx2const<>+640(SB)
#define TANHT1 avx2const<>+672(SB)
#define TANHT2 avx2const<>+704(SB)
#define TANHT3 avx2const<>+736(SB)
#define TANHT4 avx2const<>+768(SB)

// MASK sets M to a lane mask with the low N lanes set (0 ≤ N ≤ 8; N a
// register, AX and BX clobbered).
#define MASK(N, M) \
	MOVQ    $8, AX                  \
	SUBQ    N, AX                   \
	LEAQ    avx2const<>+800(SB), BX \
	VMOVDQU (BX)(AX*4), M

// PAIRMASKS splits the CX < 16 remaining elements into the low and high
// eight lanes of a sixteen-lane block: DX = min(CX, 8) lanes set in M0,
// CX - DX in M1.
#define PAIRMASKS(M0, M1) \
	MOVQ   CX, DX  \
	CMPQ   DX, $8  \
	JBE    2(PC)   \
	MOVQ   $8, DX  \
	MASK(DX, M0)   \
	SUBQ   DX, CX  \
	MASK(CX, M1)

// EXPCORE sets Y = e^X for X in [minArg, maxArg] as the AVX-512 EXPCORE
// does (other lanes: garbage, see EXPFIX); Y2-Y4 are scratch.
#define EXPCORE(X, Y) \
	VMULPS       LOG2E, X, Y2  \
	VADDPS       HALF, Y2, Y2  \
	VROUNDPS     $0x09, Y2, Y2 \
	VMOVAPS      X, Y3         \
	VFNMADD231PS EXPC1, Y2, Y3 \
	VFNMADD231PS EXPC2, Y2, Y3 \
	VMOVUPS      EXPP0, Y      \
	VFMADD213PS  EXPP1, Y3, Y  \
	VFMADD213PS  EXPP2, Y3, Y  \
	VFMADD213PS  EXPP3, Y3, Y  \
	VFMADD213PS  EXPP4, Y3, Y  \
	VFMADD213PS  EXPP5, Y3, Y  \
	VMULPS       Y3, Y3, Y4    \
	VFMADD213PS  Y3, Y4, Y     \
	VADDPS       ONE, Y, Y     \
	VCVTPS2DQ    Y2, Y2        \
	VPSRAD       $1, Y2, Y4    \
	VPSUBD       Y4, Y2, Y2    \
	VPADDD       BIAS, Y4, Y4  \
	VPADDD       BIAS, Y2, Y2  \
	VPSLLD       $23, Y4, Y4   \
	VPSLLD       $23, Y2, Y2   \
	VMULPS       Y4, Y, Y      \
	VMULPS       Y2, Y, Y

// EXPFIX applies the special cases to Y = EXPCORE(X): X > maxArg gives
// +Inf, X < minArg gives 0, NaN gives X. Y2 is scratch.
#define EXPFIX(X, Y) \
	VCMPPS    $0x1e, MAXARG, X, Y2 \
	VBLENDVPS Y2, INF, Y, Y        \
	VCMPPS    $0x11, MINARG, X, Y2 \
	VANDNPS   Y, Y2, Y             \
	VCMPPS    $0x03, X, X, Y2      \
	VBLENDVPS Y2, X, Y, Y

// TANHBODY sets Y1 = tanh(Y0) as the AVX-512 TANHBODY does; Y2-Y8 are
// scratch.
#define TANHBODY \
	VANDPS      ABS, Y0, Y5            \
	VANDPS      SIGN, Y0, Y6           \
	VADDPS      Y5, Y5, Y7             \
	EXPCORE(Y7, Y1)                    \
	VADDPS      ONE, Y1, Y1            \
	VMOVUPS     TWO, Y2                \
	VDIVPS      Y1, Y2, Y1             \
	VMOVUPS     ONE, Y2                \
	VSUBPS      Y1, Y2, Y1             \
	VCMPPS      $0x1e, TANHSAT, Y5, Y2 \
	VBLENDVPS   Y2, ONE, Y1, Y1        \
	VORPS       Y6, Y1, Y1             \
	VMULPS      Y0, Y0, Y7             \
	VMOVUPS     TANHT0, Y8             \
	VFMADD213PS TANHT1, Y7, Y8         \
	VFMADD213PS TANHT2, Y7, Y8         \
	VFMADD213PS TANHT3, Y7, Y8         \
	VFMADD213PS TANHT4, Y7, Y8         \
	VMULPS      Y7, Y8, Y8             \
	VFMADD213PS Y0, Y0, Y8             \
	VCMPPS      $0x11, TANHPOLY, Y5, Y2 \
	VBLENDVPS   Y2, Y8, Y1, Y1

// func exp32AVX2(dst, src *float32, n int)
TEXT ·exp32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

eloop:
	CMPQ    CX, $8
	JB      etail
	VMOVUPS (SI), Y0
	EXPCORE(Y0, Y1)
	EXPFIX(Y0, Y1)
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     eloop

etail:
	TESTQ      CX, CX
	JZ         edone
	MASK(CX, Y15)
	VMASKMOVPS (SI), Y15, Y0
	EXPCORE(Y0, Y1)
	EXPFIX(Y0, Y1)
	VMASKMOVPS Y1, Y15, (DI)

edone:
	VZEROUPPER
	RET

// func sigmoid32AVX2(dst, src *float32, n int)
// 1/(1+e^-x), with the division done exactly, as the scalar code.
TEXT ·sigmoid32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS ONE, Y14

sloop:
	CMPQ    CX, $8
	JB      stail
	VMOVUPS (SI), Y0
	VXORPS  SIGN, Y0, Y5 // -x: the sign flipped, as the AVX-512 kernel
	EXPCORE(Y5, Y1)
	EXPFIX(Y5, Y1)
	VADDPS  Y14, Y1, Y1
	VDIVPS  Y1, Y14, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     sloop

stail:
	TESTQ      CX, CX
	JZ         sdone
	MASK(CX, Y15)
	VMASKMOVPS (SI), Y15, Y0
	VXORPS     SIGN, Y0, Y5
	EXPCORE(Y5, Y1)
	EXPFIX(Y5, Y1)
	VADDPS     Y14, Y1, Y1
	VDIVPS     Y1, Y14, Y1
	VMASKMOVPS Y1, Y15, (DI)

sdone:
	VZEROUPPER
	RET

// func tanh32AVX2(dst, src *float32, n int)
TEXT ·tanh32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

tloop:
	CMPQ    CX, $8
	JB      ttail
	VMOVUPS (SI), Y0
	TANHBODY
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     tloop

ttail:
	TESTQ      CX, CX
	JZ         tdone
	MASK(CX, Y15)
	VMASKMOVPS (SI), Y15, Y0
	TANHBODY
	VMASKMOVPS Y1, Y15, (DI)

tdone:
	VZEROUPPER
	RET

// func lstmCell32AVX2(c, tc, h, gates, cPrev *float32, n int)
// c = f*cPrev + i*g (products rounded, then the sum), tc = tanh(c), h = o*tc.
TEXT ·lstmCell32AVX2(SB), NOSPLIT, $0-48
	MOVQ c+0(FP), R13
	MOVQ tc+8(FP), DI
	MOVQ h+16(FP), SI
	MOVQ gates+24(FP), R8
	MOVQ cPrev+32(FP), R12
	MOVQ n+40(FP), CX
	MOVQ CX, DX
	SHLQ $2, DX
	LEAQ (R8)(DX*1), R9   // f
	LEAQ (R9)(DX*1), R10  // g
	LEAQ (R10)(DX*1), R11 // o

lloop:
	CMPQ    CX, $8
	JB      ltail
	VMOVUPS (R9), Y2
	VMULPS  (R12), Y2, Y2
	VMOVUPS (R8), Y3
	VMULPS  (R10), Y3, Y3
	VADDPS  Y3, Y2, Y0
	VMOVUPS Y0, (R13)
	TANHBODY
	VMOVUPS Y1, (DI)
	VMULPS  (R11), Y1, Y1
	VMOVUPS Y1, (SI)
	ADDQ    $32, R8
	ADDQ    $32, R9
	ADDQ    $32, R10
	ADDQ    $32, R11
	ADDQ    $32, R12
	ADDQ    $32, R13
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     lloop

ltail:
	TESTQ      CX, CX
	JZ         ldone
	MASK(CX, Y15)
	VMASKMOVPS (R9), Y15, Y2
	VMASKMOVPS (R12), Y15, Y4
	VMULPS     Y4, Y2, Y2
	VMASKMOVPS (R8), Y15, Y3
	VMASKMOVPS (R10), Y15, Y4
	VMULPS     Y4, Y3, Y3
	VADDPS     Y3, Y2, Y0
	VMASKMOVPS Y0, Y15, (R13)
	TANHBODY
	VMASKMOVPS Y1, Y15, (DI)
	VMASKMOVPS (R11), Y15, Y2
	VMULPS     Y2, Y1, Y1
	VMASKMOVPS Y1, Y15, (SI)

ldone:
	VZEROUPPER
	RET

// func gruCell32AVX2(h, hnPre, gates, hh, hPrev *float32, n int)
// hnPre = hh_n, gates_n = tanh(gates_n + r*hh_n), h = (1-z)*gates_n + z*hPrev.
TEXT ·gruCell32AVX2(SB), NOSPLIT, $0-48
	MOVQ h+0(FP), SI
	MOVQ hnPre+8(FP), DI
	MOVQ gates+16(FP), R8 // r
	MOVQ hh+24(FP), R11
	MOVQ hPrev+32(FP), R12
	MOVQ n+40(FP), CX
	MOVQ CX, DX
	SHLQ $2, DX
	LEAQ (R8)(DX*1), R9   // z
	LEAQ (R9)(DX*1), R10  // gates_n
	LEAQ (R11)(DX*2), R11 // hh_n
	VMOVUPS ONE, Y14

gloop:
	CMPQ    CX, $8
	JB      gtail
	VMOVUPS (R11), Y2
	VMOVUPS Y2, (DI)
	VMULPS  (R8), Y2, Y2
	VADDPS  (R10), Y2, Y0
	TANHBODY
	VMOVUPS Y1, (R10)
	VMOVUPS (R9), Y2
	VSUBPS  Y2, Y14, Y3
	VMULPS  Y1, Y3, Y3
	VMULPS  (R12), Y2, Y2
	VADDPS  Y2, Y3, Y3
	VMOVUPS Y3, (SI)
	ADDQ    $32, R8
	ADDQ    $32, R9
	ADDQ    $32, R10
	ADDQ    $32, R11
	ADDQ    $32, R12
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     gloop

gtail:
	TESTQ      CX, CX
	JZ         gdone
	MASK(CX, Y15)
	VMASKMOVPS (R11), Y15, Y2
	VMASKMOVPS Y2, Y15, (DI)
	VMASKMOVPS (R8), Y15, Y3
	VMULPS     Y3, Y2, Y2
	VMASKMOVPS (R10), Y15, Y3
	VADDPS     Y3, Y2, Y0
	TANHBODY
	VMASKMOVPS Y1, Y15, (R10)
	VMASKMOVPS (R9), Y15, Y2
	VSUBPS     Y2, Y14, Y3
	VMULPS     Y1, Y3, Y3
	VMASKMOVPS (R12), Y15, Y4
	VMULPS     Y4, Y2, Y2
	VADDPS     Y2, Y3, Y3
	VMASKMOVPS Y3, Y15, (SI)

gdone:
	VZEROUPPER
	RET

// EXPSUM8 sets Y1 = e^(Y0 - shift) for eight lanes (shift in Y13), zeroed
// where the mask M is clear (lanes past n), and adds its low four lanes as
// float64 to LO and its high four to HI.
#define EXPSUM8(M, LO, HI) \
	VSUBPS        Y13, Y0, Y5 \
	EXPCORE(Y5, Y1)           \
	EXPFIX(Y5, Y1)            \
	VANDPS        M, Y1, Y1   \
	VCVTPS2PD     X1, Y6      \
	VEXTRACTF128  $1, Y1, X7  \
	VCVTPS2PD     X7, Y7      \
	VADDPD        Y6, LO, LO  \
	VADDPD        Y7, HI, HI

// func sumExpShifted32AVX2(dst, src *float32, n int, shift float32) float64
// As sumExpShifted32AVX512: its two accumulators of eight float64 lanes (the
// low and the high eight elements of every sixteen) are Y9:Y10 and Y11:Y12.
TEXT ·sumExpShifted32AVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y13
	MOVQ         DI, R8 // R8 == 0: no stores
	VMOVDQU      avx2const<>+800(SB), Y14 // all lanes
	VXORPD       Y9, Y9, Y9
	VXORPD       Y10, Y10, Y10
	VXORPD       Y11, Y11, Y11
	VXORPD       Y12, Y12, Y12

xloop:
	CMPQ    CX, $16
	JB      xtail
	VMOVUPS (SI), Y0
	EXPSUM8(Y14, Y9, Y10)
	TESTQ   R8, R8
	JZ      2(PC)
	VMOVUPS Y1, (DI)
	VMOVUPS 32(SI), Y0
	EXPSUM8(Y14, Y11, Y12)
	TESTQ   R8, R8
	JZ      2(PC)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     xloop

xtail:
	TESTQ      CX, CX
	JZ         xdone
	PAIRMASKS(Y14, Y15)
	VMASKMOVPS (SI), Y14, Y0
	EXPSUM8(Y14, Y9, Y10)
	TESTQ      R8, R8
	JZ         2(PC)
	VMASKMOVPS Y1, Y14, (DI)
	VMASKMOVPS 32(SI), Y15, Y0
	EXPSUM8(Y15, Y11, Y12)
	TESTQ      R8, R8
	JZ         2(PC)
	VMASKMOVPS Y1, Y15, 32(DI)

xdone:
	VADDPD       Y11, Y9, Y9
	VADDPD       Y12, Y10, Y10
	VADDPD       Y10, Y9, Y9
	VEXTRACTF128 $1, Y9, X10
	VADDPD       X10, X9, X9
	VPERMILPD    $1, X9, X10
	VADDSD       X10, X9, X9
	VMOVSD       X9, ret+32(FP)
	VZEROUPPER
	RET

// func max32AVX2(x *float32, n int) float32
// As max32AVX512, its two sixteen-lane accumulators in Y0:Y1 and Y2:Y3:
// every lane starts at x[0] and keeps m = v > m ? v : m; masked-off tail
// lanes are x[0].
TEXT ·max32AVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS (SI), Y0
	VMOVAPS      Y0, Y1
	VMOVAPS      Y0, Y2
	VMOVAPS      Y0, Y3
	VMOVAPS      Y0, Y9

mloop32:
	CMPQ    CX, $32
	JB      mloop16
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VMAXPS  Y0, Y4, Y0
	VMAXPS  Y1, Y5, Y1
	VMAXPS  Y2, Y6, Y2
	VMAXPS  Y3, Y7, Y3
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     mloop32

mloop16:
	CMPQ    CX, $16
	JB      mtail
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMAXPS  Y0, Y4, Y0
	VMAXPS  Y1, Y5, Y1
	ADDQ    $64, SI
	SUBQ    $16, CX

mtail:
	TESTQ      CX, CX
	JZ         mreduce
	PAIRMASKS(Y14, Y15)
	VMASKMOVPS (SI), Y14, Y4
	VBLENDVPS  Y14, Y4, Y9, Y4
	VMASKMOVPS 32(SI), Y15, Y5
	VBLENDVPS  Y15, Y5, Y9, Y5
	VMAXPS     Y0, Y4, Y0
	VMAXPS     Y1, Y5, Y1

mreduce:
	VMAXPS       Y2, Y0, Y0
	VMAXPS       Y3, Y1, Y1
	VMAXPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXSS       X1, X0, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET

// func relu32AVX2(x *float32, n int)
// x = x &^ (x >> 31 arithmetically), bit for bit as relu32Go.
TEXT ·relu32AVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX

rloop:
	CMPQ    CX, $8
	JB      rtail
	VMOVUPS (SI), Y0
	VPSRAD  $31, Y0, Y1
	VPANDN  Y0, Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     rloop

rtail:
	TESTQ      CX, CX
	JZ         rdone
	MASK(CX, Y15)
	VMASKMOVPS (SI), Y15, Y0
	VPSRAD     $31, Y0, Y1
	VPANDN     Y0, Y1, Y0
	VMASKMOVPS Y0, Y15, (SI)

rdone:
	VZEROUPPER
	RET

// func reluGrad32AVX2(dy, y *float32, n int)
// Keeps dy where y's bits are not all zero and zeroes it elsewhere.
TEXT ·reluGrad32AVX2(SB), NOSPLIT, $0-24
	MOVQ   dy+0(FP), DI
	MOVQ   y+8(FP), SI
	MOVQ   n+16(FP), CX
	VPXOR  Y14, Y14, Y14

qloop:
	CMPQ     CX, $8
	JB       qtail
	VPCMPEQD (SI), Y14, Y1
	VPANDN   (DI), Y1, Y0
	VMOVUPS  Y0, (DI)
	ADDQ     $32, SI
	ADDQ     $32, DI
	SUBQ     $8, CX
	JMP      qloop

qtail:
	TESTQ      CX, CX
	JZ         qdone
	MASK(CX, Y15)
	VMASKMOVPS (SI), Y15, Y1
	VPCMPEQD   Y1, Y14, Y1
	VMASKMOVPS (DI), Y15, Y0
	VPANDN     Y0, Y1, Y0
	VMASKMOVPS Y0, Y15, (DI)

qdone:
	VZEROUPPER
	RET

// func sum32AVX2(x *float32, n int) float32
// As sum32AVX512, its four sixteen-lane accumulators in Y0:Y1, Y2:Y3, Y4:Y5
// and Y6:Y7, combined in sum32Go's order.
TEXT ·sum32AVX2(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

uloop64:
	CMPQ   CX, $64
	JB     uloop16
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VADDPS 128(SI), Y4, Y4
	VADDPS 160(SI), Y5, Y5
	VADDPS 192(SI), Y6, Y6
	VADDPS 224(SI), Y7, Y7
	ADDQ   $256, SI
	SUBQ   $64, CX
	JMP    uloop64

uloop16:
	CMPQ   CX, $16
	JB     utail
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	ADDQ   $64, SI
	SUBQ   $16, CX
	JMP    uloop16

utail:
	TESTQ      CX, CX
	JZ         ureduce
	PAIRMASKS(Y14, Y15)
	VMASKMOVPS (SI), Y14, Y8
	VADDPS     Y8, Y0, Y0
	VMASKMOVPS 32(SI), Y15, Y8
	VADDPS     Y8, Y1, Y1

ureduce:
	VADDPS       Y2, Y0, Y0
	VADDPS       Y3, Y1, Y1
	VADDPS       Y6, Y4, Y4
	VADDPS       Y7, Y5, Y5
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VADDPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VADDSS       X1, X0, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumSquares32AVX2(x *float32, n int) float64
// As sumSquares32AVX512, its four eight-lane float64 accumulators in Y0:Y1,
// Y2:Y3, Y4:Y5 and Y6:Y7, combined in sumSquares32Go's order.
TEXT ·sumSquares32AVX2(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

wloop32:
	CMPQ        CX, $32
	JB          wloop8
	VCVTPS2PD   (SI), Y8
	VCVTPS2PD   16(SI), Y9
	VCVTPS2PD   32(SI), Y10
	VCVTPS2PD   48(SI), Y11
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	VFMADD231PD Y10, Y10, Y2
	VFMADD231PD Y11, Y11, Y3
	VCVTPS2PD   64(SI), Y8
	VCVTPS2PD   80(SI), Y9
	VCVTPS2PD   96(SI), Y10
	VCVTPS2PD   112(SI), Y11
	VFMADD231PD Y8, Y8, Y4
	VFMADD231PD Y9, Y9, Y5
	VFMADD231PD Y10, Y10, Y6
	VFMADD231PD Y11, Y11, Y7
	ADDQ        $128, SI
	SUBQ        $32, CX
	JMP         wloop32

wloop8:
	CMPQ        CX, $8
	JB          wtail
	VCVTPS2PD   (SI), Y8
	VCVTPS2PD   16(SI), Y9
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         wloop8

wtail:
	TESTQ       CX, CX
	JZ          wreduce
	MOVQ        CX, DX
	CMPQ        DX, $4
	JBE         2(PC)
	MOVQ        $4, DX
	MASK(DX, Y14)
	SUBQ        DX, CX
	MASK(CX, Y15)
	VMASKMOVPS  (SI), X14, X8
	VCVTPS2PD   X8, Y8
	VFMADD231PD Y8, Y8, Y0
	VMASKMOVPS  16(SI), X15, X9
	VCVTPS2PD   X9, Y9
	VFMADD231PD Y9, Y9, Y1

wreduce:
	VADDPD       Y2, Y0, Y0
	VADDPD       Y3, Y1, Y1
	VADDPD       Y6, Y4, Y4
	VADDPD       Y7, Y5, Y5
	VADDPD       Y4, Y0, Y0
	VADDPD       Y5, Y1, Y1
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VPERMILPD    $1, X0, X1
	VADDSD       X1, X0, X0
	VMOVSD       X0, ret+16(FP)
	VZEROUPPER
	RET

// func add32AVX2(dst, src *float32, n int)
TEXT ·add32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

aloop16:
	CMPQ    CX, $16
	JB      aloop8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VADDPS  (SI), Y0, Y0
	VADDPS  32(SI), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     aloop16

aloop8:
	CMPQ    CX, $8
	JB      atail
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX

atail:
	TESTQ      CX, CX
	JZ         adone
	MASK(CX, Y15)
	VMASKMOVPS (DI), Y15, Y0
	VMASKMOVPS (SI), Y15, Y1
	VADDPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)

adone:
	VZEROUPPER
	RET

// ADAMSTEP updates w (Y0), m (Y2) and v (Y3) from the gradient g (Y1) in
// adam32Go's order of operations, each rounded (no fused multiply-adds);
// the coefficients are in Y8-Y14, the decay read from (R10) when R11 ≠ 0.
#define ADAMSTEP \
	TESTL        R11, R11  \
	JZ           4(PC)     \
	VBROADCASTSS 28(R10), Y4 \
	VMULPS       Y0, Y4, Y4 \
	VADDPS       Y4, Y1, Y1 \
	VMULPS       Y2, Y8, Y2  \
	VMULPS       Y1, Y10, Y4 \
	VADDPS       Y4, Y2, Y2  \
	VMULPS       Y3, Y9, Y3  \
	VMULPS       Y1, Y11, Y5 \
	VMULPS       Y1, Y5, Y5  \
	VADDPS       Y5, Y3, Y3  \
	VSQRTPS      Y3, Y6      \
	VMULPS       Y13, Y6, Y6 \
	VADDPS       Y14, Y6, Y6 \
	VMULPS       Y2, Y12, Y7 \
	VDIVPS       Y6, Y7, Y7  \
	VSUBPS       Y7, Y0, Y0

// func adam32AVX2(w, grad, mom, vel *float32, n int, c *AdamCoefs)
// One Adam step, ADAMSTEP on eight lanes at a time, the last n%8 masked.
TEXT ·adam32AVX2(SB), NOSPLIT, $0-48
	MOVQ         w+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         mom+16(FP), R8
	MOVQ         vel+24(FP), R9
	MOVQ         n+32(FP), CX
	MOVQ         c+40(FP), R10
	MOVL         28(R10), R11 // decay's bits: 0 skips it, as the Go path does
	VBROADCASTSS 0(R10), Y8   // b1
	VBROADCASTSS 4(R10), Y9   // b2
	VBROADCASTSS 8(R10), Y10  // 1 - b1
	VBROADCASTSS 12(R10), Y11 // 1 - b2
	VBROADCASTSS 16(R10), Y12 // step
	VBROADCASTSS 20(R10), Y13 // invC2
	VBROADCASTSS 24(R10), Y14 // eps

adloop:
	CMPQ    CX, $8
	JB      adtail
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VMOVUPS (R8), Y2
	VMOVUPS (R9), Y3
	ADAMSTEP
	VMOVUPS Y2, (R8)
	VMOVUPS Y3, (R9)
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	SUBQ    $8, CX
	JMP     adloop

adtail:
	TESTQ      CX, CX
	JZ         addone
	MASK(CX, Y15)
	VMASKMOVPS (DI), Y15, Y0
	VMASKMOVPS (SI), Y15, Y1
	VMASKMOVPS (R8), Y15, Y2
	VMASKMOVPS (R9), Y15, Y3
	ADAMSTEP
	VMASKMOVPS Y2, Y15, (R8)
	VMASKMOVPS Y3, Y15, (R9)
	VMASKMOVPS Y0, Y15, (DI)

addone:
	VZEROUPPER
	RET

// func lstmCellGrad32AVX2(dg, dcPrev, gates, tc, cPrev, dh, dc *float32, n, count int)
// The first count (a multiple of eight) elements of lstmCellGrad32Go's
// results, rounded as it rounds them; the gates' blocks are n apart.
TEXT ·lstmCellGrad32AVX2(SB), NOSPLIT, $0-72
	MOVQ dg+0(FP), DI
	MOVQ dcPrev+8(FP), SI
	MOVQ gates+16(FP), R8
	MOVQ tc+24(FP), R12
	MOVQ cPrev+32(FP), R13
	MOVQ dh+40(FP), R9
	MOVQ dc+48(FP), R10
	MOVQ n+56(FP), DX
	MOVQ count+64(FP), CX
	SHLQ $2, DX          // a block of n floats in bytes
	LEAQ (DX)(DX*2), BX  // three blocks
	VMOVUPS ONE, Y15

lgloop:
	CMPQ    CX, $8
	JB      lgdone
	VMOVUPS (R12), Y5         // tc
	VMOVUPS (R9), Y7          // dh
	VMOVUPS (R8)(BX*1), Y4    // o
	VMULPS  Y5, Y5, Y9
	VSUBPS  Y9, Y15, Y9
	VMULPS  Y4, Y7, Y10
	VMULPS  Y9, Y10, Y10
	VADDPS  (R10), Y10, Y11   // dct
	VMOVUPS (R8), Y1          // i
	VMOVUPS (R8)(DX*2), Y3    // g
	VMULPS  Y3, Y11, Y12
	VMULPS  Y1, Y12, Y12
	VSUBPS  Y1, Y15, Y9
	VMULPS  Y9, Y12, Y12
	VMOVUPS Y12, (DI)
	VMOVUPS (R8)(DX*1), Y2    // f
	VMULPS  (R13), Y11, Y13
	VMULPS  Y2, Y13, Y13
	VSUBPS  Y2, Y15, Y9
	VMULPS  Y9, Y13, Y13
	VMOVUPS Y13, (DI)(DX*1)
	VMULPS  Y1, Y11, Y14
	VMULPS  Y3, Y3, Y9
	VSUBPS  Y9, Y15, Y9
	VMULPS  Y9, Y14, Y14
	VMOVUPS Y14, (DI)(DX*2)
	VMULPS  Y5, Y7, Y12
	VMULPS  Y4, Y12, Y12
	VSUBPS  Y4, Y15, Y9
	VMULPS  Y9, Y12, Y12
	VMOVUPS Y12, (DI)(BX*1)
	VMULPS  Y2, Y11, Y13
	VMOVUPS Y13, (SI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	ADDQ    $32, R10
	ADDQ    $32, R12
	ADDQ    $32, R13
	SUBQ    $8, CX
	JMP     lgloop

lgdone:
	VZEROUPPER
	RET

// func gruCellGrad32AVX2(di, dhh, dhPrev, gates, hnPre, hPrev, dh *float32, n, count int)
// The first count (a multiple of eight) elements of gruCellGrad32Go's
// results, rounded as it rounds them; the gates' blocks are n apart.
TEXT ·gruCellGrad32AVX2(SB), NOSPLIT, $0-72
	MOVQ di+0(FP), DI
	MOVQ dhh+8(FP), SI
	MOVQ dhPrev+16(FP), R11
	MOVQ gates+24(FP), R8
	MOVQ hnPre+32(FP), R12
	MOVQ hPrev+40(FP), R13
	MOVQ dh+48(FP), R9
	MOVQ n+56(FP), DX
	MOVQ count+64(FP), CX
	SHLQ $2, DX          // a block of n floats in bytes
	VMOVUPS ONE, Y15

ggloop:
	CMPQ    CX, $8
	JB      ggdone
	VMOVUPS (R8), Y1         // r
	VMOVUPS (R8)(DX*1), Y2   // z
	VMOVUPS (R8)(DX*2), Y3   // n
	VMOVUPS (R9), Y6         // dh
	VSUBPS  Y2, Y15, Y9
	VMULPS  Y3, Y3, Y10
	VSUBPS  Y10, Y15, Y10
	VMULPS  Y9, Y6, Y11
	VMULPS  Y10, Y11, Y11    // dn
	VMOVUPS (R13), Y12
	VSUBPS  Y3, Y12, Y12
	VMULPS  Y12, Y6, Y12
	VMULPS  Y2, Y12, Y12
	VMULPS  Y9, Y12, Y12     // dz
	VMULPS  (R12), Y11, Y13
	VMULPS  Y1, Y13, Y13
	VSUBPS  Y1, Y15, Y14
	VMULPS  Y14, Y13, Y13    // dr
	VMULPS  Y1, Y11, Y14     // dn*r
	VMULPS  Y2, Y6, Y10      // dhPrev
	VMOVUPS Y13, (DI)
	VMOVUPS Y12, (DI)(DX*1)
	VMOVUPS Y11, (DI)(DX*2)
	VMOVUPS Y13, (SI)
	VMOVUPS Y12, (SI)(DX*1)
	VMOVUPS Y14, (SI)(DX*2)
	VMOVUPS Y10, (R11)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R11
	ADDQ    $32, R8
	ADDQ    $32, R9
	ADDQ    $32, R12
	ADDQ    $32, R13
	SUBQ    $8, CX
	JMP     ggloop

ggdone:
	VZEROUPPER
	RET

// EVENODD sets E to the even and O to the odd elements of the sixteen
// floats in A (first eight) and B, in order.
#define EVENODD(A, B, E, O) \
	VSHUFPS $0x88, B, A, E \
	VPERMPD $0xd8, E, E    \
	VSHUFPS $0xdd, B, A, O \
	VPERMPD $0xd8, O, O

// POOLKEY sets K to the integer key of float lanes V that orders as the
// floats do (V + 0 turns -0 into +0; then bits ^ (sign-fill >> 1)), with
// +0.0 in Y15 and T scratch.
#define POOLKEY(V, K, T) \
	VADDPS Y15, V, K \
	VPSRAD $31, K, T \
	VPSRLD $1, T, T  \
	VPXOR  T, K, K

// func maxPool2x2Row32AVX2(r0, r1, y *float32, arg *int32, start, w, n int)
// As maxPool2x2Row32AVX512, eight windows per iteration (n a positive
// multiple of 8): the four candidates deinterleaved from sixteen floats of
// each row, compared by key in row-major order with strict greater-than,
// the winner's value and index start + 2*ox + {0, 1, w, w+1} stored.
TEXT ·maxPool2x2Row32AVX2(SB), NOSPLIT, $0-56
	MOVQ         r0+0(FP), SI
	MOVQ         r1+8(FP), DX
	MOVQ         y+16(FP), DI
	MOVQ         arg+24(FP), R8
	MOVQ         n+48(FP), CX
	VXORPS       Y15, Y15, Y15
	VMOVDQU      avx2const<>+928(SB), Y11 // 1
	VPBROADCASTD w+40(FP), Y12            // w (the low half of the int)
	VPADDD       Y11, Y12, Y13            // w + 1
	VPBROADCASTD start+32(FP), Y14
	VPADDD       avx2const<>+896(SB), Y14, Y14 // start + 2*lane

ploop:
	VMOVUPS   (SI), Y0
	VMOVUPS   32(SI), Y1
	EVENODD(Y0, Y1, Y4, Y5) // top left, top right
	VMOVUPS   (DX), Y2
	VMOVUPS   32(DX), Y3
	EVENODD(Y2, Y3, Y6, Y7) // bottom left, bottom right
	POOLKEY(Y4, Y0, Y8)
	POOLKEY(Y5, Y1, Y8)
	POOLKEY(Y6, Y2, Y8)
	POOLKEY(Y7, Y3, Y8)
	VPXOR     Y10, Y10, Y10
	VPCMPGTD  Y0, Y1, Y9
	VBLENDVPS Y9, Y1, Y0, Y0
	VBLENDVPS Y9, Y5, Y4, Y4
	VBLENDVPS Y9, Y11, Y10, Y10
	VPCMPGTD  Y0, Y2, Y9
	VBLENDVPS Y9, Y2, Y0, Y0
	VBLENDVPS Y9, Y6, Y4, Y4
	VBLENDVPS Y9, Y12, Y10, Y10
	VPCMPGTD  Y0, Y3, Y9
	VBLENDVPS Y9, Y7, Y4, Y4
	VBLENDVPS Y9, Y13, Y10, Y10
	VPADDD    Y14, Y10, Y10
	VMOVUPS   Y4, (DI)
	VMOVDQU   Y10, (R8)
	VPADDD    avx2const<>+864(SB), Y14, Y14
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $32, DI
	ADDQ      $32, R8
	SUBQ      $8, CX
	JNZ       ploop
	VZEROUPPER
	RET
