//go:build !unix

package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// folderLock is a run folder's lock file. Without flock(2) the file's mere
// existence is the lock, so a lock left by a process that died must be
// removed by hand; the message says so.
type folderLock struct{ path string }

func lockFolder(dir string) (*folderLock, string, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		b, _ := os.ReadFile(path)
		owner := strings.TrimSpace(string(b)) + " (if that process is gone, delete " + path + ")"
		return nil, "", &RunFolderInUseError{Dir: dir, Owner: owner}
	}
	if err != nil {
		return nil, "", fmt.Errorf("run folder %s: lock: %w", dir, err)
	}
	host, _ := os.Hostname()
	fmt.Fprintf(f, "process %d on %s, since %s\n", os.Getpid(), host, time.Now().Format(time.RFC3339))
	if err := f.Close(); err != nil {
		return nil, "", fmt.Errorf("run folder %s: lock: %w", dir, err)
	}
	return &folderLock{path: path}, "", nil
}

func (l *folderLock) release() {
	if l != nil {
		os.Remove(l.path)
	}
}
