package sweep

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seqtask/seqtask/internal/human"
)

// runLocal runs the unfinished trials of the sweep in dir, Parallel at a
// time, each a runner process ("runner -resume DIR") with GOMAXPROCS set
// to its share of the cores and its output appended to its train.log.
// Cancelling ctx sends each running trial SIGTERM: it saves a checkpoint
// and stops, and running the sweep again resumes it. It returns an error
// naming the trials that failed.
func runLocal(ctx context.Context, dir string, l *Loaded, m *Manifest, opts Options) error {
	par := l.Executor.Local.Parallel
	threads := l.Executor.Local.Threads
	if threads == 0 {
		threads = max(1, runtime.GOMAXPROCS(0)/par)
	}
	s := &localSweep{dir: dir, metric: m.Metric, higher: m.higher(), runner: opts.Runner, threads: threads, par: par,
		out: &statusLine{w: opts.Stderr, tty: isTerminal(opts.Stderr)}, started: map[*Trial]time.Time{}}
	var todo []*Trial
	for _, t := range m.Trials {
		if done(filepath.Join(dir, t.Dir)) {
			s.done++
		} else {
			todo = append(todo, t)
		}
	}
	s.total = len(m.Trials)
	s.out.note("sweep %s: %d trials, %d finished before, %d to run, %d at a time with %d core(s) each (GOMAXPROCS)",
		dir, len(m.Trials), s.done, len(todo), par, threads)
	queue := make(chan *Trial)
	var wg sync.WaitGroup
	for range min(par, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range queue {
				s.run(ctx, t)
			}
		}()
	}
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		if !s.out.tty {
			return // plain lines come with each trial's end
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				s.mu.Lock()
				s.out.show(s.line())
				s.mu.Unlock()
			}
		}
	}()
