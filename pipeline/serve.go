package pipeline

import (
	"context"
	"fmt"
	"math"
	"net"

	"github.com/seqtask/seqtask/serve"
)

// runServe loads the best checkpoint of each run folder in opts.Runs and
// serves them over HTTP at opts.Addr until ctx ends (SIGINT or SIGTERM),
// then shuts down gracefully.
func runServe(ctx context.Context, opts Options) error {
	switch {
	case len(opts.Runs) == 0:
		return &UsageError{"-mode serve needs the models: -run DIR, repeated for several"}
	case opts.Config != "":
		return &UsageError{"-mode serve reads each run folder's stored config: give -run DIR, not -config"}
	case opts.Resume != "" || opts.Overwrite:
		return &UsageError{"-resume and -overwrite are for training, not -mode serve"}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	sopt := opts.Serve
	sopt.Log = opts.Stderr
	s := serve.New(sopt)
	fmt.Fprintf(opts.Stderr, "serving at http://%s/ (loading %d model(s); /readyz says when they are in)\n", ln.Addr(), len(opts.Runs))
	return s.Serve(ctx, ln, func() ([]serve.Model, error) {
		var models []serve.Model
		for _, dir := range opts.Runs {
			l, err := loadRun(Options{Mode: "predict", RunDir: dir, Sets: opts.Sets, Checkpoint: opts.Checkpoint}, opts.Stderr)
			if err != nil {
				return nil, err
			}
			m := serve.Model{Name: l.Name, Task: l.Task, Info: serve.Info{Name: l.Name, Task: l.Config.Task, Step: l.Step,
				Metric: l.Metric, Checkpoint: l.Checkpoint}}
			for range opts.Serve.Replicas - 1 {
				r, err := l.Replica()
				if err != nil {
					return nil, err
				}
				m.Replicas = append(m.Replicas, r)
			}
			if !math.IsNaN(l.Score) {
				v := l.Score
				m.Info.MetricValue = &v
			}
			serve.Describe(&m)
			models = append(models, m)
			fmt.Fprintf(opts.Stderr, "serving %s: %s, step %d, from %s (copies: %d)\n", l.Name, l.Config.Task, l.Step, l.Checkpoint, 1+len(m.Replicas))
		}
		return models, nil
	})
}
