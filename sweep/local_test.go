package sweep

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The sweep tests run the real runner: a sweep is processes of it.
var (
	buildOnce  sync.Once
	buildDir   string
	runnerPath string
	buildErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// runnerBinary builds cmd/runner once per test process.
func runnerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "seqtask-sweep-test-"); buildErr != nil {
			return
		}
		runnerPath = filepath.Join(buildDir, "runner")
		out, err := exec.Command(goTool, "build", "-o", runnerPath, "github.com/seqtask/seqtask/cmd/runner").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building the runner: %v", buildErr)
	}
	return runnerPath
}

// sweepCmd is "runner -mode sweep" (or another mode) with its output
// captured.
func sweepCmd(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(runnerBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// exitOf is a finished command's exit status.
func exitOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCode(ee.ProcessState)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// steps returns the steps of a run's training records, failing on a line
// that does not parse.
func steps(t *testing.T, run string) []int {
	t.Helper()
	f, err := os.Open(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: metrics.jsonl line %q: %v", run, sc.Text(), err)
		}
		if r.Split == "train" {
			out = append(out, r.Step)
		}
	}
	return out
}

// checkFinished checks that the trial in run trained every step once
// (a resumed run keeps no records of the steps it repeated) and is done.
func checkFinished(t *testing.T, run string, total int) {
	t.Helper()
	s := steps(t, run)
	if len(s) == 0 || s[len(s)-1] != total || !sort.IntsAreSorted(s) {
		t.Errorf("%s: training steps %v, want increasing to %d", run, s, total)
	}
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			t.Errorf("%s: step %d logged twice", run, s[i])
		}
	}
	if st, ok := readStatus(run); !ok || st.State != "done" {
		t.Errorf("%s: status %+v, want done", run, st)
	}
}

