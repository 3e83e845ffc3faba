// Package tasks wires encoders, decoders and data sets into the problems
// seqtask solves. A Task owns its model and data and knows how one batch
// becomes a loss, how validation is scored and how predictions are made; the
// pipeline drives any Task the same way.
package tasks

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/internal/registry"
	"github.com/seqtask/seqtask/nn"
)

// Task is one problem wired from a config.
type Task[T nn.Float] interface {
	// Params lists the model's parameters, named as PyTorch names them.
	Params() nn.Params[T]
	// Buffers lists state that is not trained by the optimizer but must be
	// checkpointed (batch-norm running statistics); nil when there is none.
	Buffers() nn.Params[T]
	// Describe lists the model's layers for -mode summary, one per line.
	Describe() []string
	// TrainStep draws one training batch with rng, runs forward and backward
	// (accumulating into the parameters' gradients, which are scaled for the
	// mean loss per target token) and returns the summed loss and the number
	// of target tokens. step counts from 0 over the whole run (resumes
	// included), for schedules inside the task.
	TrainStep(step int, rng *rand.Rand) (lossSum float64, tokens int, err error)
	// Evaluate scores the validation data. It must not draw from the
	// training RNG, so that evaluating does not change the training run.
	Evaluate() (Metrics, error)
	// Sample returns a short example of the model's output for the run log.
	Sample(rng *rand.Rand) (string, error)
	// Predict runs the task's prediction mode, writing results to out.
	Predict(in Input, out io.Writer, rng *rand.Rand) error
	// Meta is what a checkpoint must keep besides weights to rebuild the
	// task without its training data (vocabularies, label sets).
	Meta() map[string]string
}

// Input is what -mode predict reads: a path given with -input (a clip
// folder, an image, a file of sentences) or else the stream (stdin).
type Input struct {
	Path   string
	Reader io.Reader
	// AttentionDir, when set, asks a model with attention to draw each
	// prediction's attention map into that folder.
	AttentionDir string
	// Log receives reports (skipped lines) beside the results.
	Log io.Writer
}

// InputError is a mistake in what a user asked a model to do — a prime
// with characters the model never saw, a missing or unusable input — as
// opposed to a failure while doing it. The runner exits with its usage
// status for it; a server answers 400 and names Field.
type InputError struct {
	Field string // the flag or request field at fault: "prime", "input", ...
	Err   error
}

func (e *InputError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// inputErrorf returns an InputError for field.
func inputErrorf(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Err: fmt.Errorf(format, args...)}
}

// FileEvaluator is implemented by tasks that can score a data file given
// with -mode eval -input (translation: a file of sentence pairs).
type FileEvaluator interface {
	EvaluateFile(path string) (Metrics, error)
}

// Pretrainer is implemented by tasks whose first PretrainSteps training
// steps train only part of the model (captioning's encoder). Evaluations
// within them report only what that part learns, so the pipeline neither
// selects checkpoints nor counts patience by them.
type Pretrainer interface {
	PretrainSteps() int
}

// PhaseLearningRate is implemented by tasks with a training phase that
// trains at its own learning rate (captioning's self-critical training):
// where PhaseLR reports ok, the pipeline uses lr instead of the
// schedule's.
type PhaseLearningRate interface {
	PhaseLR(step int) (lr float64, ok bool)
}

// DataParallel is implemented by tasks whose training step can run on
// several cores at once, each on its share of the batch (train.workers).
type DataParallel[T nn.Float] interface {
	// TrainReplica returns another copy of the task that trains on batch
	// examples per step. It reads the task's training data and parameter
	// values (shared, not copied: the optimizer's updates reach it) and has
	// gradients and layer caches of its own, so that its TrainStep can run
	// concurrently with the task's.
	TrainReplica(batch int) (Task[T], error)
}

// replica finishes a TrainReplica: it builds r's model (its initial
// values are replaced at once) and points r's parameters at of's values.
func replica[T nn.Float](of, r Task[T], build func(*rand.Rand) error) (Task[T], error) {
	if err := build(rand.New(rand.NewPCG(0, 0))); err != nil {
		return nil, err
	}
	if err := r.Params().ShareValues(of.Params()); err != nil {
		return nil, err
	}
	return r, nil
}

