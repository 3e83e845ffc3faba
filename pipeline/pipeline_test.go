package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/tasks"
)

func runOpts(t *testing.T, dir string, mode string, sets ...string) Options {
	t.Helper()
	o := Options{Config: "testdata/tiny.yaml", Mode: mode, RunDir: dir, Sets: sets, Stdout: io.Discard, Stderr: io.Discard}
	if mode != "train" {
		o.Config = "" // the run folder's checkpoint holds the config
	}
	return o
}

func readRecords(t *testing.T, dir string) []record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("metrics.jsonl line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func TestTrainWritesRunFolder(t *testing.T) {
	dir := t.TempDir()
	if err := Run(context.Background(), runOpts(t, dir, "train")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.yaml", "metrics.jsonl", "loss.png", "samples.txt", lastCheckpoint, bestCheckpoint} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("run folder lacks %s (%v)", f, err)
		}
	}
	recs := readRecords(t, dir)
	var first, last float64
	vals := 0
	for _, r := range recs {
		if r.Split == "train" {
			if first == 0 {
				first = r.Loss
			}
			last = r.Loss
		} else {
			vals++
		}
	}
	if vals != 4 || !(last < first) {
		t.Errorf("%d evaluations (want 4), train loss %.3f → %.3f (want a decrease)", vals, first, last)
	}
	// The checkpoint can be loaded by eval and predict.
	var out bytes.Buffer
	o := runOpts(t, dir, "eval")
	o.Stdout = &out
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "loss") || !strings.Contains(out.String(), "perplexity") {
		t.Errorf("eval printed %q", out.String())
	}
	out.Reset()
	o = runOpts(t, dir, "predict")
	o.Stdout = &out
	n := 50
	o.Length = &n
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := []rune(strings.TrimSuffix(out.String(), "\n")); len(got) != len("ROMEO:")+50 || !strings.HasPrefix(string(got), "ROMEO:") {
		t.Errorf("predict printed %q, want ROMEO: and 50 characters", out.String())
	}
}

// cancelAt cancels a context when the progress output reports a step,
// which interrupts training exactly as Ctrl-C does.
type cancelAt struct {
	marker string
	cancel context.CancelFunc
}

func (c *cancelAt) Write(b []byte) (int, error) {
	if strings.Contains(string(b), c.marker) {
		c.cancel()
	}
	return len(b), nil
}

// TestResumeEqualsUninterrupted interrupts a run at step 12 of 20 and
// resumes it: the training records and final weights must equal an
// uninterrupted run's. The captioning config is interrupted after its
// encoder was pre-trained and frozen, so the resumed run must rebuild the
// feature cache and keep each phase's parameters frozen; and once more
// inside self-critical training (from step 11, at its own learning rate),
// whose sampling draws from the training random stream; and once with
// k-means features beside the CNN's, which the first step fits and the
// checkpoint keeps.
func TestResumeEqualsUninterrupted(t *testing.T) {
	for _, tc := range []struct {
		config string
		sets   []string
	}{
		{"testdata/tiny.yaml", nil},
		{"testdata/captioning.yaml", nil},
		{"testdata/captioning.yaml", []string{"train.self_critical.start=10", "train.self_critical.lr=0.002"}},
		{"testdata/captioning.yaml", []string{"encoder.kmeans.centroids=8", "encoder.kmeans.patch=3", "encoder.kmeans.stride=1"}},
		{"testdata/tiny.yaml", []string{"train.workers=2"}},
		{"testdata/tiny.yaml", []string{"train.precision=bf16", "train.workers=2"}},
	} {
		config := tc.config
		t.Run(strings.Join(append([]string{config}, tc.sets...), " "), func(t *testing.T) {
			whole, split := t.TempDir(), t.TempDir()
			o := runOpts(t, whole, "train", tc.sets...)
			o.Config = config
			if err := Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			o = runOpts(t, split, "train", tc.sets...)
			o.Config = config
			o.Stderr = &cancelAt{marker: "step 12/20 ", cancel: cancel}
			if err := Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			if recs := readRecords(t, split); recs[len(recs)-1].Step != 12 {
				t.Fatalf("interrupted run ended at step %d, want 12", recs[len(recs)-1].Step)
			}
			resume := Options{Resume: split, Mode: "train", Stdout: io.Discard, Stderr: io.Discard}
			if err := Run(context.Background(), resume); err != nil {
				t.Fatal(err)
			}
			trainOnly := func(rs []record) []record {
				var out []record
				for _, r := range rs {
					if r.Split == "train" {
						out = append(out, r)
					}
				}
				return out
			}
			a, b := trainOnly(readRecords(t, whole)), trainOnly(readRecords(t, split))
			if len(a) != 20 || len(a) != len(b) {
				t.Fatalf("%d training records uninterrupted, %d resumed; want 20 each", len(a), len(b))
			}
			selfCritical := slices.Contains(tc.sets, "train.self_critical.start=10")
			for i := range a {
				if a[i].Step != b[i].Step || a[i].Loss != b[i].Loss || a[i].LR != b[i].LR {
					t.Fatalf("record %d: uninterrupted %+v, resumed %+v", i, a[i], b[i])
				}
				if phase := a[i].LR == 0.002; selfCritical && phase != (a[i].Step > 10) {
					t.Errorf("step %d trained at rate %g; want train.self_critical.lr 0.002 from step 11 on", a[i].Step, a[i].LR)
				}
			}
			wa, _ := os.ReadFile(filepath.Join(whole, lastCheckpoint))
			wb, _ := os.ReadFile(filepath.Join(split, lastCheckpoint))
			sa, header, _ := readSafetensorsBytes(t, wa)
			sb, _, _ := readSafetensorsBytes(t, wb)
			if sa != sb {
				t.Error("final weights differ between the uninterrupted and the resumed run")
			}
			if _, ok := header["encoder.kmeans.centroids"]; ok != slices.Contains(tc.sets, "encoder.kmeans.centroids=8") {
				t.Errorf("checkpoint holds encoder.kmeans.centroids: %v", ok)
			}
		})
	}
}

