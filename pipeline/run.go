// Package pipeline runs any task from its config: it builds the task,
// trains it (batches, optimizer, clipping, schedule, evaluation, early
// stopping, atomic checkpoints, resumption), evaluates and predicts from
// checkpoints, and writes a run folder that a person can read: the resolved
// config, metrics.jsonl, a loss-curve PNG, samples and checkpoints.
package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/serve"
	"github.com/seqtask/seqtask/tasks"
)

// Modes lists what Run can do.
var Modes = []string{"train", "eval", "predict", "summary", "export", "serve", "sweep", "report"}

// Options are the runner's inputs besides the config file's contents.
type Options struct {
	Config string   // path of the YAML config
	Sets   []string // key.path=value overrides, applied in order
	Mode   string   // one of Modes; "" means train
	RunDir string   // run folder; "" means runs/<config file name>
	Resume string   // run folder of an interrupted run to continue (train)
	Output string   // export: the safetensors file to write
	// Checkpoint picks the run's checkpoint for eval, predict, export and
	// serve: one of Checkpoints; "" is best, or last when the run was
	// never evaluated.
	Checkpoint string

	// Ensemble names further run folders whose models eval and predict
	// decode with, beside the run's own (the same checkpoint of each).
	Ensemble []string

	// JSON makes eval print its result as one JSON object (EvalResult) on
	// Stdout, for scripts and sweeps; the task's report goes to Stderr.
	JSON bool

	// Overwrite lets training replace a run already in the run folder;
	// without it, training into a folder that holds a run is refused.
	Overwrite bool

	// Serving (-mode serve): the run folders whose models to serve, the
	// address to listen at, and the server's limits.
	Runs  []string
	Addr  string
	Serve serve.Options

	// Sweeps (-mode sweep, -mode report, see sweep.go): the sweep spec
	// (report: or its sweep folder) and the sweep folder.
	Sweep    string
	SweepDir string

	// Prediction settings; nil leaves the config's value.
	Prime       *string
	Length      *int
	Temperature *float64

	Input        io.Reader // predict input stream (stdin)
	InputPath    string    // predict and eval: -input, a file or folder the task reads instead of Input
	AttentionDir string    // predict: draw attention maps into this folder
	Stdout       io.Writer // results
	Stderr       io.Writer // progress and reports
}

// UsageError is a mistake in how the runner was called (as opposed to a
// failure while running); the command exits with status 2 for it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// IsUsage reports whether err is a usage or configuration error.
func IsUsage(err error) bool {
	var u *UsageError
	var busy *RunFolderInUseError
	var input *tasks.InputError
	return errors.As(err, &u) || errors.As(err, &busy) || errors.As(err, &input) || config.IsConfigError(err)
}

// Checkpoint file names inside a run folder.
const (
	lastCheckpoint = "last.safetensors"
	bestCheckpoint = "best.safetensors"
)

// Checkpoints are the names Options.Checkpoint takes: a run folder's
// best.safetensors (the best validation score), last.safetensors (where
// training stopped) and averaged.safetensors (train.average's mean of the
// last evaluations' weights).
var Checkpoints = []string{"best", "last", "averaged"}

