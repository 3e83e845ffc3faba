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
	"fmt"
	"os"
	"slices"
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
	return &Error{File: c.source, Line: lineOf(c.lines, key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// CheckFiles reports, as located errors, the files the config names for
// training that do not exist: data.path (unless video generates it),
// data.val_path (likewise), data.images (captioning) and train.init_from. Prediction from a
// checkpoint needs none of them, so this is not part of validation.
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
	gen := c.Task == "video" && c.Data.Generate != nil
	check("data.path", c.Data.Path, gen)
	check("data.val_path", c.Data.ValPath, gen)
	if c.Task == "captioning" {
		check("data.images", c.Data.Images, false)
	}
	check("train.init_from", c.Train.InitFrom, false)
	if len(errs) > 0 {
		return errs
	}
	return nil
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
	Pad  int  `yaml:"pad"`
	Flip bool `yaml:"flip"`
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
	Cell          string  `yaml:"cell"`
	Embed         int     `yaml:"embed"`
	Hidden        int     `yaml:"hidden"`
	Layers        int     `yaml:"layers"`
	Bidirectional bool    `yaml:"bidirectional"`
	Dropout       float64 `yaml:"dropout"`
	Freeze        bool    `yaml:"freeze"`
	PretrainSteps int     `yaml:"pretrain_steps"`
}

// Decoder is the recurrent network that emits the output sequence.
type Decoder struct {
	Cell          string  `yaml:"cell"`
	Hidden        int     `yaml:"hidden"`
	Layers        int     `yaml:"layers"`
	Bidirectional bool    `yaml:"bidirectional"`
	Embed         int     `yaml:"embed"`
	Dropout       float64 `yaml:"dropout"`
	Init          string  `yaml:"init"`
	Attention     string  `yaml:"attention"`
	InputFeeding  bool    `yaml:"input_feeding"`
	TieEmbeddings bool    `yaml:"tie_embeddings"`
}

// Train drives the optimisation loop.
type Train struct {
	Precision string        `yaml:"precision"`
	Batch     int           `yaml:"batch"`
	Steps     int           `yaml:"steps"`
	TimeLimit time.Duration `yaml:"time_limit"`
	Optimizer Optimizer     `yaml:"optimizer"`
	Schedule  Schedule      `yaml:"schedule"`
	Clip      float64       `yaml:"clip"`
	LogEvery  int           `yaml:"log_every"`
	EvalEvery int           `yaml:"eval_every"`
	Patience  int           `yaml:"patience"`
	InitFrom  string        `yaml:"init_from"`

	TeacherForcing    float64 `yaml:"teacher_forcing"`
	TeacherForcingEnd float64 `yaml:"teacher_forcing_end"`
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

// Schedule shapes the learning rate over the steps of train.steps.
type Schedule struct {
	Kind     string  `yaml:"kind"`
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
}

// Decode chooses how output sequences are generated (translation).
type Decode struct {
	Strategy      string  `yaml:"strategy"`
	Beam          int     `yaml:"beam"`
	LengthPenalty float64 `yaml:"length_penalty"`
	MaxLen        int     `yaml:"max_len"`
	Temperature   float64 `yaml:"temperature"`
}

// Sample configures text generation.
type Sample struct {
	Length      int     `yaml:"length"`
	Temperature float64 `yaml:"temperature"`
	Prime       string  `yaml:"prime"`
}

// Caps on generated lengths: a value beyond them is a typo or would run
// for hours and hold its output in memory, not a request anyone means.
const (
	MaxDecodeLen    = 1000      // eval.decode.max_len: tokens of one translation or caption
	MaxSampleLength = 1_000_000 // eval.sample.length and -length: characters of one sample
)

// Tasks lists the task names a config may give.
var Tasks = []string{"charlm", "translation", "video", "captioning"}

// EncoderKinds lists the valid encoder.kind values.
var EncoderKinds = []string{"none", "cnn", "rnn"}

// AttentionKinds lists the valid decoder.attention values.
var AttentionKinds = []string{"none", "dot", "general", "additive"}

// Default is the configuration every file starts from; a YAML file states
// only what differs.
func Default() Config {
	return Config{
		Seed: 1,
		Data: Data{ValFraction: 0.1, SeqLen: 64, ImageSize: 64, Color: "gray",
			Pairs:    Pairs{SourceColumn: 0, TargetColumn: 1, SourceLang: "en", TargetLang: "fr", Lowercase: true, MaxLen: 10, MinFreq: 2},
			Captions: Captions{Format: "auto", MinFreq: 5, MaxLen: 20}},
		Decoder: Decoder{
			Cell: "lstm", Hidden: 256, Layers: 1, Embed: 64, Init: "default", Attention: "none",
		},
		Train: Train{
			Precision: "float32", Batch: 32, Steps: 10000,
			Optimizer: Optimizer{Kind: "adam", LR: 0.002},
			Schedule:  Schedule{Kind: "constant", Gamma: 0.5, StepSize: 1000},
			Clip:      5, LogEvery: 50, EvalEvery: 500,
			TeacherForcing: 1, TeacherForcingEnd: 1,
		},
		Eval: Eval{Batches: 20, Select: "loss", Sample: Sample{Length: 300, Temperature: 0.8, Prime: "\n"},
			Decode: Decode{Strategy: "greedy", Beam: 5, LengthPenalty: 0.6, MaxLen: 30, Temperature: 1}, BLEUSentences: 500},
	}
}

// validate checks ranges and choices; every problem names its key path.
func (c *Config) validate() []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	oneOf := func(key, v string, valid []string) {
		if !slices.Contains(valid, v) {
			bad(key, "%q is not one of %v", v, valid)
		}
	}
	atLeast := func(key string, v, lo int) {
		if v < lo {
			bad(key, "%d is below the minimum %d", v, lo)
		}
	}
	inRange := func(key string, v, lo, hi int) {
		atLeast(key, v, lo)
		if v > hi {
			bad(key, "%d is above the maximum %d", v, hi)
		}
	}
	if c.Task == "" {
		bad("task", "missing: say which task to run, one of %v", Tasks)
	} else {
		oneOf("task", c.Task, Tasks)
	}
	if c.Encoder != nil {
		oneOf("encoder.kind", c.Encoder.Kind, EncoderKinds)
		if c.Task == "charlm" && c.Encoder.Kind != "none" {
			bad("encoder.kind", "charlm reads no input, so its encoder must be none (or absent)")
		}
		if c.Encoder.Kind == "cnn" {
			if len(c.Encoder.Channels) == 0 {
				bad("encoder.channels", "missing: give the channels of each conv stage, e.g. [16, 32]")
			}
			for i, ch := range c.Encoder.Channels {
				atLeast(fmt.Sprintf("encoder.channels[%d]", i), ch, 1)
			}
			if k := c.Encoder.Kernel; k < 1 || k%2 == 0 {
				bad("encoder.kernel", "%d must be odd and positive", k)
			}
			atLeast("encoder.out", c.Encoder.Out, 0)
		}
	}
	if c.Task == "translation" {
		e := c.Encoder
		if e == nil || e.Kind != "rnn" {
			bad("encoder.kind", "translation needs encoder.kind: rnn (an embedding and a recurrent stack over the source)")
		} else {
			oneOf("encoder.cell", e.Cell, []string{"rnn", "lstm", "gru"})
			atLeast("encoder.embed", e.Embed, 1)
			atLeast("encoder.hidden", e.Hidden, 1)
			atLeast("encoder.layers", e.Layers, 1)
			if e.Dropout < 0 || e.Dropout >= 1 {
				bad("encoder.dropout", "%g must be in [0, 1)", e.Dropout)
			}
		}
		p := c.Data.Pairs
		atLeast("data.pairs.source_column", p.SourceColumn, 0)
		atLeast("data.pairs.target_column", p.TargetColumn, 0)
		if p.SourceColumn == p.TargetColumn {
			bad("data.pairs.target_column", "equals source_column %d", p.SourceColumn)
		}
		atLeast("data.pairs.max_len", p.MaxLen, 1)
		atLeast("data.pairs.min_freq", p.MinFreq, 1)
		atLeast("data.pairs.max_vocab", p.MaxVocab, 0)
	}
	if c.Encoder != nil && c.Task != "captioning" {
		if c.Encoder.Freeze {
			bad("encoder.freeze", "only captioning holds its encoder fixed; remove the key")
		}
		if c.Encoder.PretrainSteps != 0 {
			bad("encoder.pretrain_steps", "only captioning pre-trains its encoder; remove the key")
		}
	}
	if c.Task == "captioning" {
		if c.Encoder == nil || c.Encoder.Kind != "cnn" {
			bad("encoder.kind", "captioning needs encoder.kind: cnn (a CNN over each image)")
		} else {
			atLeast("encoder.pretrain_steps", c.Encoder.PretrainSteps, 0)
			if n := c.Encoder.PretrainSteps; n > 0 && n >= c.Train.Steps {
				bad("encoder.pretrain_steps", "%d leaves no steps of train.steps (%d) for the decoder", n, c.Train.Steps)
			}
		}
		cp := c.Data.Captions
		oneOf("data.captions.format", cp.Format, []string{"auto", "flickr8k", "coco"})
		atLeast("data.captions.min_freq", cp.MinFreq, 1)
		atLeast("data.captions.max_len", cp.MaxLen, 1)
		atLeast("data.image_size", c.Data.ImageSize, 4)
		oneOf("data.color", c.Data.Color, []string{"gray", "rgb"})
		if c.Data.FPS < 0 || c.Data.FPS > 1000 {
			bad("data.fps", "%g must be in [0, 1000]", c.Data.FPS)
		}
		if a := c.Data.Augment; a.Pad < 0 || a.Pad > c.Data.ImageSize {
			bad("data.augment.pad", "%d is outside 0..data.image_size (%d)", a.Pad, c.Data.ImageSize)
		}
	}
	if c.Task == "translation" || c.Task == "captioning" {
		oneOf("decoder.attention", c.Decoder.Attention, AttentionKinds)
		if c.Decoder.TieEmbeddings && c.Decoder.Embed != c.Decoder.Hidden {
			bad("decoder.tie_embeddings", "needs decoder.embed (%d) equal to decoder.hidden (%d)", c.Decoder.Embed, c.Decoder.Hidden)
		}
		for _, k := range []struct {
			key string
			v   float64
		}{{"train.teacher_forcing", c.Train.TeacherForcing}, {"train.teacher_forcing_end", c.Train.TeacherForcingEnd}} {
			if k.v < 0 || k.v > 1 {
				bad(k.key, "%g must be in [0, 1]", k.v)
			}
		}
		d := c.Eval.Decode
		oneOf("eval.decode.strategy", d.Strategy, []string{"greedy", "sample", "beam", "mbr"})
		atLeast("eval.decode.beam", d.Beam, 1)
		if d.LengthPenalty < 0 {
			bad("eval.decode.length_penalty", "%g is negative", d.LengthPenalty)
		}
		if d.Temperature <= 0 {
			bad("eval.decode.temperature", "%g must be positive", d.Temperature)
		}
		atLeast("eval.bleu_sentences", c.Eval.BLEUSentences, 0)
	}
	if c.Task == "video" && (c.Encoder == nil || c.Encoder.Kind != "cnn") {
		bad("encoder.kind", "video needs encoder.kind: cnn (a CNN over every frame)")
	}
	if c.Data.Path == "" {
		bad("data.path", "missing: name the data file or folder")
	}
	if c.Task == "video" {
		if c.Data.ValPath == "" {
			bad("data.val_path", "missing: name the folder of validation clips")
		}
		atLeast("data.image_size", c.Data.ImageSize, 4)
		oneOf("data.color", c.Data.Color, []string{"gray", "rgb"})
		if c.Data.FPS < 0 || c.Data.FPS > 1000 {
			bad("data.fps", "%g must be in [0, 1000]", c.Data.FPS)
		}
		if g := c.Data.Generate; g != nil {
			if g.MNIST == "" {
				bad("data.generate.mnist", "missing: name the folder with the MNIST IDX files")
			}
			atLeast("data.generate.frames", g.Frames, 4)
			for _, sp := range []struct {
				name string
				GenSplit
			}{{"train", g.Train}, {"val", g.Val}} {
				key := "data.generate." + sp.name
				oneOf(key+".split", sp.Split, []string{"train", "t10k"})
				atLeast(key+".first", sp.First, 0)
				atLeast(key+".digits", sp.Digits, 0)
				atLeast(key+".clips", sp.Clips, 1)
			}
		}
	}
	if c.Data.ValFraction <= 0 || c.Data.ValFraction >= 1 {
		bad("data.val_fraction", "%g must be in (0, 1)", c.Data.ValFraction)
	}
	atLeast("data.seq_len", c.Data.SeqLen, 1)
	cells := make([]string, len(nn.Cells))
	for i, cell := range nn.Cells {
		cells[i] = string(cell)
	}
	if c.Task == "video" {
		cells = append(cells, "none") // the per-frame baseline without recurrence
	}
	oneOf("decoder.cell", c.Decoder.Cell, cells)
	atLeast("decoder.hidden", c.Decoder.Hidden, 1)
	atLeast("decoder.layers", c.Decoder.Layers, 1)
	atLeast("decoder.embed", c.Decoder.Embed, 1)
	if c.Decoder.Dropout < 0 || c.Decoder.Dropout >= 1 {
		bad("decoder.dropout", "%g must be in [0, 1)", c.Decoder.Dropout)
	}
	inits := make([]string, len(nn.InitSchemes))
	for i, s := range nn.InitSchemes {
		inits[i] = string(s)
	}
	oneOf("decoder.init", c.Decoder.Init, inits)
	t := c.Train
	oneOf("train.precision", t.Precision, []string{"float32", "float64"})
	atLeast("train.batch", t.Batch, 1)
	atLeast("train.steps", t.Steps, 1)
	if t.TimeLimit < 0 {
		bad("train.time_limit", "%v is negative", t.TimeLimit)
	}
	oneOf("train.optimizer.kind", t.Optimizer.Kind, nn.OptimizerKinds)
	if t.Optimizer.LR <= 0 {
		bad("train.optimizer.lr", "%g must be positive", t.Optimizer.LR)
	}
	if b := t.Optimizer.Beta1; b < 0 || b >= 1 {
		bad("train.optimizer.beta1", "%g must be in [0, 1)", b)
	}
	if b := t.Optimizer.Beta2; b < 0 || b >= 1 {
		bad("train.optimizer.beta2", "%g must be in [0, 1)", b)
	}
	oneOf("train.schedule.kind", t.Schedule.Kind, nn.ScheduleKinds)
	if t.Schedule.Kind == "step" {
		atLeast("train.schedule.step_size", t.Schedule.StepSize, 1)
	}
	if t.Clip < 0 {
		bad("train.clip", "%g is negative (0 disables clipping)", t.Clip)
	}
	atLeast("train.log_every", t.LogEvery, 1)
	atLeast("train.eval_every", t.EvalEvery, 1)
	atLeast("train.patience", t.Patience, 0)
	atLeast("eval.batches", c.Eval.Batches, 1)
	if c.Eval.Select == "" {
		bad("eval.select", "missing: name the validation metric that picks the best checkpoint (loss, frame_accuracy, bleu, ...)")
	}
	inRange("eval.sample.length", c.Eval.Sample.Length, 0, MaxSampleLength)
	inRange("eval.decode.max_len", c.Eval.Decode.MaxLen, 1, MaxDecodeLen)
	if c.Eval.Sample.Temperature <= 0 {
		bad("eval.sample.temperature", "%g must be positive", c.Eval.Sample.Temperature)
	}
	return errs
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
