package nn

import (
	"runtime"
	"sync"
)

// parallelRange splits [0, n) into one contiguous chunk per CPU and runs fn
// on each concurrently, when there are at least two items and the total work
// (n*perItem element operations) is worth a goroutine; else it runs fn(0, n)
// on the caller's goroutine. Chunks must touch disjoint memory.
func parallelRange(n, perItem int, fn func(lo, hi int)) {
	const minWork = 1 << 15
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers < 2 || n*perItem < 2*minWork {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