// Run carries out opts.Mode. ctx cancellation (Ctrl-C) stops training
// cleanly after saving a checkpoint from which -resume continues.
func Run(ctx context.Context, opts Options) error {
	if opts.Mode == "" {
		opts.Mode = "train"
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Input == nil {
		opts.Input = os.Stdin
	}
	if !contains(Modes, opts.Mode) {
		return &UsageError{fmt.Sprintf("unknown -mode %q (want one of %s)", opts.Mode, strings.Join(Modes, ", "))}
	}
	if opts.JSON && opts.Mode != "eval" {
		return &UsageError{"-json prints the result of -mode eval as JSON; -mode " + opts.Mode + " prints none"}
	}
	switch {
	case opts.Mode == "sweep" || opts.Mode == "report":
		return runSweep(ctx, opts)
	case opts.Sweep != "" || opts.SweepDir != "":
		return &UsageError{"-sweep and -sweep-dir go with -mode sweep or -mode report"}
	case opts.Mode == "serve":
		return runServe(ctx, opts)
	}
	cfg, runDir, ckptMeta, err := resolve(opts)
	if err != nil {
		return err
	}
	if cfg.Train.Precision == "float64" {
		return runIn[float64](ctx, opts, cfg, runDir, ckptMeta)
	}
	return runIn[float32](ctx, opts, cfg, runDir, ckptMeta)
}

// resolve finds the config and run folder, refusing combinations of flags
// that would otherwise be silently ignored. Training reads the config file;
// -resume reads the run folder's own (its last checkpoint's, or config.yaml
// when the run stopped before its first checkpoint); eval, predict and
// export read the config stored in the run's checkpoint, so that they
// rebuild exactly the trained model. -set applies in every case.
func resolve(opts Options) (*config.Config, string, map[string]string, error) {
	if opts.Checkpoint != "" && (opts.Resume != "" || opts.Mode == "train" || opts.Mode == "summary") {
		return nil, "", nil, &UsageError{"-checkpoint picks the weights eval, predict, export and serve load; training and -mode summary load none of them"}
	}
	if len(opts.Ensemble) > 0 && opts.Mode != "eval" && opts.Mode != "predict" {
		return nil, "", nil, &UsageError{"-ensemble adds models to the one -mode eval, predict and serve decode with; -mode " + cmp.Or(opts.Mode, "train") + " takes none"}
	}
	if opts.Resume != "" {
		return resolveResume(opts)
	}
	if opts.Overwrite && opts.Mode != "train" {
		return nil, "", nil, &UsageError{"-overwrite replaces a run when training; -mode " + opts.Mode + " writes no run"}
	}

	fromConfig := opts.Mode == "train" || (opts.Mode == "summary" && opts.RunDir == "")
	if fromConfig {
		if opts.Config == "" {
			return nil, "", nil, &UsageError{"give -config FILE (or, for eval, predict, export and summary, -run DIR)"}
		}
		cfg, err := config.Load(opts.Config, opts.Sets)
		return cfg, defaultRunDir(opts), nil, err
	}
	if opts.Config != "" && opts.RunDir != "" {
		return nil, "", nil, &UsageError{fmt.Sprintf("-mode %s reads the config stored in the run folder: give -run %s or -config %s (which names runs/%s), not both",
			opts.Mode, opts.RunDir, opts.Config, configName(opts.Config))}
	}
	if opts.Config == "" && opts.RunDir == "" {
		return nil, "", nil, &UsageError{fmt.Sprintf("-mode %s needs the run: give -run DIR (or -config FILE for runs/<config name>)", opts.Mode)}
	}
	runDir := defaultRunDir(opts)
	cfg, meta, err := storedRun(runDir, opts.Checkpoint, opts.Sets)
	return cfg, runDir, meta, err
}

// storedRun reads the config and metadata stored in the checkpoint of
// runDir that checkpoint names ("" is best, or last when the run was never
// evaluated), applying sets to the config; meta["seqtask.path"] is the
// checkpoint's path.
func storedRun(runDir, checkpoint string, sets []string) (*config.Config, map[string]string, error) {
	path := filepath.Join(runDir, bestCheckpoint)
	switch {
	case checkpoint != "" && !slices.Contains(Checkpoints, checkpoint):
		return nil, nil, &UsageError{fmt.Sprintf("-checkpoint %q: want one of %s", checkpoint, strings.Join(Checkpoints, ", "))}
	case checkpoint != "":
		path = filepath.Join(runDir, checkpoint+".safetensors")
	default:
		if _, err := os.Stat(path); err != nil {
			path = filepath.Join(runDir, lastCheckpoint) // evaluated never yet: fall back to the latest weights
		}
	}
	meta, err := readCheckpointMeta(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && checkpoint == "averaged":
		return nil, nil, &UsageError{fmt.Sprintf("no %s: the run did not average checkpoints (train.average) or has not finished", path)}
	case errors.Is(err, os.ErrNotExist) && checkpoint != "":
		return nil, nil, &UsageError{fmt.Sprintf("no %s: train first (runner -config FILE) or name the run folder with -run", path)}
	case errors.Is(err, os.ErrNotExist):
		return nil, nil, &UsageError{fmt.Sprintf("no checkpoint in %s: train first (runner -config FILE) or name the run folder with -run", runDir)}
	}
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.ParseStored([]byte(meta[metaConfig]), path+" (stored config)", sets)
	if err != nil {
		return nil, nil, err
	}
	meta["seqtask.path"] = path
	return cfg, meta, nil
}

// resolveResume resolves -resume DIR: the run continues with its own
// config, so -config and another -run are mistakes, not choices.
func resolveResume(opts Options) (*config.Config, string, map[string]string, error) {
	dir := opts.Resume
	switch {
	case opts.Mode != "train":
		return nil, "", nil, &UsageError{"-resume continues training; use -run to name the folder for -mode " + opts.Mode}
	case opts.RunDir != "" && filepath.Clean(opts.RunDir) != filepath.Clean(dir):
		return nil, "", nil, &UsageError{fmt.Sprintf("-resume %s -run %s: a run resumes in its own folder; give one of them", dir, opts.RunDir)}
	case opts.Config != "":
		return nil, "", nil, &UsageError{fmt.Sprintf("-resume %s continues with the run's own config (%s); leave out -config and change keys with -set",
			dir, filepath.Join(dir, "config.yaml"))}
	case opts.Overwrite:
		return nil, "", nil, &UsageError{"-resume continues a run and -overwrite replaces it: give one of them"}
	}
	path := filepath.Join(dir, lastCheckpoint)
	meta, err := readCheckpointMeta(path)
	if errors.Is(err, os.ErrNotExist) {
		// Stopped before its first checkpoint: start over from its config.
		yamlPath := filepath.Join(dir, "config.yaml")
		if _, serr := os.Stat(yamlPath); serr != nil {
			return nil, "", nil, &UsageError{fmt.Sprintf("nothing to resume in %s: it holds no %s and no config.yaml", dir, lastCheckpoint)}
		}
		cfg, err := config.Load(yamlPath, opts.Sets)
		return cfg, dir, nil, err
	}
	if err != nil {
		return nil, "", nil, err
	}
	cfg, err := config.ParseStored([]byte(meta[metaConfig]), path+" (stored config)", opts.Sets)
	if err != nil {
		return nil, "", nil, err
	}
	meta["seqtask.path"] = path
	return cfg, dir, meta, nil
}

// configName is a config file's name without folder and extension: the
// default run folder is runs/<configName>.
func configName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// defaultRunDir is -run, or else runs/<config name>.
func defaultRunDir(opts Options) string {
	if opts.RunDir != "" {
		return opts.RunDir
	}
	return filepath.Join("runs", configName(opts.Config))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newRNG returns the PCG generator a seed names; stream tells independent
// uses of one seed apart (weights, training, sampling).
func newRNG(seed, stream uint64) (*rand.Rand, *rand.PCG) {
	src := rand.NewPCG(seed, stream)
	return rand.New(src), src
}

// RNG streams of one seed.
const (
	streamInit uint64 = iota + 0x5eed
	streamTrain
	streamSample
)

func runIn[T nn.Float](ctx context.Context, opts Options, cfg *config.Config, runDir string, ckptMeta map[string]string) error {
	if opts.Prime != nil {
		cfg.Eval.Sample.Prime = *opts.Prime
	}
	if opts.Length != nil {
		if *opts.Length > config.MaxSampleLength {
			return &UsageError{fmt.Sprintf("-length %d is above the maximum %d characters", *opts.Length, config.MaxSampleLength)}
		}
		cfg.Eval.Sample.Length = *opts.Length
	}
	if opts.Temperature != nil {
		cfg.Eval.Sample.Temperature = *opts.Temperature
	}
	if opts.Mode == "train" || opts.Mode == "summary" {
		// Resolved before the config is stored, so that a resumed run keeps
		// the number of workers its batches were drawn for.
		cfg.Train.Workers = cfg.TrainWorkers()
	}
	if err := checkMemory(cfg); err != nil {
		return err
	}
	initRNG, _ := newRNG(cfg.Seed, streamInit)
	env := tasks.Env{
		NeedData: opts.Mode == "train" || opts.Mode == "eval",
		RNG:      initRNG,
		Log:      opts.Stderr,
	}
	if ckptMeta != nil {
		env.Meta = taskMeta(ckptMeta)
	} else if opts.Mode == "summary" {
		// A summary reads no data: the vocabularies and labels are stand-ins
		// of the assumed sizes.
		assumed := tasks.AssumedSizes(cfg)
		env.Assume = &assumed
	}
	if env.NeedData {
		if err := cfg.CheckFiles(); err != nil {
			return err
		}
	}
	task, err := tasks.New[T](cfg, env)
	if err != nil {
		return err
	}
	switch opts.Mode {
	case "train":
		return train(ctx, opts, cfg, runDir, task)
	case "summary":
		return summary(opts.Stdout, cfg, task, env.Assume)
	}
	path := ckptMeta["seqtask.path"]
	params := task.Params()
	ck := checkpoint[T]{Params: params, Buffers: task.Buffers()}
	if err := ck.load(path); err != nil {
		return err
	}
	params.DropGrads() // eval, predict and export only read the weights
	if err := addEnsemble(opts, task); err != nil {
		return err
	}
	switch opts.Mode {
	case "eval":
		status := newProgress(opts.Stderr)
		reportEvaluations(task, status)
		var m tasks.Metrics
		if opts.InputPath != "" {
			fe, ok := task.(tasks.FileEvaluator)
			if !ok {
				return &UsageError{fmt.Sprintf("-mode eval -input: the %s task evaluates its own validation data; leave out -input", cfg.Task)}
			}
			path = opts.InputPath
			m, err = fe.EvaluateFile(opts.InputPath)
		} else {
			m, err = task.Evaluate()
		}
		status.clear()
		if err != nil {
			return err
		}
		if opts.JSON { // the figures only: no report, whose pages would land in the run folder
			res := EvalResult{Checkpoint: ckptMeta["seqtask.path"], Input: opts.InputPath, Step: ck.Step, Ensemble: opts.Ensemble, Metrics: map[string]*float64{}}
			for k, v := range m {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					res.Metrics[k] = &v
				} else {
					res.Metrics[k] = nil
				}
			}
			return json.NewEncoder(opts.Stdout).Encode(res)
		}
		fmt.Fprintf(opts.Stdout, "%s (step %d)\n", path, ck.Step)
		for _, k := range m.Keys() {
			fmt.Fprintf(opts.Stdout, "%-12s %.4f\n", k, m[k])
		}
		return report(task, runDir, opts.Stdout)
	case "predict":
		rng, _ := newRNG(cfg.Seed, streamSample)
		return task.Predict(tasks.Input{Path: opts.InputPath, Reader: opts.Input, AttentionDir: opts.AttentionDir, Log: opts.Stderr}, opts.Stdout, rng)
	case "export":
		if opts.Output == "" {
			return &UsageError{"-mode export needs -out FILE.safetensors"}
		}
		if fi, err := os.Stat(opts.Output); err == nil && (!fi.Mode().IsRegular() || inRunFolder(opts.Output)) {
			return &UsageError{fmt.Sprintf("-out %s: will not write over a file of a run folder (or a non-regular file); name a new file", opts.Output)}
		}
		weights := weightsOf(task)
		if err := exportWeights(opts.Output, weights); err != nil {
			return err
		}
		fmt.Fprintf(opts.Stderr, "wrote %d tensors (%d parameters) from %s to %s\n", len(weights), params.Count(), path, opts.Output)
	}
	return nil
}

// EvalResult is what runner -mode eval -json prints: the checkpoint
// evaluated and its step, the -input file it scored (if any), the run
// folders ensembled with it, and the metrics (null for a value that is not
// finite, which JSON cannot hold).
type EvalResult struct {
	Checkpoint string              `json:"checkpoint"`
	Input      string              `json:"input,omitempty"`
	Step       int                 `json:"step"`
	Ensemble   []string            `json:"ensemble,omitempty"`
	Metrics    map[string]*float64 `json:"metrics"`
}

// addEnsemble loads the models of opts.Ensemble's run folders (the
// checkpoint opts.Checkpoint names in each) and has task decode with them.
func addEnsemble[T nn.Float](opts Options, task tasks.Task[T]) error {
	if len(opts.Ensemble) == 0 {
		return nil
	}
	ens, ok := task.(tasks.Ensembler[T])
	if !ok {
		return &UsageError{"-ensemble: this task does not decode with ensembles (" + strings.Join(tasks.EnsembleTasks(), ", ") + " do)"}
	}
	members := make([]tasks.Task[T], len(opts.Ensemble))
	for i, dir := range opts.Ensemble {
		cfg, meta, err := storedRun(dir, opts.Checkpoint, nil)
		if err != nil {
			return fmt.Errorf("-ensemble %s: %w", dir, err)
		}
		m, ck, err := restoreTask[T](cfg, meta, io.Discard)
		if err != nil {
			return fmt.Errorf("-ensemble %s: %w", dir, err)
		}
		fmt.Fprintf(opts.Stderr, "ensemble: model %d is %s (step %d)\n", i+2, meta["seqtask.path"], ck.Step)
		members[i] = m
	}
	if err := ens.Ensemble(members); err != nil {
		return &UsageError{"-ensemble: " + err.Error()}
	}
	return nil
}

// report lets a task that writes artifacts (pictures, pages) do so into
// the run folder, and prints the task's text report if it has one.
func report[T nn.Float](task tasks.Task[T], runDir string, w io.Writer) error {
	r, ok := task.(tasks.Reporter)
	if !ok {
		return nil
	}
	if err := r.Report(runDir, w); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// summary prints the model's layers and parameters without training, and
// the estimate of the memory training takes. assumed, when the data was
// not read, are the sizes the data would decide.
func summary[T nn.Float](w io.Writer, cfg *config.Config, task tasks.Task[T], assumed *tasks.Sizes) error {
	fmt.Fprintf(w, "task %s, %s\n", cfg.Task, cfg.Train.Precision)
	sizes := tasks.AssumedSizes(cfg)
	if assumed != nil {
		fmt.Fprintf(w, "(no data read: vocabularies of %d tokens and %d labels stand in for what the data decides)\n", assumed.Vocab, assumed.Labels)
	}
	fmt.Fprintln(w)
	defer func() {
		if parts, err := tasks.Estimate(cfg, sizes); err == nil {
			fmt.Fprintf(w, "\nmemory to train (estimate): %s; largest parts: %s\n", tasks.HumanBytes(tasks.Total(parts)), tasks.DescribeParts(parts, 3))
		}
	}()
	for _, l := range task.Describe() {
		fmt.Fprintln(w, "  "+l)
	}
	fmt.Fprintf(w, "\n%-36s %-14s %12s\n", "parameter", "shape", "count")
	params := task.Params()
	for _, p := range params {
		fmt.Fprintf(w, "%-36s %-14s %12d\n", p.Name, fmt.Sprint(p.Shape), p.Size())
	}
	fmt.Fprintf(w, "%-36s %-14s %12d\n", "total", "", params.Count())
	return nil
}
