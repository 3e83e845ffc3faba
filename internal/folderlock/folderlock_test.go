package folderlock

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestTake: a held lock keeps a second taker out, naming its holder; a
// released one can be taken again and leaves no file behind; with flock, a
// lock file nobody holds is taken over and its dead owner reported.
func TestTake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, stale, err := Take(path)
	if err != nil || stale != "" {
		t.Fatalf("take a new lock: %v (stale %q)", err, stale)
	}
	_, _, err = Take(path)
	var held *HeldError
	if !errors.As(err, &held) || !strings.Contains(held.Owner, "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("take a held lock: %v, want a HeldError naming this process", err)
	}
	l.Release()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the lock file outlived Release: %v", err)
	}
	l, _, err = Take(path)
	if err != nil {
		t.Fatalf("take a released lock: %v", err)
	}
	l.Release()
	if runtime.GOOS == "windows" {
		return // without flock a left-behind file stays a held lock
	}
	if err := os.WriteFile(path, []byte("process 4194303 on elsewhere, since yesterday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, stale, err = Take(path)
	if err != nil || stale != "process 4194303 on elsewhere, since yesterday" {
		t.Fatalf("take over a dead owner's lock: %v (stale %q)", err, stale)
	}
	l.Release()
}
