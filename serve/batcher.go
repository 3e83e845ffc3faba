package serve

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"
)

// ErrQueueFull is returned by Submit when the queue cannot take the items:
// the server answers 503 with Retry-After, telling the client to back off
// instead of letting latency grow without bound.
var ErrQueueFull = errors.New("queue full")

// errClosed is returned by Submit after Close.
var errClosed = errors.New("server shutting down")

// BatchFunc runs one batch: all ins share key; it returns one output per
// input, in order.
type BatchFunc[K comparable, In, Out any] func(key K, ins []In) ([]Out, error)

// Batcher gathers items submitted by concurrent requests into batches run
// by its workers: one goroutine per BatchFunc, each the only user of the
// model copy behind it (models keep per-call buffers and are not safe for
// concurrent use), all taking batches from one queue, so that several
// cores answer at once. A batch closes when it holds MaxBatch items or
// when its first item has waited MaxWait — or, while another worker is
// running a batch, once it has gathered (see BatchOptions.Gather); items
// with different keys (decoding options, say) never share a batch. Items
// whose request was cancelled before their batch started are dropped.
type Batcher[K comparable, In, Out any] struct {
	maxBatch int
	maxWait  time.Duration
	gather   time.Duration
	gap      time.Duration
	capacity int
	observe  func(size int) // called with the size of every batch run

	mu          sync.Mutex
	queue       []*item[K, In, Out]
	busy        int       // workers running a batch
	cost        batchCost // of the batches run so far
	lastArrival time.Time // when the last items were queued
	closed      bool
	wake        chan struct{} // signalled when items arrive or the batcher closes
	done        chan struct{} // closed when every worker has exited
}

type item[K comparable, In, Out any] struct {
	ctx      context.Context
	key      K
	in       In
	out      Out
	err      error
	enqueued time.Time
	finished chan struct{}
}

// BatchOptions sizes a Batcher.
type BatchOptions struct {
	MaxBatch int           // items per batch, at least 1
	MaxWait  time.Duration // how long the first item of a batch waits for others
	// Gather is how long the first item of a batch may wait for others
	// while another worker is running a batch: the batch starts once it is
	// full, once no item has arrived for GatherGap (0: DefaultGatherGap),
	// or after Gather. When every worker is free a batch starts at once
	// (after MaxWait), so a lone request is not delayed; when the others
	// are busy the load is high, and for a model whose batch costs little
	// more than a single item (a decoding step reads the weights once for
	// all of its rows) a batch gathered from the requests still streaming
	// in is nearly free, while a worker that started every lone arrival
	// would keep running batches of one. A model whose batches cost in
	// proportion to their size gains nothing from waiting, so the batcher
	// gathers only while the batches it has run say that it pays (see
	// batchCost).
	Gather, GatherGap time.Duration
	Queue             int // items waiting at most; more are refused with ErrQueueFull
	Observe           func(size int)
}

// DefaultGatherGap ends a gathering batch (BatchOptions.Gather) when no
// item has arrived for this long: the requests in flight have come in.
// Chosen for closed-loop clients on one machine, whose next requests
// follow a batch's answers within a few hundred microseconds.
const DefaultGatherGap = 500 * time.Microsecond

// NewBatcher starts a batcher with a worker for each of runs (at least
// one); Close stops them.
func NewBatcher[K comparable, In, Out any](opt BatchOptions, runs ...BatchFunc[K, In, Out]) *Batcher[K, In, Out] {
	b := &Batcher[K, In, Out]{maxBatch: max(opt.MaxBatch, 1), maxWait: opt.MaxWait, gather: opt.Gather,
		gap: cmp.Or(opt.GatherGap, DefaultGatherGap), capacity: max(opt.Queue, 1), observe: opt.Observe,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	var workers sync.WaitGroup
	for _, run := range runs {
		workers.Add(1)
		go func() {
			defer workers.Done()
			b.work(run)
		}()
	}
	go func() {
		workers.Wait()
		close(b.done)
	}()
	return b
}

// Depth is the number of items waiting.
func (b *Batcher[K, In, Out]) Depth() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Submit queues ins under key and waits for their outputs. It returns
// ErrQueueFull at once if the queue cannot take all of them, and ctx's
// error if ctx ends first (the items not yet started are then dropped).
func (b *Batcher[K, In, Out]) Submit(ctx context.Context, key K, ins []In) ([]Out, error) {
	items := make([]*item[K, In, Out], len(ins))
	now := time.Now()
	for i, in := range ins {
		items[i] = &item[K, In, Out]{ctx: ctx, key: key, in: in, enqueued: now, finished: make(chan struct{})}
	}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return nil, errClosed
	case len(b.queue)+len(items) > b.capacity:
		b.mu.Unlock()
		return nil, ErrQueueFull
	}
	b.queue = append(b.queue, items...)
	b.lastArrival = now
	b.mu.Unlock()
	b.signal()
	outs := make([]Out, len(items))
	for i, it := range items {
		select {
		case <-it.finished:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if it.err != nil {
			return nil, it.err
		}
		outs[i] = it.out
	}
	return outs, nil
}

func (b *Batcher[K, In, Out]) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Close stops taking items, lets the queued ones finish and waits for the
// workers to exit.
func (b *Batcher[K, In, Out]) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.signal()
	<-b.done
}

