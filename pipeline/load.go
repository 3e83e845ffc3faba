package pipeline

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/tasks"
)

// Loaded is a trained model loaded from its run folder's best checkpoint
// (its last, if it was never evaluated), ready to predict; it holds no
// gradients.
type Loaded struct {
	Name       string // the run folder's base name
	Dir        string
	Checkpoint string
	Config     *config.Config
	Task       tasks.Task[float32]
	Step       int
	// Metric is eval.select and Score its best validation value (NaN when
	// there was no evaluation yet).
	Metric string
	Score  float64

	meta map[string]string // the checkpoint's, to build replicas
}

// LoadRun loads the model of the run in dir, in float32 whatever precision
// it trained in, with sets applied to its stored config (decoding
// settings, say). Data is not read.
func LoadRun(dir string, sets []string, log io.Writer) (*Loaded, error) {
	return loadRun(Options{Mode: "predict", RunDir: dir, Sets: sets}, log)
}

// loadRun is LoadRun for opts.RunDir, from opts.Checkpoint.
func loadRun(opts Options, log io.Writer) (*Loaded, error) {
	dir := opts.RunDir
	cfg, runDir, meta, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	if err := checkMemory(cfg); err != nil {
		return nil, err
	}
	task, ck, err := restoreTask[float32](cfg, meta, log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	path := meta["seqtask.path"]
	l := &Loaded{Name: filepath.Base(filepath.Clean(runDir)), Dir: runDir, Checkpoint: path, Config: cfg, Task: task,
		Step: ck.Step, Metric: cfg.Eval.Select, Score: displayScore(cfg.Eval.Select, ck.Best), meta: meta}
	if best, err := strconv.ParseFloat(meta[metaBest], 64); err != nil || isInf(best) {
		l.Score = math.NaN()
	}
	return l, nil
}

// restoreTask builds cfg's task from the checkpoint meta describes
// (meta["seqtask.path"], read by storedRun) without its data, and loads
// the checkpoint's weights into it, without gradients: whoever restores a
// model this way only predicts with it.
func restoreTask[T nn.Float](cfg *config.Config, meta map[string]string, log io.Writer) (tasks.Task[T], *checkpoint[T], error) {
	initRNG, _ := newRNG(cfg.Seed, streamInit)
	task, err := tasks.New[T](cfg, tasks.Env{Meta: taskMeta(meta), RNG: initRNG, Log: log})
	if err != nil {
		return nil, nil, err
	}
	ck := &checkpoint[T]{Params: task.Params(), Buffers: task.Buffers()}
	if err := ck.load(meta["seqtask.path"]); err != nil {
		return nil, nil, err
	}
	task.Params().DropGrads()
	return task, ck, nil
}

// Replica returns another copy of l's model that reads l's weights (its
// parameters and buffers share their values) but keeps its own layer
// caches, so that two goroutines can predict with l.Task and the replica
// at once; it has no gradients, as it cannot train, and shares l's rounded
// and packed copies of the weights: serving's replicas cost the memory of
// their caches, not of a second set of weights, and the cores read one
// copy of the weights.
func (l *Loaded) Replica() (tasks.Task[float32], error) {
	initRNG, _ := newRNG(l.Config.Seed, streamInit)
	task, err := tasks.New[float32](l.Config, tasks.Env{Meta: taskMeta(l.meta), RNG: initRNG, Log: io.Discard})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.Dir, err)
	}
	if err := task.Params().ShareValues(l.Task.Params()); err != nil {
		return nil, fmt.Errorf("%s: %w", l.Dir, err)
	}
	if err := task.Buffers().ShareValues(l.Task.Buffers()); err != nil {
		return nil, fmt.Errorf("%s: %w", l.Dir, err)
	}
	task.Params().DropGrads() // a replica only predicts
	return task, nil
}
