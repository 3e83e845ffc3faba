package pipeline

import (
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/tasks"
)

// shareTask is a model with one parameter whose training step sets the
// gradient to a draw from its random stream times its batch, and counts
// batch·(1+draw index) tokens: workers with different shares and streams.
type shareTask struct {
	batch int
	w     *nn.Param[float64]
}

func (s *shareTask) Params() nn.Params[float64]  { return nn.Params[float64]{s.w} }
func (s *shareTask) Buffers() nn.Params[float64] { return nil }
func (s *shareTask) Describe() []string          { return nil }
func (s *shareTask) Evaluate() (tasks.Metrics, error) {
	return tasks.Metrics{"loss": 0}, nil
}
func (s *shareTask) Sample(*rand.Rand) (string, error)                { return "", nil }
func (s *shareTask) Predict(tasks.Input, io.Writer, *rand.Rand) error { return nil }
func (s *shareTask) Meta() map[string]string                          { return nil }

func (s *shareTask) TrainStep(_ int, rng *rand.Rand) (float64, int, error) {
	for j := range s.w.Grad {
		s.w.Grad[j] += rng.Float64() * float64(s.batch*(j+1))
	}
	return float64(s.batch), 3 * s.batch, nil
}

func (s *shareTask) TrainReplica(batch int) (tasks.Task[float64], error) {
	r := &shareTask{batch: batch, w: nn.NewParam[float64]("w", 2)}
	return r, r.Params().ShareValues(s.Params())
}

// TestDataParallelStep: each worker trains on its share of the batch
// (5 = 3 + 2, 2 + 2 + 1) with its own random stream, and the task's
// gradient is the sum of the workers' weighted by their tokens; the
// same seed gives the same step.
func TestDataParallelStep(t *testing.T) {
	for _, workers := range []int{2, 3} {
		cfg := config.DefaultFor("charlm")
		cfg.Train.Batch, cfg.Train.Workers = 5, workers
		task := &shareTask{batch: 5, w: nn.NewParam[float64]("w", 2)}
		step, err := newTrainStepper[float64](task, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		sum, n, err := step(0, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		if sum != 5 || n != 15 {
			t.Errorf("%d workers: loss sum %v over %d tokens, want 5 over 15", workers, sum, n)
		}
		// The same step again, worker by worker.
		shares := map[int][]int{2: {3, 2}, 3: {2, 2, 1}}[workers]
		rng := rand.New(rand.NewPCG(1, 2))
		seeds := make([]uint64, workers)
		for w := range seeds {
			seeds[w] = rng.Uint64()
		}
		want := make([]float64, 2)
		for w, share := range shares {
			r := &shareTask{batch: share, w: nn.NewParam[float64]("w", 2)}
			_, tokens, _ := r.TrainStep(0, rand.New(rand.NewPCG(seeds[w], uint64(w))))
			for j, g := range r.w.Grad {
				want[j] += float64(tokens) / 15 * g
			}
		}
		for j, g := range task.w.Grad {
			if d := g - want[j]; d > 1e-12 || d < -1e-12 {
				t.Errorf("%d workers: gradient %v, want %v", workers, task.w.Grad, want)
				break
			}
		}
		again := &shareTask{batch: 5, w: nn.NewParam[float64]("w", 2)}
		step, _ = newTrainStepper[float64](again, &cfg)
		step(0, rand.New(rand.NewPCG(1, 2)))
		if again.w.Grad[0] != task.w.Grad[0] || again.w.Grad[1] != task.w.Grad[1] {
			t.Errorf("%d workers: same seed, gradients %v then %v", workers, task.w.Grad, again.w.Grad)
		}
	}
}

// TestDataParallelRefused: a task that cannot split its batches says so
// under the config key.
func TestDataParallelRefused(t *testing.T) {
	o := runOpts(t, t.TempDir(), "train", "train.workers=2")
	o.Config = "testdata/captioning.yaml"
	err := Run(t.Context(), o)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "train.workers" || !strings.Contains(err.Error(), "captioning") {
		t.Errorf("error %v, want a train.workers config error naming the task", err)
	}
}

// TestWorkersResolvedAndRecorded: train.workers 0 trains on one worker per
// core, says so, and records the number in the run's config, so that a
// resume on a machine with other cores keeps the batches it drew.
func TestWorkersResolvedAndRecorded(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	dir := t.TempDir()
	var log strings.Builder
	o := runOpts(t, dir, "train", "train.workers=0", "train.steps=10")
	o.Stderr = &log
	if err := Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "training on 2 cores, each on 2 of a batch's 4 examples (train.workers)") {
		t.Errorf("the run does not say how many workers it trains on:\n%s", log.String())
	}
	// More workers than cores take turns, and the run says so.
	runtime.GOMAXPROCS(1)
	log.Reset()
	o = runOpts(t, t.TempDir(), "train", "train.workers=2", "train.steps=2")
	o.Stderr = &log
	if err := Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "training 2 workers on 1 core(s), taking turns, each on 2 of a batch's 4 examples") {
		t.Errorf("the run does not say its workers share one core:\n%s", log.String())
	}
	runtime.GOMAXPROCS(2)
	recorded := func() int {
		t.Helper()
		cfg, err := config.Load(filepath.Join(dir, "config.yaml"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Train.Workers
	}
	if got := recorded(); got != 2 {
		t.Errorf("config.yaml records train.workers %d, want 2", got)
	}
	runtime.GOMAXPROCS(1)
	resume := Options{Resume: dir, Mode: "train", Sets: []string{"train.steps=15"}, Stdout: io.Discard, Stderr: io.Discard}
	if err := Run(t.Context(), resume); err != nil {
		t.Fatal(err)
	}
	if got := recorded(); got != 2 {
		t.Errorf("resumed on one core, config.yaml records train.workers %d, want the run's 2", got)
	}
}