// replicaConfig is cfg with train.batch set to batch.
func replicaConfig(cfg *config.Config, batch int) *config.Config {
	c := *cfg
	c.Train.Batch = batch
	return &c
}

// Ensembler is implemented by tasks whose evaluation and prediction can
// decode with several trained models at once (runner -ensemble): members
// are further models of the same task, restored from their checkpoints.
type Ensembler[T nn.Float] interface {
	Ensemble(members []Task[T]) error
}

// Reporter is implemented by tasks that, after evaluating, print a text
// report to w and write artifacts for people to look at (a confusion-matrix
// picture, an HTML page of captions) into the run folder dir.
type Reporter interface {
	Report(dir string, w io.Writer) error
}

// Metrics are the figures of one evaluation. "loss" (mean per target token,
// in nats) is always present; lower is better.
type Metrics map[string]float64

// HigherIsBetter reports whether a larger value of the named metric is an
// improvement (BLEU, accuracies, CIDEr); for losses (every name ending in
// "loss"), bits and perplexity it is not.
func HigherIsBetter(metric string) bool {
	return !strings.HasSuffix(metric, "loss") && metric != "bits" && metric != "perplexity"
}

// Keys returns the metric names with "loss" first, then sorted.
func (m Metrics) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "loss" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return append([]string{"loss"}, keys...)
}

// Env is what a task gets besides its config.
type Env struct {
	// Meta restores a task from a checkpoint; nil when starting fresh.
	Meta map[string]string
	// NeedData is false when only prediction will run, so the training data
	// need not be present.
	NeedData bool
	// RNG draws the initial weights.
	RNG *rand.Rand
	// Log receives reports about the data (counts, skipped lines).
	Log io.Writer
	// Assume, for a model built without data or checkpoint (a summary),
	// gives the sizes the data would decide: vocabularies and label sets
	// of these sizes stand in.
	Assume *Sizes
}

// log is where the task reports about its data: Log, or nowhere.
func (e Env) log() io.Writer {
	if e.Log == nil {
		return io.Discard
	}
	return e.Log
}

// Builder constructs a task in either precision, and estimates the memory
// its model needs before it is built.
type Builder struct {
	New32    func(cfg *config.Config, env Env) (Task[float32], error)
	New64    func(cfg *config.Config, env Env) (Task[float64], error)
	Estimate func(cfg *config.Config, s Sizes, e *estimate)
	// Ensembles is whether the task is an Ensembler, known before one is
	// built (a sweep checks it before training): isEnsembler of its type.
	Ensembles bool
}

// isEnsembler reports whether the task type M implements Ensembler.
func isEnsembler[M Task[float32]]() bool {
	var m M
	_, ok := any(m).(Ensembler[float32])
	return ok
}

// Ensembles reports whether the task named task decodes with ensembles
// (runner -ensemble; a sweep's ensemble: true).
func Ensembles(task string) bool {
	b, ok := builders.Lookup(task)
	return ok && b.Ensembles
}

// EnsembleTasks names the tasks that decode with ensembles, sorted.
func EnsembleTasks() []string {
	var out []string
	for _, name := range builders.Names() {
		if Ensembles(name) {
			out = append(out, name)
		}
	}
	return out
}

var builders = registry.New[Builder]("task")

// Register makes a task available under name. It is called from init
// functions; a duplicate name is a programming error and panics.
func Register(name string, b Builder) { builders.Register(name, b) }

// New builds the task cfg.Task names, computing in T.
func New[T nn.Float](cfg *config.Config, env Env) (Task[T], error) {
	b, ok := builders.Lookup(cfg.Task)
	if !ok {
		return nil, fmt.Errorf("unknown task %q", cfg.Task)
	}
	var zero T
	switch any(zero).(type) {
	case float32:
		t, err := b.New32(cfg, env)
		if err != nil {
			return nil, err
		}
		return any(t).(Task[T]), nil
	default:
		t, err := b.New64(cfg, env)
		if err != nil {
			return nil, err
		}
		return any(t).(Task[T]), nil
	}
}
