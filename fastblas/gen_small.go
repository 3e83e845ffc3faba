// Copyright ©2025 The seqtask Authors.

//go:build ignore

// gen_small generates small_amd64.s, the AVX-512 kernels of the small-m
// (GEMV-like) paths: register-blocked dot-product tiles for
// C = alpha·A·Bᵀ + beta·C with A and B read in place as rows, and axpy tiles
// for C = alpha·A·B + beta·C with B rows read in place. Run with
// `go generate ./fastblas/`.
package main

import (
	"fmt"
	"os"
	"strings"
)

var w strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }

type typ struct {
	double bool
	// bf16: A and B hold bfloat16 pairs (uint16), multiplied by VDPBF16PS
	// into float32 accumulators; C, alpha and beta stay float32.
	bf16 bool
}

// inES is the size in bytes of an element of A and B.
func (t typ) inES() int {
	if t.bf16 {
		return 2
	}
	return t.es()
}

// inLanes is the number of A or B elements in a zmm register.
func (t typ) inLanes() int { return 64 / t.inES() }

// inType is the Go type of A's and B's elements.
func (t typ) inType() string {
	if t.bf16 {
		return "uint16"
	}
	return t.goType()
}

func (t typ) es() int {
	if t.double {
		return 8
	}
	return 4
}
func (t typ) lanes() int { return 64 / t.es() }
func (t typ) sfx() string {
	if t.double {
		return "D"
	}
	return "S"
}
func (t typ) ps() string { return "P" + t.sfx() }
func (t typ) goType() string {
	if t.double {
		return "float64"
	}
	return "float32"
}
func (t typ) prefix() string {
	switch {
	case t.bf16:
		return "b"
	case t.double:
		return "d"
	}
	return "s"
}

// fma returns the instruction acc += src1·src2 (register operands): a
// fused multiply-add, or for bf16 VDPBF16PS (gen_evex.go), which adds the
// products of the two bfloat16 pairs in each 32-bit lane.
func (t typ) fma(src2, src1, acc int) string {
	if !t.bf16 {
		return fmt.Sprintf("VFMADD231%s Z%d, Z%d, Z%d", t.ps(), src2, src1, acc)
	}
	return vdpbf16ps(src2, src1, acc)
}

// Argument offsets shared by both kernel kinds:
//
//	k+0, a+8, lda+16, b+24, ldb+32, c+40, ldc+48, alpha+56, beta, then
//	mrows/ncols (dot) or mask (axpy).
func (t typ) betaOff() int { return 56 + t.es() }
func (t typ) tailOff() int { return 56 + 2*t.es() }

// ptrRegs are the general-purpose registers that hold row pointers.
var ptrRegs = []string{"R8", "R9", "R10", "R11", "R12", "R13", "SI", "DI", "BX", "DX"}

// clampRows loads count row pointers starting at base with stride ld (bytes,
// in AX) into regs; rows at index ≥ valid (in CX) repeat the last valid row.
func clampRows(regs []string) {
	for r := 1; r < len(regs); r++ {
		p("\tLEAQ (%s)(AX*1), %s", regs[r-1], regs[r])
		p("\tCMPQ CX, $%d", r)
		p("\tCMOVQLE %s, %s", regs[r-1], regs[r])
	}
}

// reduce4 sums each of the four zmm accumulators acc[0..3] horizontally and
// leaves the four sums, in order, in the low xmm (float32) or ymm (float64)
// of acc[0]. The summation tree is the same for every accumulator.
func reduce4(t typ, acc [4]int) {
	for _, r := range acc {
		p("\tVEXTRACTF64X4 $1, Z%d, Y28", r)
		p("\tVADD%s Y28, Y%d, Y%d", t.ps(), r, r)
	}
	h := "VHADD" + t.ps()
	p("\t%s Y%d, Y%d, Y%d", h, acc[1], acc[0], acc[0])
	p("\t%s Y%d, Y%d, Y%d", h, acc[3], acc[2], acc[2])
	if t.double {
		p("\tVSHUFF64X2 $0, Y%d, Y%d, Y28", acc[2], acc[0])
		p("\tVSHUFF64X2 $3, Y%d, Y%d, Y29", acc[2], acc[0])
		p("\tVADDPD Y29, Y28, Y%d", acc[0])
		return
	}
	p("\t%s Y%d, Y%d, Y%d", h, acc[2], acc[0], acc[0])
	p("\tVEXTRACTF32X4 $1, Y%d, X28", acc[0])
	p("\tVADDPS X28, X%d, X%d", acc[0], acc[0])
}

