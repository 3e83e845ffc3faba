//go:build !purego

package fastblas

import "syscall"

// Linux hands out the tiles' 8 KiB register state only to a process that
// asks (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)), so that
// signal frames stay small for every other process.
const (
	archReqXcompPerm  = 0x1023
	xfeatureXTileData = 18
)

// amxPermitted asks Linux for the tiles; the grant holds for the whole
// process.
func amxPermitted() bool {
	_, _, errno := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXTileData, 0)
	return errno == 0
}
