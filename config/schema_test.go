package config_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/seqtask/seqtask/config"
	_ "github.com/seqtask/seqtask/tasks" // registers the tasks' schemas
)

// TestReferenceDocumentsEveryKey keeps configs/reference.yaml complete: it
// must load, and every key of the schema must appear in it.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	t.Chdir("..") // config paths are relative to the repository root
	path := filepath.Join("configs", "reference.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// It documents the keys of every task at once, so it is checked
	// against the schema's keys and types, not against one task's rules.
	if err := config.CheckKeys(b, path); err != nil {
		t.Fatalf("reference config: %v", err)
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
			key := n.Content[i].Value
			if path != "" {
				key = path + "." + key
			}
			walk(n.Content[i+1], key)
		}
	}
	walk(doc.Content[0], "")
	for _, k := range config.KeyPaths() {
		if !documented[k] {
			t.Errorf("configs/reference.yaml does not document %s", k)
		}
	}
}

// TestShippedConfigsLoad checks every config in configs/ against the schema,
// and that those meant for a fresh clone name only data the repository
// ships (*-full.yaml configs point at the full data sets outside it).
func TestShippedConfigsLoad(t *testing.T) {
	t.Chdir("..")
	files, _ := filepath.Glob(filepath.Join("configs", "*.yaml"))
	if len(files) < 3 {
		t.Fatalf("found %d configs", len(files))
	}
	for _, f := range files {
		if filepath.Base(f) == "reference.yaml" {
			continue // see TestReferenceDocumentsEveryKey
		}
		cfg, err := config.Load(f, nil)
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

// TestTaskSchemas checks the keys each task and each encoder and decoder
// kind reads: each bad value is reported under its key path, and a key
// that would be silently ignored is an error.
func TestTaskSchemas(t *testing.T) {
	const captioning = "task: captioning\ndata:\n  path: config.go\nencoder:\n  kind: cnn\n  channels: [4]\n  kernel: 3\n"
	const charlm = "task: charlm\ndata:\n  path: config.go\n"
	const translation = "task: translation\ndata:\n  path: config.go\nencoder: {kind: rnn, cell: gru, embed: 8, hidden: 8, layers: 1}\n"
	const video = "task: video\ndata: {path: a, val_path: b}\nencoder: {kind: cnn, channels: [4], kernel: 3}\n"
	for _, base := range []string{captioning, charlm, translation, video} {
		if _, err := config.Parse([]byte(base), "c.yaml", nil); err != nil {
			t.Errorf("valid config %q: %v", base, err)
		}
	}
	for _, tc := range []struct {
		name, base string
		sets       []string
		want       string
	}{
		{"rnn encoder over images", captioning, []string{"encoder.kind=rnn"}, "encoder.kind: rnn reads tokens, but the captioning task gives its encoder images: want one of [cnn kmeans]"},
		{"unknown encoder", captioning, []string{"encoder.kind=vit"}, `encoder.kind: "vit" is not one of [cnn kmeans none rnn]`},
		{"caption format", captioning, []string{"data.captions.format=csv"}, `data.captions.format: "csv" is not one of [auto flickr8k coco]`},
		{"min_freq", captioning, []string{"data.captions.min_freq=0"}, "data.captions.min_freq: 0 is below the minimum 1"},
		{"max_len", captioning, []string{"data.captions.max_len=0"}, "data.captions.max_len: 0 is below the minimum 1"},
		{"pad beyond the image", captioning, []string{"data.augment.pad=65"}, "data.augment.pad: 65 is outside 0..data.image_size (64)"},
		{"crop scale above 1", captioning, []string{"data.augment.scale=1.5"}, "data.augment.scale: 1.5 is outside 0..1"},
		{"jitter of 1", captioning, []string{"data.augment.jitter=1"}, "data.augment.jitter: 1 is outside [0, 1)"},
		{"views without a frozen encoder", captioning, []string{"data.augment.views=2"}, "data.augment.views: has no effect here: only a frozen encoder's cached features take extra views (encoder.freeze); remove it"},
		{"too many views", captioning, []string{"data.augment.views=33", "encoder.freeze=true"}, "data.augment.views: 33 is"},
		{"attention", captioning, []string{"decoder.attention=global"}, `decoder.attention: "global" is not one of`},
		{"decode strategy", captioning, []string{"eval.decode.strategy=best"}, `eval.decode.strategy: "best" is not one of`},
		{"decode precision", captioning, []string{"eval.decode.precision=fp16"}, `eval.decode.precision: "fp16" is not one of [float32 bf16]`},
		{"tied sizes", captioning, []string{"decoder.tie_embeddings=true"}, "decoder.tie_embeddings: needs decoder.embed (64) equal to decoder.hidden (256)"},
		{"negative pre-training", captioning, []string{"encoder.pretrain_steps=-1"}, "encoder.pretrain_steps: -1 is below the minimum 0"},
		{"pre-training takes every step", captioning, []string{"encoder.pretrain_steps=10", "train.steps=10"}, "encoder.pretrain_steps: 10 leaves no steps of train.steps (10) for the decoder"},
		{"self-critical without a frozen encoder", captioning, []string{"train.self_critical.start=100"}, "train.self_critical.start: needs encoder.freeze: true"},
		{"self-critical during pre-training", captioning, []string{"train.self_critical.start=100", "encoder.freeze=true", "encoder.pretrain_steps=200"}, "train.self_critical.start: 100 falls within the encoder's pre-training (encoder.pretrain_steps 200)"},
		{"self-critical after the last step", captioning, []string{"train.self_critical.start=100", "encoder.freeze=true", "train.steps=100"}, "train.self_critical.start: 100 leaves no steps of train.steps (100) for it"},
		{"no self-critical samples", captioning, []string{"train.self_critical.samples=0"}, "train.self_critical.samples: 0 is below the minimum 1"},
		{"unknown self-critical baseline", captioning, []string{"train.self_critical.baseline=critic"}, `train.self_critical.baseline: "critic" is not one of [greedy mean]`},
		{"mean baseline of one sample", captioning, []string{"train.self_critical.baseline=mean", "train.self_critical.samples=1"}, "train.self_critical.baseline: mean needs train.self_critical.samples of at least 2 (it has 1)"},
		{"negative self-critical rate", captioning, []string{"train.self_critical.lr=-1"}, "train.self_critical.lr: -1 is negative"},
		{"label smoothing of 1", captioning, []string{"train.label_smoothing=1"}, "train.label_smoothing: 1"},
		{"label smoothing for charlm", charlm, []string{"train.label_smoothing=0.1"}, "train.label_smoothing: the charlm task does not read it"},
		{"negative streams", charlm, []string{"eval.streams=-1"}, "eval.streams: -1 is outside 0..train.batch (32)"},
		{"more streams than a batch", charlm, []string{"eval.streams=33"}, "eval.streams: 33 is outside 0..train.batch (32)"},
		{"stream_loss without streams", charlm, []string{"eval.select=stream_loss"}, "eval.select: stream_loss is reported only with eval.streams > 0"},
		{"streams for translation", translation, []string{"eval.streams=10"}, "eval.streams: the translation task does not read it"},
		{"self-critical translation", translation, []string{"train.self_critical.start=100"}, "train.self_critical: the translation task does not read it"},
		{"synced decoder for captioning", captioning, []string{"decoder.kind=synced"}, "decoder.kind: the captioning task takes autoregressive"},
		{"unknown decoder", captioning, []string{"decoder.kind=transformer"}, `decoder.kind: "transformer" is not one of [autoregressive synced]`},
		{"input feeding without attention", captioning, []string{"decoder.input_feeding=true"}, "decoder.input_feeding: has no effect here"},
		{"encoder for charlm", charlm, []string{"encoder.kind=cnn"}, "encoder.kind: the charlm task has no input to encode"},
		{"frozen encoder outside captioning", video, []string{"encoder.freeze=true", "encoder.pretrain_steps=5"}, "encoder.freeze: has no effect here: only captioning"},
		{"attention in a language model", charlm, []string{"decoder.attention=dot"}, "decoder.attention: has no effect here: a synced decoder has nothing to attend over"},
		{"bidirectional language model", charlm, []string{"decoder.bidirectional=true"}, "decoder.bidirectional: has no effect here: a language model reads only the past"},
		{"no cell for a language model", charlm, []string{"decoder.cell=none"}, "decoder.cell: none leaves a language model nothing"},
		{"weight drop of 1", charlm, []string{"decoder.weight_drop=1"}, "decoder.weight_drop: 1 must be in [0, 1)"},
		{"weight drop without a cell", video, []string{"decoder.cell=none", "decoder.weight_drop=0.2"}, "decoder.weight_drop: has no effect here: it drops recurrent weights and decoder.cell is none"},
		{"weight drop with input feeding", translation, []string{"decoder.weight_drop=0.2", "decoder.attention=general", "decoder.input_feeding=true"}, "decoder.weight_drop: needs the decoder to run over the whole sequence at once, which input feeding prevents"},
		{"weight drop with additive attention", captioning, []string{"decoder.weight_drop=0.2", "decoder.attention=additive"}, "decoder.weight_drop: needs the decoder to run over the whole sequence at once, which attention before the step (additive) prevents"},
		{"weight drop with scheduled sampling", captioning, []string{"decoder.weight_drop=0.2", "train.teacher_forcing_end=0.5"}, "decoder.weight_drop: needs train.teacher_forcing and train.teacher_forcing_end of 1"},
		{"pairs keys for charlm", charlm, []string{"data.pairs.max_len=50"}, "data.pairs: the charlm task does not read it"},
		{"decode keys for charlm", charlm, []string{"eval.decode.beam=3"}, "eval.decode: the charlm task does not read it"},
		{"sample keys for translation", translation, []string{"eval.sample.length=5"}, "eval.sample: the translation task does not read it"},
		{"cnn for translation", translation, []string{"encoder.kind=cnn", "encoder.channels=[4]", "encoder.kernel=3"}, "encoder.kind: cnn reads images or frames, but the translation task gives its encoder tokens"},
		{"same columns", translation, []string{"data.pairs.target_column=0"}, "data.pairs.target_column: equals source_column 0"},
		{"encoder cell", translation, []string{"encoder.cell=tcn"}, `encoder.cell: "tcn" is not one of`},
		{"missing encoder", "task: translation\ndata:\n  path: x\n", nil, "encoder: missing: the translation task reads tokens; give encoder.kind, one of [rnn]"},
		{"even kernel", video, []string{"encoder.kernel=4"}, "encoder.kernel: 4 must be odd and positive"},
		{"no validation clips", video, []string{"data.val_path="}, "data.val_path: missing"},
		{"video seq_len", video, []string{"data.seq_len=10"}, "data.seq_len: the video task does not read it"},
		{"workers for captioning", captioning, []string{"train.workers=2"}, "train.workers: 2: the captioning task trains on one worker (set 1, or 0"},
		{"workers with batch norm", video, []string{"train.workers=2", "encoder.batchnorm=true"}, "train.workers: 2: the video task trains on one worker here: encoder.batchnorm keeps running statistics"},
		{"negative workers", charlm, []string{"train.workers=-1"}, "train.workers: -1 is below the minimum 0"},
		{"more workers than examples", charlm, []string{"train.workers=5", "train.batch=4"}, "train.workers: 5 is above the maximum 4"},
	} {
		_, err := config.Parse([]byte(tc.base), "c.yaml", tc.sets)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	cfg, err := config.Parse([]byte(captioning), "c.yaml", []string{"data.images=no/such/folder"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckFiles(); err == nil || !strings.Contains(err.Error(), "data.images: stat no/such/folder") {
		t.Errorf("CheckFiles with a missing image folder: %v", err)
	}
}

// TestTrainWorkers: train.workers 0 resolves to one worker per core (at
// most the batch) for a task that can split its batches with the config,
// and to one for a task or config that cannot; a number given is kept.
func TestTrainWorkers(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		name string
		yaml string
		sets []string
		want int
	}{
		{"charlm, one per core", "task: charlm\ndata: {path: x}\n", nil, min(cores, 32)},
		{"at most the batch", "task: charlm\ndata: {path: x}\n", []string{"train.batch=1"}, 1},
		{"a number given", "task: charlm\ndata: {path: x}\n", []string{"train.workers=3"}, 3},
		{"translation", "task: translation\ndata: {path: x}\nencoder: {kind: rnn, cell: gru, embed: 8, hidden: 8, layers: 1}\n", nil, min(cores, 32)},
		{"video", "task: video\ndata: {path: a, val_path: b}\nencoder: {kind: cnn, channels: [4], kernel: 3}\n", nil, min(cores, 32)},
		{"video with batch norm", "task: video\ndata: {path: a, val_path: b}\nencoder: {kind: cnn, channels: [4], kernel: 3, batchnorm: true}\n", nil, 1},
		{"captioning", "task: captioning\ndata: {path: x}\nencoder: {kind: cnn, channels: [4], kernel: 3}\n", nil, 1},
	} {
		cfg, err := config.Parse([]byte(tc.yaml), "c.yaml", tc.sets)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(tc.sets) == 0 && cfg.Train.Workers != 0 {
			t.Errorf("%s: train.workers defaults to %d, want 0 (one per core)", tc.name, cfg.Train.Workers)
		}
		if got := cfg.TrainWorkers(); got != tc.want {
			t.Errorf("%s: TrainWorkers() = %d, want %d", tc.name, got, tc.want)
		}
	}
}
