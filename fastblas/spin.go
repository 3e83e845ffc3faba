package fastblas

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinMinWork is the smallest product (multiply-adds) the small-m paths
// halve with the spinning helper: about a microsecond of work, against a
// hand-over of a fraction of one. Below smallParallelMin a goroutine woken
// for the other half costs more than it saves (waking a sleeping core
// takes microseconds); a helper that is already running and polling does
// not. Batch-1 sampling multiplies a 1 MiB W_hh at every character, which
// from one core's L2 is ~5 µs; halved, each core's half stays in its own
// L2. A variable so that tests can route every product through the helper.
var spinMinWork = 1 << 17

// spinIdle is how long the helper polls for work after its last job before
// it sleeps: long enough to span the gaps between a training step's
// products (a recurrent cell's update, attention, a loss), short enough
// that an idle process soon gives its core back. Waking a sleeping helper
// took 100–200 µs on the AMD EPYC VM (post to run, 60 wake-ups per
// seq2seq training step at a 50 µs window, when 44 of its ~90 products
// ran whole on the caller); polling for 500 µs spans nearly every gap there
// and made that step 12% faster, the char-LM GRU step 17%.
var spinIdle atomic.Int64 // nanoseconds

func init() { spinIdle.Store(int64(500 * time.Microsecond)) }

// helper is one goroutine that runs the second half of products (and of
// Parallel's loops) on another core, handed over through shared memory
// rather than the scheduler, as OpenBLAS's threads poll for work. One caller
// uses it at a time and the others run both halves themselves. A caller that
// finishes its own half before the helper has started the other takes that
// back, so a helper that is not running (its core busy with other
// goroutines) costs a caller nothing; until the helper has acknowledged such
// a job, callers multiply alone too.
type spinHelper struct {
	busy atomic.Bool   // held by a caller from posting a job until the helper acknowledges it
	seq  atomic.Uint64 // jobs posted
	done atomic.Uint64 // jobs acknowledged
	// claimed is the last job whose second half the helper or its caller
	// has claimed (claim). It names the job, not just "the current one":
	// a caller descheduled between posting and claiming may claim only
	// after the helper has run its half, acknowledged it and a next
	// caller has posted another, and must then not take that one's half.
	claimed atomic.Uint64
	half    func(w int) // the posted job's; the helper runs half(1)
	parked  atomic.Bool
	wake    chan struct{}
	start   sync.Once
}

var helper = &spinHelper{wake: make(chan struct{}, 1)}

// canSpin reports whether a call may use the helper: there is a second core
// and no SetMaxThreads cap below the cores. A cap means several callers
// share the cores (data-parallel workers), and one helper would serve one
// of them at a time while the others ran both halves of their splits;
// with a cap of 2 or more they split over goroutines of their own.
func canSpin() bool {
	cores := runtime.GOMAXPROCS(0)
	return cores >= 2 && !capped(cores)
}

// capped reports whether a SetMaxThreads cap below cores is in effect.
func capped(cores int) bool {
	c := threadCap.Load()
	return c != 0 && c < int64(cores)
}

// splitOutcome is how the two halves of a split ran.
type splitOutcome int

const (
	bothOnCaller splitOutcome = iota // the helper was busy with another caller's job or had not started
	callerWaited                     // the caller finished its half first and waited for the helper's
	helperFirst                      // the helper had finished its half when the caller finished its own
)

// split runs half(0) on the caller and half(1) on the helper when it is
// free, else both on the caller, and returns when both have run, with how
// they ran.
func (h *spinHelper) split(half func(w int)) splitOutcome {
	if !h.busy.CompareAndSwap(false, true) {
		half(0)
		half(1)
		return bothOnCaller
	}
	h.start.Do(func() { go h.loop() })
	h.half = half
	n := h.seq.Add(1)
	if h.parked.Load() {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	// Should half(0) panic, the helper must be done with the job (or never
	// start it) before the panic unwinds the caller, whose buffers it
	// writes.
	returned := false
	defer func() {
		if !returned && !h.claim(n) {
			for h.done.Load() < n {
				runtime.Gosched()
			}
		}
	}()
	half(0)
	returned = true
	if h.claim(n) {
		// The helper has not started: run its half here; it releases busy
		// when it comes round to the job.
		half(1)
		return bothOnCaller
	}
	// done counts on past n once another caller's job follows ours.
	if h.done.Load() >= n {
		return helperFirst
	}
	for i := 0; h.done.Load() < n; i++ {
		if i%1024 == 1023 {
			runtime.Gosched()
		}
	}
	return callerWaited
}

// loop is the helper: it polls for jobs, runs the half of each it gets to
// first, acknowledges every one (releasing busy), and sleeps after spinIdle
// without work, or at once under a SetMaxThreads cap below the cores.
func (h *spinHelper) loop() {
	var seen uint64
	for {
		idle, cores := time.Now(), runtime.GOMAXPROCS(0)
		for i := 0; h.seq.Load() == seen; i++ {
			// Under a SetMaxThreads cap no call posts a job, and the core
			// is wanted by the goroutines of the callers that share them.
			if i%256 != 255 || time.Since(idle) < time.Duration(spinIdle.Load()) && !capped(cores) {
				continue
			}
			h.parked.Store(true)
			if h.seq.Load() == seen { // a job posted before parked was set is not missed
				<-h.wake
			}
			h.parked.Store(false)
			idle = time.Now()
		}
		seen = h.seq.Load()
		if h.claim(seen) {
			h.half(1)
		}
		h.half = nil
		h.done.Store(seen)
		h.busy.Store(false)
	}
}

// claim takes the second half of job n, for its caller or for the helper,
// and reports whether it got it: the first of the two to claim a job gets
// it, and a claim of a job other than the latest posted fails. Jobs are
// posted one at a time (busy), each after the previous was claimed, so
// job n is claimable exactly while claimed is n-1.
func (h *spinHelper) claim(n uint64) bool { return h.claimed.CompareAndSwap(n-1, n) }
