// Package vecmath evaluates float32 exp, sigmoid and tanh over slices, and
// the element-wise tails of the LSTM and GRU steps (LSTMCell32, GRUCell32)
// and of their backward passes (LSTMCellGrad32, GRUCellGrad32) in one pass
// each.
//
// The approximations are those of the scalar Cephes-style code the
// recurrent cells used per element: exp reduces x by n·ln 2 (n =
// floor(x·log2(e) + 1/2), ln 2 split into c1 + c2 so that x - n·c1 is
// exact), evaluates a degree-6 polynomial on the remainder r, and scales by
// 2^n as 2^h · 2^(n-h) with h = n/2, so that results from the subnormal
// range (n down to -150) up to n = 128 are formed without overflowing the
// exponent field. Inputs above maxArg = 88.72283 give +Inf, inputs below
// minArg = -103.97208 give 0 and NaN stays NaN. tanh uses an odd
// polynomial for |x| < 0.625, 1 - 2/(e^(2|x|)+1) up to |x| = 9.1 and ±1
// beyond; sigmoid is 1/(1+e^-x).
//
// On amd64 with AVX-512F (detected at run time with golang.org/x/sys/cpu)
// the slice functions run the same algorithm sixteen lanes at a time in
// hand-written assembly (vecmath_amd64.s): VRNDSCALEPS for the floor, FMA
// for the reduction and the polynomial, integer shifts to build the two 2^h
// factors, compare masks for the +Inf/0/NaN cases and a masked load/store
// for the last len%16 elements. Without AVX-512 but with AVX2 and FMA (AMD
// Zen 2 and 3, Intel client cores before Ice Lake) the same operations run
// eight lanes at a time (vecmath_avx2_amd64.s: VROUNDPS, blends on compare
// masks, VMASKMOVPS for the tail, whose masked-off lanes do not fault on
// Intel's cores or, tested with an unmapped page after the slice, on Zen 3;
// AMD's manual leaves that to the implementation), keeping the AVX-512
// kernels' lanes of partial sums in pairs of registers, so the two give the
// same bits. Because of the fused multiply-adds results may differ from the
// scalar code by an ulp; both stay within about 1 ulp (3e-7 relative) of the
// exact exp. Elsewhere, and with the purego build tag, a pure-Go loop runs
// the scalar algorithm exactly. The cell tails round every product and sum
// separately (no FMA), as Go's scalar code does, and take tanh from the same
// kernel as Tanh32, so they are bitwise equal to the loops they replace on
// either path; the Go loops convert each such product to float32, which
// forbids the compiler to fuse it into its sum (as it may from GOAMD64=v3
// on), so that this holds at any level.
package vecmath
