package pipeline

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/seqtask/seqtask/internal/human"
	"github.com/seqtask/seqtask/tasks"
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
func (p *progress) status(step int, total string, loss, tokPerSec, lr float64, eta time.Duration) {
	line := fmt.Sprintf("step %d/%s  loss %.4f  %s tok/s  lr %.3g  ETA %s",
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
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// clear erases the status line, if one is on screen.
func (p *progress) clear() {
	if p.dirty {
		fmt.Fprint(p.w, "\r\033[K")
		p.dirty = false
	}
}

// reportEvaluations makes task, if it decodes a dev set to evaluate
// (tasks.ProgressReporter), report how far each evaluation has come to p.
func reportEvaluations(task any, p *progress) {
	if r, ok := task.(tasks.ProgressReporter); ok {
		r.SetProgress(p.evaluation())
	}
}

// evaluation returns a tasks.Progress that shows, on a terminal, how far an
// evaluation has come and when it will end; elsewhere nil: a log gets only
// the evaluation's result.
func (p *progress) evaluation() tasks.Progress {
	if !p.tty {
		return nil
	}
	var start time.Time
	return func(done, total int) {
		if done == 0 {
			start = time.Now()
		}
		eta := time.Duration(-1) // unknown until the first units are done
		if done > 0 {
			eta = time.Duration(float64(time.Since(start)) * float64(total-done) / float64(done))
		}
		fmt.Fprintf(p.w, "\r\033[Kevaluating: %d%%  ETA %s", 100*done/max(total, 1), human.ETA(eta))
		p.dirty = true
	}
}
