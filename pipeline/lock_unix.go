//go:build unix

package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// folderLock is a run folder's lock file, held with flock(2): the kernel
// releases it when its process dies, however it dies, so a lock file whose
// flock can be taken is stale by definition (no guessing from process ids,
// which the system reuses). The file's text names the owner for messages.
type folderLock struct {
	f    *os.File
	path string
}

// lockFolder takes dir's lock. stale names the dead owner of a lock file
// left behind, if there was one.
func lockFolder(dir string) (l *folderLock, stale string, err error) {
	path := filepath.Join(dir, lockFile)
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, "", fmt.Errorf("run folder %s: lock: %w", dir, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			owner := readOwner(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, "", &RunFolderInUseError{Dir: dir, Owner: owner}
			}
			return nil, "", fmt.Errorf("run folder %s: lock: %w", dir, err)
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
			return nil, "", fmt.Errorf("run folder %s: lock: %w", dir, err)
		}
		return &folderLock{f: f, path: path}, stale, nil
	}
	return nil, "", fmt.Errorf("run folder %s: lock: the lock file keeps changing; is another process starting in it?", dir)
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
	host, _ := os.Hostname()
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(fmt.Sprintf("process %d on %s, since %s\n", os.Getpid(), host, time.Now().Format(time.RFC3339))), 0)
	return err
}

// release removes the lock file, then lets go of the lock.
func (l *folderLock) release() {
	if l == nil {
		return
	}
	os.Remove(l.path)
	l.f.Close()
}
