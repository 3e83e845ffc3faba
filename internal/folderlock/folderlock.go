// Package folderlock is a lock file that one process at a time holds: a
// run folder's while it trains, a sweep folder's while it scores
// ensembles. The file's text names its owner ("process 1234 on host,
// since …") for the messages of those it keeps out.
package folderlock

import (
	"fmt"
	"os"
	"time"
)

// HeldError reports that another process holds the lock at Path.
type HeldError struct {
	Path  string
	Owner string // as the lock file names it
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is held by %s", e.Path, e.Owner)
}

// owner is what a lock file says of its holder.
func owner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("process %d on %s, since %s\n", os.Getpid(), host, time.Now().Format(time.RFC3339))
}
