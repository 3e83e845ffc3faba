// Package sweep runs many trainings of one experiment — a grid and/or
// random draws over config keys, each repeated with several seeds — and
// compares them.
//
// A sweep spec (YAML, decoded as strictly as a config; every key is
// documented in configs/sweeps/reference.yaml) names a base config and the
// keys to vary. Its trials are laid out in a sweep folder: one ordinary
// run folder per trial under trials/, holding the trial's resolved
// config.yaml, so that eval, predict and serve work on any trial, and a
// manifest.json of the trials and their overrides. Every trial runs as
// "runner -resume DIR" — from step 0 while its folder holds only its
// config, from its last checkpoint after an interruption — so running the
// sweep again continues it, on this machine (the local executor: several
// runner processes at once, the cores divided between them) or on a Slurm
// cluster (the slurm executor: one job-array index per trial, requeued
// trials resuming). A trial's outcome is its status.json, written when the
// runner exits; the report (report.md, report.html with plots, best.yaml)
// is read from the trials' metrics.jsonl.
//
// The package runs the runner binary as child processes and never imports
// package pipeline, which calls it for -mode sweep and -mode report.
package sweep

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/tasks"
)

// Spec is a sweep spec as written; Load checks and completes it.
type Spec struct {
	// Base is the config every trial starts from, relative to the spec's
	// folder.
	Base string `yaml:"base"`
	// Set maps config keys to values every trial gets (like -set).
	Set yaml.Node `yaml:"set"`
	// Grid maps config keys to lists of values: every combination is a
	// trial.
	Grid yaml.Node `yaml:"grid"`
	// Random draws values of config keys, each draw crossed with the grid.
	Random Random `yaml:"random"`
	// Seeds repeats every trial with each value of the config key seed.
	Seeds []uint64 `yaml:"seeds"`
	// Ensemble also evaluates each configuration's seeds together, as one
	// ensemble (see ScoreEnsembles).
	Ensemble bool `yaml:"ensemble"`
	// Metric ranks the trials: a validation metric of metrics.jsonl;
	// "" is the base config's eval.select.
	Metric string `yaml:"metric"`
	// Direction is min or max; "" is the metric's own (see
	// tasks.HigherIsBetter).
	Direction string `yaml:"direction"`
	// Executor says where the trials run.
	Executor Executor `yaml:"executor"`
}

// Random is the random part of a sweep: Trials draws from Seed, each
// drawing every key of Keys from its distribution.
type Random struct {
	Trials int       `yaml:"trials"`
	Seed   uint64    `yaml:"seed"`
	Keys   yaml.Node `yaml:"keys"` // config key → {uniform|log_uniform: [lo, hi]} or {choice: [...]}
}

// distribution is one random key's law: exactly one field is given.
// Bounds that are both integers draw integers.
type distribution struct {
	Uniform    []yaml.Node `yaml:"uniform"`
	LogUniform []yaml.Node `yaml:"log_uniform"`
	Choice     []yaml.Node `yaml:"choice"`
}

// Executor picks where trials run and holds each executor's options.
type Executor struct {
	Kind  string `yaml:"kind"` // local or slurm
	Local Local  `yaml:"local"`
	Slurm Slurm  `yaml:"slurm"`
}

// Local runs Parallel trials at once on this machine, each with Threads
// cores (GOMAXPROCS; 0 divides the machine's CPUs between them).
type Local struct {
	Parallel int `yaml:"parallel"`
	Threads  int `yaml:"threads"`
}

// Slurm submits the trials as one sbatch job array.
type Slurm struct {
	Partition   string        `yaml:"partition"`
	CPUsPerTask int           `yaml:"cpus_per_task"`
	Mem         string        `yaml:"mem"`
	Time        string        `yaml:"time"`
	MaxRunning  int           `yaml:"max_running"` // the array's %N throttle; 0 for none
	Binary      string        `yaml:"binary"`      // the runner as the nodes see it; "" for this one
	Args        []string      `yaml:"sbatch_args"` // more #SBATCH options
	Wait        bool          `yaml:"wait"`
	Poll        time.Duration `yaml:"poll"`
}

// Limits that keep a typo from laying out a million folders.
const (
	maxTrials = 10000
	maxDraws  = 10000
)

