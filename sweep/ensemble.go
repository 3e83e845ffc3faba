package sweep

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/seqtask/seqtask/internal/atomicfile"
	"github.com/seqtask/seqtask/internal/folderlock"
)

// Ensembles of seeds (the spec's ensemble: true). Models trained from
// different seeds make different mistakes, so the mean of their next-token
// probabilities (runner -ensemble) scores better than each of them: on
// tiny-shakespeare two char LMs trained for seven minutes each, together,
// beat one trained for fifteen. When the sweep's trials have ended (and at
// every -mode report), each configuration whose seeds are all done is
// evaluated as one model — a runner child "-mode eval -json -run FIRST
// -ensemble SECOND ...", on each member's best checkpoint, run from the
// folder the sweep was last run from — and the result is kept in the sweep
// folder's ensembles.json with the members' finishing times, so that later
// reports reuse it until a member is trained again.

// Files of a sweep folder with ensembles.
const (
	ensemblesFile  = "ensembles.json"
	ensemblesLock  = "ensembles.lock"   // held while a process scores the ensembles
	ensemblesLog   = "ensembles.log"    // the evaluations' output, appended
	bestCheckpoint = "best.safetensors" // what runner -mode eval loads
)

// EnsembleResult is one configuration's seeds evaluated as one model.
type EnsembleResult struct {
	Trials []string `json:"trials"` // the members' trial IDs, in trial order
	// Finished holds when each member had finished when it was evaluated
	// (finishedAt): a member trained again since makes the result stale.
	Finished []string           `json:"finished"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	Error    string             `json:"error,omitempty"` // why the evaluation failed
	Time     string             `json:"time"`            // when it ended (RFC 3339, UTC)
}

// ensembleKey identifies an ensemble by its members.
func ensembleKey(trials []string) string { return strings.Join(trials, ",") }

// readEnsembles reads dir's ensembles.json, keyed by ensembleKey; none yet
// is an empty map.
func readEnsembles(dir string) (map[string]EnsembleResult, error) {
	out := map[string]EnsembleResult{}
	b, err := os.ReadFile(filepath.Join(dir, ensemblesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var list []EnsembleResult
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ensemblesFile), err)
	}
	for _, e := range list {
		out[ensembleKey(e.Trials)] = e
	}
	return out, nil
}

// withoutSeed returns the overrides but the seed's.
func withoutSeed(overrides []Override) []Override {
	return slices.DeleteFunc(slices.Clone(overrides), func(o Override) bool { return o.Key == "seed" })
}

// seedGroups returns the trials that differ only in their seed, one group
// per configuration, in trial order.
func seedGroups(trials []*Trial) [][]*Trial {
	index := map[string]int{}
	var groups [][]*Trial
	for _, t := range trials {
		id := describe(withoutSeed(t.Overrides))
		i, ok := index[id]
		if !ok {
			i = len(groups)
			index[id] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], t)
	}
	return groups
}

// ids returns the trials' IDs.
func ids(trials []*Trial) []string {
	out := make([]string, len(trials))
	for i, t := range trials {
		out[i] = t.ID
	}
	return out
}

// ScoreEnsembles evaluates, for a sweep folder whose manifest asks for
// ensembles, every configuration whose seeds are all done and whose result
// is missing, failed or stale, with the runner binary runner, and records
// the results in ensembles.json. A failed evaluation is recorded with its
// reason (and tried again by the next call); an interrupted one is not
// recorded. Only a failure to record is an error.
func ScoreEnsembles(ctx context.Context, dir, runner string, stderr io.Writer) error {
	m, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // Report says what is missing
	}
	if err != nil || !m.Ensemble {
		return err
	}
	out := &statusLine{w: stderr}
	// One process scores a sweep's ensembles at a time: a -mode report
	// beside the running sweep would otherwise evaluate the ones the sweep
	// is evaluating.
	lock, stale, err := folderlock.Take(filepath.Join(dir, ensemblesLock))
	var held *folderlock.HeldError
	switch {
	case errors.As(err, &held):
		out.note("sweep %s: %s is evaluating its ensembles; its results will be in %s for the next report", dir, held.Owner, ensemblesFile)
		return nil
	case err != nil:
		return fmt.Errorf("sweep %s: %w", dir, err)
	case stale != "":
		out.note("sweep %s: took over the ensembles' lock of %s, which is no longer running", dir, stale)
	}
	defer lock.Release()
	results, err := readEnsembles(dir) // after the lock: what the last holder recorded
	if err != nil {
		return err
	}
	workdir := m.Workdir
	if fi, err := os.Stat(workdir); workdir != "" && (err != nil || !fi.IsDir()) {
		out.note("sweep %s: the folder the sweep was run from, %s, is gone: evaluating from this one (the trials' relative data paths must resolve here)", dir, workdir)
		workdir = ""
	}
	for _, g := range seedGroups(m.Trials) {
		key := ensembleKey(ids(g))
		finished, ready := finishedAt(dir, g)
		if prev, ok := results[key]; !ready || (ok && prev.Error == "" && slices.Equal(prev.Finished, finished)) {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		names := strings.Join(ids(g), ", ")
		out.note("sweep %s: evaluating trials %s as one ensemble (%s)", dir, names, cmp.Or(describe(withoutSeed(g[0].Overrides)), "the base config's seeds"))
		r, err := evaluateEnsemble(ctx, dir, workdir, runner, g)
		if ctx.Err() != nil {
			out.note("sweep %s: the ensemble of trials %s was interrupted; the next report evaluates it", dir, names)
			return nil
		}
		if err != nil {
			r.Error = err.Error()
			out.note("sweep %s: the ensemble of trials %s failed: %s", dir, names, r.Error)
		} else if v, ok := r.Metrics[m.Metric]; ok {
			out.note("sweep %s: the ensemble of trials %s: %s %.4f", dir, names, m.Metric, v)
		} else {
			out.note("sweep %s: the ensemble of trials %s reports no %s", dir, names, m.Metric)
		}
		r.Trials, r.Finished = ids(g), finished
		if err := recordEnsemble(dir, m, r); err != nil {
			return err
		}
	}
	return nil
}

// finishedAt returns for each trial of g when it finished — its
// status.json time and its best checkpoint's modification time, which a
// member trained again changes — and whether all of them are done.
func finishedAt(dir string, g []*Trial) ([]string, bool) {
	out := make([]string, len(g))
	ready := len(g) > 1
	for i, t := range g {
		run := filepath.Join(dir, t.Dir)
		st, ok := readStatus(run)
		out[i] = st.Time
		if fi, err := os.Stat(filepath.Join(run, bestCheckpoint)); err == nil {
			out[i] += " " + fi.ModTime().UTC().Format(time.RFC3339Nano)
		}
		ready = ready && ok && st.State == "done"
	}
	return out, ready
}

// evaluateEnsemble runs "runner -mode eval -json -run FIRST -ensemble ..."
// on the group's run folders from workdir ("" for this process's folder),
// its stderr appended to ensembles.log.
func evaluateEnsemble(ctx context.Context, dir, workdir, runner string, g []*Trial) (EnsembleResult, error) {
	r := EnsembleResult{}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return r, err
	}
	args := []string{"-mode", "eval", "-json", "-run", filepath.Join(abs, g[0].Dir)}
	for _, t := range g[1:] {
		args = append(args, "-ensemble", filepath.Join(abs, t.Dir))
	}
	var stdout bytes.Buffer
	logPath := filepath.Join(dir, ensemblesLog)
	var before int64 // the log's size: this evaluation's error is after it
	if fi, err := os.Stat(logPath); err == nil {
		before = fi.Size()
	}
	code, err := runChild(ctx, runner, args, workdir, nil, logPath, &stdout)
	r.Time = time.Now().UTC().Format(time.RFC3339)
	switch {
	case err != nil:
		return r, err
	case code > 128:
		return r, fmt.Errorf("killed by signal %d: %s", code-128, lastErrorAfter(logPath, before))
	case code != 0:
		return r, fmt.Errorf("exit status %d: %s", code, lastErrorAfter(logPath, before))
	}
	var res struct {
		Metrics map[string]*float64 `json:"metrics"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res.Metrics) == 0 {
		out := strings.TrimSpace(stdout.String())
		if len(out) > 200 {
			out = out[:200] + "…"
		}
		return r, fmt.Errorf("the evaluation printed no metrics (%q)", out)
	}
	r.Metrics = map[string]float64{}
	for k, v := range res.Metrics {
		if v != nil { // null: not finite
			r.Metrics[k] = *v
		}
	}
	return r, nil
}

// recordEnsemble adds r to dir's ensembles.json, read again just before
// so that results another process (a -mode report beside the sweep)
// recorded meanwhile are kept, and writes it in trial order.
func recordEnsemble(dir string, m *Manifest, r EnsembleResult) error {
	results, err := readEnsembles(dir)
	if err != nil {
		return err
	}
	results[ensembleKey(r.Trials)] = r
	var list []EnsembleResult
	for _, g := range seedGroups(m.Trials) {
		if r, ok := results[ensembleKey(ids(g))]; ok {
			list = append(list, r)
		}
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ensemblesFile), append(b, '\n'), 0o644)
}
