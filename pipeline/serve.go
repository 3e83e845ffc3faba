package pipeline

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"strings"

	"github.com/seqtask/seqtask/serve"
	"github.com/seqtask/seqtask/tasks"
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
	case len(opts.Ensemble) > 0 && len(opts.Runs) > 1:
		return &UsageError{fmt.Sprintf("-mode serve -ensemble serves one model decoding with others: give one -run (%d given)", len(opts.Runs))}
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
			m, err := LoadServed(dir, opts)
			if err != nil {
				return nil, err
			}
			models = append(models, m)
		}
		return models, nil
	})
}

// LoadServed loads the model of the run in dir as -mode serve serves it:
// opts.Checkpoint of it (best by default) with opts.Sets applied, decoding
// together with the models of opts.Ensemble's run folders (the same
// checkpoint of each), in opts.Serve.Replicas copies that share the
// weights, each with its own copies of the members. It logs to
// opts.Stderr.
func LoadServed(dir string, opts Options) (serve.Model, error) {
	l, err := loadRun(Options{Mode: "predict", RunDir: dir, Sets: opts.Sets, Checkpoint: opts.Checkpoint}, opts.Stderr)
	if err != nil {
		return serve.Model{}, err
	}
	var members []*Loaded
	for _, d := range opts.Ensemble {
		ml, err := loadRun(Options{Mode: "predict", RunDir: d, Checkpoint: opts.Checkpoint}, io.Discard)
		if err != nil {
			return serve.Model{}, fmt.Errorf("-ensemble %s: %w", d, err)
		}
		members = append(members, ml)
	}
	// ensemble has t decode with copies of the members (the loaded ones
	// for the first copy of the model, replicas for the others).
	ensemble := func(t tasks.Task[float32], replica bool) error {
		if len(members) == 0 {
			return nil
		}
		ts := make([]tasks.Task[float32], len(members))
		for i, ml := range members {
			ts[i] = ml.Task
			if replica {
				r, err := ml.Replica()
				if err != nil {
					return err
				}
				ts[i] = r
			}
		}
		e, ok := t.(tasks.Ensembler[float32])
		if !ok {
			return &UsageError{"-ensemble: the " + l.Config.Task + " task does not decode with ensembles (" + strings.Join(tasks.EnsembleTasks(), ", ") + " do)"}
		}
		if err := e.Ensemble(ts); err != nil {
			return &UsageError{"-ensemble: " + err.Error()}
		}
		return nil
	}
	if err := ensemble(l.Task, false); err != nil {
		return serve.Model{}, err
	}
	m := serve.Model{Name: l.Name, Task: l.Task, Info: serve.Info{Name: l.Name, Task: l.Config.Task, Step: l.Step,
		Metric: l.Metric, Checkpoint: l.Checkpoint}}
	for _, ml := range members {
		m.Info.Ensemble = append(m.Info.Ensemble, ml.Checkpoint)
	}
	for range opts.Serve.Replicas - 1 {
		r, err := l.Replica()
		if err != nil {
			return serve.Model{}, err
		}
		if err := ensemble(r, true); err != nil {
			return serve.Model{}, err
		}
		m.Replicas = append(m.Replicas, r)
	}
	if !math.IsNaN(l.Score) && len(members) == 0 {
		// The run's own figure; an ensemble's is not that of its first
		// model (runner -mode eval -ensemble measures it).
		v := l.Score
		m.Info.MetricValue = &v
	}
	serve.Describe(&m)
	with := ""
	if len(members) > 0 {
		with = ", decoding with " + strings.Join(m.Info.Ensemble, ", ")
	}
	fmt.Fprintf(opts.Stderr, "serving %s: %s, step %d, from %s (copies: %d)%s\n", l.Name, l.Config.Task, l.Step, l.Checkpoint, 1+len(m.Replicas), with)
	return m, nil
}
