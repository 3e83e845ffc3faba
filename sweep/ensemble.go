package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/seqtask/seqtask/internal/atomicfile"
)

// Ensembles of seeds (the spec's ensemble: true). Models trained from
// different seeds make different mistakes, so the mean of their next-token
// probabilities (runner -ensemble) scores better than each of them: on
// tiny-shakespeare two char LMs trained for seven minutes each, together,
// beat one trained for fifteen. Once every seed of a configuration is done,
// the sweep evaluates them together — a runner child "-mode eval -json
// -run FIRST -ensemble SECOND ...", on each member's best checkpoint — and
// keeps the result in the sweep folder's ensembles.json, which every later
// report reads instead of evaluating again.

// Files of a sweep folder with ensembles.
const (
	ensemblesFile = "ensembles.json"
	ensemblesLog  = "ensembles.log" // the evaluations' progress and errors, appended
)

// EnsembleResult is one configuration's seeds evaluated as one model.
type EnsembleResult struct {
	Trials  []string           `json:"trials"` // the members' trial IDs, in trial order
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Error   string             `json:"error,omitempty"` // why the evaluation failed
	Time    string             `json:"time"`            // when it ended (RFC 3339, UTC)
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

// seedGroups returns the trials of m that differ only in their seed, one
// group per configuration, in trial order.
func seedGroups(m *Manifest) [][]*Trial {
	index := map[string]int{}
	var groups [][]*Trial
	for _, t := range m.Trials {
		id := configuration(t.Overrides)
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

// configuration is the identity of a trial's configuration: its varied
// values but the seed's.
func configuration(overrides []Override) string {
	var values []string
	for _, o := range overrides {
		if o.Key != "seed" {
			values = append(values, o.Value)
		}
	}
	return strings.Join(values, "\x00")
}

// ScoreEnsembles evaluates, for a sweep folder whose manifest asks for
// ensembles, every configuration whose seeds are all done and which has no
// result yet, with the runner binary runner, and records the results in
// ensembles.json. A failed evaluation is recorded with its reason (and
// tried again by the next call); only a failure to record is an error.
func ScoreEnsembles(ctx context.Context, dir, runner string, stderr io.Writer) error {
	m, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // Report says what is missing
	}
	if err != nil || !m.Ensemble {
		return err
	}
	results, err := readEnsembles(dir)
	if err != nil {
		return err
	}
	out := &statusLine{w: stderr}
	for _, g := range seedGroups(m) {
		if ctx.Err() != nil {
			return nil
		}
		ids := make([]string, len(g))
		ready := len(g) > 1
		for i, t := range g {
			ids[i] = t.ID
			ready = ready && done(filepath.Join(dir, t.Dir))
		}
		if prev, ok := results[ensembleKey(ids)]; !ready || (ok && prev.Error == "") {
			continue
		}
		out.note("sweep %s: evaluating trials %s as one ensemble (%s)", dir, strings.Join(ids, ", "), describeConfiguration(g[0]))
		r := evaluateEnsemble(ctx, dir, runner, g)
		r.Trials = ids
		if r.Error != "" {
			out.note("sweep %s: the ensemble of trials %s failed: %s", dir, strings.Join(ids, ", "), r.Error)
		} else if v, ok := r.Metrics[m.Metric]; ok {
			out.note("sweep %s: the ensemble of trials %s: %s %.4f", dir, strings.Join(ids, ", "), m.Metric, v)
		}
		results[ensembleKey(ids)] = r
		if err := writeEnsembles(dir, m, results); err != nil {
			return err
		}
	}
	return nil
}

// describeConfiguration describes t's overrides but its seed, or says
// there are none.
func describeConfiguration(t *Trial) string {
	var rest []Override
	for _, o := range t.Overrides {
		if o.Key != "seed" {
			rest = append(rest, o)
		}
	}
	if len(rest) == 0 {
		return "the base config's seeds"
	}
	return describe(rest)
}

// evaluateEnsemble runs "runner -mode eval -json -run FIRST -ensemble ..."
// on the group's run folders, its progress appended to ensembles.log.
func evaluateEnsemble(ctx context.Context, dir, runner string, g []*Trial) EnsembleResult {
	r := EnsembleResult{Time: time.Now().UTC().Format(time.RFC3339)}
	args := []string{"-mode", "eval", "-json", "-run", filepath.Join(dir, g[0].Dir)}
	for _, t := range g[1:] {
		args = append(args, "-ensemble", filepath.Join(dir, t.Dir))
	}
	logPath := filepath.Join(dir, ensemblesLog)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer log.Close()
	fmt.Fprintf(log, "── sweep: %s %s, %s ──\n", runner, strings.Join(args, " "), r.Time)
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, runner, args...)
	cmd.Stdout, cmd.Stderr = &stdout, log
	interruptOnCancel(cmd)
	err = cmd.Run()
	r.Time = time.Now().UTC().Format(time.RFC3339)
	if cmd.ProcessState == nil {
		r.Error = fmt.Sprintf("cannot run %s: %v", runner, err)
		return r
	}
	if code := exitCode(cmd.ProcessState); code != 0 {
		r.Error = fmt.Sprintf("exit status %d: %s", code, strings.TrimSpace(readTail(logPath, 300)))
		return r
	}
	var res struct {
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res.Metrics) == 0 {
		r.Error = fmt.Sprintf("the evaluation printed no metrics (%q)", strings.TrimSpace(stdout.String()))
		return r
	}
	r.Metrics = res.Metrics
	return r
}

// writeEnsembles writes the results as ensembles.json, in trial order.
func writeEnsembles(dir string, m *Manifest, results map[string]EnsembleResult) error {
	var list []EnsembleResult
	for _, g := range seedGroups(m) {
		ids := make([]string, len(g))
		for i, t := range g {
			ids[i] = t.ID
		}
		if r, ok := results[ensembleKey(ids)]; ok {
			list = append(list, r)
		}
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ensemblesFile), append(b, '\n'), 0o644)
}
