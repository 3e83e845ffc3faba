package pipeline

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/seqtask/seqtask/internal/human"
)

// progress prints the training status. On a terminal it rewrites one line
// in place; into a file or pipe it writes one plain line per report, so
// logs stay readable.
type progress struct {
	w     io.Writer
	tty   bool
	dirty bool // a status line is on screen without its newline
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// status shows the running state of training.
func (p *progress) status(step, total int, loss, tokPerSec, lr float64, eta time.Duration) {
	line := fmt.Sprintf("step %d/%d  loss %.4f  %s tok/s  lr %.3g  ETA %s",
		step, total, loss, human.Count(tokPerSec), lr, human.ETA(eta))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.dirty = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// note prints a line that stays (evaluations, checkpoints, warnings).
func (p *progress) note(format string, args ...any) {
	if p.dirty {
		fmt.Fprint(p.w, "\r\033[K")
		p.dirty = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}
