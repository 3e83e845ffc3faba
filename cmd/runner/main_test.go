package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestExitStatusAndMessages(t *testing.T) {
	dir := t.TempDir()
	tiny := filepath.Join("..", "..", "pipeline", "testdata", "tiny.yaml")
	text, err := filepath.Abs(filepath.Join("..", "..", "pipeline", "testdata", "tiny.txt"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("task: charlm\ndata:\n  path: x.txt\ndecodr:\n  hidden: 3\n"), 0o644)
	run1 := filepath.Join(dir, "run1")
	twoDocs := filepath.Join(dir, "two.yaml")
	os.WriteFile(twoDocs, []byte("task: charlm\ndata:\n  path: x.txt\n---\ntask: video\n"), 0o644)
	profile := filepath.Join(dir, "cpu.prof")
	// go test -cpuprofile profiles the test binary already, and a process
	// has one CPU profile at a time.
	profiling := flag.Lookup("test.cpuprofile").Value.String() != ""
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"help", []string{"-help"}, exitOK, "Modes:"},
		{"unknown flag", []string{"-colour"}, exitUsage, "flag provided but not defined"},
		{"stray argument", []string{"-config", tiny, "extra"}, exitUsage, `unexpected argument "extra"`},
		{"config typo", []string{"-config", bad}, exitUsage, "bad.yaml:4: decodr: unknown key (did you mean decoder?)"},
		{"missing data", []string{"-config", tiny, "-run", filepath.Join(dir, "r0"), "-set", "data.path=nowhere.txt"}, exitUsage, "data.path: stat nowhere.txt: no such file"},
		{"train", []string{"-config", tiny, "-run", run1, "-set", "data.path=" + text, "-set", "train.steps=3"}, exitOK, "stopped at step 3"},
		{"predict", []string{"-run", run1, "-mode", "predict", "-prime", "First", "-length", "5"}, exitOK, ""},
		{"bad temperature", []string{"-run", run1, "-mode", "predict", "-temperature", "0"}, exitUsage, "-temperature must be positive"},
		{"prime outside vocabulary", []string{"-run", run1, "-mode", "predict", "-prime", "€"}, exitUsage, "prime: character '€'"},
		{"length over the cap", []string{"-run", run1, "-mode", "predict", "-length", "2000000"}, exitUsage, "-length 2000000 is above the maximum"},
		{"train twice", []string{"-config", tiny, "-run", run1, "-set", "data.path=" + text}, exitUsage, "already holds a run"},
		{"second YAML document", []string{"-config", twoDocs}, exitUsage, "a second YAML document"},
		{"profiled", []string{"-run", run1, "-mode", "predict", "-length", "5", "-cpuprofile", profile}, exitOK, ""},
		{"profile in no folder", []string{"-run", run1, "-mode", "predict", "-cpuprofile", filepath.Join(dir, "none", "cpu.prof")}, exitUsage, "-cpuprofile: open"},
	} {
		if profiling && slices.Contains(tc.args, "-cpuprofile") {
			continue
		}
		var stdout, stderr bytes.Buffer
		status := run(tc.args, strings.NewReader(""), &stdout, &stderr)
		if status != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%s: status %d, stderr %q; want status %d and %q", tc.name, status, stderr.String(), tc.status, tc.stderr)
		}
		if tc.name == "predict" && !strings.HasPrefix(stdout.String(), "First") {
			t.Errorf("predict printed %q, want it to start with the prime", stdout.String())
		}
	}
	// A profile is gzipped protocol buffers (go tool pprof reads it).
	if b, err := os.ReadFile(profile); !profiling && (err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b) {
		t.Errorf("-cpuprofile wrote %d bytes (%v), want a gzipped profile", len(b), err)
	}
}
