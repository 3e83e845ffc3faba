package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `task: toy
data:
  path: config.go
`

// toy is the task these tests configure: package config knows no real
// task (tasks register themselves), so the tests of what config checks on
// its own register one that reads data.seq_len and the sampling keys.
func init() {
	RegisterTask("toy", TaskSchema{
		Reads: []string{"data.seq_len", "eval.sample"},
		Check: func(cfg *Config, c *Checker) { c.AtLeast("data.seq_len", cfg.Data.SeqLen, 1) },
	})
}

func TestParseDefaultsAndOverrides(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "x.yaml", []string{"train.optimizer.lr=0.001", "decoder.cell=gru", "train.time_limit=90s", "eval.sample.prime=ROMEO:"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Train.Optimizer.LR != 0.001 || cfg.Decoder.Cell != "gru" || cfg.Train.TimeLimit != 90*time.Second || cfg.Eval.Sample.Prime != "ROMEO:" {
		t.Errorf("overrides not applied: %+v", cfg)
	}
	if cfg.Decoder.Hidden != Default().Decoder.Hidden || cfg.Train.Batch != Default().Train.Batch {
		t.Errorf("defaults lost: %+v", cfg)
	}
}

func TestParseErrorsNameKeyAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		sets       []string
		want       []string // substrings of the error
	}{
		{"typo in section", minimal + "decodr:\n  hidden: 3\n", nil, []string{"x.yaml:4: decodr: unknown key (did you mean decoder?)"}},
		{"typo in nested key", minimal + "decoder:\n  hiden: 3\n", nil, []string{"x.yaml:5: decoder.hiden: unknown key (did you mean decoder.hidden?)"}},
		{"wrong type", minimal + "decoder:\n  hidden: many\n", nil, []string{"x.yaml:5: decoder.hidden: want an integer"}},
		{"bad duration", minimal + "train:\n  time_limit: soon\n", nil, []string{"x.yaml:5: train.time_limit: want a duration"}},
		{"out of range", minimal + "train:\n  optimizer:\n    beta1: 1.5\n", nil, []string{"x.yaml:6: train.optimizer.beta1: 1.5 must be in [0, 1)"}},
		{"bad choice", minimal + "train:\n  optimizer:\n    kind: magic\n", nil, []string{"x.yaml:6: train.optimizer.kind: \"magic\" is not one of [sgd adagrad adam]"}},
		{"unknown precision", minimal + "train:\n  precision: fp16\n", nil, []string{"x.yaml:5: train.precision: \"fp16\" is not one of [float32 bf16 float64]"}},
		{"missing task", "data:\n  path: config.go\n", nil, []string{"task: missing"}},
		{"duplicate key", minimal + "seed: 1\nseed: 2\n", nil, []string{"x.yaml:5: seed: given twice"}},
		{"section as scalar", minimal + "train: fast\n", nil, []string{"x.yaml:4: train: want a mapping"}},
		{"several at once", minimal + "train:\n  batch: 0\n  steps: 0\n", nil, []string{"x.yaml:5: train.batch: 0 is below the minimum 1", "x.yaml:6: train.steps: 0 is below the minimum 1"}},
		{"override typo", minimal, []string{"train.lrate=1"}, []string{"train.lrate: unknown key"}},
		{"override into scalar", minimal, []string{"task.x=1"}, []string{"task is not a section"}},
		{"override without =", minimal, []string{"seed"}, []string{"want key.path=value"}},
		{"unknown task", "task: dance\ndata:\n  path: x\n", nil, []string{`x.yaml:1: task: "dance" is not one of [`}},
		{"key the task does not read", minimal, []string{"data.pairs.max_len=50"}, []string{"data.pairs: the toy task does not read it"}},
		{"task check", "task: toy\ndata:\n  path: x\n  seq_len: 0\n", nil, []string{"x.yaml:4: data.seq_len: 0 is below the minimum 1"}},
		{"syntax", "task: [", nil, []string{"x.yaml"}},
		{"second document", minimal + "---\ntask: video\n", nil, []string{"x.yaml:4: a second YAML document"}},
		{"infinite number", minimal + "train:\n  optimizer:\n    lr: .inf\n", nil, []string{"x.yaml:6: train.optimizer.lr: want a finite number, got .inf"}},
		{"NaN number", minimal + "decoder:\n  dropout: .nan\n", nil, []string{"x.yaml:5: decoder.dropout: want a finite number"}},
		{"infinite override", minimal, []string{"eval.sample.temperature=-.inf"}, []string{"eval.sample.temperature: want a finite number"}},
		{"decode length over the cap", minimal, []string{"eval.decode.max_len=100000"}, []string{"eval.decode.max_len: 100000 is above the maximum"}},
		{"sample length over the cap", minimal, []string{"eval.sample.length=100000000"}, []string{"eval.sample.length: 100000000 is above the maximum"}},
		{"schedule over time without a limit", minimal, []string{"train.schedule.kind=cosine", "train.schedule.over=time"}, []string{"train.schedule.over: time needs train.time_limit"}},
		{"schedule over time of a step kind", minimal, []string{"train.schedule.kind=step", "train.schedule.over=time", "train.time_limit=1m"}, []string{`train.schedule.over: time shapes only the cosine schedule; "step" counts steps`}},
		{"schedule over what", minimal + "train:\n  schedule:\n    over: epochs\n", nil, []string{`x.yaml:6: train.schedule.over: "epochs" is not one of [steps time]`}},
	} {
		_, err := Parse([]byte(tc.yaml), "x.yaml", tc.sets)
		if err == nil {
			t.Errorf("%s: Parse succeeded, want error", tc.name)
			continue
		}
		if !IsConfigError(err) {
			t.Errorf("%s: %T is not a config error", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tc.name, err, w)
			}
		}
	}
}

func TestCheckFiles(t *testing.T) {
	cfg, err := Parse([]byte("task: charlm\ndata:\n  path: nowhere.txt\n"), "x.yaml", []string{"train.init_from=gone.safetensors"})
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckFiles()
	for _, want := range []string{"x.yaml:3: data.path: stat nowhere.txt: no such file", "x.yaml: train.init_from: stat gone.safetensors"} {
		if err == nil || !strings.Contains(err.Error(), want) || !IsConfigError(err) {
			t.Errorf("CheckFiles: %v, want %q", err, want)
		}
	}
	if cfg, _ := Parse([]byte(minimal), "x.yaml", nil); cfg.CheckFiles() != nil {
		t.Errorf("CheckFiles rejected an existing file: %v", cfg.CheckFiles())
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") || !IsConfigError(err) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "x.yaml", []string{"train.time_limit=5m"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b, "resolved.yaml", nil)
	if err != nil {
		t.Fatalf("resolved config does not parse: %v\n%s", err, b)
	}
	if back.Train != cfg.Train || back.Decoder != cfg.Decoder || back.Data != cfg.Data || back.Eval != cfg.Eval {
		t.Errorf("round trip changed the config:\n%+v\n%+v", cfg, back)
	}
	// The default prime is a line break, which yaml.v3 would write as a
	// block literal and read back as "" (found by FuzzParse).
	if back.Eval.Sample.Prime != "\n" {
		t.Errorf("prime %q after a round trip, want a line break", back.Eval.Sample.Prime)
	}
}