// waitFor polls cond every 10ms for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rankedLosses returns the loss column of a report's table, in its order.
func rankedLosses(t *testing.T, report string) []float64 {
	t.Helper()
	col := -1
	var out []float64
	for _, line := range strings.Split(report, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if col < 0 {
			col = slices.Index(cells, "loss")
			continue
		}
		if len(cells) <= col || !strings.HasPrefix(line, "| ") {
			if len(out) > 0 {
				break
			}
			continue
		}
		if v, err := strconv.ParseFloat(cells[col], 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// TestLocalSweep runs a sweep of five tiny trials, two at a time, through
// the runner's -mode sweep; interrupts it (Ctrl-C) once two trials have
// finished and two are training; runs the same command again, which keeps
// the finished trials, resumes the interrupted ones and starts the last;
// and checks the report, -mode report, and the refusal of another spec's
// sweep in the same folder.
func TestLocalSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a sweep of real trainings")
	}
	const total = 2000
	body := "  train.steps: 2000\n  train.eval_every: 250\n  train.log_every: 50\n  eval.batches: 2\n" +
		"grid:\n  train.optimizer.lr: [0.02, 0.01, 0.005, 0.002, 0.001]\nexecutor:\n  local: {parallel: 2}\n"
	spec := writeSpec(t, body)
	dir := filepath.Join(t.TempDir(), "sweep")
	run := func(i int) string { return filepath.Join(dir, "trials", "00"+strconv.Itoa(i)) }

	cmd, _, stderr := sweepCmd(t, "-mode", "sweep", "-sweep", spec, "-sweep-dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "two finished trials and two training", func() bool {
		_, err2 := os.Stat(filepath.Join(run(2), "last.safetensors"))
		_, err3 := os.Stat(filepath.Join(run(3), "last.safetensors"))
		return done(run(0)) && done(run(1)) && err2 == nil && err3 == nil
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := exitOf(t, cmd.Wait()); code != 130 {
		t.Fatalf("interrupted sweep exited %d, want 130; stderr:\n%s", code, stderr)
	}
	// Trials 000 and 001 finished; 002 and 003 were training, and at
	// least one of them was stopped (on a busy machine the other may have
	// finished first); 004 had not started, or just had.
	resumed := map[int]bool{}
	for i := range 5 {
		st, _ := readStatus(run(i))
		_, ckptErr := os.Stat(filepath.Join(run(i), "last.safetensors"))
		switch {
		case i < 2 && st.State != "done":
			t.Errorf("trial %d after the interruption: %+v, want done", i, st)
		case st.State == "interrupted" && ckptErr == nil:
			resumed[i] = true
		case i >= 2 && st.State != "" && st.State != "done" && st.State != "interrupted":
			t.Errorf("trial %d after the interruption: %+v", i, st)
		}
	}
	if len(resumed) == 0 {
		t.Fatalf("no trial was interrupted after its first checkpoint:\n%s", stderr)
	}
	for _, want := range []string{"5 trials, 0 finished before, 5 to run, 2 at a time with",
		"trial 000 (train.optimizer.lr=0.02): done in", "sweep: 2/5 done, ", "interrupted (checkpoint saved)",
		"run the same command again to continue"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	kept, err := os.ReadFile(filepath.Join(run(0), "last.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	cmd, stdout, stderr := sweepCmd(t, "-mode", "sweep", "-sweep", spec, "-sweep-dir", dir)
	if code := exitOf(t, cmd.Run()); code != 0 {
		t.Fatalf("continued sweep exited %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "5 trials, 2 finished before, 3 to run") && !strings.Contains(stderr.String(), "5 trials, 3 finished before, 2 to run") {
		t.Errorf("continuation:\n%s", stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(run(0), "last.safetensors")); !bytes.Equal(b, kept) {
		t.Error("a finished trial was trained again")
	}
	for i := range 5 {
		checkFinished(t, run(i), total)
	}
	for i := range resumed {
		if log, _ := os.ReadFile(filepath.Join(run(i), logFile)); !strings.Contains(string(log), "resuming "+run(i)+" at step") {
			t.Errorf("trial %d did not resume from its checkpoint:\n%s", i, log)
		}
	}
	report, err := os.ReadFile(filepath.Join(dir, reportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), string(report)) {
		t.Error("the sweep did not print its report")
	}
	losses := rankedLosses(t, string(report))
	if len(losses) != 5 || !sort.Float64sAreSorted(losses) {
		t.Errorf("report ranks %v, want 5 losses in increasing order:\n%s", losses, report)
	}
	for _, f := range []string{reportHTML, bestConfig, filepath.Join(plotDir, curvesPlot), filepath.Join(plotDir, "metric-train.optimizer.lr.png")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	cmd, stdout, stderr = sweepCmd(t, "-mode", "report", "-sweep", dir)
	if code := exitOf(t, cmd.Run()); code != 0 || stdout.String() != string(report) {
		t.Errorf("-mode report exited %d, printed\n%s\nstderr %s", code, stdout, stderr)
	}
	// A trial is an ordinary run folder.
	cmd, stdout, stderr = sweepCmd(t, "-mode", "eval", "-run", run(0))
	if code := exitOf(t, cmd.Run()); code != 0 || !strings.Contains(stdout.String(), "loss") {
		t.Errorf("-mode eval on a trial exited %d: %s %s", code, stdout, stderr)
	}

	other := writeSpec(t, strings.Replace(body, "0.001]", "0.0005]", 1))
	cmd, _, stderr = sweepCmd(t, "-mode", "sweep", "-sweep", other, "-sweep-dir", dir)
	if code := exitOf(t, cmd.Run()); code != 2 || !strings.Contains(stderr.String(), "holds a sweep made from a different spec") {
		t.Errorf("another spec in the folder exited %d: %s", code, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-mode", "sweep"}, "-mode sweep needs -sweep"},
		{[]string{"-mode", "sweep", "-sweep", spec, "-set", "train.steps=3"}, "-mode sweep takes -sweep and -sweep-dir only"},
		{[]string{"-config", "x.yaml", "-sweep", spec}, "-sweep and -sweep-dir go with -mode sweep or -mode report"},
	} {
		cmd, _, stderr := sweepCmd(t, tc.args...)
		if code := exitOf(t, cmd.Run()); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v exited %d: %s, want %q", tc.args, code, stderr, tc.want)
		}
	}
}
