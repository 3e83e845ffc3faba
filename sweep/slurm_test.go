package sweep

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestArraySpec(t *testing.T) {
	for _, tc := range []struct {
		indices []int
		max     int
		want    string
	}{
		{[]int{0, 1, 2, 3}, 0, "0-3"},
		{[]int{0, 2, 3, 4, 7, 9, 10}, 0, "0,2-4,7,9-10"},
		{[]int{5}, 2, "5%2"},
	} {
		if got := arraySpec(tc.indices, tc.max); got != tc.want {
			t.Errorf("arraySpec(%v, %d) = %q, want %q", tc.indices, tc.max, got, tc.want)
		}
	}
}

func TestJobScript(t *testing.T) {
	s := Slurm{Partition: "short", CPUsPerTask: 4, Mem: "8G", Time: "2:00:00", Args: []string{"--account=proj", "--qos=low"}}
	b, err := jobScript(jobSpec{Name: "seqtask-x-12345678", Sweep: "/shared/sweeps/x", Cwd: "/shared/work", Runner: "/shared/bin/run'ner", Width: 3, Array: "0-3%2", Slurm: s})
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, want := range []string{
		"#SBATCH --job-name=seqtask-x-12345678\n", "#SBATCH --array=0-3%2\n", "#SBATCH --cpus-per-task=4\n",
		"#SBATCH --mem=8G\n", "#SBATCH --time=2:00:00\n", "#SBATCH --partition=short\n", "#SBATCH --requeue\n",
		"#SBATCH --chdir=/shared/work\n", "#SBATCH --output=/shared/sweeps/x/slurm/%A_%a.out\n",
		"#SBATCH --account=proj\n#SBATCH --qos=low\n",
		`dir='/shared/sweeps/x'/trials/$(printf '%03d' "$SLURM_ARRAY_TASK_ID")`,
		`'/shared/bin/run'\''ner' -resume "$dir"`,
		"export GOMAXPROCS=${SLURM_CPUS_PER_TASK:-1}",
		"trap ",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("job script lacks %q:\n%s", want, script)
		}
	}
	if out, err := exec.Command("bash", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v: %s", err, out)
	}
}

// slurmUp reports whether a Slurm cluster answers here. Without one the
// Slurm test skips, unless SEQTASK_REQUIRE_SLURM=1 (CI, which starts one
// with .ci/slurm-up.sh) makes it fail.
func slurmUp(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("sbatch")
	if err == nil {
		err = exec.Command("sinfo").Run()
	}
	if err != nil {
		if os.Getenv("SEQTASK_REQUIRE_SLURM") == "1" {
			t.Fatalf("SEQTASK_REQUIRE_SLURM=1 but no Slurm cluster answers (%v): start one with .ci/slurm-up.sh", err)
		}
		t.Skipf("no Slurm cluster (%v): .ci/slurm-up.sh starts a one-node one", err)
	}
}

// TestSlurmSweep submits a sweep of four tiny trials to a real Slurm
// cluster as one job array, requeues a trial while it trains (what
// preemption does), and waits for the array: every trial finishes, the
// requeued one resumed from its checkpoint rather than starting over, and
// the report ranks the four.
func TestSlurmSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a sweep of real trainings")
	}
	slurmUp(t)
	const total = 6000
	body := "  train.steps: 6000\n  train.eval_every: 500\n  train.log_every: 100\n  eval.batches: 2\n" +
		"grid:\n  train.optimizer.lr: [0.01, 0.003]\nseeds: [1, 2]\n" +
		"executor:\n  kind: slurm\n  slurm: {mem: 256M, time: \"10\", poll: 1s, wait: %s}\n"
	dir := filepath.Join(t.TempDir(), "sweep")
	run := func(i int) string { return filepath.Join(dir, "trials", "00"+string(rune('0'+i))) }

	submit := writeSpec(t, strings.Replace(body, "%s", "false", 1))
	cmd, _, stderr := sweepCmd(t, "-mode", "sweep", "-sweep", submit, "-sweep-dir", dir)
	if code := exitOf(t, cmd.Run()); code != 0 {
		t.Fatalf("submitting exited %d: %s", code, stderr)
	}
	m := regexp.MustCompile(`submitted job (\d+), 4 of 4 trials \(array 0-3\)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no job submitted: %s", stderr)
	}
	job := m[1]
	t.Cleanup(func() { exec.Command("scancel", job).Run() })
	script, err := os.ReadFile(filepath.Join(dir, slurmDir, "sweep.sbatch"))
	if err != nil || !strings.Contains(string(script), "#SBATCH --requeue") || !strings.Contains(string(script), "#SBATCH --mem=256M") {
		t.Errorf("job script: %v\n%s", err, script)
	}

	// Requeue trial 000 once it has a checkpoint, as a preemption would,
	// and let it start again at once (Slurm holds a requeued job for two
	// minutes).
	waitFor(t, 2*time.Minute, "trial 000's first checkpoint", func() bool {
		_, err := os.Stat(filepath.Join(run(0), "last.safetensors"))
		return err == nil
	})
	if done(run(0)) {
		t.Fatal("trial 000 finished before it could be requeued: make its trials longer")
	}
	if out, err := exec.Command("scontrol", "requeue", job+"_0").CombinedOutput(); err != nil {
		t.Fatalf("scontrol requeue: %v: %s", err, out)
	}
	waitFor(t, time.Minute, "the requeued trial's interruption", func() bool {
		st, ok := readStatus(run(0))
		return ok && st.State == "interrupted"
	})
	waitFor(t, time.Minute, "the requeued trial back in the queue", func() bool {
		out, _ := exec.Command("squeue", "--noheader", "--array", "--jobs="+job+"_0", "--format=%T").Output()
		return strings.TrimSpace(string(out)) == "PENDING"
	})
	if out, err := exec.Command("scontrol", "update", "JobId="+job+"_0", "StartTime=now").CombinedOutput(); err != nil {
		t.Fatalf("scontrol update: %v: %s", err, out)
	}

	// The same sweep, now waiting: nothing is submitted twice.
	wait := writeSpec(t, strings.Replace(body, "%s", "true", 1))
	cmd, stdout, stderr := sweepCmd(t, "-mode", "sweep", "-sweep", wait, "-sweep-dir", dir)
	if code := exitOf(t, cmd.Run()); code != 0 {
		t.Fatalf("waiting for the sweep exited %d: %s", code, stderr)
	}
	if strings.Contains(stderr.String(), "submitted job") {
		t.Errorf("trials in the queue were submitted again: %s", stderr)
	}
	for i := range 4 {
		checkFinished(t, run(i), total)
	}
	log, _ := os.ReadFile(filepath.Join(run(0), logFile))
	if !strings.Contains(string(log), "(restart 1)") || !regexp.MustCompile(`resuming \S+ at step [1-9]`).Match(log) {
		t.Errorf("the requeued trial did not resume from its checkpoint:\n%s", log)
	}
	report, err := os.ReadFile(filepath.Join(dir, reportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), string(report)) || !strings.Contains(string(report), "4 trials (4 done)") {
		t.Errorf("report:\n%s", report)
	}
	losses := rankedLosses(t, string(report))
	if len(losses) != 4 || !sort.Float64sAreSorted(losses) {
		t.Errorf("report ranks %v, want 4 losses in increasing order", losses)
	}
}
