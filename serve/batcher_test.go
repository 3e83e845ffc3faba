package serve

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a BatchFunc that squares its inputs and records each batch.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	keys    []string
	gate    chan struct{} // when set, each batch waits for a value from it
}

func (r *recorder) run(key string, ins []int) ([]int, error) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.batches = append(r.batches, append([]int(nil), ins...))
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	out := make([]int, len(ins))
	for i, x := range ins {
		out[i] = x * x
	}
	return out, nil
}

// TestBatcherGathersConcurrentRequests: concurrent requests share batches
// of at most MaxBatch items of one key, and each gets its own outputs.
func TestBatcherGathersConcurrentRequests(t *testing.T) {
	r := &recorder{}
	var sizes []int
	var mu sync.Mutex
	b := NewBatcher(BatchOptions{MaxBatch: 8, MaxWait: 50 * time.Millisecond, Queue: 1000, Observe: func(n int) {
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
	}}, r.run)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []string{"greedy", "beam"}[i%2]
			out, err := b.Submit(context.Background(), key, []int{i, i + 1000})
			if err != nil || len(out) != 2 || out[0] != i*i || out[1] != (i+1000)*(i+1000) {
				t.Errorf("request %d: %v, %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	b.Close()
	largest := 0
	for i, batch := range r.batches {
		if len(batch) > 8 {
			t.Errorf("batch of %d > MaxBatch", len(batch))
		}
		for _, x := range batch {
			if want := []string{"greedy", "beam"}[x%1000%2]; r.keys[i] != want {
				t.Errorf("item %d of key %s ran in a %s batch", x, want, r.keys[i])
			}
		}
		largest = max(largest, len(batch))
	}
	if largest < 4 || len(sizes) != len(r.batches) {
		t.Errorf("batches %v (observed %v): concurrent requests were not gathered", r.batches, sizes)
	}
}

// waitBatcher waits until b's workers run busy batches and queued items
// wait, or fails the test after 5 s.
func waitBatcher[K comparable, In, Out any](t *testing.T, b *Batcher[K, In, Out], busy, queued int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		ok := b.busy == busy && len(b.queue) == queued
		b.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s, not %d batches running and %d items queued", busy, queued)
		}
	}
}

// TestBatcherQueueFull: a full queue refuses at once with ErrQueueFull.
func TestBatcherQueueFull(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	b := NewBatcher(BatchOptions{MaxBatch: 1, Queue: 2}, r.run)
	done := make(chan error, 3)
	submit := func(i int) {
		go func() { _, err := b.Submit(context.Background(), "k", []int{i}); done <- err }()
	}
	// One runs (blocked at the gate), then two wait: the queue is full.
	// (Submitted at once, the third could arrive before the worker takes
	// the first, and be the one refused.)
	submit(0)
	waitBatcher(t, b, 1, 0)
	submit(1)
	submit(2)
	waitBatcher(t, b, 1, 2)
	if _, err := b.Submit(context.Background(), "k", []int{9}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("submit to a full queue: %v, want ErrQueueFull", err)
	}
	for range 3 {
		r.gate <- struct{}{}
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	b.Close()
	if _, err := b.Submit(context.Background(), "k", []int{1}); err == nil {
		t.Error("submit after Close accepted")
	}
}

// TestBatcherDropsCancelledItems: an item whose request is cancelled before
// its batch starts never reaches the model.
func TestBatcherDropsCancelledItems(t *testing.T) {
	r := &recorder{gate: make(chan struct{})}
	b := NewBatcher(BatchOptions{MaxBatch: 1, Queue: 10}, r.run)
	first := make(chan error, 1)
	go func() { _, err := b.Submit(context.Background(), "k", []int{1}); first <- err }()
	waitBatcher(t, b, 1, 0) // the first item runs, blocked at the gate
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { _, err := b.Submit(ctx, "k", []int{2}); second <- err }()
	waitBatcher(t, b, 1, 1)
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: %v", err)
	}
	r.gate <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	b.Close()
	for _, batch := range r.batches {
		for _, x := range batch {
			if x == 2 {
				t.Error("the cancelled item reached the model")
			}
		}
	}
}

