//go:build unix

package sweep

import (
	"os"
	"os/exec"
	"syscall"
)

// interruptOnCancel makes cmd's context stop it as a scheduler would: one
// SIGTERM, after which the runner saves a checkpoint and exits 143. The
// child has its own process group, so that a Ctrl-C at the terminal
// reaches only the sweep, which passes it on once: a second signal would
// make the runner abort without saving.
func interruptOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
}

// exitCode is a finished process's exit status as a shell reports it:
// 128 plus the signal's number for a process a signal killed.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
