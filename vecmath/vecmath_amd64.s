//go:build amd64 && !purego

// AVX-512F kernels for exp, sigmoid, tanh and the shifted exp-sum over
// float32 slices, written by hand. Each runs the scalar algorithm of
// vecmath.go on sixteen lanes: the main loop handles sixteen elements per
// iteration and the last n%16 go through one masked load and store (K7),
// which does not touch memory beyond the slices.
//
// Register use: Z16-Z30 hold the exp constants, broadcast once per call
// (EXPCONSTS); EXPCORE uses Z2-Z4 as scratch; the kernels keep x in Z0 and
// the result in Z1, with Z5-Z15 for their own temporaries and constants.

#include "textflag.h"

// Constant table: float32 bit patterns (int 127 at offset 44).
DATA expconst<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expconst<>+4(SB)/4, $0x3f000000  // 0.5
DATA expconst<>+8(SB)/4, $0x3f318000  // c1 = 0.693359375
DATA expconst<>+12(SB)/4, $0xb95e8083 // c2 = -2.12194440e-4
DATA expconst<>+16(SB)/4, $0x39506967 // p0 = 1.9875691500e-4
DATA expconst<>+20(SB)/4, $0x3ab743ce // p1 = 1.3981999507e-3
DATA expconst<>+24(SB)/4, $0x3c088908 // p2 = 8.3334519073e-3
DATA expconst<>+28(SB)/4, $0x3d2aa9c1 // p3 = 4.1665795894e-2
DATA expconst<>+32(SB)/4, $0x3e2aaaaa // p4 = 1.6666665459e-1
DATA expconst<>+36(SB)/4, $0x3f000000 // p5 = 5.0000001201e-1
DATA expconst<>+40(SB)/4, $0x3f800000 // 1
DATA expconst<>+44(SB)/4, $0x0000007f // exponent bias 127 (int32)
DATA expconst<>+48(SB)/4, $0x42b17217 // maxArg = 88.72283
DATA expconst<>+52(SB)/4, $0xc2cff1b4 // minArg = -103.97208
DATA expconst<>+56(SB)/4, $0x7f800000 // +Inf
DATA expconst<>+60(SB)/4, $0x80000000 // sign bit
DATA expconst<>+64(SB)/4, $0x7fffffff // abs mask
DATA expconst<>+68(SB)/4, $0x40000000 // 2
DATA expconst<>+72(SB)/4, $0x4111999a // 9.1: tanh saturates beyond
DATA expconst<>+76(SB)/4, $0x3f200000 // 0.625: tanh polynomial below
DATA expconst<>+80(SB)/4, $0xbbbaf0ea // t0 = -5.70498872745e-3
DATA expconst<>+84(SB)/4, $0x3ca9134e // t1 = 2.06390887954e-2
DATA expconst<>+88(SB)/4, $0xbd5c1e2d // t2 = -5.37397155531e-2
DATA expconst<>+92(SB)/4, $0x3e088393 // t3 = 1.33314422036e-1
DATA expconst<>+96(SB)/4, $0xbeaaaa99 // t4 = -3.33332819422e-1
GLOBL expconst<>(SB), RODATA|NOPTR, $100

#define EXPCONSTS \
	VBROADCASTSS expconst<>+0(SB), Z16  \
	VBROADCASTSS expconst<>+4(SB), Z17  \
	VBROADCASTSS expconst<>+8(SB), Z18  \
	VBROADCASTSS expconst<>+12(SB), Z19 \
	VBROADCASTSS expconst<>+16(SB), Z20 \
	VBROADCASTSS expconst<>+20(SB), Z21 \
	VBROADCASTSS expconst<>+24(SB), Z22 \
	VBROADCASTSS expconst<>+28(SB), Z23 \
	VBROADCASTSS expconst<>+32(SB), Z24 \
	VBROADCASTSS expconst<>+36(SB), Z25 \
	VBROADCASTSS expconst<>+40(SB), Z26 \
	VBROADCASTSS expconst<>+44(SB), Z27 \
	VBROADCASTSS expconst<>+48(SB), Z28 \
	VBROADCASTSS expconst<>+52(SB), Z29 \
	VBROADCASTSS expconst<>+56(SB), Z30

// EXPCORE sets Y = e^X for X in [minArg, maxArg] (other lanes: garbage,
// see EXPFIX). n = floor(X*log2e + 0.5) (multiply and add rounded
// separately, as in the scalar code); r = X - n*c1 - n*c2; p = degree-5
// Horner in r; Y = p*r*r + r + 1, scaled by 2^h * 2^(n-h), h = n>>1, each
// factor built as (h+127)<<23.
#define EXPCORE(X, Y) \
	VMULPS       Z16, X, Z2     \
	VADDPS       Z17, Z2, Z2    \
	VRNDSCALEPS  $0x09, Z2, Z2  \
	VMOVAPS      X, Z3          \
	VFNMADD231PS Z18, Z2, Z3    \
	VFNMADD231PS Z19, Z2, Z3    \
	VMOVAPS      Z20, Y         \
	VFMADD213PS  Z21, Z3, Y     \
	VFMADD213PS  Z22, Z3, Y     \
	VFMADD213PS  Z23, Z3, Y     \
	VFMADD213PS  Z24, Z3, Y     \
	VFMADD213PS  Z25, Z3, Y     \
	VMULPS       Z3, Z3, Z4     \
	VFMADD213PS  Z3, Z4, Y      \
	VADDPS       Z26, Y, Y      \
	VCVTPS2DQ    Z2, Z2         \
	VPSRAD       $1, Z2, Z4     \
	VPSUBD       Z4, Z2, Z2     \
	VPADDD       Z27, Z4, Z4    \
	VPADDD       Z27, Z2, Z2    \
	VPSLLD       $23, Z4, Z4    \
	VPSLLD       $23, Z2, Z2    \
	VMULPS       Z4, Y, Y       \
	VMULPS       Z2, Y, Y

// EXPFIX applies the scalar code's special cases to Y = EXPCORE(X):
// X > maxArg gives +Inf, X < minArg gives 0, NaN gives X.
#define EXPFIX(X, Y) \
	VCMPPS  $0x1e, Z28, X, K1 \ // X > maxArg (GT_OQ)
	VCMPPS  $0x11, Z29, X, K2 \ // X < minArg (LT_OQ)
	VCMPPS  $0x03, X, X, K3   \ // unordered
	VMOVAPS Z30, K1, Y        \
	VPXORD  Y, Y, K2, Y       \
	VMOVAPS X, K3, Y

// TAILMASK sets K7 to the low CX bits (0 < CX < 16).
#define TAILMASK \
	MOVL  $1, AX  \
	SHLL  CX, AX  \
	DECL  AX      \
	KMOVW AX, K7

// func exp32AVX512(dst, src *float32, n int)
TEXT ·exp32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONSTS

eloop:
	CMPQ    CX, $16
	JB      etail
	VMOVUPS (SI), Z0
	EXPCORE(Z0, Z1)
	EXPFIX(Z0, Z1)
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     eloop

etail:
	TESTQ     CX, CX
	JZ        edone
	TAILMASK
	VMOVUPS.Z (SI), K7, Z0
	EXPCORE(Z0, Z1)
	EXPFIX(Z0, Z1)
	VMOVUPS   Z1, K7, (DI)

edone:
	VZEROUPPER
	RET

// func sigmoid32AVX512(dst, src *float32, n int)
// 1/(1+e^-x), with the division done exactly (VDIVPS) as in the scalar code.
TEXT ·sigmoid32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONSTS
	VBROADCASTSS expconst<>+60(SB), Z31 // sign bit

sloop:
	CMPQ    CX, $16
	JB      stail
	VMOVUPS (SI), Z0
	VPXORD  Z31, Z0, Z5
	EXPCORE(Z5, Z1)
	EXPFIX(Z5, Z1)
	VADDPS  Z26, Z1, Z1
	VDIVPS  Z1, Z26, Z1
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     sloop

stail:
	TESTQ     CX, CX
	JZ        sdone
	TAILMASK
	VMOVUPS.Z (SI), K7, Z0
	VPXORD    Z31, Z0, Z5
	EXPCORE(Z5, Z1)
	EXPFIX(Z5, Z1)
	VADDPS    Z26, Z1, Z1
	VDIVPS    Z1, Z26, Z1
	VMOVUPS   Z1, K7, (DI)

sdone:
	VZEROUPPER
	RET

// TANHBODY sets Z1 = tanh(Z0): 1 - 2/(e^(2a)+1) with a = |x| and the sign
// of x, then ±1 where a > 9.1 and the odd polynomial where a < 0.625. NaN
// propagates through the exp form (neither compare holds). Needs the
// constants loaded by TANHCONSTS.
#define TANHBODY \
	VPANDD      Z28, Z0, Z5     \ // a = |x|
	VPANDD      Z9, Z0, Z6      \ // sign of x
	VADDPS      Z5, Z5, Z7      \ // 2a
	EXPCORE(Z7, Z1)             \
	VADDPS      Z26, Z1, Z1     \
	VDIVPS      Z1, Z29, Z1     \ // 2/(e+1)
	VSUBPS      Z1, Z26, Z1     \ // 1 - 2/(e+1)
	VCMPPS      $0x1e, Z30, Z5, K1 \ // a > 9.1
	VMOVAPS     Z26, K1, Z1     \
	VPORD       Z6, Z1, Z1      \
	VMULPS      Z0, Z0, Z7      \ // z = x*x
	VMOVAPS     Z10, Z8         \
	VFMADD213PS Z11, Z7, Z8     \
	VFMADD213PS Z12, Z7, Z8     \
	VFMADD213PS Z13, Z7, Z8     \
	VFMADD213PS Z14, Z7, Z8     \
	VMULPS      Z7, Z8, Z8      \
	VFMADD213PS Z0, Z0, Z8      \ // q*z*x + x
	VCMPPS      $0x11, Z31, Z5, K2 \ // a < 0.625
	VMOVAPS     Z8, K2, Z1