func (b *Batcher[K, In, Out]) work(run BatchFunc[K, In, Out]) {
	for {
		batch, ok := b.next()
		if !ok {
			return
		}
		ins := make([]In, len(batch))
		for i, it := range batch {
			ins[i] = it.in
		}
		if b.observe != nil {
			b.observe(len(batch))
		}
		start := time.Now()
		outs, err := run(batch[0].key, ins)
		b.mu.Lock()
		b.busy--
		b.cost.add(len(batch), time.Since(start))
		b.mu.Unlock()
		if err == nil && len(outs) != len(ins) {
			err = errors.New("model returned a wrong number of outputs")
		}
		for i, it := range batch {
			if err != nil {
				it.err = err
			} else {
				it.out = outs[i]
			}
			close(it.finished)
		}
	}
}

// next waits for the next batch: the oldest item's key, up to maxBatch
// items of it, once the batch is full or the oldest has waited maxWait (or
// has gathered, while another worker is busy); the caller then counts as
// busy until it has run the batch.
// It reports false once the batcher is closed and empty. One wake-up
// reaches one waiting worker, so a worker that leaves items behind (or
// leaves a closed batcher) passes it on to the next.
func (b *Batcher[K, In, Out]) next() ([]*item[K, In, Out], bool) {
	for {
		b.mu.Lock()
		b.dropCancelled()
		if len(b.queue) == 0 {
			closed := b.closed
			b.mu.Unlock()
			if closed {
				b.signal()
				return nil, false
			}
			<-b.wake
			continue
		}
		first := b.queue[0]
		n := 0
		for _, it := range b.queue {
			if it.key == first.key {
				n++
			}
		}
		waited := time.Since(first.enqueued)
		wait := b.maxWait - waited
		if b.busy > 0 && b.cost.gathering() {
			wait = max(wait, min(b.gather-waited, b.gap-time.Since(b.lastArrival)))
		}
		if n >= b.maxBatch || wait <= 0 || b.closed {
			batch := b.take(first.key)
			b.busy++
			left := len(b.queue)
			b.mu.Unlock()
			if left > 0 {
				b.signal()
			}
			return batch, true
		}
		b.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-b.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// dropCancelled finishes, with their context's error, the queued items
// whose request has gone. b.mu must be held.
func (b *Batcher[K, In, Out]) dropCancelled() {
	kept := b.queue[:0]
	for _, it := range b.queue {
		if err := it.ctx.Err(); err != nil {
			it.err = err
			close(it.finished)
			continue
		}
		kept = append(kept, it)
	}
	clear(b.queue[len(kept):])
	b.queue = kept
}

// take removes and returns up to maxBatch items of key, oldest first.
// b.mu must be held.
func (b *Batcher[K, In, Out]) take(key K) []*item[K, In, Out] {
	var batch []*item[K, In, Out]
	kept := b.queue[:0]
	for _, it := range b.queue {
		if it.key == key && len(batch) < b.maxBatch {
			batch = append(batch, it)
			continue
		}
		kept = append(kept, it)
	}
	clear(b.queue[len(kept):])
	b.queue = kept
	return batch
}

// batchCost fits a batch's run time as fixed + perItem·size by least
// squares over the batches run, the older ones weighing less (each new
// batch multiplies the weight of the earlier ones by costDecay), so that
// the batcher learns whether gathering pays for its model.
type batchCost struct {
	w, n, nn, t, nt float64 // decayed sums of 1, size, size², seconds, size·seconds
}

const costDecay = 0.98 // about the last 50 batches count

func (c *batchCost) add(size int, d time.Duration) {
	n, t := float64(size), d.Seconds()
	c.w = c.w*costDecay + 1
	c.n = c.n*costDecay + n
	c.nn = c.nn*costDecay + n*n
	c.t = c.t*costDecay + t
	c.nt = c.nt*costDecay + n*t
}

// gathering reports whether waiting for a fuller batch pays: whether the
// fixed part of a batch's cost exceeds the cost of one more item (a batch
// of two then costs less than 1.5 batches of one). Until batches of
// different sizes have run (sizes spread by at most one item) it
// reports true, so that the batches a model's cost is learnt from occur.
func (c *batchCost) gathering() bool {
	spread := c.w*c.nn - c.n*c.n // w² × the variance of the sizes
	if spread <= c.w*c.w {
		return true
	}
	perItem := (c.w*c.nt - c.n*c.t) / spread
	fixed := (c.t - perItem*c.n) / c.w
	return fixed > perItem
}
