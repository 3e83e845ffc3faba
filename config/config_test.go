package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const minimal = `task: charlm
data:
  path: config.go
`

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
		{"out of range", minimal + "decoder:\n  dropout: 1.5\n", nil, []string{"x.yaml:5: decoder.dropout: 1.5 must be in [0, 1)"}},
		{"bad choice", minimal + "decoder:\n  cell: transformer\n", nil, []string{"x.yaml:5: decoder.cell: \"transformer\" is not one of [rnn lstm gru]"}},
		{"missing task", "data:\n  path: config.go\n", nil, []string{"task: missing"}},
		{"duplicate key", minimal + "seed: 1\nseed: 2\n", nil, []string{"x.yaml:5: seed: given twice"}},
		{"section as scalar", minimal + "train: fast\n", nil, []string{"x.yaml:4: train: want a mapping"}},
		{"several at once", minimal + "decoder:\n  hidden: 0\n  layers: 0\n", nil, []string{"decoder.hidden: 0 is below the minimum 1", "decoder.layers: 0 is below the minimum 1"}},
		{"override typo", minimal, []string{"train.lrate=1"}, []string{"train.lrate: unknown key"}},
		{"override into scalar", minimal, []string{"task.x=1"}, []string{"task is not a section"}},
		{"override without =", minimal, []string{"seed"}, []string{"want key.path=value"}},
		{"encoder for charlm", minimal + "encoder:\n  kind: cnn\n", nil, []string{"encoder.kind"}},
		{"frozen encoder outside captioning", minimal + "encoder:\n  freeze: true\n  pretrain_steps: 5\n", nil, []string{"encoder.freeze", "encoder.pretrain_steps"}},
		{"syntax", "task: [", nil, []string{"x.yaml"}},
		{"second document", minimal + "---\ntask: video\n", nil, []string{"x.yaml:4: a second YAML document"}},
		{"infinite number", minimal + "train:\n  optimizer:\n    lr: .inf\n", nil, []string{"x.yaml:6: train.optimizer.lr: want a finite number, got .inf"}},
		{"NaN number", minimal + "decoder:\n  dropout: .nan\n", nil, []string{"x.yaml:5: decoder.dropout: want a finite number"}},
		{"infinite override", minimal, []string{"eval.sample.temperature=-.inf"}, []string{"eval.sample.temperature: want a finite number"}},
		{"decode length over the cap", minimal, []string{"eval.decode.max_len=100000"}, []string{"eval.decode.max_len: 100000 is above the maximum"}},
		{"sample length over the cap", minimal, []string{"eval.sample.length=100000000"}, []string{"eval.sample.length: 100000000 is above the maximum"}},
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

// TestReferenceDocumentsEveryKey keeps configs/reference.yaml complete: it
// must load, and every key of the schema must appear in it.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	t.Chdir("..") // config paths are relative to the repository root
	path := filepath.Join("configs", "reference.yaml")
	if _, err := Load(path, nil); err != nil {
		t.Fatalf("reference config does not load: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode {
			documented[path] = true
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], join(path, n.Content[i].Value))
		}
	}
	walk(doc.Content[0], "")
	for _, k := range KeyPaths() {
		if !documented[k] {
			t.Errorf("configs/reference.yaml does not document %s", k)
		}
	}
}

// TestShippedConfigsLoad checks every config in configs/ against the schema,
// and that those meant for a fresh clone name only data the repository
// ships (*-full.yaml configs point at the full data sets outside it).
func TestShippedConfigsLoad(t *testing.T) {
	t.Chdir("..") // config paths are relative to the repository root
	files, _ := filepath.Glob(filepath.Join("configs", "*.yaml"))
	if len(files) < 3 {
		t.Fatalf("found %d configs", len(files))
	}
	for _, f := range files {
		cfg, err := Load(f, nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if strings.HasSuffix(f, "-full.yaml") {
			continue
		}
		if err := cfg.CheckFiles(); err != nil {
			t.Errorf("%s names data the repository lacks: %v", f, err)
		}
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

// TestCaptioningValidation checks the captioning keys: each bad value is
// reported under its key path, and a missing image folder by CheckFiles.
func TestCaptioningValidation(t *testing.T) {
	const base = `task: captioning
data:
  path: config.go
encoder:
  kind: cnn
  channels: [4]
  kernel: 3
`
	if _, err := Parse([]byte(base), "c.yaml", nil); err != nil {
		t.Fatalf("valid captioning config: %v", err)
	}
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"rnn encoder", []string{"encoder.kind=rnn"}, "encoder.kind: captioning needs encoder.kind: cnn"},
		{"caption format", []string{"data.captions.format=csv"}, `data.captions.format: "csv" is not one of [auto flickr8k coco]`},
		{"min_freq", []string{"data.captions.min_freq=0"}, "data.captions.min_freq: 0 is below the minimum 1"},
		{"max_len", []string{"data.captions.max_len=0"}, "data.captions.max_len: 0 is below the minimum 1"},
		{"pad beyond the image", []string{"data.augment.pad=65"}, "data.augment.pad: 65 is outside 0..data.image_size (64)"},
		{"attention", []string{"decoder.attention=global"}, `decoder.attention: "global" is not one of`},
		{"decode strategy", []string{"eval.decode.strategy=best"}, `eval.decode.strategy: "best" is not one of`},
		{"tied sizes", []string{"decoder.tie_embeddings=true"}, "decoder.tie_embeddings: needs decoder.embed (64) equal to decoder.hidden (256)"},
		{"negative pre-training", []string{"encoder.pretrain_steps=-1"}, "encoder.pretrain_steps: -1 is below the minimum 0"},
		{"pre-training takes every step", []string{"encoder.pretrain_steps=10", "train.steps=10"}, "encoder.pretrain_steps: 10 leaves no steps of train.steps (10) for the decoder"},
	} {
		_, err := Parse([]byte(base), "c.yaml", tc.sets)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	cfg, err := Parse([]byte(base), "c.yaml", []string{"data.images=no/such/folder"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckFiles(); err == nil || !strings.Contains(err.Error(), "data.images: stat no/such/folder") {
		t.Errorf("CheckFiles with a missing image folder: %v", err)
	}
}
