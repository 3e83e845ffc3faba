//go:build !linux && !purego

package fastblas

// amxPermitted is false off Linux: how other systems grant the tiles is
// not implemented, so their products stay on AVX-512.
func amxPermitted() bool { return false }
