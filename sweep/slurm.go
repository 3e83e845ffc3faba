package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/internal/atomicfile"
)

// slurmDir is the sweep folder's subfolder for the job script and Slurm's
// own logs.
const slurmDir = "slurm"

// runSlurm submits the sweep's unfinished trials that are not already in
// Slurm's queue as one job array, an index per trial, and waits for the
// sweep's jobs to leave the queue if the spec says so; then it writes the
// report. The sweep folder, the runner binary and the data must be on a
// file system every node sees at the same paths.
func runSlurm(ctx context.Context, dir string, l *Loaded, m *Manifest, opts Options) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	name := jobName(abs)
	out := &statusLine{w: opts.Stderr, tty: isTerminal(opts.Stderr)}
	queued, err := inQueue(ctx, name)
	if err != nil {
		return err
	}
	var todo []int
	for i, t := range m.Trials {
		if _, ok := queued[i]; !ok && !done(filepath.Join(abs, t.Dir)) {
			todo = append(todo, i)
		}
	}
	if len(queued) > 0 {
		out.note("sweep %s: %d trial(s) already in Slurm's queue (job name %s): left there", dir, len(queued), name)
	}
	s := l.Executor.Slurm
	if len(todo) > 0 {
		cwd, err := os.Getwd()
		if err != nil {
			return err
		}
		if strings.ContainsAny(abs+cwd, " \t\n") {
			return &config.Error{File: l.Path, Key: "executor.kind", Msg: fmt.Sprintf("slurm: the sweep folder %s and the working folder %s must not hold spaces (sbatch reads them from #SBATCH lines)", abs, cwd)}
		}
		runner := s.Binary
		if runner == "" {
			runner = opts.Runner
		}
		script, err := jobScript(jobSpec{Name: name, Sweep: abs, Cwd: cwd, Runner: runner, Width: len(m.Trials[0].ID), Array: arraySpec(todo, s.MaxRunning), Slurm: s})
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(abs, slurmDir), 0o755); err != nil {
			return err
		}
		path := filepath.Join(abs, slurmDir, "sweep.sbatch")
		if err := atomicfile.WriteFile(path, script, 0o755); err != nil {
			return err
		}
		b, err := exec.CommandContext(ctx, "sbatch", "--parsable", path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("sbatch %s: %v: %s", path, err, strings.TrimSpace(string(b)))
		}
		job, _, _ := strings.Cut(strings.TrimSpace(string(b)), ";")
		out.note("sweep %s: submitted job %s, %d of %d trials (array %s) — follow it with: squeue --name=%s; Slurm's logs: %s; each trial's: %s",
			dir, job, len(todo), len(m.Trials), arraySpec(todo, s.MaxRunning), name, filepath.Join(dir, slurmDir), filepath.Join(dir, "trials", "<trial>", logFile))
	} else if len(queued) == 0 {
		out.note("sweep %s: all %d trials have finished", dir, len(m.Trials))
	}
	if !s.Wait && (len(todo) > 0 || len(queued) > 0) {
		out.note("when the jobs end: runner -mode report -sweep %s (or run this command again: it submits only the unfinished trials)", dir)
		return nil
	}
	if err := wait(ctx, abs, name, m, s.Poll, out); err != nil {
		return err
	}
	if ctx.Err() != nil {
		out.note("stopped waiting; the jobs keep running (squeue --name=%s); run this command again to wait, or runner -mode report -sweep %s", name, dir)
		return nil
	}
	if err := ScoreEnsembles(ctx, dir, opts.Runner, opts.Stderr); err != nil {
		fmt.Fprintf(opts.Stderr, "sweep: ensembles: %v\n", err)
	}
	if err := Report(dir, opts.Stdout); err != nil {
		return err
	}
	var unfinished []string
	for _, t := range m.Trials {
		run := filepath.Join(abs, t.Dir)
		if st, ok := readStatus(run); !ok || st.State != "done" {
			why := "ended without finishing (time limit, memory, or cancelled?)"
			if ok {
				why = fmt.Sprintf("%s (exit %d): %s", st.State, st.Exit, failure(run))
			}
			unfinished = append(unfinished, t.ID+": "+why)
		}
	}
	if len(unfinished) > 0 {
		return fmt.Errorf("%d of %d trials did not finish (running the same command again resumes them; logs in %s): %s",
			len(unfinished), len(m.Trials), filepath.Join(dir, "trials", "<trial>", logFile), strings.Join(unfinished, "; "))
	}
	return nil
}

// wait polls Slurm's queue every poll until none of the sweep's jobs is
// left in it or ctx is cancelled, showing the sweep's state.
func wait(ctx context.Context, dir, name string, m *Manifest, poll time.Duration, out *statusLine) error {
	for {
		queued, err := inQueue(ctx, name)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		states := map[string]int{}
		for _, st := range queued {
			states[strings.ToLower(st)]++
		}
		finished, failed := 0, 0
		for i, t := range m.Trials {
			if _, ok := queued[i]; ok {
				continue
			}
			if st, ok := readStatus(filepath.Join(dir, t.Dir)); ok && st.State == "done" {
				finished++
			} else if ok {
				failed++
			}
		}
		out.show(fmt.Sprintf("sweep: %d/%d done, %d running, %d pending, %d failed or interrupted", finished, len(m.Trials), states["running"], states["pending"], failed))
		if len(queued) == 0 {
			out.end()
			return nil
		}
		select {
		case <-ctx.Done():
			out.end()
			return nil
		case <-time.After(poll):
		}
	}
}