// Loaded is a checked spec: its file, its base config's text, and the
// values its sections name, in the file's order.
type Loaded struct {
	Spec
	Path     string // the spec file
	BasePath string // the base config file
	base     []byte
	set      []override // fixed keys, in the file's order
	grid     []axis
	random   []randomKey
	lines    map[string]int // line of each spec key path
}

// override is one config key's value as -set text, with the spec line
// that gave it.
type override struct {
	Key, Value string
	line       int
	section    string // set, grid, random or seeds
}

// axis is one grid key and its values.
type axis struct {
	key    string
	line   int
	values []string
}

// randomKey is one random key and its distribution.
type randomKey struct {
	key  string
	line int
	kind string // uniform, log_uniform or choice
	lo   float64
	hi   float64
	ints bool     // uniform and log_uniform: both bounds are integers
	opts []string // choice
}

// Load reads and checks the sweep spec at path: its keys and types as
// strictly as a config's, every varied key a config key, the base config
// readable. Errors are config errors naming the spec's file, line and key.
func Load(path string) (*Loaded, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{File: path, Msg: fmt.Sprintf("cannot read sweep spec: %v", err)}
	}
	root, err := config.ReadDocument(src, path)
	if err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, &config.Error{File: path, Line: root.Line, Msg: "a sweep spec is a mapping of keys (base:, grid:, random:, ...)"}
	}
	l := &Loaded{Path: path}
	if l.lines, err = config.DecodeStrict(root, &l.Spec, path, ""); err != nil {
		return nil, err
	}
	var errs config.Errors
	fail := func(key, format string, args ...any) {
		errs = append(errs, &config.Error{File: path, Line: config.LineOf(l.lines, key), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if l.Base == "" {
		fail("base", "missing: name the config every trial starts from (relative to this file)")
	} else {
		l.BasePath = l.Base
		if !filepath.IsAbs(l.BasePath) {
			l.BasePath = filepath.Join(filepath.Dir(path), l.Base)
		}
		if l.base, err = os.ReadFile(l.BasePath); err != nil {
			fail("base", "cannot read the base config: %v", err)
		}
	}
	keys := config.KeyPaths()
	l.set = l.overrides(&l.Set, "set", keys, true, &errs)
	for _, o := range l.overrides(&l.Grid, "grid", keys, false, &errs) {
		values, err := listValues(&l.Grid, o.Key)
		if err != nil {
			errs = append(errs, &config.Error{File: path, Line: o.line, Key: "grid." + o.Key, Msg: err.Error()})
			continue
		}
		l.grid = append(l.grid, axis{key: o.Key, line: o.line, values: values})
	}
	for _, o := range l.overrides(&l.Random.Keys, "random.keys", keys, false, &errs) {
		rk, err := parseDistribution(&l.Random.Keys, o.Key, path)
		if err != nil {
			errs = append(errs, flatten(err)...)
			continue
		}
		rk.line = o.line
		l.random = append(l.random, rk)
	}
	switch {
	case l.Random.Trials < 0 || l.Random.Trials > maxDraws:
		fail("random.trials", "%d is outside 0..%d", l.Random.Trials, maxDraws)
	case l.Random.Trials > 0 && len(l.random) == 0:
		fail("random.trials", "%d draws of nothing: give random.keys", l.Random.Trials)
	case l.Random.Trials == 0 && len(l.random) > 0:
		fail("random.trials", "missing: how many draws of random.keys to make")
	}
	l.checkVaried(&errs)
	if len(l.Seeds) > 0 && (slices.ContainsFunc(l.grid, func(a axis) bool { return a.key == "seed" }) ||
		slices.ContainsFunc(l.random, func(r randomKey) bool { return r.key == "seed" })) {
		fail("seeds", "seed is also varied in grid or random: give it in one place")
	}
	for i, s := range l.Seeds {
		if slices.Contains(l.Seeds[:i], s) {
			fail("seeds", "seed %d given twice", s)
		}
	}
	if l.Ensemble && len(l.Seeds) < 2 {
		fail("ensemble", "an ensemble is each configuration's seeds together: give seeds: with at least two (it has %d)", len(l.Seeds))
	}
	switch l.Direction {
	case "", "min", "max":
	default:
		fail("direction", "%q is not one of [min max] (or leave it out for the metric's own)", l.Direction)
	}
	l.checkExecutor(fail)
	if len(errs) > 0 {
		return nil, errs
	}
	if len(l.grid) == 0 && len(l.random) == 0 && len(l.Seeds) == 0 {
		return nil, &config.Error{File: path, Msg: "nothing varies: give grid, random or seeds"}
	}
	return l, nil
}

// overrides reads the mapping n (the spec section named section) of
// config key paths to values, checking that each key is a config key; with
// values, each value is one for -set (else the section reads its values).
func (l *Loaded) overrides(n *yaml.Node, section string, keys []string, values bool, errs *config.Errors) []override {
	if n.Kind == 0 {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		*errs = append(*errs, &config.Error{File: l.Path, Line: n.Line, Key: section, Msg: "want a mapping of config keys (decoder.cell: ..., train.optimizer.lr: ...)"})
		return nil
	}
	var out []override
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(keys, k.Value) {
			msg := "not a config key (see configs/reference.yaml)"
			if s := config.Nearest(k.Value, keys); s != "" {
				msg = fmt.Sprintf("not a config key (did you mean %s?)", s)
			}
			*errs = append(*errs, &config.Error{File: l.Path, Line: k.Line, Key: section + "." + k.Value, Msg: msg})
			continue
		}
		if slices.ContainsFunc(out, func(o override) bool { return o.Key == k.Value }) {
			*errs = append(*errs, &config.Error{File: l.Path, Line: k.Line, Key: section + "." + k.Value, Msg: "given twice"})
			continue
		}
		o := override{Key: k.Value, line: k.Line, section: section}
		if values {
			text, err := setText(v)
			if err != nil {
				*errs = append(*errs, &config.Error{File: l.Path, Line: v.Line, Key: section + "." + k.Value, Msg: err.Error()})
				continue
			}
			o.Value = text
		}
		out = append(out, o)
	}
	return out
}

// checkVaried refuses a key given in two places: which value would win
// would depend on an order the user cannot see.
func (l *Loaded) checkVaried(errs *config.Errors) {
	seen := map[string]string{}
	for _, o := range l.set {
		seen[o.Key] = "set"
	}
	note := func(key, section string, line int) {
		if prev, ok := seen[key]; ok {
			*errs = append(*errs, &config.Error{File: l.Path, Line: line, Key: section + "." + key, Msg: "also given in " + prev + ": give it in one place"})
		}
		seen[key] = section
	}
	for _, a := range l.grid {
		note(a.key, "grid", a.line)
	}
	for _, r := range l.random {
		note(r.key, "random.keys", r.line)
	}
}

// varied lists the keys that tell trials apart, in the order of the
// report's columns: grid keys, random keys, then seed.
func varied(l *Loaded) []string {
	var out []string
	for _, a := range l.grid {
		out = append(out, a.key)
	}
	for _, r := range l.random {
		out = append(out, r.key)
	}
	if len(l.Seeds) > 0 {
		out = append(out, "seed")
	}
	return out
}

// listValues returns the -set texts of the grid key's list of values.
func listValues(grid *yaml.Node, key string) ([]string, error) {
	v := valueOf(grid, key)
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		return nil, fmt.Errorf("want a non-empty list of values, e.g. [0.001, 0.003]")
	}
	var out []string
	for _, item := range v.Content {
		text, err := setText(item)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, text) {
			return nil, fmt.Errorf("value %s given twice", text)
		}
		out = append(out, text)
	}
	return out, nil
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setText renders a YAML value as the text of a -set override, which is
// read back as YAML: quoted strings stay strings, lists stay lists.
func setText(v *yaml.Node) (string, error) {
	if v.Kind == yaml.MappingNode {
		return "", fmt.Errorf("want a value, not a mapping (vary the keys inside it one by one)")
	}
	c := *v
	c.Style |= yaml.FlowStyle
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	b, err := yaml.Marshal(&c)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// parseDistribution reads the random key's {uniform|log_uniform|choice}.
func parseDistribution(keys *yaml.Node, key, file string) (randomKey, error) {
	path := "random.keys." + key
	v := valueOf(keys, key)
	var d distribution
	lines, err := config.DecodeStrict(v, &d, file, path)
	if err != nil {
		return randomKey{}, err
	}
	rk := randomKey{key: key}
	bad := func(format string, args ...any) (randomKey, error) {
		return randomKey{}, &config.Error{File: file, Line: v.Line, Key: path, Msg: fmt.Sprintf(format, args...)}
	}
	if len(lines) != 1 {
		return bad("want exactly one of uniform: [lo, hi], log_uniform: [lo, hi] or choice: [values]")
	}
	if d.Choice != nil {
		rk.kind = "choice"
		if len(d.Choice) == 0 {
			return bad("choice: want a non-empty list of values")
		}
		for _, c := range d.Choice {
			text, err := setText(&c)
			if err != nil {
				return bad("choice: %v", err)
			}
			rk.opts = append(rk.opts, text)
		}
		return rk, nil
	}
	bounds := d.Uniform
	rk.kind = "uniform"
	if d.LogUniform != nil {
		bounds, rk.kind = d.LogUniform, "log_uniform"
	}
	if len(bounds) != 2 {
		return bad("%s: want two bounds [lo, hi], got %d values", rk.kind, len(bounds))
	}
	var xs [2]float64
	for i, b := range bounds {
		if b.Kind != yaml.ScalarNode || b.Decode(&xs[i]) != nil || math.IsInf(xs[i], 0) || math.IsNaN(xs[i]) {
			return bad("%s: bound %q is not a finite number", rk.kind, b.Value)
		}
	}
	rk.lo, rk.hi = xs[0], xs[1]
	rk.ints = bounds[0].ShortTag() == "!!int" && bounds[1].ShortTag() == "!!int"
	switch {
	case rk.lo >= rk.hi:
		return bad("%s: want lo < hi, got [%v, %v]", rk.kind, rk.lo, rk.hi)
	case rk.kind == "log_uniform" && rk.lo <= 0:
		return bad("log_uniform: want positive bounds, got [%v, %v]", rk.lo, rk.hi)
	}
	return rk, nil
}

// checkExecutor checks the executor's options and fills in defaults.
func (l *Loaded) checkExecutor(fail func(key, format string, args ...any)) {
	e := &l.Executor
	if e.Kind == "" {
		e.Kind = "local"
	}
	if e.Kind != "local" && e.Kind != "slurm" {
		fail("executor.kind", "%q is not one of [local slurm]", e.Kind)
	}
	if e.Local.Parallel < 0 {
		fail("executor.local.parallel", "%d is below the minimum 0", e.Local.Parallel)
	}
	if e.Local.Threads < 0 {
		fail("executor.local.threads", "%d is below the minimum 0", e.Local.Threads)
	}
	if e.Local.Parallel == 0 {
		e.Local.Parallel = 1
	}
	s := &e.Slurm
	if s.CPUsPerTask < 0 {
		fail("executor.slurm.cpus_per_task", "%d is below the minimum 0", s.CPUsPerTask)
	}
	if s.MaxRunning < 0 {
		fail("executor.slurm.max_running", "%d is below the minimum 0", s.MaxRunning)
	}
	if s.Poll < 0 {
		fail("executor.slurm.poll", "%v is negative", s.Poll)
	}
	if s.CPUsPerTask == 0 {
		s.CPUsPerTask = 1
	}
	if s.Mem == "" {
		s.Mem = "2G"
	}
	if s.Time == "" {
		s.Time = "1:00:00"
	}
	if s.Poll == 0 {
		s.Poll = 30 * time.Second
	}
	for _, field := range []struct{ key, value string }{
		{"executor.slurm.partition", s.Partition}, {"executor.slurm.mem", s.Mem}, {"executor.slurm.time", s.Time},
	} {
		if strings.ContainsAny(field.value, " \t\n'\"$`\\") {
			fail(field.key, "%q: want a plain Slurm value (no spaces or quotes)", field.value)
		}
	}
	for _, a := range s.Args {
		if !strings.HasPrefix(a, "-") || strings.ContainsAny(a, "\n") {
			fail("executor.slurm.sbatch_args", "%q: want sbatch options, one per item, like --account=proj", a)
		}
	}
}

// metric returns the metric that ranks trials and whether higher is
// better: the spec's, else the base config's eval.select.
func (l *Loaded) metric(base *config.Config) (string, bool) {
	m := l.Metric
	if m == "" {
		m = base.Eval.Select
	}
	switch l.Direction {
	case "min":
		return m, false
	case "max":
		return m, true
	}
	return m, tasks.HigherIsBetter(m)
}
