package tasks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/nn"
)

// ErrNotParallel is returned by ParallelTrainStep for a task that does not
// implement DataParallel.
var ErrNotParallel = errors.New("the task cannot split its training batches over workers")

// splitsAlways is the config.TaskSchema.SplitsBatches of a task whose
// batches split over workers with any config.
func splitsAlways(*config.Config) error { return nil }

// errBatchNormCopies is why a model with batch norm trains on one worker.
var errBatchNormCopies = errors.New("encoder.batchnorm keeps running statistics that copies of the model cannot share")

// ParallelTrainStep returns a training step that runs on workers copies of
// task at once (train.workers), each on its share of batch examples, and
// sets task's parameters' gradients to those of the whole batch's mean loss
// per target token (task.TrainStep adds them to zeroed gradients).
func ParallelTrainStep[T nn.Float](task Task[T], workers, batch int) (func(step int, rng *rand.Rand) (float64, int, error), error) {
	dp, ok := task.(DataParallel[T])
	if !ok {
		return nil, ErrNotParallel
	}
	if workers < 1 || workers > batch {
		return nil, fmt.Errorf("%d workers for a batch of %d", workers, batch)
	}
	p := &dataParallel[T]{params: task.Params(), bf16: new(nn.BF16Pass[T])}
	// The copies share the task's parameter values; checkpoints, imports
	// and the optimizer write those in place, so the copies see them.
	for w := range workers {
		// Shares as even as they come, the first workers taking the rest.
		share := batch / workers
		if w < batch%workers {
			share++
		}
		r, err := dp.TrainReplica(share)
		if err != nil {
			return nil, fmt.Errorf("copy %d of the model: %w", w+1, err)
		}
		r.Params().ShareBF16(p.bf16)
		pcg := rand.NewPCG(0, 0)
		p.workers = append(p.workers, &worker[T]{task: r, params: r.Params(), pcg: pcg, rng: rand.New(pcg)})
	}
	return p.step, nil
}

// dataParallel runs a training step on several copies of a task at once,
// each on its share of the batch with a random stream of its own, and then
// sets the task's gradients to the token-weighted sum of theirs. The sum
// runs in worker order for every element, and each worker's stream is
// seeded from the training RNG, so a run is deterministic (and resumes
// exactly) for a given number of workers.
type dataParallel[T nn.Float] struct {
	params  nn.Params[T] // the task's, which the optimizer updates
	workers []*worker[T]
	bf16    *nn.BF16Pass[T] // the workers' bfloat16 weights, rounded once per step for all
}

// worker is one copy of the model on the task's weights and what its
// share of a step gave.
type worker[T nn.Float] struct {
	task   Task[T]
	params nn.Params[T] // the copy's, for their gradients
	pcg    *rand.PCG    // reseeded every step from the training RNG
	rng    *rand.Rand
	sum    float64
	count  int
	err    error
	weight T // count over the step's total
}

func (p *dataParallel[T]) step(step int, rng *rand.Rand) (float64, int, error) {
	// Each worker keeps its share of the cores busy: its matrix products
	// and loops stay on them (on two cores, one each, and the spinning
	// helper sleeps).
	defer fastblas.SetMaxThreads(fastblas.SetMaxThreads(max(1, runtime.GOMAXPROCS(0)/len(p.workers))))
	for w, wk := range p.workers {
		wk.pcg.Seed(rng.Uint64(), uint64(w))
	}
	p.bf16.Begin(true)
	p.parallel(func(w int) {
		wk := p.workers[w]
		wk.params.ZeroGrad()
		wk.sum, wk.count, wk.err = wk.task.TrainStep(step, wk.rng)
	})
	var sum float64
	var n int
	for w, wk := range p.workers {
		if wk.err != nil {
			return 0, 0, fmt.Errorf("worker %d: %w", w+1, wk.err)
		}
		sum += wk.sum
		n += wk.count
	}
	for _, wk := range p.workers {
		wk.weight = 0
		if n > 0 {
			wk.weight = T(float64(wk.count) / float64(n))
		}
	}
	// Every parameter is cut into as many slices as there are goroutines,
	// so their work is even; each element is the workers' gradients
	// weighted and added in worker order, written over the old value.
	p.parallel(func(g int) {
		parts := len(p.workers)
		for i, param := range p.params {
			lo, hi := len(param.Grad)*g/parts, len(param.Grad)*(g+1)/parts
			dst := param.Grad[lo:hi]
			for w, wk := range p.workers {
				src, a := wk.params[i].Grad[lo:hi], wk.weight
				if w == 0 {
					for j, v := range src {
						dst[j] = a * v
					}
					continue
				}
				for j, v := range src {
					dst[j] += a * v
				}
			}
		}
	})
	return sum, n, nil
}

// parallel runs f(0..workers-1) concurrently, f(0) on the caller, each on
// a goroutine of its own: a worker's share of a step is long enough that
// waking a core for it costs nothing, and it must not take the spinning
// helper from the products of the others.
func (p *dataParallel[T]) parallel(f func(w int)) {
	var wg sync.WaitGroup
	for w := 1; w < len(p.workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w)
		}()
	}
	f(0)
	wg.Wait()
}