feed:
	for _, t := range todo {
		select {
		case queue <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	close(stop)
	<-ticked
	s.out.note("sweep %s: %d of %d trials done, %d failed, %d interrupted", dir, s.done, s.total, len(s.failed), s.interrupted)
	if ctx.Err() != nil {
		s.out.note("interrupted: the running trials saved checkpoints; run the same command again to continue")
	}
	if len(s.failed) > 0 {
		return fmt.Errorf("%d of %d trials failed (their logs: %s/<trial>/%s): %s", len(s.failed), s.total, filepath.Join(dir, "trials"), logFile, strings.Join(s.failed, "; "))
	}
	return nil
}

// localSweep is the state of a local sweep, shared by its workers.
type localSweep struct {
	dir     string
	metric  string
	higher  bool
	runner  string
	threads int
	par     int
	out     *statusLine

	mu          sync.Mutex
	total, done int
	interrupted int
	failed      []string             // "trial: reason"
	started     map[*Trial]time.Time // the running trials
	durations   []time.Duration      // of the trials finished by this process
}

// run runs trial t to its end (or to an interruption) and records how it
// ended in its status.json.
func (s *localSweep) run(ctx context.Context, t *Trial) {
	run := filepath.Join(s.dir, t.Dir)
	if ctx.Err() != nil || done(run) { // another process may have finished it
		return
	}
	os.Remove(filepath.Join(run, statusFile)) // the last attempt's; this one's comes when it ends
	s.mu.Lock()
	s.started[t] = time.Now()
	s.mu.Unlock()
	exit, err := s.runner1(ctx, run)
	s.mu.Lock()
	defer s.mu.Unlock()
	took := time.Since(s.started[t])
	delete(s.started, t)
	if err != nil && ctx.Err() != nil {
		return // stopped before it started: it stays to run
	}
	st := Status{Exit: exit}
	var what string
	switch {
	case err != nil:
		st.State, what = "failed", err.Error()
		s.failed = append(s.failed, t.ID+": "+err.Error())
	case exit == 0:
		st.State = "done"
		s.done++
		s.durations = append(s.durations, took)
		what = "done in " + took.Round(time.Second).String()
		if b, ok := readTrial(run, s.metric, s.higher); ok && b.found {
			what += fmt.Sprintf(", best %s %.4g at step %d", s.metric, b.value, b.step)
		}
	case exit == 128+2 || exit == 128+15: // SIGINT, SIGTERM: the runner saved a checkpoint
		st.State, what = "interrupted", "interrupted (checkpoint saved)"
		s.interrupted++
	default:
		reason := failure(run)
		st.State, what = "failed", fmt.Sprintf("failed (exit %d): %s", exit, reason)
		s.failed = append(s.failed, fmt.Sprintf("%s: exit %d: %s", t.ID, exit, reason))
	}
	if err := writeStatus(run, st); err != nil {
		what += "; " + err.Error()
	}
	s.out.note("trial %s (%s): %s", t.ID, describe(t.Overrides), what)
	s.out.show(s.line())
}

// runner1 runs "runner -resume run" and returns its exit status; err is a
// failure to run it at all.
func (s *localSweep) runner1(ctx context.Context, run string) (int, error) {
	env := []string{"GOMAXPROCS=" + strconv.Itoa(s.threads)}
	return runChild(ctx, s.runner, []string{"-resume", run}, "", env, filepath.Join(run, logFile), nil)
}

// runChild runs the runner binary with args in dir ("" for this process's
// folder), with env added to this process's environment, its output
// appended to the file logPath under a header line — stdout to stdout
// instead when it is not nil — and returns its exit status; err is a
// failure to run it at all. Cancelling ctx sends the child SIGTERM.
func runChild(ctx context.Context, runner string, args []string, dir string, env []string, logPath string, stdout io.Writer) (int, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	fmt.Fprintf(log, "── sweep: %s %s (%s), %s ──\n", runner, strings.Join(args, " "), cmp.Or(strings.Join(env, " "), "environment inherited"), time.Now().Format(time.RFC3339))
	cmd := exec.CommandContext(ctx, runner, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if stdout != nil {
		cmd.Stdout = stdout
	}
	interruptOnCancel(cmd)
	if err := cmd.Run(); cmd.ProcessState == nil {
		return 0, fmt.Errorf("cannot run %s: %w", runner, err)
	}
	return exitCode(cmd.ProcessState), nil
}

// line is the sweep's status line: trials done, running, failed and to
// go, and the time left. The caller holds s.mu.
func (s *localSweep) line() string {
	running := len(s.started)
	left := s.total - s.done - len(s.failed) - s.interrupted - running
	return fmt.Sprintf("sweep: %d/%d done, %d running, %d failed, %d to go  ETA %s",
		s.done, s.total, running, len(s.failed), max(left, 0), human.ETA(s.eta(left)))
}

// eta estimates the time left: each running trial's remainder at its own
// pace (its step against train.steps, or its time against
// train.time_limit), and the trials still to start at the mean length of
// those measured, shared between the parallel slots; -1 when nothing is
// measured yet.
func (s *localSweep) eta(pending int) time.Duration {
	var lengths []float64
	for _, d := range s.durations {
		lengths = append(lengths, d.Seconds())
	}
	var running float64
	unknown := 0
	for t, start := range s.started {
		frac, ok := progressOf(filepath.Join(s.dir, t.Dir), t)
		if !ok || frac <= 0 {
			unknown++
			continue
		}
		total := time.Since(start).Seconds() / frac
		if frac >= 1 {
			total = time.Since(start).Seconds()
		}
		lengths = append(lengths, total)
		running += total * (1 - min(frac, 1))
	}
	if len(lengths) == 0 {
		return -1
	}
	var mean float64
	for _, x := range lengths {
		mean += x
	}
	mean /= float64(len(lengths))
	work := running + float64(pending+unknown)*mean
	return time.Duration(work / float64(s.par) * float64(time.Second))
}

// progressOf returns how far the trial in run is, from 0 to 1: its last
// logged step against train.steps, or its training time against
// train.time_limit if that is further.
func progressOf(run string, t *Trial) (float64, bool) {
	lines := strings.Split(strings.TrimSpace(readTail(filepath.Join(run, "metrics.jsonl"), 4<<10, 0)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var r record
		if json.Unmarshal([]byte(lines[i]), &r) != nil || r.Split != "train" {
			continue
		}
		tc := t.cfg.Train
		frac := float64(r.Step) / float64(max(tc.Steps, 1))
		if tc.TimeLimit > 0 {
			frac = max(frac, r.Elapsed/tc.TimeLimit.Seconds())
		}
		return frac, true
	}
	return 0, false
}

// statusLine prints a status that a terminal shows as one line rewritten
// in place, and notes that stay; into a file or pipe every status is a
// plain line.
type statusLine struct {
	w     io.Writer
	tty   bool
	dirty bool // a status is on screen without its newline
}

func (p *statusLine) show(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.dirty = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// end ends a status line left on a terminal, before other output.
func (p *statusLine) end() {
	if p.dirty {
		fmt.Fprintln(p.w)
		p.dirty = false
	}
}

func (p *statusLine) note(format string, args ...any) {
	if p.dirty {
		fmt.Fprint(p.w, "\r\033[K")
		p.dirty = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}