// TANHCONSTS loads what TANHBODY needs beyond EXPCONSTS, replacing the
// exp special-case constants (tanh never needs EXPFIX).
#define TANHCONSTS \
	VBROADCASTSS expconst<>+64(SB), Z28 \
	VBROADCASTSS expconst<>+68(SB), Z29 \
	VBROADCASTSS expconst<>+72(SB), Z30 \
	VBROADCASTSS expconst<>+76(SB), Z31 \
	VBROADCASTSS expconst<>+60(SB), Z9  \
	VBROADCASTSS expconst<>+80(SB), Z10 \
	VBROADCASTSS expconst<>+84(SB), Z11 \
	VBROADCASTSS expconst<>+88(SB), Z12 \
	VBROADCASTSS expconst<>+92(SB), Z13 \
	VBROADCASTSS expconst<>+96(SB), Z14

// func tanh32AVX512(dst, src *float32, n int)
TEXT ·tanh32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONSTS
	TANHCONSTS

tloop:
	CMPQ    CX, $16
	JB      ttail
	VMOVUPS (SI), Z0
	TANHBODY
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     tloop

ttail:
	TESTQ     CX, CX
	JZ        tdone
	TAILMASK
	VMOVUPS.Z (SI), K7, Z0
	TANHBODY
	VMOVUPS   Z1, K7, (DI)

tdone:
	VZEROUPPER
	RET

// func lstmCell32AVX512(c, tc, h, gates, cPrev *float32, n int)
// With the activated gates i, f, g, o in four consecutive blocks of n:
// c = f*cPrev + i*g (both products rounded, then the sum, as Go's scalar
// code without FMA), tc = tanh(c) (TANHBODY, as tanh32AVX512), h = o*tc.
TEXT ·lstmCell32AVX512(SB), NOSPLIT, $0-48
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
	EXPCONSTS
	TANHCONSTS

lloop:
	CMPQ    CX, $16
	JB      ltail
	VMOVUPS (R9), Z2
	VMULPS  (R12), Z2, Z2
	VMOVUPS (R8), Z3
	VMULPS  (R10), Z3, Z3
	VADDPS  Z3, Z2, Z0
	VMOVUPS Z0, (R13)
	TANHBODY
	VMOVUPS Z1, (DI)
	VMULPS  (R11), Z1, Z1
	VMOVUPS Z1, (SI)
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $64, R10
	ADDQ    $64, R11
	ADDQ    $64, R12
	ADDQ    $64, R13
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     lloop

ltail:
	TESTQ     CX, CX
	JZ        ldone
	TAILMASK
	VMOVUPS.Z (R9), K7, Z2
	VMOVUPS.Z (R12), K7, Z4
	VMULPS    Z4, Z2, Z2
	VMOVUPS.Z (R8), K7, Z3
	VMOVUPS.Z (R10), K7, Z4
	VMULPS    Z4, Z3, Z3
	VADDPS    Z3, Z2, Z0
	VMOVUPS   Z0, K7, (R13)
	TANHBODY
	VMOVUPS   Z1, K7, (DI)
	VMOVUPS.Z (R11), K7, Z2
	VMULPS    Z2, Z1, Z1
	VMOVUPS   Z1, K7, (SI)

ldone:
	VZEROUPPER
	RET

// func gruCell32AVX512(h, hnPre, gates, hh, hPrev *float32, n int)
// With the activated gates r, z and the input pre-activation of n in three
// consecutive blocks of n, and hh = [hh_r hh_z hh_n]: hnPre = hh_n,
// gates_n = tanh(gates_n + r*hh_n), h = (1-z)*gates_n + z*hPrev, each
// product and sum rounded as Go's scalar code without FMA, tanh as
// tanh32AVX512.
TEXT ·gruCell32AVX512(SB), NOSPLIT, $0-48
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
	EXPCONSTS
	TANHCONSTS

gloop:
	CMPQ    CX, $16
	JB      gtail
	VMOVUPS (R11), Z2
	VMOVUPS Z2, (DI)
	VMULPS  (R8), Z2, Z2
	VADDPS  (R10), Z2, Z0
	TANHBODY
	VMOVUPS Z1, (R10)
	VMOVUPS (R9), Z2
	VSUBPS  Z2, Z26, Z3
	VMULPS  Z1, Z3, Z3
	VMULPS  (R12), Z2, Z2
	VADDPS  Z2, Z3, Z3
	VMOVUPS Z3, (SI)
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $64, R10
	ADDQ    $64, R11
	ADDQ    $64, R12
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     gloop

