//go:build !amd64 || purego

package fastblas

// On non-amd64 platforms, and with the purego build tag, only the pure-Go
// kernels are available.
func init() { selectDefault() }