// readSafetensorsBytes returns the tensor section of a safetensors file as
// a string, for equality checks, and its header.
func readSafetensorsBytes(t *testing.T, b []byte) (string, map[string]any, error) {
	t.Helper()
	n := binary.LittleEndian.Uint64(b[:8])
	var header map[string]any
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	return string(b[8+n:]), header, nil
}

func TestInterruptSavesResumableCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // interrupted before the first step
	if err := Run(ctx, runOpts(t, dir, "train")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, lastCheckpoint)); err != nil {
		t.Fatalf("no checkpoint after an interrupt: %v", err)
	}
	resume := Options{Resume: dir, Mode: "train", Stdout: io.Discard, Stderr: io.Discard}
	if err := Run(context.Background(), resume); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, dir)
	if last := recs[len(recs)-1]; last.Step != 20 {
		t.Errorf("resumed run ended at step %d, want 20", last.Step)
	}
}

// nanTask is a task whose loss turns NaN at step nanAt.
type nanTask struct {
	tasks.Task[float64]
	p     *nn.Param[float64]
	step  int
	nanAt int
}

func (n *nanTask) Params() nn.Params[float64]  { return nn.Params[float64]{n.p} }
func (n *nanTask) Meta() map[string]string     { return nil }
func (n *nanTask) Buffers() nn.Params[float64] { return nil }
func (n *nanTask) Evaluate() (tasks.Metrics, error) {
	return tasks.Metrics{"loss": 1}, nil
}
func (n *nanTask) Sample(*rand.Rand) (string, error) { return "", nil }
func (n *nanTask) TrainStep(int, *rand.Rand) (float64, int, error) {
	n.step++
	n.p.Grad[0] = 1
	if n.step == n.nanAt {
		return math.NaN(), 1, nil
	}
	return 1, 1, nil
}

func TestNaNLossStopsAndKeepsLastGoodCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load("testdata/tiny.yaml", []string{"train.eval_every=2"})
	if err != nil {
		t.Fatal(err)
	}
	task := &nanTask{p: nn.NewParam[float64]("w", 1), nanAt: 5}
	err = train(context.Background(), Options{Stderr: io.Discard}, cfg, dir, tasks.Task[float64](task))
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 5") || !strings.Contains(err.Error(), "step 4") {
		t.Fatalf("error %v, want a non-finite loss at step 5 naming the checkpoint of step 4", err)
	}
	ck := checkpoint[float64]{Params: task.Params()}
	if err := ck.load(filepath.Join(dir, lastCheckpoint)); err != nil {
		t.Fatal(err)
	}
	if ck.Step != 4 || math.IsNaN(task.p.Value[0]) {
		t.Errorf("last checkpoint at step %d with weight %v, want step 4 and a finite weight", ck.Step, task.p.Value[0])
	}
}

