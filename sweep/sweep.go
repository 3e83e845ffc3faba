package sweep

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/tasks"
)

// Options are what Run needs besides the spec's contents.
type Options struct {
	Spec   string // the sweep spec file
	Dir    string // the sweep folder; "" for DefaultDir(Spec)
	Runner string // the runner binary every trial runs ("runner -resume DIR")
	Stdout io.Writer
	Stderr io.Writer // progress
}

// Run lays out the sweep of opts.Spec in its folder and runs the trials
// not yet finished with the spec's executor: locally, until they end or
// ctx is cancelled (the trials then save checkpoints, and running again
// continues them), followed by the report; or by submitting a Slurm job
// array, waiting for it if the spec says so.
func Run(ctx context.Context, opts Options) error {
	l, err := Load(opts.Spec)
	if err != nil {
		return err
	}
	trials, err := l.expand()
	if err != nil {
		return err
	}
	if l.Ensemble {
		if err := l.checkEnsembles(trials); err != nil {
			return err
		}
	}
	metric, higher := l.metric(trials[0].cfg)
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	m := &Manifest{Spec: l.Path, Base: l.BasePath, Metric: metric, Direction: "min", Keys: varied(l), Trials: trials, Ensemble: l.Ensemble, Workdir: cwd}
	if higher {
		m.Direction = "max"
	}
	dir := opts.Dir
	if dir == "" {
		dir = DefaultDir(opts.Spec)
	}
	if err := layout(dir, l, m); err != nil {
		return err
	}
	if opts.Runner, err = filepath.Abs(opts.Runner); err != nil {
		return err
	}
	if l.Executor.Kind == "slurm" {
		return runSlurm(ctx, dir, l, m, opts)
	}
	runErr := runLocal(ctx, dir, l, m, opts)
	if err := ScoreEnsembles(ctx, dir, opts.Runner, opts.Stderr); err != nil {
		fmt.Fprintf(opts.Stderr, "sweep: ensembles: %v\n", err)
	}
	if err := Report(dir, opts.Stdout); err != nil {
		fmt.Fprintf(opts.Stderr, "sweep: report: %v\n", err)
	}
	return runErr
}

// isTerminal reports whether w is a terminal, where a status line is
// rewritten in place; into a file or pipe plain lines are written instead.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// checkEnsembles refuses ensemble: true where the ensembles could not be
// evaluated: a task without ensembles, or translation members that draw
// their own dev split and so their own tokenizers (data.pairs.split_seed
// follows the seed unless it is set).
func (l *Loaded) checkEnsembles(trials []*Trial) error {
	fail := func(format string, args ...any) error {
		return &config.Error{File: l.Path, Line: config.LineOf(l.lines, "ensemble"), Key: "ensemble", Msg: fmt.Sprintf(format, args...)}
	}
	task := trials[0].cfg.Task
	if !tasks.Ensembles(task) {
		return fail("the %s task does not evaluate ensembles (%s do)", task, strings.Join(tasks.EnsembleTasks(), ", "))
	}
	if task != "translation" {
		return nil
	}
	for _, g := range seedGroups(trials) {
		for _, t := range g[1:] {
			if t.cfg.SplitSeed() != g[0].cfg.SplitSeed() {
				return fail("trials %s and %s would draw other dev splits and tokenizers, which one ensemble cannot read: set data.pairs.split_seed under set:", g[0].ID, t.ID)
			}
		}
	}
	return nil
}
