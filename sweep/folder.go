package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/internal/atomicfile"
)

// Files of a sweep folder and of its trials' run folders.
const (
	manifestFile = "manifest.json"
	specCopy     = "sweep.yaml" // the spec as it was when the sweep was laid out
	statusFile   = "status.json"
	logFile      = "train.log" // a trial's runner output, appended to by every attempt
)

// Manifest describes a sweep folder: where it came from, what ranks its
// trials, and every trial with its overrides.
type Manifest struct {
	Spec      string   `json:"spec"` // the spec file, as given
	Base      string   `json:"base"` // the base config file
	Metric    string   `json:"metric"`
	Direction string   `json:"direction"` // min or max
	Keys      []string `json:"keys"`      // the varied keys, in the report's order
	Trials    []*Trial `json:"trials"`
	// Ensemble asks for each configuration's seeds to be evaluated as one
	// ensemble too (ScoreEnsembles).
	Ensemble bool `json:"ensemble,omitempty"`
	// Workdir is the folder the sweep was run from, where the trials'
	// relative data paths lead; ScoreEnsembles evaluates there.
	Workdir string `json:"workdir,omitempty"`
}

// higher reports whether the manifest's metric improves upward.
func (m *Manifest) higher() bool { return m.Direction == "max" }

// Status is how a trial's last attempt ended, written when its runner
// exited (by this package, or by the Slurm job script in the same form).
type Status struct {
	State string `json:"state"` // done, failed or interrupted
	Exit  int    `json:"exit"`  // the runner's exit status
	Host  string `json:"host,omitempty"`
	Job   string `json:"job,omitempty"` // Slurm's job and array index
	Time  string `json:"time"`          // when the runner exited (RFC 3339, UTC)
}

// DefaultDir is the sweep folder of a spec when none is given:
// sweeps/<spec file name without extension>.
func DefaultDir(spec string) string {
	return filepath.Join("sweeps", strings.TrimSuffix(filepath.Base(spec), filepath.Ext(spec)))
}

// layout prepares the sweep folder dir for the trials: a folder that holds
// a sweep of other trials is refused; the manifest and the spec's copy are
// (re)written; every trial's run folder gets its resolved config.yaml
// unless it already holds a run, which is kept as it is.
func layout(dir string, l *Loaded, m *Manifest) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return &config.Error{File: l.Path, Msg: fmt.Sprintf("sweep folder %s is a file, not a folder", dir)}
	}
	old, err := readManifest(dir)
	switch {
	case err == nil:
		if why := differs(old, m); why != "" {
			return &config.Error{File: l.Path, Msg: fmt.Sprintf("%s holds a sweep made from a different spec (%s, copied in %s): %s; nothing was changed.\n"+
				"  keep it, sweep anew beside it: add -sweep-dir %s\n"+
				"  continue it: run it with the spec it was made from",
				dir, old.Spec, filepath.Join(dir, specCopy), why, freeName(dir))}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	default:
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return &config.Error{File: l.Path, Msg: fmt.Sprintf("%s is not empty and holds no sweep (no %s): give another -sweep-dir", dir, manifestFile)}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sweep folder: %w", err)
	}
	src, err := os.ReadFile(l.Path)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, specCopy), src, 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, manifestFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	for _, t := range m.Trials {
		run := filepath.Join(dir, t.Dir)
		if err := os.MkdirAll(run, 0o755); err != nil {
			return fmt.Errorf("sweep folder: %w", err)
		}
		if _, err := os.Stat(filepath.Join(run, "config.yaml")); err == nil {
			continue // a run is there: its own config.yaml, as training wrote it
		}
		if err := atomicfile.WriteFile(filepath.Join(run, "config.yaml"), t.resolved, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// differs says how the manifest of a sweep folder and that of a spec
// disagree about the trials, "" if they do not.
func differs(old, m *Manifest) string {
	if len(old.Trials) != len(m.Trials) {
		return fmt.Sprintf("it has %d trials, this spec %d", len(old.Trials), len(m.Trials))
	}
	for i, t := range m.Trials {
		o := old.Trials[i]
		switch {
		case o.ID != t.ID || describe(o.Overrides) != describe(t.Overrides):
			return fmt.Sprintf("its trial %s is %s, this spec's trial %s is %s", o.ID, describe(o.Overrides), t.ID, describe(t.Overrides))
		case o.Config != t.Config:
			return fmt.Sprintf("trial %s (%s) has another resolved config: the base config or set: changed", t.ID, describe(t.Overrides))
		}
	}
	return ""
}

// freeName returns dir-2, dir-3, ...: the first that does not exist.
func freeName(dir string) string {
	for i := 2; ; i++ {
		c := fmt.Sprintf("%s-%d", filepath.Clean(dir), i)
		if _, err := os.Stat(c); errors.Is(err, fs.ErrNotExist) {
			return c
		}
	}
}

// readManifest reads dir's manifest.json.
func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, manifestFile), err)
	}
	if len(m.Trials) == 0 {
		return nil, fmt.Errorf("%s: lists no trials", filepath.Join(dir, manifestFile))
	}
	return &m, nil
}

// readStatus returns the status of the trial run folder run; ok is false
// when no attempt has ended there.
func readStatus(run string) (st Status, ok bool) {
	b, err := os.ReadFile(filepath.Join(run, statusFile))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return Status{}, false
	}
	return st, true
}

// writeStatus records how an attempt at the trial in run ended.
func writeStatus(run string, st Status) error {
	st.Host, _ = os.Hostname()
	st.Time = time.Now().UTC().Format(time.RFC3339)
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(run, statusFile), append(b, '\n'), 0o644)
}

// done reports whether the trial in run has finished training.
func done(run string) bool {
	st, ok := readStatus(run)
	return ok && st.State == "done"
}

// failure returns the runner's last error line in the trial's log, the
// reason a failed trial gives.
func failure(run string) string { return lastErrorAfter(filepath.Join(run, logFile), 0) }

// lastErrorAfter returns the last "runner: " error line of the runner
// output in the file at path from byte offset on (else its last line
// there): the error of the last run whose output began at offset.
func lastErrorAfter(path string, offset int64) string {
	tail := readTail(path, 16<<10, offset)
	lines := strings.Split(strings.TrimRight(tail, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if msg, ok := strings.CutPrefix(lines[i], "runner: "); ok {
			return msg
		}
	}
	if len(lines) > 0 {
		return lines[len(lines)-1]
	}
	return ""
}

// readTail returns up to the last n bytes of the file at path from byte
// from on, starting at a line boundary; "" if it cannot be read.
func readTail(path string, n, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-n, from, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return ""
	}
	s := string(b)
	if off > 0 {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}
