package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/internal/folderlock"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/serve"
	"github.com/seqtask/seqtask/tasks"
)

// snapshot reads the files of a run folder, to check that a refused command
// changed none of them.
func folderSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func sameSnapshot(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestTrainingTwiceRefuses: training into a folder that holds a run is a
// usage error that changes nothing and says how to go on; -overwrite
// starts over.
func TestTrainingTwiceRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := Run(context.Background(), runOpts(t, dir, "train", "train.steps=4")); err != nil {
		t.Fatal(err)
	}
	before := folderSnapshot(t, dir)
	err := Run(context.Background(), runOpts(t, dir, "train", "train.steps=8"))
	if err == nil || !IsUsage(err) {
		t.Fatalf("second training: %v, want a usage error", err)
	}
	for _, want := range []string{"already holds a run", "trained to step 4", "-resume " + dir, "-run " + dir + "-2", "-overwrite"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if !sameSnapshot(before, folderSnapshot(t, dir)) {
		t.Error("the refused run changed the run folder")
	}
	var log bytes.Buffer
	o := runOpts(t, dir, "train", "train.steps=8")
	o.Overwrite, o.Stderr = true, &log
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, dir)
	if recs[0].Step > 4 || recs[len(recs)-1].Step != 8 || !strings.Contains(log.String(), "-overwrite removed") {
		t.Errorf("after -overwrite: records from step %d to %d, log %q; want a fresh run to step 8", recs[0].Step, recs[len(recs)-1].Step, log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, lockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file outlived the run: %v", err)
	}
}

// TestRunFolderLock: a second process on a run folder is refused, naming
// the owner; a lock file left by a process that died is taken over.
func TestRunFolderLock(t *testing.T) {
	dir := t.TempDir()
	held, stale, err := folderlock.Take(filepath.Join(dir, lockFile))
	if err != nil || stale != "" {
		t.Fatalf("lock a new folder: %v (stale %q)", err, stale)
	}
	err = Run(context.Background(), runOpts(t, dir, "train", "train.steps=2"))
	var busy *RunFolderInUseError
	if !errors.As(err, &busy) || !IsUsage(err) || !strings.Contains(err.Error(), "in use by process") {
		t.Fatalf("training into a locked folder: %v, want RunFolderInUseError naming the process", err)
	}
	if holdsRun(dir) {
		t.Error("the refused run wrote into the folder")
	}
	held.Release()

	// A lock file nobody holds: its owner died without removing it.
	if err := os.WriteFile(filepath.Join(dir, lockFile), []byte("process 4194303 on elsewhere, since yesterday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	o := runOpts(t, dir, "train", "train.steps=2")
	o.Stderr = &log
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "took over the lock of process 4194303") {
		t.Errorf("log %q does not report the stale lock", log.String())
	}
}

// TestStrayTemporaryFilesRemoved: a write cut short by a crash leaves a
// temporary file; the next run in the folder removes it and says so.
func TestStrayTemporaryFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	o := runOpts(t, dir, "train")
	o.Stderr = &cancelAt{marker: "step 6/20 ", cancel: cancel}
	if err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(dir, lastCheckpoint+".tmp-123456")
	if err := os.WriteFile(stray, []byte("half a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := Run(context.Background(), Options{Resume: dir, Mode: "train", Stdout: io.Discard, Stderr: &log}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) || !strings.Contains(log.String(), "removed 1 temporary file") {
		t.Errorf("stray file: %v; log %q", err, log.String())
	}
}

// TestResumeBeforeFirstCheckpoint: a run killed before it wrote any
// checkpoint resumes from step 0 with the config.yaml it left.
func TestResumeBeforeFirstCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load("testdata/tiny.yaml", []string{"train.steps=3", "data.path=" + filepath.Join("testdata", "tiny.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := Run(context.Background(), Options{Resume: dir, Mode: "train", Stdout: io.Discard, Stderr: &log}); err != nil {
		t.Fatal(err)
	}
	if recs := readRecords(t, dir); recs[len(recs)-1].Step != 3 || !strings.Contains(log.String(), "before its first checkpoint") {
		t.Errorf("resumed run ended at step %d, log %q", recs[len(recs)-1].Step, log.String())
	}
	if err := Run(context.Background(), Options{Resume: t.TempDir(), Mode: "train", Stdout: io.Discard, Stderr: io.Discard}); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "nothing to resume") {
		t.Errorf("resume of an empty folder: %v", err)
	}
}

// TestExportNeverOverwritesARun: -out naming a file of a run folder is
// refused and the file is unchanged.
func TestExportNeverOverwritesARun(t *testing.T) {
	dir := t.TempDir()
	if err := Run(context.Background(), runOpts(t, dir, "train", "train.steps=2")); err != nil {
		t.Fatal(err)
	}
	before := folderSnapshot(t, dir)
	for _, name := range []string{bestCheckpoint, lastCheckpoint, "metrics.jsonl", "loss.png"} {
		o := runOpts(t, dir, "export")
		o.Output = filepath.Join(dir, name)
		if err := Run(context.Background(), o); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "run folder") {
			t.Errorf("export -out %s: %v, want a usage error", name, err)
		}
	}
	if !sameSnapshot(before, folderSnapshot(t, dir)) {
		t.Error("a refused export changed the run folder")
	}
}

// TestConflictingFlags: flags that would be silently ignored are errors.
func TestConflictingFlags(t *testing.T) {
	run := t.TempDir()
	if err := Run(context.Background(), runOpts(t, run, "train", "train.steps=2")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"resume and another run", Options{Mode: "train", Resume: run, RunDir: t.TempDir()}, "a run resumes in its own folder"},
		{"resume and a config", Options{Mode: "train", Resume: run, Config: "testdata/captioning.yaml"}, "leave out -config"},
		{"resume and overwrite", Options{Mode: "train", Resume: run, Overwrite: true}, "give one of them"},
		{"resume in predict", Options{Mode: "predict", Resume: run}, "-resume continues training"},
		{"config and run in predict", Options{Mode: "predict", RunDir: run, Config: "testdata/tiny.yaml"}, "not both"},
		{"config and run in eval", Options{Mode: "eval", RunDir: run, Config: "testdata/tiny.yaml"}, "not both"},
		{"overwrite in eval", Options{Mode: "eval", RunDir: run, Overwrite: true}, "-overwrite replaces a run when training"},
		{"no run for predict", Options{Mode: "predict"}, "needs the run"},
		{"json in predict", Options{Mode: "predict", RunDir: run, JSON: true}, "-json prints the result of -mode eval"},
		{"json in serve", Options{Mode: "serve", Runs: []string{run}, JSON: true}, "-json prints the result of -mode eval"},
		{"ensemble of two served runs", Options{Mode: "serve", Runs: []string{run, run}, Ensemble: []string{run}}, "give one -run (2 given)"},
		{"ensemble in a sweep", Options{Mode: "sweep", Sweep: "s.yaml", Ensemble: []string{run}}, "-mode sweep takes -sweep and -sweep-dir only"},
		{"ensemble in train", Options{Mode: "train", Config: "testdata/tiny.yaml", RunDir: t.TempDir(), Ensemble: []string{run}}, "-mode train takes none"},
	} {
		tc.opts.Stdout, tc.opts.Stderr = io.Discard, io.Discard
		if err := Run(context.Background(), tc.opts); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a usage error containing %q", tc.name, err, tc.want)
		}
	}
}

