// Package atomicfile writes files so that a reader, or a process that
// starts after a crash, sees either the old content or the new, never half
// of it: the data goes to a temporary file in the same folder, is synced,
// and is renamed over the target; then the folder is synced so that the
// rename itself survives a power cut.
//
// Temporary files are named "<base>.tmp-<random>"; a process killed while
// writing leaves one behind, which Clean removes at the next start.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempMarker separates a target's name from the random suffix of its
// temporary files.
const tempMarker = ".tmp-"

// Write creates or replaces path with what write produces. If write fails,
// path is left as it was and the temporary file is removed.
func Write(path string, perm os.FileMode, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+tempMarker+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(f); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// WriteFile is Write for data already in memory, like os.WriteFile.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// syncDir makes a rename in dir durable. Some file systems cannot sync a
// folder; that is not an error worth failing a write for.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	d.Sync()
	return d.Close()
}

// IsTemp reports whether name is the name of one of Write's temporary
// files: "<base>.tmp-" and the decimal digits os.CreateTemp puts for "*".
func IsTemp(name string) bool {
	i := strings.LastIndex(name, tempMarker)
	suffix := name[max(i, 0)+len(tempMarker):]
	return i > 0 && suffix != "" && strings.Trim(suffix, "0123456789") == ""
}

// Clean removes the temporary files that writes into dir interrupted by a
// crash left behind, and returns their names. Only call it while no other
// process can be writing into dir (a run folder's owner holds its lock).
func Clean(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}
