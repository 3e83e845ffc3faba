package tasks

import "sync"

// Progress receives how far an evaluation has come: done of total units
// of its work, from 0 of total at its start to total of total. A unit is
// what costs about the same time each (a photo to caption, a source token
// to translate from), so that the fraction done predicts the time left.
// Calls never overlap, though they may come from several goroutines.
type Progress func(done, total int)

// ProgressReporter is implemented by tasks whose evaluation decodes a dev
// set, which takes long enough (tens of seconds on a full split) to show
// how far it is. A nil Progress reports nothing.
type ProgressReporter interface {
	SetProgress(Progress)
}

// progressCounter adds up the units of work that the goroutines of one
// evaluation finish and passes the running count to report.
type progressCounter struct {
	mu          sync.Mutex
	done, total int
	report      Progress
}

// newProgressCounter reports 0 of total units (when report is not nil).
func newProgressCounter(report Progress, total int) *progressCounter {
	p := &progressCounter{total: total, report: report}
	p.add(0)
	return p
}

// add counts n more units done. A nil counter counts nothing.
func (p *progressCounter) add(n int) {
	if p == nil || p.report == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.report(p.done, p.total)
}