// inQueue returns the sweep's array indices in Slurm's queue, with their
// states (PENDING, RUNNING, ...).
func inQueue(ctx context.Context, name string) (map[int]string, error) {
	cmd := exec.CommandContext(ctx, "squeue", "--noheader", "--array", "--name="+name, "--format=%K %T")
	b, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, fmt.Errorf("executor slurm: squeue is not on PATH: run the sweep on a Slurm login node")
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("squeue: %v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("squeue: %w", err)
	}
	queued := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		idx, state, ok := strings.Cut(strings.TrimSpace(line), " ")
		if i, err := strconv.Atoi(idx); ok && err == nil {
			queued[i] = state
		}
	}
	return queued, nil
}

// jobName names the sweep's jobs after its folder, with a hash of the
// folder's path so that two sweeps of one spec name never mix.
func jobName(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "seqtask-" + filepath.Base(dir) + "-" + hex.EncodeToString(sum[:4])
}

// arraySpec renders trial indices as sbatch's --array value, runs of
// consecutive indices as ranges ("0-3,5,7-9"), with a %N throttle.
func arraySpec(indices []int, maxRunning int) string {
	var parts []string
	for i := 0; i < len(indices); {
		j := i
		for j+1 < len(indices) && indices[j+1] == indices[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(indices[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", indices[i], indices[j]))
		}
		i = j + 1
	}
	s := strings.Join(parts, ",")
	if maxRunning > 0 {
		s += "%" + strconv.Itoa(maxRunning)
	}
	return s
}

// jobSpec is what the job script is made from.
type jobSpec struct {
	Name, Sweep, Cwd, Runner, Array string
	Width                           int // digits of a trial's folder name
	Slurm                           Slurm
}

var jobTemplate = template.Must(template.New("sbatch").Funcs(template.FuncMap{"q": shellQuote}).Parse(`#!/bin/bash
# A seqtask sweep as a Slurm job array, written by runner -mode sweep: one
# array index per trial, each running the runner on the trial's run folder.
# {{.Sweep}}, the runner and the data must be on a file system every node
# sees at the same paths.
#SBATCH --job-name={{.Name}}
#SBATCH --array={{.Array}}
#SBATCH --cpus-per-task={{.Slurm.CPUsPerTask}}
#SBATCH --mem={{.Slurm.Mem}}
#SBATCH --time={{.Slurm.Time}}
{{- if .Slurm.Partition}}
#SBATCH --partition={{.Slurm.Partition}}
{{- end}}
#SBATCH --requeue
#SBATCH --chdir={{.Cwd}}
#SBATCH --output={{.Sweep}}/slurm/%A_%a.out
#SBATCH --open-mode=append
{{- range .Slurm.Args}}
#SBATCH {{.}}
{{- end}}

dir={{q .Sweep}}/trials/$(printf '%0{{.Width}}d' "$SLURM_ARRAY_TASK_ID")
export GOMAXPROCS=${SLURM_CPUS_PER_TASK:-1}

# status STATE EXIT records how this attempt ended, as the local executor
# does: written beside, then renamed over status.json.
status() {
	printf '{"state":"%s","exit":%d,"host":"%s","job":"%s","time":"%s"}\n' "$1" "$2" "$(hostname)" \
		"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/status.json.tmp-$$" &&
		mv -f "$dir/status.json.tmp-$$" "$dir/status.json"
}
if grep -q '"state":"done"' "$dir/status.json" 2>/dev/null; then
	exit 0 # finished by an earlier attempt
fi
rm -f "$dir/status.json"

# Preemption, requeue, scancel and the time limit send SIGTERM to the job's
# processes: the runner saves a checkpoint and exits 143, and a requeued
# index continues from it (-resume). This shell traps the signal so that it
# waits for the runner instead of dying first.
trap 'echo "sweep: SIGTERM: the runner is saving a checkpoint"' TERM
echo "── sweep: job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname): {{.Runner}} -resume $dir, $(date -u +%Y-%m-%dT%H:%M:%SZ) ──" >>"$dir/train.log"
{{q .Runner}} -resume "$dir" >>"$dir/train.log" 2>&1
rc=$?
case $rc in
0) status done 0 ;;
130 | 143) status interrupted "$rc" ;;
*) status failed "$rc" ;;
esac
exit "$rc"
`))

// jobScript renders the sbatch script of spec.
func jobScript(spec jobSpec) ([]byte, error) {
	var b strings.Builder
	if err := jobTemplate.Execute(&b, spec); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
