package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/internal/folderlock"
)

// fakeRunner writes a shell script standing in for the runner: it appends
// its working folder and its arguments to calls.txt beside it, prints out,
// writes "runner: why" to stderr and exits with code.
func fakeRunner(t *testing.T, out string, code int, why string) (runner, calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls.txt")
	script := "#!/bin/sh\necho \"$(pwd) $@\" >> " + calls + "\nprintf '%s' '" + out + "'\necho 'runner: " + why + "' >&2\nexit " + strconv.Itoa(code) + "\n"
	runner = filepath.Join(dir, "runner")
	if err := os.WriteFile(runner, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return runner, calls
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestScoreEnsembles: each configuration whose seeds are all done is
// evaluated once, as "runner -mode eval -json -run FIRST -ensemble ..."
// from the sweep's working folder; a configuration with a seed unfinished
// waits; a result is kept and not evaluated again, a failure is recorded
// with its own reason and retried; the report shows each as its value,
// "failed: reason" or why there is none.
func TestScoreEnsembles(t *testing.T) {
	dir, m, _ := laidOut(t, "grid:\n  train.optimizer.lr: [0.01, 0.003, 0.001]\nseeds: [1, 2]\nensemble: true\n")
	for i, tr := range m.Trials {
		state := "done"
		if i == 5 {
			state = "" // 0.001's second seed is still training
		}
		fakeRun(t, filepath.Join(dir, tr.Dir), 3-0.1*float64(i), state)
	}
	failing, failedCalls := fakeRunner(t, "", 1, "some failure")
	if err := ScoreEnsembles(context.Background(), dir, failing, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, failedCalls); len(got) != 2 {
		t.Fatalf("runner called %d times (%q), want once for each of the two finished configurations", len(got), got)
	}
	ens, err := readEnsembles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r := ens["000,001"]; r.Error != "exit status 1: some failure" {
		t.Errorf("failed evaluation recorded as %+v, want its exit status and the end of its log", r)
	}

	// Each failure is recorded with its own reason, not an earlier
	// evaluation's from the shared log.
	other, _ := fakeRunner(t, "", 3, "other failure")
	if err := ScoreEnsembles(context.Background(), dir, other, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if ens, _ := readEnsembles(dir); ens["000,001"].Error != "exit status 3: other failure" {
		t.Errorf("second failure recorded as %q, want its own reason", ens["000,001"].Error)
	}

	// Evaluations run in the folder the sweep was run from, on absolute
	// run folders, whatever folder the report is written from.
	work := t.TempDir()
	m.Workdir = work
	writeManifest(t, dir, m)
	t.Chdir(filepath.Dir(dir))
	dir = filepath.Base(dir)
	working, calls := fakeRunner(t, `{"checkpoint":"x","step":30,"metrics":{"loss":2.25,"bits":3.2}}`, 0, "")
	for range 2 { // the second call finds both results and runs nothing
		if err := ScoreEnsembles(context.Background(), dir, working, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
	abs, _ := filepath.Abs(dir)
	want := []string{
		work + " -mode eval -json -run " + filepath.Join(abs, "trials", "000") + " -ensemble " + filepath.Join(abs, "trials", "001"),
		work + " -mode eval -json -run " + filepath.Join(abs, "trials", "002") + " -ensemble " + filepath.Join(abs, "trials", "003"),
	}
	if got := lines(t, calls); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("runner called with\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b, err := os.ReadFile(filepath.Join(dir, ensemblesFile))
	if err != nil {
		t.Fatal(err)
	}
	var list []EnsembleResult
	if err := json.Unmarshal(b, &list); err != nil || len(list) != 2 || list[0].Metrics["loss"] != 2.25 || list[0].Error != "" {
		t.Fatalf("%s: %s (%v), want two results of loss 2.25", ensemblesFile, b, err)
	}

	// A failure shows in the report as such; the unfinished configuration
	// as not evaluated.
	list[1] = EnsembleResult{Trials: list[1].Trials, Error: "exit status 1: some failure"}
	b, _ = json.Marshal(list)
	if err := os.WriteFile(filepath.Join(dir, ensemblesFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Report(dir, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| train.optimizer.lr | loss | seeds | ensemble |",
		"| 0.01 | 2.9500 ± 0.0707 | 2 | 2.2500 |",
		"| 0.003 | 2.7500 ± 0.0707 | 2 | failed: exit status 1: some failure |",
		"| 0.001 | 2.5500 ± 0.0707 | 2 | waiting for its seeds |", // its second seed reports, unfinished
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, reportHTML))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "<h2>Over seeds</h2>") || !strings.Contains(string(page), "<td>2.2500</td>") {
		t.Errorf("report.html lacks the seed table with the ensemble:\n%s", page)
	}
}

// TestEnsembleRefused: a sweep asking for ensembles of a task that has none
// is refused before anything is laid out, naming the spec's line.
func TestEnsembleRefused(t *testing.T) {
	base, err := filepath.Abs(filepath.Join("..", "configs", "video.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(t.TempDir(), "video.yaml")
	if err := os.WriteFile(spec, []byte("base: "+base+"\nseeds: [1, 2]\nensemble: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sweep")
	err = Run(context.Background(), Options{Spec: spec, Dir: dir, Runner: "runner", Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	if err == nil || !config.IsConfigError(err) || !strings.Contains(err.Error(), "video.yaml:3: ensemble: the video task does not evaluate ensembles") {
		t.Errorf("error %v, want a config error naming ensemble's line", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the refused sweep laid out %s", dir)
	}
}

// TestLocalSweepEnsemble runs a sweep of two seeds of a tiny char LM with
// ensemble: true through the real runner: the two models together score
// no worse than the mean of their losses (the log of a mean of
// probabilities is at least the mean of their logs), the report shows it,
// and -mode report later does not evaluate it again.
func TestLocalSweepEnsemble(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a sweep of real trainings")
	}
	spec := writeSpec(t, "  train.steps: 200\n  train.eval_every: 100\n  eval.batches: 2\nseeds: [1, 2]\nensemble: true\nexecutor:\n  local: {parallel: 2}\n")
	dir := filepath.Join(t.TempDir(), "sweep")
	cmd, stdout, stderr := sweepCmd(t, "-mode", "sweep", "-sweep", spec, "-sweep-dir", dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("sweep: %v\n%s", err, stderr)
	}
	ens, err := readEnsembles(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := ens["000,001"]
	if !ok || r.Error != "" {
		t.Fatalf("ensemble of trials 000 and 001: %+v (found %v); stderr:\n%s", r, ok, stderr)
	}
	var mean float64
	for _, id := range []string{"000", "001"} {
		res, _ := readTrial(filepath.Join(dir, "trials", id), "loss", false)
		if !res.found {
			t.Fatalf("trial %s reports no loss", id)
		}
		mean += res.value / 2
	}
	if got := r.Metrics["loss"]; !(got > 0 && got <= mean+1e-4) {
		t.Errorf("ensemble loss %v, want at most the members' mean %v", got, mean)
	}
	if cell := fmt.Sprintf("| %.4f |", r.Metrics["loss"]); !strings.Contains(stdout.String(), cell) {
		t.Errorf("report lacks the ensemble's %q:\n%s", cell, stdout)
	}
	cmd, _, stderr = sweepCmd(t, "-mode", "report", "-sweep", dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	log := lines(t, filepath.Join(dir, ensemblesLog))
	if member := "ensemble: model 2 is " + filepath.Join(dir, "trials", "001", "best.safetensors"); !strings.Contains(strings.Join(log, "\n"), member) {
		t.Errorf("%s lacks %q: the second seed was not in the ensemble:\n%s", ensemblesLog, member, strings.Join(log, "\n"))
	}
	evaluations := 0
	for _, l := range log {
		if strings.HasPrefix(l, "── sweep:") {
			evaluations++
		}
	}
	if evaluations != 1 {
		t.Errorf("%d evaluations in %s, want 1 (the report reuses the result)", evaluations, ensemblesLog)
	}
}

// TestScoreEnsemblesLocked: while another process scores a sweep's
// ensembles (a -mode report beside the sweep), ScoreEnsembles evaluates
// none and says who does; once the lock is free it evaluates them.
func TestScoreEnsemblesLocked(t *testing.T) {
	dir, m, _ := laidOut(t, "grid:\n  train.optimizer.lr: [0.01]\nseeds: [1, 2]\nensemble: true\n")
	for i, tr := range m.Trials {
		fakeRun(t, filepath.Join(dir, tr.Dir), 3-0.1*float64(i), "done")
	}
	runner, calls := fakeRunner(t, `{"checkpoint":"x","step":30,"metrics":{"loss":2.25}}`, 0, "")
	held, _, err := folderlock.Take(filepath.Join(dir, ensemblesLock))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ScoreEnsembles(context.Background(), dir, runner, &out); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, calls); len(got) != 0 || !strings.Contains(out.String(), "process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("with the lock held elsewhere: runner called %q, output %q; want no call and the holder named", got, out.String())
	}
	held.Release()
	if err := ScoreEnsembles(context.Background(), dir, runner, &out); err != nil {
		t.Fatal(err)
	}
	if ens, _ := readEnsembles(dir); len(lines(t, calls)) != 1 || ens["000,001"].Metrics["loss"] != 2.25 {
		t.Errorf("after the lock was released: calls %q, results %+v", lines(t, calls), ens)
	}
	if _, err := os.Stat(filepath.Join(dir, ensemblesLock)); !os.IsNotExist(err) {
		t.Errorf("the lock file outlived the evaluation: %v", err)
	}
}

// TestScoreEnsemblesAgain: a member trained again (a new best checkpoint)
// makes its ensemble's result stale, so it is evaluated again; an
// evaluation interrupted by ctx is not recorded as a failure.
func TestScoreEnsemblesAgain(t *testing.T) {
	dir, m, _ := laidOut(t, "seeds: [1, 2]\nensemble: true\n")
	for _, tr := range m.Trials {
		fakeRun(t, filepath.Join(dir, tr.Dir), 3, "done")
	}
	runner, calls := fakeRunner(t, `{"step":30,"metrics":{"loss":2.5,"perplexity":null}}`, 0, "")
	if err := ScoreEnsembles(context.Background(), dir, runner, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	ens, _ := readEnsembles(dir)
	if r := ens["000,001"]; r.Metrics["loss"] != 2.5 || len(r.Metrics) != 1 || len(r.Finished) != 2 || r.Finished[0] == "" {
		t.Fatalf("result %+v, want loss 2.5 alone (perplexity null) and the members' finishing times", r)
	}
	run0 := filepath.Join(dir, m.Trials[0].Dir)
	retrain := func(at time.Time) { // a new best checkpoint, as training again writes
		t.Helper()
		ckpt := filepath.Join(run0, bestCheckpoint)
		if err := os.WriteFile(ckpt, []byte("weights"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(ckpt, at, at); err != nil {
			t.Fatal(err)
		}
	}
	retrain(time.Now().Add(time.Hour))
	if err := ScoreEnsembles(context.Background(), dir, runner, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, calls); len(got) != 2 {
		t.Errorf("runner called %d times, want twice: once more after trial 000 was trained again", len(got))
	}

	// An interrupted evaluation leaves the last result as it was.
	slow := filepath.Join(t.TempDir(), "runner")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 10\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	retrain(time.Now().Add(2 * time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	if err := ScoreEnsembles(ctx, dir, slow, &out); err != nil {
		t.Fatal(err)
	}
	ens, _ = readEnsembles(dir)
	if r := ens["000,001"]; r.Error != "" || r.Metrics["loss"] != 2.5 || !strings.Contains(out.String(), "was interrupted") {
		t.Errorf("after an interrupted evaluation: %+v, output %q; want the last result kept and the interruption said", r, out.String())
	}
}

// writeManifest rewrites dir's manifest.json as m.
func writeManifest(t *testing.T, dir string, m *Manifest) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEnsembleCells: the report's ensemble cell says why a configuration
// has no figure yet.
func TestEnsembleCells(t *testing.T) {
	dir, m, _ := laidOut(t, "grid:\n  train.optimizer.lr: [0.01, 0.003, 0.001]\nseeds: [1, 2]\nensemble: true\n")
	states := []string{"done", "failed", "done", "done", "done", ""}
	for i, tr := range m.Trials {
		fakeRun(t, filepath.Join(dir, tr.Dir), 3-0.1*float64(i), states[i])
	}
	if err := os.WriteFile(filepath.Join(dir, ensemblesFile), []byte(`[{"trials":["002","003"],"metrics":{"bits":4}}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Report(dir, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| 0.01 | 2.9500 ± 0.0707 | 2 | a seed failed |",
		"| 0.003 | 2.7500 ± 0.0707 | 2 | no loss |",
		"| 0.001 | 2.5500 ± 0.0707 | 2 | waiting for its seeds |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// With every seed done and nothing evaluated yet.
	fakeRun(t, filepath.Join(dir, m.Trials[5].Dir), 2.5, "done")
	os.Remove(filepath.Join(dir, ensemblesFile))
	out.Reset()
	if err := Report(dir, &out); err != nil {
		t.Fatal(err)
	}
	if want := "| 0.001 | 2.5500 ± 0.0707 | 2 | not evaluated yet |"; !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
}

// TestTranslationEnsembleSplit: a translation sweep of ensembles is
// refused unless its seeds share one dev split (data.pairs.split_seed).
func TestTranslationEnsembleSplit(t *testing.T) {
	t.Chdir("..") // the base config's data paths are relative to the repository root
	base, err := filepath.Abs(filepath.Join("configs", "translation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, want string }{
		{"seeds: [1, 2]\nensemble: true\n", "ensemble: trials 000 and 001 would draw other dev splits and tokenizers"},
		{"set: {data.pairs.split_seed: 7}\nseeds: [1, 2]\nensemble: true\n", ""},
	} {
		spec := filepath.Join(t.TempDir(), "s.yaml")
		if err := os.WriteFile(spec, []byte("base: "+base+"\n"+tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		l, trials := mustExpand(t, spec)
		err := l.checkEnsembles(trials)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
}
