//go:build unix

package folderlock

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Lock is a held lock file, locked with flock(2): the kernel releases it
// when its process dies, however it dies, so a lock file whose flock can
// be taken is stale by definition (no guessing from process ids, which
// the system reuses).
type Lock struct {
	f    *os.File
	path string
}

// Take takes the lock at path, or returns a *HeldError naming the process
// that holds it. stale names the dead owner of a lock file left behind,
// if there was one.
func Take(path string) (l *Lock, stale string, err error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, "", err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			held := readOwner(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, "", &HeldError{Path: path, Owner: held}
			}
			return nil, "", err
		}
		// The owner before us may have removed the file between our open
		// and our flock: then we hold a lock on a name nobody sees. Retry.
		if !sameFile(f, path) {
			f.Close()
			continue
		}
		stale = readOwner(f)
		if err := writeOwner(f); err != nil {
			f.Close()
			return nil, "", err
		}
		return &Lock{f: f, path: path}, stale, nil
	}
	return nil, "", fmt.Errorf("the lock file %s keeps changing; is another process starting?", path)
}

func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// readOwner returns the owner a lock file names, "" for an empty file.
func readOwner(f *os.File) string {
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	return strings.TrimSpace(string(b[:n]))
}

func writeOwner(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(owner()), 0)
	return err
}

// Release removes the lock file, then lets go of the lock. A nil Lock
// releases nothing.
func (l *Lock) Release() {
	if l == nil {
		return
	}
	os.Remove(l.path)
	l.f.Close()
}
