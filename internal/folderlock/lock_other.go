//go:build !unix

package folderlock

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// Lock is a held lock file. Without flock(2) the file's mere existence is
// the lock, so a lock left by a process that died must be removed by
// hand; the HeldError's owner says so.
type Lock struct{ path string }

// Take takes the lock at path, or returns a *HeldError naming the process
// that holds it. It never finds a stale lock: without flock it cannot
// tell one from a held one.
func Take(path string) (*Lock, string, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		b, _ := os.ReadFile(path)
		return nil, "", &HeldError{Path: path, Owner: strings.TrimSpace(string(b)) + " (if that process is gone, delete " + path + ")"}
	}
	if err != nil {
		return nil, "", err
	}
	_, werr := f.WriteString(owner())
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(path)
		return nil, "", err
	}
	return &Lock{path: path}, "", nil
}

// Release removes the lock file. A nil Lock releases nothing.
func (l *Lock) Release() {
	if l != nil {
		os.Remove(l.path)
	}
}