func TestExportImportSafetensors(t *testing.T) {
	dir := t.TempDir()
	if err := Run(context.Background(), runOpts(t, dir, "train", "train.steps=5")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "model.safetensors")
	o := runOpts(t, dir, "export")
	o.Output = out
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	_, header, _ := readSafetensorsBytes(t, b)
	for _, name := range []string{"embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l1", "rnn.bias_hh_l1", "head.weight", "head.bias"} {
		info, ok := header[name].(map[string]any)
		if !ok || info["dtype"] != "F32" {
			t.Errorf("export lacks %s as F32: %v", name, header[name])
		}
	}
	if shape := header["rnn.weight_hh_l0"].(map[string]any)["shape"]; shape.([]any)[0].(float64) != 64 || shape.([]any)[1].(float64) != 16 {
		t.Errorf("rnn.weight_hh_l0 shape %v, want [64 16] (PyTorch's [4H][H])", shape)
	}
	// Import into a fresh run and check the first evaluation equals the
	// exporting run's weights' evaluation.
	fresh := t.TempDir()
	if err := Run(context.Background(), runOpts(t, fresh, "train", "train.steps=1", "train.init_from="+out, "train.optimizer.lr=1e-30")); err != nil {
		t.Fatal(err)
	}
	a, b2 := readRecords(t, dir), readRecords(t, fresh)
	if math.Abs(a[len(a)-1].Loss-b2[len(b2)-1].Loss) > 1e-5 {
		t.Errorf("validation loss after import %.6f, exported model's %.6f", b2[len(b2)-1].Loss, a[len(a)-1].Loss)
	}
	bad := runOpts(t, t.TempDir(), "train", "train.init_from="+filepath.Join(dir, "config.yaml"))
	if err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "config.yaml") {
		t.Errorf("init_from a non-safetensors file: %v", err)
	}
}

func TestCheckpointRejectsMismatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.safetensors")
	ck := checkpoint[float32]{Params: nn.Params[float32]{nn.NewParam[float32]("a", 2, 3)}, Best: math.Inf(1)}
	if err := ck.save(path); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		params nn.Params[float32]
		want   string
	}{
		{"missing tensor", nn.Params[float32]{nn.NewParam[float32]("a", 2, 3), nn.NewParam[float32]("b", 2, 3)}, `no tensor "b"`},
		{"foreign tensor", nn.Params[float32]{nn.NewParam[float32]("b", 2, 3)}, `tensor "a" is not part of this model`},
		{"wrong shape", nn.Params[float32]{nn.NewParam[float32]("a", 3, 2)}, "shape [2 3]"},
	} {
		c := checkpoint[float32]{Params: tc.params}
		if err := c.load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := os.WriteFile(path, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (&checkpoint[float32]{}).load(path); err == nil || !strings.Contains(err.Error(), "c.safetensors") {
		t.Errorf("corrupt file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no config", Options{Mode: "train"}, "-config"},
		{"bad mode", Options{Config: "testdata/tiny.yaml", Mode: "dance"}, "unknown -mode"},
		{"predict before training", Options{Mode: "predict", RunDir: t.TempDir()}, "no checkpoint"},
		{"config typo", Options{Config: "testdata/tiny.yaml", Sets: []string{"trian.steps=3"}}, "did you mean train"},
		{"unknown selection metric", Options{Config: "testdata/tiny.yaml", RunDir: t.TempDir(), Sets: []string{"eval.select=bleu"}}, "eval.select"},
	} {
		tc.opts.Stdout, tc.opts.Stderr = io.Discard, io.Discard
		err := Run(context.Background(), tc.opts)
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (usage %v), want a usage error containing %q", tc.name, err, IsUsage(err), tc.want)
		}
	}
}

// TestPlotHistory draws the loss curves, and the selected metric's curve
// (with its baseline) only when runs are selected by something else.
func TestPlotHistory(t *testing.T) {
	recs := []record{
		{Step: 10, Split: "train", Loss: 3},
		{Step: 10, Split: "val", Loss: 3.2, Metrics: map[string]float64{"bleu4": 7, "baseline_bleu4": 9}},
		{Step: 20, Split: "train", Loss: 2},
		{Step: 20, Split: "val", Loss: 2.9, Metrics: map[string]float64{"bleu4": 12, "baseline_bleu4": 9}},
	}
	for _, tc := range []struct {
		metric string
		files  []string
	}{
		{"loss", []string{"loss.png"}},
		{"bleu4", []string{"loss.png", "bleu4.png"}},
	} {
		dir := t.TempDir()
		if err := plotHistory(dir, "test", tc.metric, recs); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		slices.Sort(got)
		slices.Sort(tc.files)
		if !slices.Equal(got, tc.files) {
			t.Errorf("select %s: wrote %v, want %v", tc.metric, got, tc.files)
		}
	}
}

