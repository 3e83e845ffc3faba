package nn

import "github.com/seqtask/seqtask/fastblas"

// parallelRange splits [0, n) into one contiguous chunk per core a call
// may use (fastblas.Workers) and runs fn on each concurrently, when there
// are at least two items and the total work (n*perItem element
// operations) is worth the hand-over; else it runs fn(0, n) on the
// caller's goroutine. Chunks must touch disjoint memory.
func parallelRange(n, perItem int, fn func(lo, hi int)) {
	const minWork = 1 << 15
	workers := min(fastblas.Workers(), n)
	if workers < 2 || n*perItem < 2*minWork {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	fastblas.Parallel(workers, func(w int) {
		if lo := w * chunk; lo < n {
			fn(lo, min(lo+chunk, n))
		}
	})
}