// TestBatcherWorkersRunAtOnce: with a worker per model copy, batches run on
// every copy at once, no copy is ever used by two batches at a time, every
// request gets its own outputs, and Close stops all the workers.
func TestBatcherWorkersRunAtOnce(t *testing.T) {
	const workers, requests = 3, 12
	started := make(chan int, requests)
	release := make(chan struct{})
	var busy [workers]atomic.Int32
	runs := make([]BatchFunc[string, int, int], workers)
	for w := range runs {
		runs[w] = func(_ string, ins []int) ([]int, error) {
			if busy[w].Add(1) != 1 {
				t.Errorf("model copy %d ran two batches at once", w)
			}
			defer busy[w].Add(-1)
			started <- w
			<-release
			out := make([]int, len(ins))
			for i, x := range ins {
				out[i] = -x
			}
			return out, nil
		}
	}
	b := NewBatcher(BatchOptions{MaxBatch: 2, Queue: 100}, runs...)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := b.Submit(context.Background(), "k", []int{i}); err != nil || len(out) != 1 || out[0] != -i {
				t.Errorf("request %d: %v, %v", i, out, err)
			}
		}()
	}
	seen := map[int]bool{}
	for range workers {
		select {
		case w := <-started:
			seen[w] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only copies %v started a batch while all were free", seen)
		}
	}
	if len(seen) != workers {
		t.Errorf("batches started on copies %v, want all %d at once", seen, workers)
	}
	close(release)
	wg.Wait()
	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop every worker")
	}
}

// TestBatcherGathersWhileAnotherWorkerIsBusy: with one worker busy, the
// free one gathers items arriving one by one into one batch (Gather), but
// starts at once without it, and a lone item with every worker free is
// not held back by Gather.
func TestBatcherGathersWhileAnotherWorkerIsBusy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		gather time.Duration
	}{{"gather", time.Minute}, {"no gather", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			var mu sync.Mutex
			var sizes []int
			run := func(key string, ins []int) ([]int, error) {
				if key == "block" {
					close(started)
					<-release
				} else {
					mu.Lock()
					sizes = append(sizes, len(ins))
					mu.Unlock()
				}
				return ins, nil
			}
			const items = 5
			b := NewBatcher(BatchOptions{MaxBatch: items, Gather: tc.gather, GatherGap: time.Minute, Queue: 100}, run, run)
			unblock := sync.OnceFunc(func() { close(release) })
			t.Cleanup(func() { unblock(); b.Close() }) // a failure must not leave a worker blocked
			blocked := make(chan error, 1)
			go func() {
				_, err := b.Submit(context.Background(), "block", []int{0})
				blocked <- err
			}()
			<-started
			var wg sync.WaitGroup
			for i := range items {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if out, err := b.Submit(context.Background(), "x", []int{i}); err != nil || out[0] != i {
						t.Errorf("item %d: %v, %v", i, out, err)
					}
				}()
				time.Sleep(5 * time.Millisecond)
			}
			wg.Wait()
			mu.Lock()
			first := 0
			if len(sizes) > 0 {
				first = sizes[0]
			}
			mu.Unlock()
			if tc.gather > 0 && first != items {
				t.Errorf("first batch while busy: %d items (batches %v), want all %d gathered", first, sizes, items)
			}
			if tc.gather == 0 && first == items {
				t.Errorf("first batch without gathering holds all %d items, arrived 5 ms apart", items)
			}
			unblock()
			if err := <-blocked; err != nil {
				t.Fatal(err)
			}
			// Every worker free: a lone item starts at once, Gather or not.
			start := time.Now()
			if _, err := b.Submit(context.Background(), "x", []int{7}); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("a lone item with free workers took %v", d)
			}
		})
	}
}

// TestBatchCostLearnsWhetherGatheringPays: batches whose run time hardly
// grows with their size (decoding steps that read the weights once for all
// rows) make gathering pay; batches that cost in proportion to their size
// do not; until sizes differ, the batcher gathers to find out.
func TestBatchCostLearnsWhetherGatheringPays(t *testing.T) {
	ms := func(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }
	for _, tc := range []struct {
		name string
		cost func(size int) time.Duration
		want bool
	}{
		{"mostly fixed", func(n int) time.Duration { return ms(3 + 1.5*float64(n)) }, true},
		{"proportional", func(n int) time.Duration { return ms(0.2 + 2.7*float64(n)) }, false},
		{"one size only", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c batchCost
			if !c.gathering() {
				t.Fatal("no batches yet, and not gathering")
			}
			for i := range 200 {
				if tc.cost == nil {
					c.add(4, ms(10+float64(i%3)))
					continue
				}
				size := 1 + i*7%32
				// ±10% noise, as run times have
				c.add(size, tc.cost(size)*time.Duration(90+i*13%21)/100)
			}
			if got := c.gathering(); got != tc.want {
				t.Errorf("gathering %v, want %v (%+v)", got, tc.want, c)
			}
		})
	}
	// The fit follows a model whose costs change: old batches fade.
	var c batchCost
	for i := range 200 {
		size := 1 + i%16
		c.add(size, ms(0.1+3*float64(size)))
	}
	for i := range 300 {
		size := 1 + i%16
		c.add(size, ms(20+0.5*float64(size)))
	}
	if !c.gathering() {
		t.Error("still not gathering after 300 batches of mostly fixed cost")
	}
}
