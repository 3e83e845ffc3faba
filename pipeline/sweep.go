package pipeline

import (
	"context"
	"fmt"
	"os"

	"github.com/seqtask/seqtask/sweep"
)

// runSweep carries out -mode sweep (lay out and run the sweep of the spec
// -sweep FILE, in -sweep-dir or sweeps/<spec name>) and -mode report
// (write the report of a sweep folder: -sweep DIR, or the spec's folder,
// after evaluating the ensembles it asks for and has not evaluated yet).
// The trials run this very binary, each as "runner -resume DIR".
func runSweep(ctx context.Context, opts Options) error {
	switch {
	case opts.Sweep == "":
		return &UsageError{fmt.Sprintf("-mode %s needs -sweep: the sweep spec (YAML, see configs/sweeps/reference.yaml)%s",
			opts.Mode, map[bool]string{true: " or the sweep folder"}[opts.Mode == "report"])}
	case opts.Config != "" || opts.RunDir != "" || opts.Resume != "" || opts.Overwrite || len(opts.Sets) > 0 || len(opts.Ensemble) > 0:
		return &UsageError{fmt.Sprintf("-mode %s takes -sweep and -sweep-dir only: the spec names the base config (base:), the keys every trial sets (set:) and the trials' folders", opts.Mode)}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sweep: the runner's own path: %w", err)
	}
	if opts.Mode == "report" {
		dir := opts.SweepDir
		if fi, err := os.Stat(opts.Sweep); err == nil && fi.IsDir() {
			if dir != "" {
				return &UsageError{fmt.Sprintf("-mode report -sweep %s names the sweep folder; leave out -sweep-dir", opts.Sweep)}
			}
			dir = opts.Sweep
		} else if dir == "" {
			dir = sweep.DefaultDir(opts.Sweep)
		}
		if err := sweep.ScoreEnsembles(ctx, dir, exe, opts.Stderr); err != nil {
			fmt.Fprintf(opts.Stderr, "sweep: ensembles: %v\n", err)
		}
		return sweep.Report(dir, opts.Stdout)
	}
	return sweep.Run(ctx, sweep.Options{Spec: opts.Sweep, Dir: opts.SweepDir, Runner: exe, Stdout: opts.Stdout, Stderr: opts.Stderr})
}
