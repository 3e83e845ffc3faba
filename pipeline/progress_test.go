package pipeline

import (
	"bytes"
	"strings"
	"testing"
)

// TestEvaluationProgress checks what a terminal shows while an evaluation
// decodes: one line rewritten in place with the share done and an ETA (unknown
// before the first inputs are done), erased before the next line that
// stays; and that a log (not a terminal) is told nothing.
func TestEvaluationProgress(t *testing.T) {
	var log bytes.Buffer
	if f := (&progress{w: &log}).evaluation(); f != nil {
		t.Error("a log gets evaluation progress; want none")
	}

	var screen bytes.Buffer
	p := &progress{w: &screen, tty: true}
	report := p.evaluation()
	report(0, 40)
	report(10, 40)
	p.note("validation loss %.1f", 1.5)
	const erase = "\r\033[K"
	lines := strings.Split(screen.String(), erase)
	want := []string{"", "evaluating: 0%  ETA ?", "evaluating: 25%  ETA 0m00s", "validation loss 1.5\n"}
	if len(lines) != len(want) {
		t.Fatalf("screen %q, want the pieces %q separated by %q", screen.String(), want, erase)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("piece %d: %q, want %q", i, lines[i], want[i])
		}
	}
	screen.Reset()
	p.clear() // nothing on screen now: nothing to erase
	if screen.Len() != 0 {
		t.Errorf("clear with no status line wrote %q", screen.String())
	}
}
