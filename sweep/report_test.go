package sweep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
)

// laidOut lays out the sweep of a spec body in a fresh folder, without
// running it.
func laidOut(t *testing.T, body string) (string, *Manifest, *Loaded) {
	t.Helper()
	l, trials := mustExpand(t, writeSpec(t, body))
	metric, higher := l.metric(trials[0].cfg)
	m := &Manifest{Spec: l.Path, Base: l.BasePath, Metric: metric, Direction: map[bool]string{true: "max", false: "min"}[higher], Keys: varied(l), Trials: trials, Ensemble: l.Ensemble}
	dir := filepath.Join(t.TempDir(), "sweep")
	if err := layout(dir, l, m); err != nil {
		t.Fatal(err)
	}
	return dir, m, l
}

// fakeRun writes a metrics.jsonl whose validation loss falls from 4 to
// final over three evaluations, and the trial's status.
func fakeRun(t *testing.T, run string, final float64, state string) {
	t.Helper()
	var b bytes.Buffer
	for i, loss := range []float64{4, (4 + final) / 2, final} {
		step := 10 * (i + 1)
		fmt.Fprintf(&b, `{"step":%d,"split":"train","loss":%g,"tokens_per_s":%d,"elapsed_s":%d}`+"\n", step, loss+0.1, 1000*(i+1), i+1)
		fmt.Fprintf(&b, `{"step":%d,"split":"val","loss":%g,"elapsed_s":%d,"metrics":{"loss":%g,"bits":%g}}`+"\n", step, loss, i+1, loss, loss*1.4427)
	}
	if err := os.WriteFile(filepath.Join(run, "metrics.jsonl"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if state != "" {
		if err := writeStatus(run, Status{State: state, Exit: map[string]int{"done": 0, "failed": 1}[state]}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReport checks the report of a sweep whose trials ended in every
// way: ranked by the metric, failed and unstarted trials last with their
// state, the seed table, the plots, the page and best.yaml.
func TestReport(t *testing.T) {
	dir, m, _ := laidOut(t, "grid:\n  train.optimizer.lr: [0.01, 0.003, 0.001]\nseeds: [1, 2]\n")
	finals := []float64{3.0, 3.2, 2.5, 2.7, 3.5, 0}
	for i, tr := range m.Trials[:5] {
		state := "done"
		if i == 4 {
			state = "failed"
			os.WriteFile(filepath.Join(dir, tr.Dir, logFile), []byte("step 3\nrunner: step 4: training diverged (loss NaN)\n"), 0o644)
		}
		fakeRun(t, filepath.Join(dir, tr.Dir), finals[i], state)
	}
	var out bytes.Buffer
	if err := Report(dir, &out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, reportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(md) {
		t.Error("the printed report differs from report.md")
	}
	report := string(md)
	for _, want := range []string{
		"| rank | trial | train.optimizer.lr | seed | loss | step | time | tokens/s | state |",
		"| 1 | 002 | 0.003 | 1 | 2.5000 | 30 | 3s | 2.0k | done |",
		"| 2 | 003 | 0.003 | 2 | 2.7000 | 30 | 3s | 2.0k | done |",
		"| 3 | 000 | 0.01 | 1 | 3.0000 | 30 | 3s | 2.0k | done |",
		"| 5 | 004 | 0.001 | 1 | 3.5000 | 30 | 3s | 2.0k | failed: step 4: training diverged (loss NaN) |",
		"| 6 | 005 | 0.001 | 2 | – | – | – | – | not started |",
		"6 trials (4 done, 1 failed, 1 not started), ranked by validation loss (lower is better)",
		"| 0.003 | 2.6000 ± 0.1414 | 2 |",
		"| 0.01 | 3.1000 ± 0.1414 | 2 |",
		"| 0.001 | 3.5000 ± 0.0000 | 1 |",
		"Best: trial 002 (train.optimizer.lr=0.003 seed=1), loss 2.5000 at step 30.",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report.md lacks %q:\n%s", want, report)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, reportHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<img src="plots/curves.png"`, `<img src="plots/metric-train.optimizer.lr.png"`, `<tr class="best">`, "<td>2.5000</td>", `<a href="best.yaml">`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, p := range []string{"curves.png", "metric-train.optimizer.lr.png"} {
		if fi, err := os.Stat(filepath.Join(dir, plotDir, p)); err != nil || fi.Size() < 1000 {
			t.Errorf("plot %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, plotDir, "metric-seed.png")); err == nil {
		t.Error("a plot of the metric against the seed")
	}
	// best.yaml is the best trial's config, ready to train.
	best, err := config.Load(filepath.Join(dir, bestConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	if best.Train.Optimizer.LR != 0.003 || best.Seed != 1 {
		t.Errorf("best.yaml has lr %v seed %d, want trial 002's 0.003 and 1", best.Train.Optimizer.LR, best.Seed)
	}
}

// TestReportDirection ranks by a metric where higher is better, and names
// the metrics there are when the spec's is not among them.
func TestReportDirection(t *testing.T) {
	dir, m, _ := laidOut(t, "grid:\n  train.optimizer.lr: [0.01, 0.003]\nmetric: bits\ndirection: max\n")
	fakeRun(t, filepath.Join(dir, m.Trials[0].Dir), 5, "done")
	fakeRun(t, filepath.Join(dir, m.Trials[1].Dir), 6, "")
	var out bytes.Buffer
	if err := Report(dir, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| 1 | 001 | 0.003 | 8.6562 | 30 | 3s | 2.0k | unfinished |") {
		t.Errorf("higher bits first, at its best step:\n%s", out.String())
	}
	m.Metric = "bleu"
	b, _ := json.Marshal(m)
	os.WriteFile(filepath.Join(dir, manifestFile), b, 0o644)
	if err := Report(dir, &out); err == nil || !strings.Contains(err.Error(), `no trial reports the metric "bleu"; their evaluations report bits, loss`) {
		t.Errorf("unknown metric: %v", err)
	}
	if err := Report(t.TempDir(), &out); err == nil || !strings.Contains(err.Error(), "no sweep here") {
		t.Errorf("a folder without a sweep: %v", err)
	}
}

// TestLayout checks that laying out a sweep again keeps its trials' runs,
// and that a folder holding another sweep, or other files, is refused
// untouched.
func TestLayout(t *testing.T) {
	dir, m, l := laidOut(t, "grid:\n  train.optimizer.lr: [0.01, 0.003]\n")
	for _, tr := range m.Trials {
		b, err := os.ReadFile(filepath.Join(dir, tr.Dir, "config.yaml"))
		if err != nil || string(b) != string(tr.resolved) {
			t.Fatalf("trial %s's config.yaml: %v", tr.ID, err)
		}
	}
	run := filepath.Join(dir, m.Trials[0].Dir)
	os.WriteFile(filepath.Join(run, "config.yaml"), []byte("as training wrote it\n"), 0o644)
	if err := layout(dir, l, m); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(run, "config.yaml")); string(b) != "as training wrote it\n" {
		t.Error("laying out again replaced a trial's config.yaml")
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, manifestFile))
	other, om, _ := laidOut(t, "grid:\n  train.optimizer.lr: [0.01, 0.001]\n")
	err := layout(dir, &Loaded{Path: om.Spec}, om)
	if err == nil || !strings.Contains(err.Error(), "holds a sweep made from a different spec") ||
		!strings.Contains(err.Error(), "its trial 001 is train.optimizer.lr=0.003, this spec's trial 001 is train.optimizer.lr=0.001") ||
		!strings.Contains(err.Error(), "add -sweep-dir "+dir+"-2") || !config.IsConfigError(err) {
		t.Errorf("another spec's sweep: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, manifestFile)); string(b) != string(manifest) {
		t.Error("a refused layout changed the manifest")
	}
	// The same keys over a changed base config are another sweep too.
	om.Trials[0].Config = "changed"
	if err := layout(other, &Loaded{Path: om.Spec}, om); err == nil || !strings.Contains(err.Error(), "trial 000 (train.optimizer.lr=0.01) has another resolved config") {
		t.Errorf("changed base config: %v", err)
	}
	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "notes.txt"), nil, 0o644)
	if err := layout(busy, l, m); err == nil || !strings.Contains(err.Error(), "is not empty and holds no sweep") {
		t.Errorf("a folder of other files: %v", err)
	}
}
