// Package config is seqtask's experiment schema: typed structs decoded
// strictly from one YAML file, with command-line overrides, defaults and
// validation that names the key path and YAML line of every problem.
//
// It sits below both tasks and pipeline (each task reads its own sections;
// the pipeline reads train and eval), which is why it is its own package
// rather than part of pipeline. configs/reference.yaml documents every key;
// a test keeps that file and these structs in step.
package config

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/seqtask/seqtask/nn"
)

// Config is one experiment.
type Config struct {
	Task    string   `yaml:"task"`
	Seed    uint64   `yaml:"seed"`
	Data    Data     `yaml:"data"`
	Encoder *Encoder `yaml:"encoder,omitempty"`
	Decoder Decoder  `yaml:"decoder"`
	Train   Train    `yaml:"train"`
	Eval    Eval     `yaml:"eval"`

	source string         // file name, for errors found after loading
	lines  map[string]int // YAML line of each key path given in the file
}

// KeyError is a problem with the value of key found after loading (a file
// it names is missing, say), located like a loading error.
func (c *Config) KeyError(key, format string, args ...any) *Error {
	return &Error{File: c.source, Line: LineOf(c.lines, key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// CheckFiles reports, as located errors, the files the config names for
// training that do not exist: data.path and data.val_path (unless
// data.generate makes them), data.images and train.init_from. Prediction
// from a checkpoint needs none of them, so this is not part of validation.
func (c *Config) CheckFiles() error {
	var errs Errors
	check := func(key, path string, generated bool) {
		if path == "" || generated {
			return
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, c.KeyError(key, "%v", err))
		}
	}
	gen := c.Data.Generate != nil
	check("data.path", c.Data.Path, gen)
	check("data.val_path", c.Data.ValPath, gen)
	check("data.images", c.Data.Images, false)
	check("data.pairs.tokenizer.model", c.Data.Pairs.Tokenizer.Model, false)
	check("data.pairs.tokenizer.target_model", c.Data.Pairs.Tokenizer.TargetModel, false)
	check("train.init_from", c.Train.InitFrom, false)
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Source is the name of the file the config was read from.
func (c *Config) Source() string { return c.source }

// Given reports whether the config file or a -set override gave key a
// value (as opposed to its default).
func (c *Config) Given(key string) bool {
	_, ok := c.lines[key]
	return ok
}

// Data says where a task's examples come from and how to cut them.
type Data struct {
	Path        string    `yaml:"path"`
	ValPath     string    `yaml:"val_path"`
	ValFraction float64   `yaml:"val_fraction"`
	SeqLen      int       `yaml:"seq_len"`
	ImageSize   int       `yaml:"image_size"`
	Color       string    `yaml:"color"`
	FPS         float64   `yaml:"fps"`
	SkipBad     bool      `yaml:"skip_bad"`
	Generate    *Generate `yaml:"generate,omitempty"`
	Pairs       Pairs     `yaml:"pairs"`
	Images      string    `yaml:"images"`
	Captions    Captions  `yaml:"captions"`
	Augment     Augment   `yaml:"augment"`
}

// Captions configures captioned images (captioning).
type Captions struct {
	Format  string `yaml:"format"`
	MinFreq int    `yaml:"min_freq"`
	MaxLen  int    `yaml:"max_len"`
}

// Augment configures training-time image augmentation (captioning).
type Augment struct {
	Pad    int     `yaml:"pad"`
	Flip   bool    `yaml:"flip"`
	Scale  float64 `yaml:"scale"`
	Jitter float64 `yaml:"jitter"`
	Views  int     `yaml:"views"`
}

// Pairs configures tab-separated sentence pairs (translation).
type Pairs struct {
	SourceColumn int    `yaml:"source_column"`
	TargetColumn int    `yaml:"target_column"`
	SourceLang   string `yaml:"source_lang"`
	TargetLang   string `yaml:"target_lang"`
	Lowercase    bool   `yaml:"lowercase"`
	MaxLen       int    `yaml:"max_len"`
	MinFreq      int    `yaml:"min_freq"`
	MaxVocab     int    `yaml:"max_vocab"`
	// Bucket is the source-length window of a training batch: its
	// sentences' lengths differ by less, the shorter padded (1: equal
	// lengths only, no padding).
	Bucket    int       `yaml:"bucket"`
	Tokenizer Tokenizer `yaml:"tokenizer"`
	// SplitSeed draws the dev split (and so the vocabularies, learned from
	// the training side) apart from seed; nil: seed. Models trained with
	// other seeds on one split share their vocabularies, so they can be
	// decoded together (runner -ensemble).
	SplitSeed *uint64 `yaml:"split_seed,omitempty"`
}

// SplitSeed is the seed of the pairs' dev split: data.pairs.split_seed, or
// seed.
func (c *Config) SplitSeed() uint64 {
	if s := c.Data.Pairs.SplitSeed; s != nil {
		return *s
	}
	return c.Seed
}

// Tokenizer says how sentences become the tokens a model reads and writes
// (package tokenizers).
type Tokenizer struct {
	Kind              string  `yaml:"kind"`
	Normalization     string  `yaml:"normalization"`
	VocabSize         int     `yaml:"vocab_size"`
	Joint             bool    `yaml:"joint"`
	CharacterCoverage float64 `yaml:"character_coverage"`
	Model             string  `yaml:"model"`
	TargetModel       string  `yaml:"target_model"`
}

// Generate describes synthetic moving-digit clips made from MNIST when the
// clip folders do not exist yet (video).
type Generate struct {
	MNIST  string   `yaml:"mnist"`
	Frames int      `yaml:"frames"`
	Train  GenSplit `yaml:"train"`
	Val    GenSplit `yaml:"val"`
}

// GenSplit says which MNIST digits one generated split draws from.
type GenSplit struct {
	Split  string `yaml:"split"`
	First  int    `yaml:"first"`
	Digits int    `yaml:"digits"`
	Clips  int    `yaml:"clips"`
}

// Encoder is the part that reads the input (absent for charlm).
type Encoder struct {
	Kind          string  `yaml:"kind"`
	Channels      []int   `yaml:"channels"`
	Kernel        int     `yaml:"kernel"`
	BatchNorm     bool    `yaml:"batchnorm"`
	Out           int     `yaml:"out"`
	KMeans        KMeans  `yaml:"kmeans"`
	Cell          string  `yaml:"cell"`
	Embed         int     `yaml:"embed"`
	Hidden        int     `yaml:"hidden"`
	Layers        int     `yaml:"layers"`
	Bidirectional bool    `yaml:"bidirectional"`
	Dropout       float64 `yaml:"dropout"`
	Freeze        bool    `yaml:"freeze"`
	PretrainSteps int     `yaml:"pretrain_steps"`
}

// KMeans sets an encoder's k-means features (the kmeans kind, or a cnn's
// beside its own); 0 takes a key's default.
type KMeans struct {
	Centroids int `yaml:"centroids"`
	Patch     int `yaml:"patch"`
	Stride    int `yaml:"stride"`
	Grid      int `yaml:"grid"`
}

// Decoder is the recurrent network that emits the output sequence.
type Decoder struct {
	Kind          string  `yaml:"kind"`
	Cell          string  `yaml:"cell"`
	Hidden        int     `yaml:"hidden"`
	Layers        int     `yaml:"layers"`
	Bidirectional bool    `yaml:"bidirectional"`
	Embed         int     `yaml:"embed"`
	Dropout       float64 `yaml:"dropout"`
	WeightDrop    float64 `yaml:"weight_drop"`
	Init          string  `yaml:"init"`
	Attention     string  `yaml:"attention"`
	InputFeeding  bool    `yaml:"input_feeding"`
	TieEmbeddings bool    `yaml:"tie_embeddings"`
}

// Train drives the optimisation loop.
type Train struct {
	Precision string        `yaml:"precision"`
	Batch     int           `yaml:"batch"`
	Workers   int           `yaml:"workers"`
	Steps     int           `yaml:"steps"`
	TimeLimit time.Duration `yaml:"time_limit"`
	Optimizer Optimizer     `yaml:"optimizer"`
	Schedule  Schedule      `yaml:"schedule"`
	Clip      float64       `yaml:"clip"`
	LogEvery  int           `yaml:"log_every"`
	EvalEvery int           `yaml:"eval_every"`
	Patience  int           `yaml:"patience"`
	InitFrom  string        `yaml:"init_from"`
	Average   int           `yaml:"average"`

	TeacherForcing    float64 `yaml:"teacher_forcing"`
	TeacherForcingEnd float64 `yaml:"teacher_forcing_end"`

	LabelSmoothing float64      `yaml:"label_smoothing"`
	SelfCritical   SelfCritical `yaml:"self_critical"`
}

// SelfCritical is captioning's last training phase: self-critical sequence
// training from step Start on.
type SelfCritical struct {
	Start       int     `yaml:"start"`
	Samples     int     `yaml:"samples"`
	Baseline    string  `yaml:"baseline"`
	LR          float64 `yaml:"lr"`
	Temperature float64 `yaml:"temperature"`
}

// Optimizer selects and tunes the update rule.
type Optimizer struct {
	Kind        string  `yaml:"kind"`
	LR          float64 `yaml:"lr"`
	Momentum    float64 `yaml:"momentum"`
	Beta1       float64 `yaml:"beta1"`
	Beta2       float64 `yaml:"beta2"`
	Eps         float64 `yaml:"eps"`
	WeightDecay float64 `yaml:"weight_decay"`
}

// Schedule shapes the learning rate over the steps of train.steps, or for
// the cosine over train.time_limit (Over "time").
type Schedule struct {
	Kind     string  `yaml:"kind"`
	Over     string  `yaml:"over"`
	Warmup   int     `yaml:"warmup"`
	StepSize int     `yaml:"step_size"`
	Gamma    float64 `yaml:"gamma"`
	MinLR    float64 `yaml:"min_lr"`
}

// Eval says how validation and prediction run.
type Eval struct {
	Batches       int    `yaml:"batches"`
	Select        string `yaml:"select"`
	Sample        Sample `yaml:"sample"`
	Decode        Decode `yaml:"decode"`
	BLEUSentences int    `yaml:"bleu_sentences"`
	Streams       int    `yaml:"streams"`
}

// Decode chooses how output sequences are generated (translation).
type Decode struct {
	Strategy      string  `yaml:"strategy"`
	Beam          int     `yaml:"beam"`
	LengthPenalty float64 `yaml:"length_penalty"`
	MaxLen        int     `yaml:"max_len"`
	Temperature   float64 `yaml:"temperature"`
	Precision     string  `yaml:"precision"`
}

// Sample configures text generation.
type Sample struct {
	Length      int     `yaml:"length"`
	Temperature float64 `yaml:"temperature"`
	Prime       string  `yaml:"prime"`
	Precision   string  `yaml:"precision"`
}

// Caps on generated lengths: a value beyond them is a typo or would run
// for hours and hold its output in memory, not a request anyone means.
const (
	MaxDecodeLen    = 1000      // eval.decode.max_len: tokens of one translation or caption
	MaxSampleLength = 1_000_000 // eval.sample.length and -length: characters of one sample
)

// Default is the configuration every file starts from, before its task's
// defaults (DefaultFor); a YAML file states only what differs.
func Default() Config {
	return Config{
		Seed: 1,
		Data: Data{ValFraction: 0.1, SeqLen: 64, ImageSize: 64, Color: "gray",
			Pairs: Pairs{SourceColumn: 0, TargetColumn: 1, SourceLang: "en", TargetLang: "fr", Lowercase: true, MaxLen: 10, MinFreq: 2,
				Bucket: 1, Tokenizer: Tokenizer{Kind: "words", Normalization: "nfc"}},
			Captions: Captions{Format: "auto", MinFreq: 5, MaxLen: 20}},
		Decoder: Decoder{
			Cell: "lstm", Hidden: 256, Layers: 1, Embed: 64, Init: "default", Attention: "none",
		},
		Train: Train{
			Precision: "float32", Batch: 32, Workers: 0, Steps: 10000,
			Optimizer: Optimizer{Kind: "adam", LR: 0.002},
			Schedule:  Schedule{Kind: "constant", Over: "steps", Gamma: 0.5, StepSize: 1000},
			Clip:      5, LogEvery: 50, EvalEvery: 500,
			TeacherForcing: 1, TeacherForcingEnd: 1,
			SelfCritical: SelfCritical{Samples: 5, Baseline: "greedy", Temperature: 1},
		},
		Eval: Eval{Batches: 20, Select: "loss", Sample: Sample{Length: 300, Temperature: 0.8, Prime: "\n", Precision: "float32"},
			Decode: Decode{Strategy: "greedy", Beam: 5, LengthPenalty: 0.6, MaxLen: 30, Temperature: 1, Precision: "float32"}, BLEUSentences: 500},
	}
}

// validate checks what every task shares, then hands the config to its
// task's registered checks; every problem names its key path. unread
// reports keys the task does not read set to other than their defaults.
func (c *Config) validate(unread bool) []*Error {
	var ck Checker
	schema, known := schemas.Lookup(c.Task)
	switch {
	case c.Task == "":
		ck.Errorf("task", "missing: say which task to run, one of [%s]", strings.Join(Tasks(), " "))
	case !known:
		ck.OneOf("task", c.Task, Tasks())
	}
	if c.Data.Path == "" {
		ck.Errorf("data.path", "missing: name the data file or folder")
	}
	if c.Data.ValFraction <= 0 || c.Data.ValFraction >= 1 {
		ck.Errorf("data.val_fraction", "%g must be in (0, 1)", c.Data.ValFraction)
	}
	t := c.Train
	ck.OneOf("train.precision", t.Precision, []string{"float32", "bf16", "float64"})
	ck.AtLeast("train.batch", t.Batch, 1)
	ck.InRange("train.workers", t.Workers, 0, max(t.Batch, 1))
	ck.AtLeast("train.steps", t.Steps, 1)
	if t.TimeLimit < 0 {
		ck.Errorf("train.time_limit", "%v is negative", t.TimeLimit)
	}
	ck.OneOf("train.optimizer.kind", t.Optimizer.Kind, nn.OptimizerKinds)
	ck.Positive("train.optimizer.lr", t.Optimizer.LR)
	ck.Fraction("train.optimizer.beta1", t.Optimizer.Beta1)
	ck.Fraction("train.optimizer.beta2", t.Optimizer.Beta2)
	ck.OneOf("train.schedule.kind", t.Schedule.Kind, nn.ScheduleKinds)
	if t.Schedule.Kind == "step" {
		ck.AtLeast("train.schedule.step_size", t.Schedule.StepSize, 1)
	}
	ck.OneOf("train.schedule.over", t.Schedule.Over, []string{"steps", "time"})
	if t.Schedule.Over == "time" {
		if t.Schedule.Kind != "cosine" {
			ck.Errorf("train.schedule.over", "time shapes only the cosine schedule; %q counts steps (set kind: cosine, or over: steps)", t.Schedule.Kind)
		}
		if t.TimeLimit <= 0 {
			ck.Errorf("train.schedule.over", "time needs train.time_limit, the span the cosine falls over")
		}
	}
	if t.Clip < 0 {
		ck.Errorf("train.clip", "%g is negative (0 disables clipping)", t.Clip)
	}
	ck.AtLeast("train.log_every", t.LogEvery, 1)
	ck.AtLeast("train.eval_every", t.EvalEvery, 1)
	ck.AtLeast("train.patience", t.Patience, 0)
	ck.InRange("train.average", t.Average, 0, 100)
	ck.AtLeast("eval.batches", c.Eval.Batches, 1)
	if c.Eval.Select == "" {
		ck.Errorf("eval.select", "missing: name the validation metric that picks the best checkpoint (loss, frame_accuracy, bleu, ...)")
	}
	// Safety caps on generated lengths, whatever the task.
	ck.InRange("eval.sample.length", c.Eval.Sample.Length, 0, MaxSampleLength)
	ck.InRange("eval.decode.max_len", c.Eval.Decode.MaxLen, 1, MaxDecodeLen)
	if known {
		if unread {
			checkUnread(c, schema.Reads, &ck)
		}
		if schema.Check != nil {
			schema.Check(c, &ck)
		}
		if err := schema.splitsBatches(c); err != nil && t.Workers > 1 {
			why := ""
			if !errors.Is(err, errOneWorker) {
				why = " here: " + err.Error()
			}
			ck.Errorf("train.workers", "%d: the %s task trains on one worker%s (set 1, or 0 for one per core where the task can use them)", t.Workers, c.Task, why)
		}
	}
	return ck.errs
}

// TrainWorkers is how many data-parallel workers training runs on:
// train.workers, or for 0 one per core the process may use (at most
// train.batch) when the task can split its batches with this config, else
// one. A run records the number it resolved, so that it resumes with it.
func (c *Config) TrainWorkers() int {
	if c.Train.Workers > 0 {
		return c.Train.Workers
	}
	schema, known := schemas.Lookup(c.Task)
	if !known || schema.splitsBatches(c) != nil {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), c.Train.Batch))
}

// NNSchedule converts the config's schedule for nn, spanning train.steps.
func (t Train) NNSchedule() nn.Schedule {
	s := t.Schedule
	return nn.Schedule{Kind: s.Kind, BaseLR: t.Optimizer.LR, Warmup: s.Warmup, StepSize: s.StepSize,
		Gamma: s.Gamma, Total: max(t.Steps-s.Warmup, 1), MinLR: s.MinLR}
}

// NNOptimizer converts the config's optimizer for nn.
func (t Train) NNOptimizer() nn.OptimizerConfig {
	o := t.Optimizer
	return nn.OptimizerConfig{Kind: o.Kind, Momentum: o.Momentum, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}
}