// genDot emits a ma×nb dot-product tile: C[i,j] = alpha·Σ_p A[i,p]·B[j,p] +
// beta·C[i,j] for i < mrows, j < ncols, A rows lda apart and B rows ldb
// apart (elements). Each C element has its own zmm accumulator; k is
// consumed one vector at a time (masked loads for the remainder), so the
// result of an element does not depend on the tile it is computed in.
func genDot(t typ, ma, nb int) { genDotKernel(t, ma, nb, false) }

// genDotRows emits the 1×8 dot tile looped over ncols/8 consecutive tiles
// (ncols a positive multiple of 8): a whole GEMV y = alpha·B·x + beta·y in
// one call, each element computed exactly as the 1×8 tile computes it.
func genDotRows(t typ) { genDotKernel(t, 1, 8, true) }

func genDotKernel(t typ, ma, nb int, rows bool) {
	name := fmt.Sprintf("%sdotTile%dx%dAVX512", t.prefix(), ma, nb)
	if rows {
		name = fmt.Sprintf("%sdotRows%dx%dAVX512", t.prefix(), ma, nb)
	}
	es, lanes := t.es(), t.inLanes()
	argsz := t.tailOff() + 16
	p("// func %s(k int, a *%s, lda int, b *%s, ldb int, c *%s, ldc int, alpha, beta %s, mrows, ncols int)", name, t.inType(), t.inType(), t.goType(), t.goType())
	p("TEXT ·%s(SB), NOSPLIT, $0-%d", name, argsz)
	if !t.bf16 { // bf16 rows are padded to whole vectors: no remainder
		// Remainder mask of k in K1.
		p("\tMOVQ k+0(FP), CX")
		p("\tANDQ $%d, CX", lanes-1)
		p("\tMOVL $1, AX")
		p("\tSHLL CX, AX")
		p("\tDECL AX")
		p("\tKMOVW AX, K1")
	}
	aRegs := ptrRegs[:ma]
	bRegs := ptrRegs[ma : ma+nb]
	p("\tMOVQ a+8(FP), %s", aRegs[0])
	p("\tMOVQ lda+16(FP), AX")
	p("\tSHLQ $%d, AX", shift(t.inES()))
	p("\tMOVQ mrows+%d(FP), CX", t.tailOff())
	clampRows(aRegs)
	if rows {
		p("block:")
	}
	p("\tMOVQ b+24(FP), %s", bRegs[0])
	p("\tMOVQ ldb+32(FP), AX")
	p("\tSHLQ $%d, AX", shift(t.inES()))
	p("\tMOVQ ncols+%d(FP), CX", t.tailOff()+8)
	clampRows(bRegs)
	nacc := ma * nb
	for i := 0; i < nacc; i++ {
		p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	acc := func(i, j int) int { return i*nb + j }
	fma := "VFMADD231" + t.ps()
	mov := "VMOVUP" + t.sfx()
	p("\tXORQ AX, AX")
	p("\tMOVQ k+0(FP), CX")
	p("\tSHRQ $%d, CX", shift(lanes))
	p("\tJZ tail")
	p("loop:")
	for i := 0; i < ma; i++ {
		p("\t%s (%s)(AX*1), Z%d", mov, aRegs[i], 24+i)
	}
	for j := 0; j < nb; j++ {
		if ma == 1 && !t.bf16 {
			p("\t%s (%s)(AX*1), Z24, Z%d", fma, bRegs[j], acc(0, j))
			continue
		}
		p("\t%s (%s)(AX*1), Z28", mov, bRegs[j])
		for i := 0; i < ma; i++ {
			p("\t%s", t.fma(28, 24+i, acc(i, j)))
		}
	}
	p("\tADDQ $64, AX")
	p("\tDECQ CX")
	p("\tJNZ loop")
	p("tail:")
	if !t.bf16 {
		p("\tMOVQ k+0(FP), CX")
		p("\tANDQ $%d, CX", lanes-1)
		p("\tJZ reduce")
		for i := 0; i < ma; i++ {
			p("\t%s.Z (%s)(AX*1), K1, Z%d", mov, aRegs[i], 24+i)
		}
		for j := 0; j < nb; j++ {
			p("\t%s.Z (%s)(AX*1), K1, Z28", mov, bRegs[j])
			for i := 0; i < ma; i++ {
				p("\t%s", t.fma(28, 24+i, acc(i, j)))
			}
		}
	}
	p("reduce:")
	// Column masks: group g of four columns gets bits of ncols-4g.
	if rows {
		p("\tMOVL $%d, AX", 1<<nb-1)
	} else {
		p("\tMOVQ ncols+%d(FP), CX", t.tailOff()+8)
		p("\tMOVL $1, AX")
		p("\tSHLL CX, AX")
		p("\tDECL AX")
	}
	for g := 0; g < nb/4; g++ {
		p("\tKMOVW AX, K%d", 2+g)
		p("\tSHRL $4, AX")
	}
	p("\tVBROADCASTS%s alpha+56(FP), Y30", t.sfx())
	p("\tMOVQ c+40(FP), DX")
	p("\tMOVQ ldc+48(FP), BX")
	p("\tSHLQ $%d, BX", shift(es))
	p("\tMOVQ mrows+%d(FP), CX", t.tailOff())
	if t.double {
		p("\tMOVQ beta+%d(FP), AX", t.betaOff())
		p("\tSHLQ $1, AX")
	} else {
		p("\tMOVL beta+%d(FP), AX", t.betaOff())
		p("\tSHLL $1, AX")
	}
	p("\tVBROADCASTS%s beta+%d(FP), Y31", t.sfx(), t.betaOff())
	vr := "X"
	if t.double {
		vr = "Y"
	}
	for i := 0; i < ma; i++ {
		if i > 0 {
			p("\tCMPQ CX, $%d", i)
			p("\tJLE done")
			p("\tADDQ BX, DX")
		}
		for g := 0; g < nb/4; g++ {
			a := [4]int{acc(i, 4*g), acc(i, 4*g+1), acc(i, 4*g+2), acc(i, 4*g+3)}
			reduce4(t, a)
			r := a[0]
			off := 4 * g * es
			p("\tVMUL%s %s30, %s%d, %s%d", t.ps(), vr, vr, r, vr, r)
			p("\tTESTQ AX, AX")
			p("\tJZ nobeta%d_%d", i, g)
			p("\t%s.Z %d(DX), K%d, %s29", mov, off, 2+g, vr)
			p("\t%s %s31, %s29, %s%d", fma, vr, vr, vr, r)
			p("nobeta%d_%d:", i, g)
			p("\t%s %s%d, K%d, %d(DX)", mov, vr, r, 2+g, off)
		}
	}
	if rows {
		p("\tMOVQ ldb+32(FP), CX")
		p("\tSHLQ $%d, CX", shift(t.inES()*nb))
		p("\tADDQ CX, b+24(FP)")
		p("\tADDQ $%d, c+40(FP)", nb*es)
		p("\tSUBQ $%d, ncols+%d(FP)", nb, t.tailOff()+8)
		p("\tJNZ block")
	}
	p("done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// genDotPanels emits the float32 1×8 dot tile over B packed in panels
// (PackedMatrix's m = 1 layout): tile t holds rows 8t…8t+7, and for each
// vector of 16 columns in turn the eight rows' values of it, so that a
// tile is one contiguous stream (the eight row streams of genDotRows run
// at about 110 GB/s from L2 on the AMD Zen 5, one stream at 180). Tiles are
// tile elements apart; ncols may end inside the last tile (its rows past
// ncols are zeros, its outputs not stored). Each element is computed
// exactly as genDotRows computes it: the same vectors, summed in the same
// order.
func genDotPanels() {
	t := typ{}
	name := "sdotPanels1x8AVX512"
	p("// func %s(k int, a *float32, b *float32, tile int, c *float32, alpha, beta float32, ncols int)", name)
	p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	p("\tMOVQ k+0(FP), CX")
	p("\tANDQ $15, CX")
	p("\tMOVL $1, AX")
	p("\tSHLL CX, AX")
	p("\tDECL AX")
	p("\tKMOVW AX, K1")
	p("\tMOVQ a+8(FP), R8")
	p("block:")
	p("\tMOVQ b+16(FP), R9")
	for i := 0; i < 8; i++ {
		p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("\tXORQ AX, AX")
	p("\tMOVQ k+0(FP), CX")
	p("\tSHRQ $4, CX")
	p("\tJZ tail")
	p("loop:")
	p("\tVMOVUPS (R8)(AX*1), Z24")
	for j := 0; j < 8; j++ {
		p("\tVFMADD231PS %d(R9)(AX*8), Z24, Z%d", 64*j, j)
	}
	p("\tADDQ $64, AX")
	p("\tDECQ CX")
	p("\tJNZ loop")
	p("tail:")
	p("\tMOVQ k+0(FP), CX")
	p("\tANDQ $15, CX")
	p("\tJZ reduce")
	p("\tVMOVUPS.Z (R8)(AX*1), K1, Z24")
	for j := 0; j < 8; j++ {
		p("\tVMOVUPS.Z %d(R9)(AX*8), K1, Z28", 64*j)
		p("\t%s", t.fma(28, 24, j))
	}
	p("reduce:")
	// Store masks: 8 columns, or the ncols < 8 that remain.
	p("\tMOVQ ncols+48(FP), CX")
	p("\tMOVL $255, AX")
	p("\tCMPQ CX, $8")
	p("\tJGE masks")
	p("\tMOVL $1, AX")
	p("\tSHLL CX, AX")
	p("\tDECL AX")
	p("masks:")
	p("\tKMOVW AX, K2")
	p("\tSHRL $4, AX")
	p("\tKMOVW AX, K3")
	p("\tVBROADCASTSS alpha+40(FP), Y30")
	p("\tMOVQ c+32(FP), DX")
	p("\tMOVL beta+44(FP), AX")
	p("\tSHLL $1, AX")
	p("\tVBROADCASTSS beta+44(FP), Y31")
	for g := 0; g < 2; g++ {
		a := [4]int{4 * g, 4*g + 1, 4*g + 2, 4*g + 3}
		reduce4(t, a)
		r := a[0]
		p("\tVMULPS X30, X%d, X%d", r, r)
		p("\tTESTQ AX, AX")
		p("\tJZ nobeta%d", g)
		p("\tVMOVUPS.Z %d(DX), K%d, X29", 16*g, 2+g)
		p("\tVFMADD231PS X31, X29, X%d", r)
		p("nobeta%d:", g)
		p("\tVMOVUPS X%d, K%d, %d(DX)", r, 2+g, 16*g)
	}
	p("\tMOVQ tile+24(FP), CX")
	p("\tSHLQ $2, CX")
	p("\tADDQ CX, b+16(FP)")
	p("\tADDQ $32, c+32(FP)")
	p("\tSUBQ $8, ncols+48(FP)")
	p("\tJGT block")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// genAxpy emits an ma×(4 vectors) axpy tile: C[i,j] = alpha·Σ_p A[i,p]·B[p,j]
// + beta·C[i,j] for i < ma and the columns j whose bit is set in mask (bit j
// for column j), with A rows lda apart and B rows ldb apart (elements). Each
// C element accumulates in one vector lane with p ascending.
func genAxpy(t typ, ma int) {
	name := fmt.Sprintf("%saxpyTile%dAVX512", t.prefix(), ma)
	es, lanes := t.es(), t.lanes()
	argsz := t.tailOff() + 8
	p("// func %s(k int, a *%s, lda int, b *%s, ldb int, c *%s, ldc int, alpha, beta %s, mask uint64)", name, t.goType(), t.goType(), t.goType(), t.goType())
	p("TEXT ·%s(SB), NOSPLIT, $0-%d", name, argsz)
	p("\tMOVQ mask+%d(FP), AX", t.tailOff())
	for v := 0; v < 4; v++ {
		p("\tKMOVW AX, K%d", 1+v)
		if v < 3 {
			p("\tSHRQ $%d, AX", lanes)
		}
	}
	aRegs := ptrRegs[:ma]
	p("\tMOVQ a+8(FP), %s", aRegs[0])
	p("\tMOVQ lda+16(FP), AX")
	p("\tSHLQ $%d, AX", shift(es))
	for i := 1; i < ma; i++ {
		p("\tLEAQ (%s)(AX*1), %s", aRegs[i-1], aRegs[i])
	}
	p("\tMOVQ b+24(FP), SI")
	p("\tMOVQ ldb+32(FP), DI")
	p("\tSHLQ $%d, DI", shift(es))
	for i := 0; i < 4*ma; i++ {
		p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	fma := "VFMADD231" + t.ps()
	mov := "VMOVUP" + t.sfx()
	p("\tXORQ AX, AX")
	p("\tMOVQ k+0(FP), CX")
	p("loop:")
	for v := 0; v < 4; v++ {
		p("\t%s.Z %d(SI), K%d, Z%d", mov, 64*v, 1+v, 16+v)
	}
	for i := 0; i < ma; i++ {
		p("\tVBROADCASTS%s (%s)(AX*1), Z%d", t.sfx(), aRegs[i], 20+i)
		for v := 0; v < 4; v++ {
			p("\t%s Z%d, Z%d, Z%d", fma, 16+v, 20+i, 4*i+v)
		}
	}
	p("\tADDQ $%d, AX", es)
	p("\tADDQ DI, SI")
	p("\tDECQ CX")
	p("\tJNZ loop")
	p("\tVBROADCASTS%s alpha+56(FP), Z30", t.sfx())
	p("\tVBROADCASTS%s beta+%d(FP), Z31", t.sfx(), t.betaOff())
	p("\tMOVQ c+40(FP), DX")
	p("\tMOVQ ldc+48(FP), BX")
	p("\tSHLQ $%d, BX", shift(es))
	if t.double {
		p("\tMOVQ beta+%d(FP), AX", t.betaOff())
		p("\tSHLQ $1, AX")
	} else {
		p("\tMOVL beta+%d(FP), AX", t.betaOff())
		p("\tSHLL $1, AX")
	}
	p("\tJZ beta0")
	for i := 0; i < ma; i++ {
		if i > 0 {
			p("\tADDQ BX, DX")
		}
		for v := 0; v < 4; v++ {
			r := 4*i + v
			p("\tVMUL%s Z30, Z%d, Z%d", t.ps(), r, r)
			p("\t%s.Z %d(DX), K%d, Z29", mov, 64*v, 1+v)
			p("\t%s Z31, Z29, Z%d", fma, r)
			p("\t%s Z%d, K%d, %d(DX)", mov, r, 1+v, 64*v)
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("beta0:")
	for i := 0; i < ma; i++ {
		if i > 0 {
			p("\tADDQ BX, DX")
		}
		for v := 0; v < 4; v++ {
			r := 4*i + v
			p("\tVMUL%s Z30, Z%d, Z%d", t.ps(), r, r)
			p("\t%s Z%d, K%d, %d(DX)", mov, r, 1+v, 64*v)
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func shift(n int) int {
	s := 0
	for 1<<s < n {
		s++
	}
	return s
}

func main() {
	p("// Code generated by gen_small.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	for _, t := range []typ{{double: false}, {double: true}} {
		genDot(t, 1, 8)
		genDot(t, 2, 8)
		genDot(t, 4, 4)
		genDotRows(t)
		for ma := 1; ma <= 4; ma++ {
			genAxpy(t, ma)
		}
	}
	genDotPanels()
	genDot(typ{bf16: true}, 4, 4)
	genDotRows(typ{bf16: true})
	if err := os.WriteFile("small_amd64.s", []byte(w.String()), 0o644); err != nil {
		panic(err)
	}
}
