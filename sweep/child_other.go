//go:build !unix

package sweep

import (
	"os"
	"os/exec"
)

// interruptOnCancel keeps exec's default without POSIX signals: the
// context kills the child, which resumes from its last checkpoint.
func interruptOnCancel(*exec.Cmd) {}

// exitCode is a finished process's exit status.
func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }
