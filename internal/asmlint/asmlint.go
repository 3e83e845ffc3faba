// Package asmlint checks the module's Go assembly for instruction mixes that
// are correct everywhere but slow on some CPUs.
//
// The one check today: a legacy-SSE instruction (a mnemonic without the VEX
// "V" prefix that names an X register) anywhere in the module's assembly,
// all of which uses AVX. On Intel
// cores since Skylake, such an instruction executed while the upper halves of
// the vector registers are dirty merges into the old register value, so it
// waits for the previous write of that register: loads that should overlap
// run one after another. A VEX-encoded form (VMOVUPS for MOVUPS) zeroes the
// upper half instead and has no such dependency. AMD Zen cores do not pay
// this, so a benchmark on one machine cannot catch it; this check can.
package asmlint

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// xmmOperand matches an SSE register operand X0–X15, the registers that
// legacy-SSE encodings can name (X16–X31 need EVEX, which is VEX-prefixed
// in Go's syntax).
var xmmOperand = regexp.MustCompile(`\bX(1[0-5]|[0-9])\b`)

// LegacySSE reports the lines of Go assembly read from r that use a
// legacy-SSE instruction, as "name:line: instruction".
func LegacySSE(name string, r io.Reader) ([]string, error) {
	var found []string
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if i := strings.Index(text, "//"); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) > 0 && strings.HasSuffix(fields[0], ":") {
			fields = fields[1:] // a label, perhaps before an instruction
		}
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue // blank, label alone, directive or operand-less
		}
		mnemonic := fields[0]
		if strings.HasPrefix(mnemonic, "V") || mnemonic == "TEXT" || mnemonic == "DATA" || mnemonic == "GLOBL" {
			continue
		}
		if xmmOperand.MatchString(strings.Join(fields[1:], " ")) {
			found = append(found, fmt.Sprintf("%s:%d: %s", name, line, strings.TrimSpace(text)))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return found, nil
}
