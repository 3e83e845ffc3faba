//go:build !amd64 || purego

package fastblas

func dot[T float](a, x []T, simd bool) T { return dotGo(a, x) }

func axpy[T float](alpha T, x, y []T, simd bool) { axpyGo(alpha, x, y) }