// infTask's validation perplexity overflows at its second evaluation.
type infTask struct {
	nanTask
	evals int
}

func (n *infTask) Evaluate() (tasks.Metrics, error) {
	n.evals++
	if n.evals == 2 {
		return tasks.Metrics{"loss": 800, "perplexity": math.Inf(1)}, nil
	}
	return tasks.Metrics{"loss": 1, "perplexity": math.E}, nil
}
func (n *infTask) TrainStep(int, *rand.Rand) (float64, int, error) {
	n.p.Grad[0] = 1
	return 1, 1, nil
}

// TestInfiniteMetricStopsTraining: a validation metric that overflows stops
// training like a NaN loss, naming the last checkpoint that exists; nothing
// ends in a JSON error.
func TestInfiniteMetricStopsTraining(t *testing.T) {
	for _, tc := range []struct {
		failFirst bool // the first evaluation overflows, before any checkpoint
		want      string
	}{
		{false, "last good checkpoint is %s (step 2)"},
		{true, "none was written yet"},
	} {
		dir := t.TempDir()
		cfg, err := config.Load("testdata/tiny.yaml", []string{"train.eval_every=2"})
		if err != nil {
			t.Fatal(err)
		}
		task := &infTask{nanTask: nanTask{p: nn.NewParam[float64]("w", 1)}}
		if tc.failFirst {
			task.evals = 1
		}
		err = train(context.Background(), Options{Stderr: io.Discard}, cfg, dir, tasks.Task[float64](task))
		want := tc.want
		if strings.Contains(want, "%s") {
			want = strings.Replace(want, "%s", filepath.Join(dir, lastCheckpoint), 1)
		}
		if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "perplexity +Inf") || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want a divergence naming perplexity +Inf and %q", err, want)
		}
		for _, r := range readRecords(t, dir) {
			if r.Split == "val" && r.Loss != 1 {
				t.Errorf("the diverged evaluation was logged: %+v", r)
			}
		}
	}
}

