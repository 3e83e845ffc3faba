// Copyright ©2025 The seqtask Authors.

//go:build ignore

// gen_evex holds the instruction encodings the generators (gen_kernels.go,
// gen_small.go) write as bytes because the Go assembler does not know the
// instructions. Run with either generator, e.g. `go run gen_small.go
// gen_evex.go`.

package main

import (
	"fmt"
	"strings"
)

// vdpbf16ps returns acc += src1·src2 on zmm registers as VDPBF16PS, which
// adds the products of the two bfloat16 pairs in each 32-bit lane to the
// lane's float32, in its EVEX encoding (EVEX.512.F3.0F38.W0 52 /r: acc in
// ModRM.reg, src1 in EVEX.vvvv, src2 in ModRM.rm).
func vdpbf16ps(src2, src1, acc int) string {
	inv := func(r, bit int) int { return ^(r >> bit) & 1 }
	b := []int{
		0x62,
		inv(acc, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(acc, 4)<<4 | 0b0010,
		(^src1&0xf)<<3 | 1<<2 | 0b10,
		0b10<<5 | inv(src1, 4)<<3,
		0x52,
		0xc0 | (acc&7)<<3 | src2&7,
	}
	var out []string
	for _, x := range b {
		out = append(out, fmt.Sprintf("BYTE $0x%02x", x))
	}
	return strings.Join(out, "; ") + fmt.Sprintf(" // VDPBF16PS Z%d, Z%d, Z%d", src2, src1, acc)
}