// TestPretrainingEvaluations: evaluations that fall inside a task's
// pre-training log what the pre-trained part learned under split
// "pretrain" and select nothing, so that eval.select (BLEU-4 here) and
// patience only see evaluations of the whole model.
func TestPretrainingEvaluations(t *testing.T) {
	dir := t.TempDir()
	o := runOpts(t, dir, "train", "train.eval_every=3", "train.patience=1")
	o.Config = "testdata/captioning.yaml"
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var pre, val []int
	for _, r := range readRecords(t, dir) {
		switch r.Split {
		case "pretrain":
			pre = append(pre, r.Step)
			if _, ok := r.Metrics["words_loss"]; !ok || len(r.Metrics) != 2 {
				t.Errorf("pre-training evaluation at step %d reports %v, want words_loss and words_prior_loss", r.Step, r.Metrics)
			}
		case "val":
			val = append(val, r.Step)
			if _, ok := r.Metrics["bleu4"]; !ok {
				t.Errorf("evaluation at step %d lacks bleu4: %v", r.Step, r.Metrics)
			}
		}
	}
	if !slices.Equal(pre, []int{3, 6}) || len(val) < 2 || val[0] != 9 {
		t.Errorf("pre-training evaluations at %v, others at %v; want [3 6], then from step 9 on (patience 1 may stop early)", pre, val)
	}
}

// TestExportImportKeepsBatchNormStatistics: -mode export writes a batch-norm
// model's running statistics beside its parameters (a PyTorch state_dict
// holds both), and importing the file (train.init_from's path) restores
// them; without them the imported CNN would normalise by the wrong
// statistics.
func TestExportImportKeepsBatchNormStatistics(t *testing.T) {
	dir := t.TempDir()
	o := runOpts(t, dir, "train", "train.steps=8", "encoder.batchnorm=true")
	o.Config = "testdata/captioning.yaml"
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "model.safetensors")
	o = runOpts(t, dir, "export")
	o.Output = out
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	trained, err := LoadRun(dir, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := LoadRun(dir, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	buffers := fresh.Task.Buffers()
	if len(buffers) == 0 {
		t.Fatal("a batch-norm model has no buffers")
	}
	for _, b := range buffers {
		clear(b.Value)
	}
	if err := importWeights(out, append(fresh.Task.Params(), buffers...)); err != nil {
		t.Fatal(err)
	}
	for i, b := range trained.Task.Buffers() {
		if !slices.Equal(b.Value, buffers[i].Value) {
			t.Errorf("buffer %s: exported %v, imported %v", b.Name, b.Value, buffers[i].Value)
		}
	}
}

// TestEnsembleFlag: eval -ensemble decodes (captioning) and scores (char
// LM) with further runs' models (an ensemble of a run with itself scores as
// the run alone); it is refused outside eval and predict, and a missing run
// folder names the flag.
func TestEnsembleFlag(t *testing.T) {
	captioning, other, charlm := t.TempDir(), t.TempDir(), t.TempDir()
	for _, run := range []struct {
		dir, config string
		sets        []string
	}{{captioning, "testdata/captioning.yaml", nil}, {other, "testdata/captioning.yaml", []string{"seed=8"}}, {charlm, "testdata/tiny.yaml", nil}} {
		o := runOpts(t, run.dir, "train", run.sets...)
		o.Config = run.config
		if err := Run(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(dir string, ensemble ...string) (string, string, error) {
		var out, log strings.Builder
		o := runOpts(t, dir, "eval")
		o.Ensemble, o.Stdout, o.Stderr = ensemble, &out, &log
		err := Run(t.Context(), o)
		return out.String(), log.String(), err
	}
	alone, _, err := eval(captioning)
	if err != nil {
		t.Fatal(err)
	}
	twice, log, err := eval(captioning, captioning)
	if err != nil {
		t.Fatal(err)
	}
	if twice != alone || !strings.Contains(log, "ensemble: model 2 is "+filepath.Join(captioning, "best.safetensors")) {
		t.Errorf("a run ensembled with itself:\n%s\nlog %q\nalone:\n%s", twice, log, alone)
	}
	if _, _, err := eval(captioning, other); err != nil {
		t.Errorf("two runs: %v", err)
	}
	lmAlone, _, err := eval(charlm)
	if err != nil {
		t.Fatal(err)
	}
	if lmTwice, _, err := eval(charlm, charlm); err != nil || lmTwice != lmAlone {
		t.Errorf("a char LM ensembled with itself: %v\n%s\nalone:\n%s", err, lmTwice, lmAlone)
	}
	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"training", Options{Mode: "train", Config: "testdata/captioning.yaml", RunDir: t.TempDir(), Ensemble: []string{other}}, "-mode train takes none"},
		{"no run there", Options{Mode: "eval", RunDir: captioning, Ensemble: []string{missing}}, "-ensemble " + missing + ": no checkpoint"},
	} {
		tc.o.Stdout, tc.o.Stderr = io.Discard, io.Discard
		err := Run(t.Context(), tc.o)
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a usage error with %q", tc.name, err, tc.want)
		}
	}
}