// TestMemoryEstimateRefusesWhatCannotFit: a config whose model could not
// fit in the machine's memory is refused before anything is allocated,
// naming the key that sizes its largest part; a summary reads no data.
func TestMemoryEstimateRefusesWhatCannotFit(t *testing.T) {
	err := Run(context.Background(), runOpts(t, t.TempDir(), "train", "decoder.hidden=2000000"))
	if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "decoder.hidden") || !strings.Contains(err.Error(), "more than this machine's") {
		t.Fatalf("a 2,000,000-unit LSTM: %v, want a usage error naming decoder.hidden and the machine's memory", err)
	}
	var out bytes.Buffer
	o := runOpts(t, t.TempDir(), "summary", "data.path=no/such/text.txt")
	o.Config, o.RunDir, o.Stdout = "testdata/tiny.yaml", "", &out
	if err := Run(context.Background(), o); err != nil {
		t.Fatalf("summary without its data: %v", err)
	}
	if !strings.Contains(out.String(), "no data read") || !strings.Contains(out.String(), "memory to train (estimate)") {
		t.Errorf("summary printed %q", out.String())
	}
}

// TestCheckpointAveraging: with train.average the last N evaluations'
// weights are kept and averaged at the end; the average is evaluated,
// logged, written to averaged.safetensors, and is exactly the mean of the
// kept snapshots.
func TestCheckpointAveraging(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	o := runOpts(t, dir, "train", "train.average=3", "train.eval_every=4")
	o.Stderr = &log
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	steps, err := snapshotSteps(dir)
	if err != nil || !slices.Equal(steps, []int{12, 16, 20}) {
		t.Fatalf("snapshots of steps %v (%v), want the last three evaluations [12 16 20]", steps, err)
	}
	if !strings.Contains(log.String(), "averaged the weights of the last 3 evaluations (steps 12–20)") {
		t.Errorf("log %q does not report the average", log.String())
	}
	var averaged []record
	for _, r := range readRecords(t, dir) {
		if r.Split == "averaged" {
			averaged = append(averaged, r)
		}
	}
	if len(averaged) != 1 || averaged[0].Loss <= 0 {
		t.Errorf("averaged records %+v", averaged)
	}
	// averaged.safetensors holds the mean of the snapshots.
	read := func(path string) map[string][]float32 {
		st, _, err := readSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float32{}
		for _, name := range st.Names() {
			if strings.HasPrefix(name, optimPrefix) {
				continue
			}
			tv, _ := st.Tensor(name)
			v := make([]float32, len(tv.Data())/4)
			if err := fromTensor(name, tv, v); err != nil {
				t.Fatal(err)
			}
			out[name] = v
		}
		return out
	}
	avg := read(filepath.Join(dir, averagedFile))
	var snaps []map[string][]float32
	for _, s := range steps {
		snaps = append(snaps, read(filepath.Join(dir, snapshotDir, fmt.Sprintf(snapshotPattern, s))))
	}
	for name, v := range avg {
		for j := range v {
			want := (float64(snaps[0][name][j]) + float64(snaps[1][name][j]) + float64(snaps[2][name][j])) / 3
			if math.Abs(float64(v[j])-want) > 1e-6 {
				t.Fatalf("%s[%d] = %v, the snapshots' mean is %v", name, j, v[j], want)
			}
		}
	}
	// -checkpoint picks which of the run's checkpoints eval, predict,
	// export and serve load.
	for _, name := range Checkpoints {
		l, err := loadRun(Options{Mode: "predict", RunDir: dir, Checkpoint: name}, io.Discard)
		if want := filepath.Join(dir, name+".safetensors"); err != nil || l.Checkpoint != want || l.Step != 20 {
			t.Errorf("-checkpoint %s: loaded %+v, %v; want %s of step 20", name, l, err, want)
		}
	}
	o = runOpts(t, dir, "eval")
	o.Checkpoint = "averaged"
	if err := Run(context.Background(), o); err != nil {
		t.Errorf("-mode eval -checkpoint averaged: %v", err)
	}
	// -overwrite removes the snapshots with the run.
	o = runOpts(t, dir, "train", "train.steps=2")
	o.Overwrite = true
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if steps, _ := snapshotSteps(dir); len(steps) != 0 {
		t.Errorf("snapshots %v survived -overwrite", steps)
	}
	if _, err := os.Stat(filepath.Join(dir, averagedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("averaged.safetensors survived -overwrite (%v)", err)
	}
	for _, tc := range []struct{ mode, checkpoint, want string }{
		{"eval", "averaged", "did not average checkpoints (train.average)"},
		{"predict", "newest", `-checkpoint "newest": want one of best, last, averaged`},
		{"train", "last", "training and -mode summary load none"},
	} {
		o := runOpts(t, dir, tc.mode)
		o.Checkpoint, o.Overwrite = tc.checkpoint, tc.mode == "train"
		err := Run(context.Background(), o)
		if !IsUsage(err) || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("-mode %s -checkpoint %s: %v, want a usage error saying %q", tc.mode, tc.checkpoint, err, tc.want)
		}
	}
}

