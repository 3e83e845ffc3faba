package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/seqtask/seqtask/internal/registry"
)

// TaskSchema is a task's part of the schema: its defaults and the checks of
// the keys it reads. Package config checks only what every task shares
// (train, eval.select, data.path); each task registers the rest from an
// init function, so the list of tasks and their rules live with the tasks.
type TaskSchema struct {
	// Defaults adjusts Default() for the task before the file is decoded:
	// a key the file leaves out gets the task's value (decoder.kind, say).
	Defaults func(*Config)
	// Check reports every problem with the task's keys through c.
	Check func(cfg *Config, c *Checker)
	// Reads lists the optional key groups (see optionalKeys) the task
	// reads; setting any other one is an error.
	Reads []string
	// SplitsBatches reports why the task cannot split a training batch
	// over data-parallel workers (train.workers) with this config, or nil
	// when it can. A nil SplitsBatches means it never can.
	SplitsBatches func(*Config) error
}

// errOneWorker is the reason a task without SplitsBatches gives.
var errOneWorker = errors.New("no data-parallel training")

// splitsBatches is the task's SplitsBatches for cfg.
func (s TaskSchema) splitsBatches(cfg *Config) error {
	if s.SplitsBatches == nil {
		return errOneWorker
	}
	return s.SplitsBatches(cfg)
}

var schemas = registry.New[TaskSchema]("task")

// RegisterTask adds a task's schema under name. It is called from init
// functions; a duplicate name is a programming error and panics.
func RegisterTask(name string, s TaskSchema) { schemas.Register(name, s) }

// Tasks lists the registered task names, sorted.
func Tasks() []string { return schemas.Names() }

// DefaultFor is Default with the defaults of task applied: what a config
// file naming that task starts from.
func DefaultFor(task string) Config {
	cfg := Default()
	cfg.Task = task
	if s, ok := schemas.Lookup(task); ok && s.Defaults != nil {
		s.Defaults(&cfg)
	}
	return cfg
}

// Checker collects the problems validation finds, each under its key path;
// the config's file and line are filled in after. Its methods state a rule
// and report a value that breaks it.
type Checker struct{ errs []*Error }

// Errorf reports a problem with key.
func (c *Checker) Errorf(key, format string, args ...any) {
	c.errs = append(c.errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// OneOf reports v unless it is one of valid.
func (c *Checker) OneOf(key, v string, valid []string) {
	if !slices.Contains(valid, v) {
		c.Errorf(key, "%q is not one of [%s]", v, strings.Join(valid, " "))
	}
}

// AtLeast reports v if it is below lo.
func (c *Checker) AtLeast(key string, v, lo int) {
	if v < lo {
		c.Errorf(key, "%d is below the minimum %d", v, lo)
	}
}

// InRange reports v unless lo <= v <= hi.
func (c *Checker) InRange(key string, v, lo, hi int) {
	c.AtLeast(key, v, lo)
	if v > hi {
		c.Errorf(key, "%d is above the maximum %d", v, hi)
	}
}

// Fraction reports v unless 0 <= v < 1 (dropout rates).
func (c *Checker) Fraction(key string, v float64) {
	if v < 0 || v >= 1 {
		c.Errorf(key, "%g must be in [0, 1)", v)
	}
}

// Probability reports v unless 0 <= v <= 1.
func (c *Checker) Probability(key string, v float64) {
	if v < 0 || v > 1 {
		c.Errorf(key, "%g must be in [0, 1]", v)
	}
}

// Positive reports v unless it is above 0.
func (c *Checker) Positive(key string, v float64) {
	if v <= 0 {
		c.Errorf(key, "%g must be positive", v)
	}
}

// Unused reports key when set is true: the key was given a value that the
// chosen task or component would silently ignore. why says what reads it.
func (c *Checker) Unused(key string, set bool, why string) {
	if set {
		c.Errorf(key, "has no effect here: %s; remove it", why)
	}
}

// optionalKeys are the groups of keys that only some tasks read. A task's
// schema lists those it reads (TaskSchema.Reads); a group it does not read
// must keep its default value, or the user would believe it did something.
var optionalKeys = []string{
	"data.val_path", "data.seq_len", "data.image_size", "data.color", "data.fps", "data.skip_bad",
	"data.generate", "data.pairs", "data.images", "data.captions", "data.augment",
	"eval.sample", "eval.decode", "eval.bleu_sentences", "eval.streams", "train.teacher_forcing", "train.teacher_forcing_end",
	"train.label_smoothing", "train.self_critical",
}

// checkUnread reports each optional key group the task does not read but
// the config sets to other than its default.
func checkUnread(cfg *Config, reads []string, c *Checker) {
	def := DefaultFor(cfg.Task)
	for _, key := range optionalKeys {
		if slices.Contains(reads, key) {
			continue
		}
		if !reflect.DeepEqual(valueAt(reflect.ValueOf(cfg), key).Interface(), valueAt(reflect.ValueOf(&def), key).Interface()) {
			c.Errorf(key, "the %s task does not read it; remove it (or set it to its default)", cfg.Task)
		}
	}
}

// valueAt returns the field of the config v points to at a dotted YAML key
// path.
func valueAt(v reflect.Value, path string) reflect.Value {
	for _, name := range strings.Split(path, ".") {
		for v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		_, fields := yamlFields(v.Type())
		v = v.FieldByIndex(fields[name].Index)
	}
	return v
}
