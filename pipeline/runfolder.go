package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/seqtask/seqtask/internal/atomicfile"
	"github.com/seqtask/seqtask/internal/folderlock"
)

// A run folder belongs to the run that trains in it. These rules keep a
// user's finished work from being lost:
//
//   - training into a folder that already holds a run is refused unless the
//     user says what they want: -resume to continue it, or -overwrite to
//     start over (which removes the run's own files and nothing else);
//   - a process that trains holds the folder's lock file; a second one is
//     refused, and a lock left by a process that died is noticed and taken
//     over;
//   - every file is written atomically (package atomicfile), and temporary
//     files of writes cut short by a crash are removed when the next owner
//     takes the folder.

// lockFile is the name of a run folder's lock, present while a process
// trains in the folder.
const lockFile = ".lock"

// runFiles are the files training writes into a run folder besides plots
// (*.png); -overwrite removes exactly these.
var runFiles = []string{"config.yaml", "metrics.jsonl", "samples.txt", lastCheckpoint, bestCheckpoint, averagedFile, "captions.html"}

// holdsRun reports whether dir holds (part of) a run: its config, metrics
// log or a checkpoint.
func holdsRun(dir string) bool {
	for _, name := range []string{"config.yaml", "metrics.jsonl", lastCheckpoint, bestCheckpoint} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// describeRun says in a few words what the run in dir has done, for the
// message that refuses to train over it.
func describeRun(dir string) string {
	for _, name := range []string{lastCheckpoint, bestCheckpoint} {
		meta, err := readCheckpointMeta(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		s := "trained to step " + meta[metaStep]
		if best, err := strconv.ParseFloat(meta[metaBest], 64); err == nil && !isInf(best) {
			s += fmt.Sprintf(", best validation score %.4g", best)
		}
		return s
	}
	return "not yet checkpointed"
}

func isInf(x float64) bool { return math.IsInf(x, 0) }

// freeName returns dir-2, dir-3, ... : the first that does not exist.
func freeName(dir string) string {
	for i := 2; ; i++ {
		c := fmt.Sprintf("%s-%d", dir, i)
		if _, err := os.Stat(c); errors.Is(err, fs.ErrNotExist) {
			return c
		}
	}
}

// prepareRunFolder makes dir ready for training and locks it. resume means
// the run in dir continues; overwrite means an existing run may be replaced.
// The caller must release the returned lock when training ends.
func prepareRunFolder(dir string, resume, overwrite bool, note func(string, ...any)) (*folderlock.Lock, error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, &UsageError{fmt.Sprintf("run folder %s is a file, not a folder", dir)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	lock, stale, err := folderlock.Take(filepath.Join(dir, lockFile))
	var held *folderlock.HeldError
	switch {
	case errors.As(err, &held):
		return nil, &RunFolderInUseError{Dir: dir, Owner: held.Owner}
	case err != nil:
		return nil, fmt.Errorf("run folder %s: lock: %w", dir, err)
	}
	if stale != "" {
		note("run folder %s: took over the lock of %s, which is no longer running", dir, stale)
	}
	fail := func(err error) (*folderlock.Lock, error) {
		lock.Release()
		return nil, err
	}
	removed, err := atomicfile.Clean(dir)
	if err != nil {
		return fail(fmt.Errorf("run folder %s: %w", dir, err))
	}
	if len(removed) > 0 {
		note("run folder %s: removed %d temporary file(s) left by an interrupted write: %s", dir, len(removed), strings.Join(removed, ", "))
	}
	if resume || !holdsRun(dir) {
		return lock, nil
	}
	if !overwrite {
		return fail(&UsageError{fmt.Sprintf("%s already holds a run (%s); nothing was changed.\n"+
			"  continue it:        runner -resume %s\n"+
			"  keep it, train anew: add -run %s\n"+
			"  replace it:         add -overwrite (removes its checkpoints, metrics and plots)",
			dir, describeRun(dir), dir, freeName(dir))})
	}
	n, err := removeRun(dir)
	if err != nil {
		return fail(err)
	}
	note("run folder %s: -overwrite removed the previous run's %d file(s)", dir, n)
	return lock, nil
}

// removeRun deletes the files a run wrote into dir (runFiles and *.png),
// leaving anything else, and returns how many it removed.
func removeRun(dir string) (int, error) {
	names := append([]string{}, runFiles...)
	pngs, err := filepath.Glob(filepath.Join(dir, "*.png"))
	if err != nil {
		return 0, err
	}
	for _, p := range pngs {
		names = append(names, filepath.Base(p))
	}
	if err := os.RemoveAll(filepath.Join(dir, snapshotDir)); err != nil {
		return 0, fmt.Errorf("-overwrite: %w", err)
	}
	n := 0
	for _, name := range names {
		err := os.Remove(filepath.Join(dir, name))
		switch {
		case err == nil:
			n++
		case !errors.Is(err, fs.ErrNotExist):
			return n, fmt.Errorf("-overwrite: %w", err)
		}
	}
	return n, nil
}

// RunFolderInUseError reports that another process trains in a run folder.
type RunFolderInUseError struct {
	Dir   string
	Owner string // "process 1234 on host, since ..." as the lock file says
}

func (e *RunFolderInUseError) Error() string {
	return fmt.Sprintf("run folder %s is in use by %s; wait for it to finish, or train into another folder with -run", e.Dir, e.Owner)
}

// inRunFolder reports whether path is a file of a run folder: a run file,
// a checkpoint or a plot beside a run.
func inRunFolder(path string) bool {
	dir := filepath.Dir(path)
	if !holdsRun(dir) {
		_, err := os.Stat(filepath.Join(dir, lockFile))
		return err == nil
	}
	return true
}
