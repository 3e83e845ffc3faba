package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childArgs is the environment variable through which a test starts this
// test binary as the runner itself (see TestMain), so that it can be
// killed, interrupted and restarted as a real process.
const childArgs = "SEQTASK_RUNNER_CHILD_ARGS"

func TestMain(m *testing.M) {
	if js := os.Getenv(childArgs); js != "" {
		var args []string
		if err := json.Unmarshal([]byte(js), &args); err != nil {
			panic(err)
		}
		os.Exit(run(args, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runner returns a command that runs the runner with args.
func runner(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgs+"="+string(js))
	return cmd
}

func tinyArgs(t *testing.T) []string {
	t.Helper()
	text, err := filepath.Abs(filepath.Join("..", "..", "pipeline", "testdata", "tiny.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-config", filepath.Join("..", "..", "pipeline", "testdata", "tiny.yaml"), "-set", "data.path=" + text,
		"-set", "train.steps=30", "-set", "train.eval_every=1"}
}

type trainRecord struct {
	Step  int     `json:"step"`
	Split string  `json:"split"`
	Loss  float64 `json:"loss"`
}

// trainRecords reads metrics.jsonl, failing on any line that does not
// parse: a crash must not leave half a record behind once the run resumed.
func trainRecords(t *testing.T, dir string) []trainRecord {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []trainRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r trainRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("metrics.jsonl line %q: %v", sc.Text(), err)
		}
		if r.Split == "train" {
			out = append(out, r)
		}
	}
	return out
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestCrashConsistency kills a training run with SIGKILL at random moments
// (with an evaluation and two checkpoint writes at every step, most kills
// land inside a write), restarting it each time as a user would — -resume
// once the folder holds a run — until it finishes. It must end with the
// same training losses as an uninterrupted run and leave no temporary
// file, lock or half-written record behind.
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the runner some twenty times")
	}
	whole := filepath.Join(t.TempDir(), "whole")
	if out, err := runner(t, append(tinyArgs(t), "-run", whole)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	want := trainRecords(t, whole)

	dir := filepath.Join(t.TempDir(), "killed")
	rng := rand.New(rand.NewPCG(1, 2))
	kills, cleaned := 0, 0 // kills, and restarts that found a write cut short
	for attempt := 0; ; attempt++ {
		if attempt > 60 {
			t.Fatalf("the run did not finish after %d attempts", attempt)
		}
		args := append(tinyArgs(t), "-run", dir)
		if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
			args = []string{"-resume", dir}
		}
		cmd := runner(t, args...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("attempt %d (%v): %v\n%s", attempt, args, err, out.String())
			}
			if strings.Contains(out.String(), "temporary file(s) left by an interrupted write") {
				cleaned++
			}
		case <-time.After(time.Duration(20+rng.IntN(200+20*attempt)) * time.Millisecond): // later attempts wait longer, so a slow machine finishes too
			cmd.Process.Signal(syscall.SIGKILL)
			if err := <-done; exitCode(err) == 0 {
				break // it finished just before the kill
			}
			kills++
			if strings.Contains(out.String(), "temporary file(s) left by an interrupted write") {
				cleaned++
			}
			continue
		}
		break
	}
	if kills < 3 {
		t.Errorf("only %d kills landed; the test did not test much", kills)
	}
	got := trainRecords(t, dir)
	if len(got) != len(want) {
		t.Fatalf("%d training records after %d kills, want %d", len(got), kills, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d after %d kills: %+v, uninterrupted %+v", i, kills, got[i], want[i])
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") || e.Name() == ".lock" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	t.Logf("%d kills (%d restarts found a write cut short), then the run finished with the uninterrupted run's %d losses", kills, cleaned, len(got))
}

// TestSignalsSaveAndExit: SIGINT and SIGTERM stop training with a
// checkpoint that resumes, and exit 130 and 143.
func TestSignalsSaveAndExit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the runner as a process")
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		dir := filepath.Join(t.TempDir(), "run")
		cmd := runner(t, append(tinyArgs(t), "-run", dir, "-set", "train.steps=100000", "-set", "train.eval_every=50")...)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "step 60/") {
				cmd.Process.Signal(tc.sig)
			}
		}
		if code := exitCode(cmd.Wait()); code != tc.code {
			t.Errorf("%v: exit status %d, want %d\n%s", tc.sig, code, tc.code, log.String())
		}
		if !strings.Contains(log.String(), "saving a checkpoint") || !strings.Contains(log.String(), "runner -resume "+dir) {
			t.Errorf("%v: log does not say it saved and how to resume:\n%s", tc.sig, log.String())
		}
		if out, err := runner(t, "-resume", dir, "-set", "train.steps=70").CombinedOutput(); err != nil {
			t.Errorf("%v: resume: %v\n%s", tc.sig, err, out)
		}
	}
}