gtail:
	TESTQ     CX, CX
	JZ        gdone
	TAILMASK
	VMOVUPS.Z (R11), K7, Z2
	VMOVUPS   Z2, K7, (DI)
	VMOVUPS.Z (R8), K7, Z3
	VMULPS    Z3, Z2, Z2
	VMOVUPS.Z (R10), K7, Z3
	VADDPS    Z3, Z2, Z0
	TANHBODY
	VMOVUPS   Z1, K7, (R10)
	VMOVUPS.Z (R9), K7, Z2
	VSUBPS    Z2, Z26, Z3
	VMULPS    Z1, Z3, Z3
	VMOVUPS.Z (R12), K7, Z4
	VMULPS    Z4, Z2, Z2
	VADDPS    Z2, Z3, Z3
	VMOVUPS   Z3, K7, (SI)

gdone:
	VZEROUPPER
	RET

// func sumExpShifted32AVX512(dst, src *float32, n int, shift float32) float64
// dst[i] = e^(src[i]-shift) unless dst is nil; returns the sum accumulated
// in float64 (two eight-lane accumulators, reduced at the end).
TEXT ·sumExpShifted32AVX512(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS shift+24(FP), Z15
	MOVQ         DI, R8 // R8 == 0: no stores
	EXPCONSTS
	VPXORD       Z10, Z10, Z10
	VPXORD       Z11, Z11, Z11

xloop:
	CMPQ    CX, $16
	JB      xtail
	VMOVUPS (SI), Z0
	VSUBPS  Z15, Z0, Z5
	EXPCORE(Z5, Z1)
	EXPFIX(Z5, Z1)
	TESTQ   R8, R8
	JZ      xsum
	VMOVUPS Z1, (DI)

xsum:
	VCVTPS2PD     Y1, Z6
	VEXTRACTF64X4 $1, Z1, Y7
	VCVTPS2PD     Y7, Z7
	VADDPD        Z6, Z10, Z10
	VADDPD        Z7, Z11, Z11
	ADDQ          $64, SI
	ADDQ          $64, DI
	SUBQ          $16, CX
	JMP           xloop

xtail:
	TESTQ     CX, CX
	JZ        xdone
	TAILMASK
	VMOVUPS.Z (SI), K7, Z0
	VSUBPS    Z15, Z0, Z5
	EXPCORE(Z5, Z1)
	EXPFIX(Z5, Z1)
	VMOVAPS.Z Z1, K7, Z1 // lanes past n add nothing
	TESTQ     R8, R8
	JZ        xtsum
	VMOVUPS   Z1, K7, (DI)

xtsum:
	VCVTPS2PD     Y1, Z6
	VEXTRACTF64X4 $1, Z1, Y7
	VCVTPS2PD     Y7, Z7
	VADDPD        Z6, Z10, Z10
	VADDPD        Z7, Z11, Z11

xdone:
	VADDPD        Z11, Z10, Z10
	VEXTRACTF64X4 $1, Z10, Y11
	VADDPD        Y11, Y10, Y10
	VEXTRACTF128  $1, Y10, X11
	VADDPD        X11, X10, X10
	VPERMILPD     $1, X10, X11
	VADDSD        X11, X10, X10
	VMOVSD        X10, ret+32(FP)
	VZEROUPPER
	RET

// func max32AVX512(x *float32, n int) float32
// Every lane starts at x[0] and keeps m = v > m ? v : m (VMAXPS with the
// new vector as first source), so NaN elements are skipped unless x[0] is
// NaN; the masked tail merges into x[0]. Two accumulators, 32 per iteration.
TEXT ·max32AVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS (SI), Z0
	VMOVAPS      Z0, Z1
	VMOVAPS      Z0, Z5

mloop32:
	CMPQ    CX, $32
	JB      mloop16
	VMOVUPS (SI), Z2
	VMOVUPS 64(SI), Z3
	VMAXPS  Z0, Z2, Z0
	VMAXPS  Z1, Z3, Z1
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     mloop32

mloop16:
	CMPQ    CX, $16
	JB      mtail
	VMOVUPS (SI), Z2
	VMAXPS  Z0, Z2, Z0
	ADDQ    $64, SI
	SUBQ    $16, CX

mtail:
	TESTQ   CX, CX
	JZ      mreduce
	TAILMASK
	VMOVAPS Z5, Z2
	VMOVUPS (SI), K7, Z2
	VMAXPS  Z0, Z2, Z0

mreduce:
	VMAXPS        Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VMAXSS        X1, X0, X0
	VMOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET

// func relu32AVX512(x *float32, n int)
// x = x &^ (x >> 31 arithmetically): every value with the sign bit set
// (negatives, -0, negative NaNs) becomes +0, bit for bit as relu32Go.
TEXT ·relu32AVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX

rloop:
	CMPQ    CX, $16
	JB      rtail
	VMOVUPS (SI), Z0
	VPSRAD  $31, Z0, Z1
	VPANDND Z0, Z1, Z0
	VMOVUPS Z0, (SI)
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     rloop

rtail:
	TESTQ   CX, CX
	JZ      rdone
	TAILMASK
	VMOVUPS (SI), K7, Z0
	VPSRAD  $31, Z0, Z1
	VPANDND Z0, Z1, Z0
	VMOVUPS Z0, K7, (SI)

rdone:
	VZEROUPPER
	RET

// func reluGrad32AVX512(dy, y *float32, n int)
// Keeps dy where y's bits are not all zero (y is a ReLU output, so that is
// y > 0) and zeroes it elsewhere, as reluGrad32Go.
TEXT ·reluGrad32AVX512(SB), NOSPLIT, $0-24
	MOVQ dy+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ n+16(FP), CX

gloop:
	CMPQ      CX, $16
	JB        gtail
	VMOVUPS   (SI), Z1
	VPTESTMD  Z1, Z1, K1
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       gloop

gtail:
	TESTQ     CX, CX
	JZ        gdone
	TAILMASK
	VMOVUPS.Z (SI), K7, Z1
	VPTESTMD  Z1, Z1, K1
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS   Z0, K7, (DI)

gdone:
	VZEROUPPER
	RET

// func sum32AVX512(x *float32, n int) float32
// Four accumulators of sixteen lanes take 64 elements per iteration; the
// rest go into the first (the last n%16 under a mask); then the four are
// added pairwise and the sixteen lanes halved down to one, in sum32Go's
// order.
TEXT ·sum32AVX512(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

sloop64:
	CMPQ   CX, $64
	JB     sloop16
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	ADDQ   $256, SI
	SUBQ   $64, CX
	JMP    sloop64

sloop16:
	CMPQ   CX, $16
	JB     stail
	VADDPS (SI), Z0, Z0
	ADDQ   $64, SI
	SUBQ   $16, CX
	JMP    sloop16

stail:
	TESTQ     CX, CX
	JZ        sreduce
	TAILMASK
	VMOVUPS.Z (SI), K7, Z4
	VADDPS    Z4, Z0, Z0

sreduce:
	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VADDPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VADDSS        X1, X0, X0
	VMOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumSquares32AVX512(x *float32, n int) float64
// Four accumulators of eight float64 lanes take 32 elements per iteration
// (each eight widened from float32, then squared and added by one FMA); the
// rest go into the first by eights (the last n%8 under a mask); then the
// four are added pairwise and the eight lanes halved down to one, in
// sumSquares32Go's order.
TEXT ·sumSquares32AVX512(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3

qloop32:
	CMPQ        CX, $32
	JB          qloop8
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VCVTPS2PD   64(SI), Z6
	VCVTPS2PD   96(SI), Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VFMADD231PD Z6, Z6, Z2
	VFMADD231PD Z7, Z7, Z3
	ADDQ        $128, SI
	SUBQ        $32, CX
	JMP         qloop32

qloop8:
	CMPQ        CX, $8
	JB          qtail
	VCVTPS2PD   (SI), Z4
	VFMADD231PD Z4, Z4, Z0
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         qloop8

qtail:
	TESTQ       CX, CX
	JZ          qreduce
	TAILMASK
	VMOVUPS.Z   (SI), K7, Y4
	VCVTPS2PD   Y4, Z4
	VFMADD231PD Z4, Z4, Z0

qreduce:
	VADDPD        Z1, Z0, Z0
	VADDPD        Z3, Z2, Z2
	VADDPD        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPD        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPD        X1, X0, X0
	VPERMILPD     $1, X0, X1
	VADDSD        X1, X0, X0
	VMOVSD        X0, ret+16(FP)
	VZEROUPPER
	RET

// Lane indices for deinterleaving 32 floats into even and odd positions.
DATA poolidx<>+0(SB)/4, $0
DATA poolidx<>+4(SB)/4, $2
DATA poolidx<>+8(SB)/4, $4
DATA poolidx<>+12(SB)/4, $6
DATA poolidx<>+16(SB)/4, $8
DATA poolidx<>+20(SB)/4, $10
DATA poolidx<>+24(SB)/4, $12
DATA poolidx<>+28(SB)/4, $14
DATA poolidx<>+32(SB)/4, $16
DATA poolidx<>+36(SB)/4, $18
DATA poolidx<>+40(SB)/4, $20
DATA poolidx<>+44(SB)/4, $22
DATA poolidx<>+48(SB)/4, $24
DATA poolidx<>+52(SB)/4, $26
DATA poolidx<>+56(SB)/4, $28
DATA poolidx<>+60(SB)/4, $30
GLOBL poolidx<>(SB), RODATA|NOPTR, $64

// POOLKEY sets K to the integer key of float lanes V that orders as the
// floats do (V + 0 turns -0 into +0; then bits ^ (sign-fill >> 1)), using T.
#define POOLKEY(V, K, T) \
	VADDPS Z22, V, K  \
	VPSRAD $31, K, T  \
	VPSRLD $1, T, T   \
	VPXORD T, K, K

// func maxPool2x2Row32AVX512(r0, r1, y *float32, arg *int32, start, w, n int)
// Pools n (a positive multiple of 16) 2×2 windows with stride 2 whose rows
// are r0 and r1, sixteen per iteration: the four candidates of each window
// are deinterleaved from 32 floats of each row, compared by key in
// row-major order with strict greater-than (the first maximum wins), and the
// winner's value and index start + 2*ox + {0, 1, w, w+1} stored.
TEXT ·maxPool2x2Row32AVX512(SB), NOSPLIT, $0-56
	MOVQ         r0+0(FP), SI
	MOVQ         r1+8(FP), DX
	MOVQ         y+16(FP), DI
	MOVQ         arg+24(FP), R8
	MOVQ         n+48(FP), CX
	VMOVDQU32    poolidx<>(SB), Z20  // even lanes; also 2*lane
	MOVL         $1, AX
	VPBROADCASTD AX, Z23
	VPADDD       Z23, Z20, Z21       // odd lanes
	VPXORD       Z22, Z22, Z22       // 0
	MOVQ         w+40(FP), AX
	VPBROADCASTD AX, Z24             // w
	VPADDD       Z23, Z24, Z25       // w + 1
	MOVQ         start+32(FP), AX
	VPBROADCASTD AX, Z26
	VPADDD       Z20, Z26, Z26       // start + 2*lane
	MOVL         $32, AX
	VPBROADCASTD AX, Z27

ploop:
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVUPS   (DX), Z2
	VMOVUPS   64(DX), Z3
	VMOVAPS   Z0, Z4
	VPERMT2PS Z1, Z20, Z4 // top left
	VMOVAPS   Z0, Z5
	VPERMT2PS Z1, Z21, Z5 // top right
	VMOVAPS   Z2, Z6
	VPERMT2PS Z3, Z20, Z6 // bottom left
	VMOVAPS   Z2, Z7
	VPERMT2PS Z3, Z21, Z7 // bottom right
	POOLKEY(Z4, Z8, Z12)
	POOLKEY(Z5, Z9, Z12)
	POOLKEY(Z6, Z10, Z12)
	POOLKEY(Z7, Z11, Z12)
	VPXORD    Z14, Z14, Z14
	VPCMPGTD  Z8, Z9, K1
	VMOVDQA32 Z9, K1, Z8
	VMOVAPS   Z5, K1, Z4
	VMOVDQA32 Z23, K1, Z14
	VPCMPGTD  Z8, Z10, K1
	VMOVDQA32 Z10, K1, Z8
	VMOVAPS   Z6, K1, Z4
	VMOVDQA32 Z24, K1, Z14
	VPCMPGTD  Z8, Z11, K1
	VMOVAPS   Z7, K1, Z4
	VMOVDQA32 Z25, K1, Z14
	VPADDD    Z26, Z14, Z14
	VMOVUPS   Z4, (DI)
	VMOVDQU32 Z14, (R8)
	VPADDD    Z27, Z26, Z26
	ADDQ      $128, SI
	ADDQ      $128, DX
	ADDQ      $64, DI
	ADDQ      $64, R8
	SUBQ      $16, CX
	JNZ       ploop
	VZEROUPPER
	RET

// func add32AVX512(dst, src *float32, n int)
// dst[i] += src[i], sixteen lanes at a time, the last n%16 under a mask.
TEXT ·add32AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

aloop32:
	CMPQ    CX, $32
	JB      aloop16
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VADDPS  (SI), Z0, Z0
	VADDPS  64(SI), Z1, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     aloop32

aloop16:
	CMPQ    CX, $16
	JB      atail
	VMOVUPS (DI), Z0
	VADDPS  (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

atail:
	TESTQ     CX, CX
	JZ        adone
	TAILMASK
	VMOVUPS.Z (DI), K7, Z0
	VMOVUPS.Z (SI), K7, Z1
	VADDPS    Z1, Z0, Z0
	VMOVUPS   Z0, K7, (DI)

adone:
	VZEROUPPER
	RET

// func adam32AVX512(w, grad, mom, vel *float32, n int, c *AdamCoefs)
// One Adam step on n elements in adam32Go's order of operations, each
// rounded to float32 (no fused multiply-adds), so both paths give the same
// bits. AdamCoefs: B1, B2, 1-B1, 1-B2, Step, InvC2, Eps, WeightDecay.
TEXT ·adam32AVX512(SB), NOSPLIT, $0-48
	MOVQ         w+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         mom+16(FP), R8
	MOVQ         vel+24(FP), R9
	MOVQ         n+32(FP), CX
	MOVQ         c+40(FP), AX
	VBROADCASTSS 0(AX), Z16  // b1
	VBROADCASTSS 4(AX), Z17  // b2
	VBROADCASTSS 8(AX), Z18  // 1 - b1
	VBROADCASTSS 12(AX), Z19 // 1 - b2
	VBROADCASTSS 16(AX), Z20 // step
	VBROADCASTSS 20(AX), Z21 // invC2
	VBROADCASTSS 24(AX), Z22 // eps
	VBROADCASTSS 28(AX), Z23 // weight decay
	MOVL         28(AX), BX  // decay's bits: 0 skips it, as the Go path does
	MOVW         $0xffff, AX
	KMOVW        AX, K7

adloop:
	CMPQ CX, $16
	JAE  adbody
	TESTQ CX, CX
	JZ   addone
	TAILMASK
	MOVQ $16, CX // this pass is the last

adbody:
	VMOVUPS.Z (DI), K7, Z0 // w
	VMOVUPS.Z (SI), K7, Z1 // g
	TESTL     BX, BX
	JZ        adnodecay
	VMULPS    Z0, Z23, Z2
	VADDPS    Z2, Z1, Z1

adnodecay:
	VMOVUPS.Z (R8), K7, Z2 // m
	VMOVUPS.Z (R9), K7, Z3 // v
	VMULPS    Z2, Z16, Z2  // b1*m
	VMULPS    Z1, Z18, Z4  // (1-b1)*g
	VADDPS    Z4, Z2, Z2   // m'
	VMULPS    Z3, Z17, Z3  // b2*v
	VMULPS    Z1, Z19, Z5  // (1-b2)*g
	VMULPS    Z1, Z5, Z5   // (1-b2)*g*g
	VADDPS    Z5, Z3, Z3   // v'
	VSQRTPS   Z3, Z6
	VMULPS    Z21, Z6, Z6  // sqrt(v')*invC2
	VADDPS    Z22, Z6, Z6  // + eps
	VMULPS    Z2, Z20, Z7  // step*m'
	VDIVPS    Z6, Z7, Z7   // (step*m') / (...)
	VSUBPS    Z7, Z0, Z0
	VMOVUPS   Z2, K7, (R8)
	VMOVUPS   Z3, K7, (R9)
	VMOVUPS   Z0, K7, (DI)
	ADDQ      $64, DI
	ADDQ      $64, SI
	ADDQ      $64, R8
	ADDQ      $64, R9
	SUBQ      $16, CX
	JNZ       adloop

addone:
	VZEROUPPER
	RET

// LSTMGRAD computes, from i, f, g, o (Z1–Z4), tc (Z5), cPrev (Z6), dh (Z7)
// and dc (Z8), with 1.0 in Z31: dct in Z11, the gate gradients in Z12
// (i), Z13 (f), Z14 (g), Z15 (o) and dcPrev in Z16, rounding each
// product from left to right as lstmCellGrad32Go.
#define LSTMGRAD \
	VMULPS Z5, Z5, Z9    \
	VSUBPS Z9, Z31, Z9   \
	VMULPS Z4, Z7, Z10   \
	VMULPS Z9, Z10, Z10  \
	VADDPS Z10, Z8, Z11  \
	VMULPS Z3, Z11, Z12  \
	VMULPS Z1, Z12, Z12  \
	VSUBPS Z1, Z31, Z9   \
	VMULPS Z9, Z12, Z12  \
	VMULPS Z6, Z11, Z13  \
	VMULPS Z2, Z13, Z13  \
	VSUBPS Z2, Z31, Z9   \
	VMULPS Z9, Z13, Z13  \
	VMULPS Z1, Z11, Z14  \
	VMULPS Z3, Z3, Z9    \
	VSUBPS Z9, Z31, Z9   \
	VMULPS Z9, Z14, Z14  \
	VMULPS Z5, Z7, Z15   \
	VMULPS Z4, Z15, Z15  \
	VSUBPS Z4, Z31, Z9   \
	VMULPS Z9, Z15, Z15  \
	VMULPS Z2, Z11, Z16

// func lstmCellGrad32AVX512(dg, dcPrev, gates, tc, cPrev, dh, dc *float32, n int)
TEXT ·lstmCellGrad32AVX512(SB), NOSPLIT, $0-64
	MOVQ dg+0(FP), DI
	MOVQ dcPrev+8(FP), SI
	MOVQ gates+16(FP), R8
	MOVQ tc+24(FP), R12
	MOVQ cPrev+32(FP), R13
	MOVQ dh+40(FP), R9
	MOVQ dc+48(FP), R10
	MOVQ n+56(FP), CX
	MOVQ CX, DX
	SHLQ $2, DX          // a block of n floats in bytes
	LEAQ (DX)(DX*2), BX  // three blocks
	MOVL $0x3f800000, AX
	VPBROADCASTD AX, Z31 // 1.0

lgloop:
	CMPQ    CX, $16
	JB      lgtail
	VMOVUPS (R8), Z1
	VMOVUPS (R8)(DX*1), Z2
	VMOVUPS (R8)(DX*2), Z3
	VMOVUPS (R8)(BX*1), Z4
	VMOVUPS (R12), Z5
	VMOVUPS (R13), Z6
	VMOVUPS (R9), Z7
	VMOVUPS (R10), Z8
	LSTMGRAD
	VMOVUPS Z12, (DI)
	VMOVUPS Z13, (DI)(DX*1)
	VMOVUPS Z14, (DI)(DX*2)
	VMOVUPS Z15, (DI)(BX*1)
	VMOVUPS Z16, (SI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $64, R10
	ADDQ    $64, R12
	ADDQ    $64, R13
	SUBQ    $16, CX
	JMP     lgloop

lgtail:
	TESTQ     CX, CX
	JZ        lgdone
	TAILMASK
	VMOVUPS.Z (R8), K7, Z1
	VMOVUPS.Z (R8)(DX*1), K7, Z2
	VMOVUPS.Z (R8)(DX*2), K7, Z3
	VMOVUPS.Z (R8)(BX*1), K7, Z4
	VMOVUPS.Z (R12), K7, Z5
	VMOVUPS.Z (R13), K7, Z6
	VMOVUPS.Z (R9), K7, Z7
	VMOVUPS.Z (R10), K7, Z8
	LSTMGRAD
	VMOVUPS   Z12, K7, (DI)
	VMOVUPS   Z13, K7, (DI)(DX*1)
	VMOVUPS   Z14, K7, (DI)(DX*2)
	VMOVUPS   Z15, K7, (DI)(BX*1)
	VMOVUPS   Z16, K7, (SI)

lgdone:
	VZEROUPPER
	RET

// GRUGRAD computes, from r, z, n (Z1–Z3), hnPre (Z4), hPrev (Z5) and dh
// (Z6), with 1.0 in Z31: dr in Z13, dz in Z12, dn in Z11, dn·r in Z15 and
// dhPrev in Z16, rounding each product from left to right as
// gruCellGrad32Go.
#define GRUGRAD \
	VSUBPS Z2, Z31, Z9   \
	VMULPS Z3, Z3, Z10   \
	VSUBPS Z10, Z31, Z10 \
	VMULPS Z9, Z6, Z11   \
	VMULPS Z10, Z11, Z11 \
	VSUBPS Z3, Z5, Z12   \
	VMULPS Z12, Z6, Z12  \
	VMULPS Z2, Z12, Z12  \
	VMULPS Z9, Z12, Z12  \
	VMULPS Z4, Z11, Z13  \
	VMULPS Z1, Z13, Z13  \
	VSUBPS Z1, Z31, Z14  \
	VMULPS Z14, Z13, Z13 \
	VMULPS Z1, Z11, Z15  \
	VMULPS Z2, Z6, Z16

// func gruCellGrad32AVX512(di, dhh, dhPrev, gates, hnPre, hPrev, dh *float32, n int)
TEXT ·gruCellGrad32AVX512(SB), NOSPLIT, $0-64
	MOVQ di+0(FP), DI
	MOVQ dhh+8(FP), SI
	MOVQ dhPrev+16(FP), R11
	MOVQ gates+24(FP), R8
	MOVQ hnPre+32(FP), R12
	MOVQ hPrev+40(FP), R13
	MOVQ dh+48(FP), R9
	MOVQ n+56(FP), CX
	MOVQ CX, DX
	SHLQ $2, DX          // a block of n floats in bytes
	MOVL $0x3f800000, AX
	VPBROADCASTD AX, Z31 // 1.0

ggloop:
	CMPQ    CX, $16
	JB      ggtail
	VMOVUPS (R8), Z1
	VMOVUPS (R8)(DX*1), Z2
	VMOVUPS (R8)(DX*2), Z3
	VMOVUPS (R12), Z4
	VMOVUPS (R13), Z5
	VMOVUPS (R9), Z6
	GRUGRAD
	VMOVUPS Z13, (DI)
	VMOVUPS Z12, (DI)(DX*1)
	VMOVUPS Z11, (DI)(DX*2)
	VMOVUPS Z13, (SI)
	VMOVUPS Z12, (SI)(DX*1)
	VMOVUPS Z15, (SI)(DX*2)
	VMOVUPS Z16, (R11)
	ADDQ    $64, DI
	ADDQ    $64, SI
	ADDQ    $64, R11
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $64, R12
	ADDQ    $64, R13
	SUBQ    $16, CX
	JMP     ggloop

ggtail:
	TESTQ     CX, CX
	JZ        ggdone
	TAILMASK
	VMOVUPS.Z (R8), K7, Z1
	VMOVUPS.Z (R8)(DX*1), K7, Z2
	VMOVUPS.Z (R8)(DX*2), K7, Z3
	VMOVUPS.Z (R12), K7, Z4
	VMOVUPS.Z (R13), K7, Z5
	VMOVUPS.Z (R9), K7, Z6
	GRUGRAD
	VMOVUPS   Z13, K7, (DI)
	VMOVUPS   Z12, K7, (DI)(DX*1)
	VMOVUPS   Z11, K7, (DI)(DX*2)
	VMOVUPS   Z13, K7, (SI)
	VMOVUPS   Z12, K7, (SI)(DX*1)
	VMOVUPS   Z15, K7, (SI)(DX*2)
	VMOVUPS   Z16, K7, (R11)

ggdone:
	VZEROUPPER
	RET
