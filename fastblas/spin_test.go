package fastblas

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
)

// TestSpinHelper routes small products through the spinning helper and
// checks that they give the bits of the same products on one core — with
// the helper polling, with it asleep between jobs (woken, or its half taken
// back by the caller), and with several goroutines contending for it — and
// that SetMaxThreads(1) keeps calls off it.
func TestSpinHelper(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	rnd := rand.New(rand.NewPCG(31, 32))
	type shape struct{ m, n, k int }
	shapes := []shape{{1, 1024, 256}, {1, 77, 40}, {3, 300, 64}, {16, 256, 128}}
	type operands struct{ a, b []float32 }
	ops := make([]operands, len(shapes))
	for i, s := range shapes {
		ops[i] = operands{randMat[float32](rnd, s.m*s.k), randMat[float32](rnd, s.n*s.k)}
	}
	product := func(i int) []float32 {
		s := shapes[i]
		c := make([]float32, s.m*s.n)
		Implementation{}.Sgemm(blas.NoTrans, blas.Trans, s.m, s.n, s.k, 1, ops[i].a, s.k, ops[i].b, s.k, 0, c, s.n)
		return c
	}
	oldMin, oldIdle := spinMinWork, spinIdle.Load()
	defer func() { spinMinWork = oldMin; spinIdle.Store(oldIdle) }()
	spinMinWork = math.MaxInt
	want := make([][]float32, len(shapes))
	for i := range shapes {
		want[i] = product(i)
	}
	same := func(t *testing.T, i int, got []float32) {
		t.Helper()
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[i][j]) {
				t.Errorf("%+v: element %d is %v, on one core %v", shapes[i], j, got[j], want[i][j])
				return
			}
		}
	}
	spinMinWork = 1
	for _, idle := range []time.Duration{time.Second, 0} { // polling; asleep after every job
		spinIdle.Store(int64(idle))
		for helper.busy.Load() { // still to acknowledge a half taken back (its core was busy)
			runtime.Gosched()
		}
		before := helper.seq.Load()
		for range 50 {
			for i := range shapes {
				same(t, i, product(i))
			}
		}
		if helper.seq.Load() == before {
			t.Fatalf("spinIdle %v: no product went through the helper", idle)
		}
	}
	spinIdle.Store(oldIdle)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 100 {
				i := (g + r) % len(shapes)
				same(t, i, product(i))
			}
		}()
	}
	wg.Wait()
	old := SetMaxThreads(1)
	before := helper.seq.Load()
	for i := range shapes {
		same(t, i, product(i))
	}
	SetMaxThreads(old)
	if helper.seq.Load() != before {
		t.Error("SetMaxThreads(1): a product went through the helper")
	}
}

// TestSpinClaim checks that a job's second half goes to exactly one of the
// helper and its caller, and that a caller who claims late — after the
// helper ran its half and another caller posted the next job — does not
// take the next job's half: that caller would then wait for the helper,
// which would skip the half, and return with half its product unwritten.
func TestSpinClaim(t *testing.T) {
	var h spinHelper
	for _, step := range []struct {
		who  string
		job  uint64
		want bool
	}{
		{"the helper, job 1", 1, true},
		{"job 1's caller, after the helper", 1, false},
		{"job 1's caller again, once job 2 is posted", 1, false},
		{"job 2's caller", 2, true},
		{"the helper, job 2", 2, false},
		{"the helper, job 3", 3, true},
	} {
		if got := h.claim(step.job); got != step.want {
			t.Errorf("%s: claim(%d) = %v, want %v", step.who, step.job, got, step.want)
		}
	}
}

// TestParallel checks that Parallel runs each of its calls once, f(0) on
// the caller; that on two cores the second goes to the helper; and that
// under SetMaxThreads(1) Workers is 1 and a polling helper goes to sleep
// at once rather than after spinIdle, giving its core to the goroutines of
// the caller that set the cap.
func TestParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	oldIdle := spinIdle.Load()
	defer spinIdle.Store(oldIdle)
	spinIdle.Store(int64(time.Minute)) // polls for the whole test unless the cap parks it
	for _, workers := range []int{1, 2, 3} {
		for helper.busy.Load() { // still to acknowledge an earlier job
			runtime.Gosched()
		}
		before := helper.seq.Load()
		calls := make([]int, workers)
		Parallel(workers, func(w int) { calls[w]++ })
		for w, n := range calls {
			if n != 1 {
				t.Errorf("Parallel(%d): f(%d) ran %d times", workers, w, n)
			}
		}
		if through := helper.seq.Load() != before; through != (workers == 2) {
			t.Errorf("Parallel(%d): through the helper %v, want %v", workers, through, workers == 2)
		}
	}
	if got := Workers(); got != 2 {
		t.Errorf("Workers() = %d on two cores", got)
	}
	// Capped below the cores, callers share them: two-way splits go to
	// goroutines, not to the one helper.
	func() {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
		defer SetMaxThreads(SetMaxThreads(2))
		before := helper.seq.Load()
		calls := make([]int, 2)
		Parallel(2, func(w int) { calls[w]++ })
		if calls[0] != 1 || calls[1] != 1 || helper.seq.Load() != before {
			t.Errorf("4 cores capped at 2: calls %v, through the helper %v", calls, helper.seq.Load() != before)
		}
	}()
	old := SetMaxThreads(1)
	defer SetMaxThreads(old)
	if got := Workers(); got != 1 {
		t.Errorf("Workers() = %d under SetMaxThreads(1)", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !helper.parked.Load() {
		if time.Now().After(deadline) {
			t.Fatal("SetMaxThreads(1): the helper still polls after 10 s (spinIdle is a minute)")
		}
		time.Sleep(time.Millisecond)
	}
}

// onTwoCores runs the rest of the test with GOMAXPROCS 2, and restores it
// and spinMinWork (the smallest product the helper halves, which the test
// may move) when the test ends.
func onTwoCores(t *testing.T) {
	t.Helper()
	procs, minWork := runtime.GOMAXPROCS(2), spinMinWork
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		spinMinWork = minWork
	})
}
