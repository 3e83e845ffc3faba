package tasks

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/nn"
)

// videoCfg is a small video task over clips generated from the shipped
// MNIST test digits into dir.
func videoCfg(dir, cell string) *config.Config {
	cfg := config.DefaultFor("video")
	cfg.Data.Path, cfg.Data.ValPath = filepath.Join(dir, "train"), filepath.Join(dir, "val")
	cfg.Data.ImageSize = 32
	cfg.Data.Generate = &config.Generate{MNIST: "../data/mnist", Frames: 10,
		Train: config.GenSplit{Split: "t10k", First: 0, Digits: 500, Clips: 80},
		Val:   config.GenSplit{Split: "t10k", First: 500, Digits: 100, Clips: 20}}
	cfg.Encoder = &config.Encoder{Kind: "cnn", Channels: []int{8, 16}, Kernel: 3, Out: 64}
	cfg.Decoder = config.Decoder{Cell: cell, Hidden: 128, Layers: 1, Embed: 1, Init: "default"}
	cfg.Train.Batch = 8
	return &cfg
}

// TestVideoLearnsMotion trains the CNN+GRU briefly on generated clips and
// requires per-frame accuracy far above chance on held-out digits, and
// above the per-frame baseline, which cannot see motion.
func TestVideoLearnsMotion(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	dir := t.TempDir()
	accuracy := map[string]float64{}
	for _, cell := range []string{"gru", "none"} {
		cfg := videoCfg(dir, cell)
		var log bytes.Buffer
		task, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		params := task.Params()
		opt, _ := nn.NewOptimizer(nn.OptimizerConfig{Kind: "adam"}, params)
		rng := rand.New(rand.NewPCG(2, 2))
		for i := 0; i < 250; i++ {
			params.ZeroGrad()
			if _, _, err := task.TrainStep(i, rng); err != nil {
				t.Fatal(err)
			}
			params.ClipGradNorm(5)
			opt.Step(params, 0.003)
		}
		m, err := task.Evaluate()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", cell, m)
		accuracy[cell] = m["frame_accuracy"]
		var report bytes.Buffer
		if err := task.(Reporter).Report(dir, &report); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(report.String(), "still") {
			t.Errorf("report lacks the label names: %q", report.String())
		}
	}
	if accuracy["gru"] < 0.5 || accuracy["gru"] < accuracy["none"]+0.2 {
		t.Errorf("frame accuracy: GRU %.3f, per-frame baseline %.3f; want GRU ≥ 0.5 and 0.2 above the baseline", accuracy["gru"], accuracy["none"])
	}
	if _, err := os.Stat(filepath.Join(dir, "confusion.png")); err != nil {
		t.Errorf("no confusion.png: %v", err)
	}
}

func TestVideoPredictAndErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := videoCfg(dir, "gru")
	cfg.Data.Generate.Train.Clips, cfg.Data.Generate.Val.Clips = 4, 2
	var log bytes.Buffer
	task, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := task.Predict(Input{Path: filepath.Join(dir, "val", "clip_00000")}, &out, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[0], "frame_000.png\t") {
		t.Errorf("prediction printed %d lines starting %q, want 10 lines, one per frame", len(lines), lines[0])
	}
	if err := task.Predict(Input{}, &out, nil); err == nil || !strings.Contains(err.Error(), "-input") {
		t.Errorf("prediction without -input: %v", err)
	}
	// A clip whose labels do not match its frames is an error naming it.
	bad := filepath.Join(dir, "val", "clip_00001", "labels.txt")
	if err := os.WriteFile(bad, []byte("still\nup\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &log}); err == nil || !strings.Contains(err.Error(), "clip_00001") {
		t.Errorf("mismatched labels: %v", err)
	}
	cfg.Data.SkipBad = true
	log.Reset()
	if _, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &log}); err != nil || !strings.Contains(log.String(), "skipped clip clip_00001") {
		t.Errorf("skip_bad: %v; log %q", err, log.String())
	}
}

// TestVideoGradients checks the whole video model — the CNN over every
// frame, the recurrent stack over each clip's frame features (and the
// baseline without it), the head per frame — against finite differences.
func TestVideoGradients(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
	}{
		{"gru", func(c *config.Config) {}},
		{"lstm, 2 layers, bidirectional, batch norm, dropout", func(c *config.Config) {
			c.Decoder.Cell, c.Decoder.Layers, c.Decoder.Bidirectional, c.Decoder.Dropout = "lstm", 2, true, 0.2
			c.Encoder.BatchNorm = true
		}},
		{"no recurrence", func(c *config.Config) { c.Decoder.Cell = "none" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := videoCfg(dir, "gru")
			cfg.Data.ImageSize = 8
			cfg.Data.Generate.Train.Clips, cfg.Data.Generate.Val.Clips = 4, 2
			cfg.Data.Path, cfg.Data.ValPath = filepath.Join(dir, "g-train"), filepath.Join(dir, "g-val")
			cfg.Encoder = &config.Encoder{Kind: "cnn", Channels: []int{2}, Kernel: 3, Out: 4}
			cfg.Decoder.Hidden = 3
			cfg.Train.Batch = 2
			tc.change(cfg)
			task, err := New[float64](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &bytes.Buffer{}})
			if err != nil {
				t.Fatal(err)
			}
			v := task.(*Video[float64])
			v.train = v.train[:1] // one clip, so the batch is fixed whatever the draw
			v.byLen = datasets.NewBuckets(frameCounts(v.train), 1)
			loss := func() float64 {
				sum, n, err := v.TrainStep(0, rand.New(rand.NewPCG(5, 5)))
				if err != nil {
					t.Fatal(err)
				}
				return sum / float64(n)
			}
			params := v.Params()
			params.ZeroGrad()
			loss()
			res := nn.GradCheck(loss, params, 1e-6, 1e-8, 1e-5, 12, rand.New(rand.NewPCG(6, 6)))
			if !res.OK() {
				t.Fatalf("gradient check: %v", res)
			}
			t.Log(res)
		})
	}
}