// TestScheduleOverTime trains with the cosine spanning train.time_limit:
// the rate falls from the base rate to min_lr as the time runs out, however
// many steps that took, and an interrupted run resumes at the rate its
// recorded time gives instead of starting the cosine again.
func TestScheduleOverTime(t *testing.T) {
	const base, minLR = 0.01, 0.001
	sets := []string{"train.steps=1000000", "train.time_limit=2s", "train.eval_every=1000000",
		"train.schedule.over=time", "train.schedule.min_lr=0.001"}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	o := runOpts(t, dir, "train", sets...)
	o.Stderr = &cancelAt{marker: "step 50/", cancel: cancel}
	if err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	before := trainRecords(readRecords(t, dir))
	if n := len(before); n == 0 || before[n-1].Step != 50 {
		t.Fatalf("interrupted run logged %d steps, want 50", n)
	}
	var progressLog strings.Builder
	resume := Options{Resume: dir, Mode: "train", Stdout: io.Discard, Stderr: &progressLog}
	if err := Run(context.Background(), resume); err != nil {
		t.Fatal(err)
	}
	// The progress line counts towards the step the time limit will end at.
	if !strings.Contains(progressLog.String(), "/~") {
		t.Errorf("progress lines do not show the step the time limit ends at:\n%.500s", progressLog.String())
	}
	recs := trainRecords(readRecords(t, dir))
	last := recs[len(recs)-1]
	// The last record is written just before the loop finds the time up.
	if last.Step >= 1000000 || last.Elapsed < 1.8 {
		t.Fatalf("run ended at step %d after %.2fs, want the 2s time limit to end it", last.Step, last.Elapsed)
	}
	warmup := 3 // tiny.yaml's
	if r := recs[warmup]; r.LR < 0.9*base {
		t.Errorf("step %d after warm-up at rate %g, want about the base rate %g", r.Step, r.LR, base)
	}
	if last.LR > minLR+0.05*(base-minLR) {
		t.Errorf("last step %d at rate %g, want about min_lr %g when the time runs out", last.Step, last.LR, minLR)
	}
	for i := warmup + 1; i < len(recs); i++ {
		if recs[i].LR > recs[i-1].LR {
			t.Fatalf("rate rose from %g (step %d) to %g (step %d)", recs[i-1].LR, recs[i-1].Step, recs[i].LR, recs[i].Step)
		}
	}
}

// trainRecords keeps the training records of a run's metrics log.
func trainRecords(recs []record) []record {
	return slices.DeleteFunc(recs, func(r record) bool { return r.Split != "train" })
}

// TestExpectedSteps: the progress line's end is train.steps, or the step
// the time limit will stop the run at when that comes first.
func TestExpectedSteps(t *testing.T) {
	for _, tc := range []struct {
		name       string
		steps      int
		limit      time.Duration
		elapsed    time.Duration
		secPerStep float64
		want       string
	}{
		{"no limit", 1000, 0, time.Minute, 0.5, "1000"},
		{"steps first", 1000, time.Hour, time.Minute, 0.5, "1000"},
		{"time first", 100000, 15 * time.Minute, 5 * time.Minute, 0.5, "~1300"},
		{"time up", 100000, 15 * time.Minute, 16 * time.Minute, 0.5, "~100"},
		{"no pace yet", 100000, 15 * time.Minute, 0, 0, "100000"},
	} {
		if got := expectedSteps(100, config.Train{Steps: tc.steps, TimeLimit: tc.limit}, tc.elapsed, tc.secPerStep); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