// TestEvalJSON: -mode eval -json prints one JSON object with the figures
// the text output prints, and the checkpoint and step it evaluated.
func TestEvalJSON(t *testing.T) {
	dir := t.TempDir()
	if err := Run(context.Background(), runOpts(t, dir, "train", "train.steps=20", "train.eval_every=10")); err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	o := runOpts(t, dir, "eval")
	o.Stdout = &text
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o.Stdout, o.JSON = &js, true
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var res EvalResult
	dec := json.NewDecoder(&js)
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("-json output %q: %v", js.String(), err)
	}
	if dec.More() {
		t.Errorf("-json printed more than one object: %q", js.String())
	}
	if want := filepath.Join(dir, "best.safetensors"); res.Checkpoint != want || res.Step == 0 || len(res.Metrics) == 0 {
		t.Errorf("-json result %+v, want %s with its step and metrics", res, want)
	}
	if !strings.Contains(text.String(), fmt.Sprintf("(step %d)", res.Step)) {
		t.Errorf("text output %q has another step than -json's %d", text.String(), res.Step)
	}
	for k, v := range res.Metrics {
		if v == nil {
			t.Errorf("-json metric %s is null", k)
			continue
		}
		if line := fmt.Sprintf("%-12s %.4f\n", k, *v); !strings.Contains(text.String(), line) {
			t.Errorf("text output %q lacks -json's %q", text.String(), line)
		}
	}
	// With -ensemble the result names the members; a model ensembled with
	// itself scores as it does alone.
	js.Reset()
	o.Ensemble = []string{dir}
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var ens EvalResult
	if err := json.Unmarshal(js.Bytes(), &ens); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ens.Ensemble, []string{dir}) || ens.Metrics["loss"] == nil || math.Abs(*ens.Metrics["loss"]-*res.Metrics["loss"]) > 1e-6 {
		t.Errorf("-json -ensemble %s: %+v, want the members named and the loss alone (%v)", dir, ens, *res.Metrics["loss"])
	}
}

// TestLoadServedErrors: a served ensemble's member that cannot be loaded,
// or that the model cannot decode with, is an error naming it.
func TestLoadServedErrors(t *testing.T) {
	run := t.TempDir()
	if err := Run(context.Background(), runOpts(t, run, "train", "train.steps=2")); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nothing")
	if _, err := LoadServed(run, Options{Ensemble: []string{missing}, Serve: serve.DefaultOptions(), Stderr: io.Discard}); err == nil || !strings.Contains(err.Error(), "-ensemble "+missing) {
		t.Errorf("missing member: %v", err)
	}
	other := t.TempDir() // a char LM over other characters
	if err := Run(context.Background(), Options{Config: "testdata/tiny.yaml", RunDir: other, Sets: []string{"train.steps=2", "data.path=testdata/captioning.yaml"}, Stdout: io.Discard, Stderr: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadServed(run, Options{Ensemble: []string{other}, Serve: serve.DefaultOptions(), Stderr: io.Discard}); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "characters differ") {
		t.Errorf("member over other characters: %v, want a usage error", err)
	}
	m, err := LoadServed(run, Options{Ensemble: []string{run}, Serve: serve.DefaultOptions(), Stderr: io.Discard})
	if err != nil || len(m.Replicas) != serve.DefaultOptions().Replicas-1 || len(m.Info.Ensemble) != 1 {
		t.Errorf("served with its own copy: %+v, %v", m.Info, err)
	}
}
