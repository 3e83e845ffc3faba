package asmlint

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLegacySSE(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      int
	}{
		{"VEX moves", "\tVMOVUPS (SI), X1\n\tVMOVUPS X1, (DI)\n", 0},
		{"legacy load and store", "\tMOVUPS (SI)(AX*1), X1\n\tMOVUPS X1, (DI)(AX*1)\n", 2},
		{"legacy scalar and integer forms", "\tMOVSS (SI), X15\n\tPXOR X0, X0\n\tMOVQ X3, AX\n", 3},
		{"EVEX-only registers", "\tVADDPS Z16, Z17, Z18\n\tVMOVUPS X20, (DI)\n", 0},
		{"general-purpose code", "\tMOVQ dst+0(FP), DI\n\tADDQ $16, AX\nloop:\n\tJNZ loop\n", 0},
		{"comments and directives", "// MOVUPS X1, (DI)\n#include \"textflag.h\"\nTEXT ·f(SB), NOSPLIT, $0-8\n", 0},
		{"two-digit registers", "\tMOVQ X10, AX\n", 1},
		{"after a label", "loop: MOVUPS (SI), X2\nnext:\n\tVMOVUPS X2, (DI)\n", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := LegacySSE("x.s", strings.NewReader(c.src))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Errorf("found %d (%q), want %d", len(got), got, c.want)
			}
		})
	}
}

// TestModuleAssembly holds every assembly file of the module to the rule:
// all of them use AVX, so none may use a legacy-SSE instruction (the packing
// copy that did ran 25× slower on an Intel CPU than on AMD; issue 15).
func TestModuleAssembly(t *testing.T) {
	files := 0
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(path) != ".s" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		files++
		found, err := LegacySSE(path, f)
		for _, s := range found {
			t.Errorf("legacy-SSE instruction in AVX code (use the V form): %s", s)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no assembly files found under the module root")
	}
}
