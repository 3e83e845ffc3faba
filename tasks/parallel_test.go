package tasks

import (
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/fastblas"
)

// TestParallelTrainStepEqualsWholeBatch: with a text of one window
// ("hello", seq_len 4: every draw is "hell" → "ello"), splitting a batch
// over workers must give exactly the whole batch's loss and gradient, for
// even and uneven shares and every cell, whatever the task's gradients held
// before (the step writes them over); and the copies read the task's
// weights, so training through them teaches the task.
func TestParallelTrainStepEqualsWholeBatch(t *testing.T) {
	vocab, _ := datasets.NewVocab([]string{"h", "e", "l", "o"})
	for _, cell := range []string{"rnn", "lstm", "gru"} {
		for _, split := range []struct{ batch, workers int }{{2, 2}, {3, 2}, {4, 3}} {
			build := func() *CharLM[float64] {
				cfg := charCfg(cell, 8, 4)
				cfg.Train.Batch = split.batch
				m, err := NewCharLMFromText[float64](cfg, vocab, "hello", "hello", rand.New(rand.NewPCG(1, 1)))
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			whole, parts := build(), build()
			whole.Params().ZeroGrad()
			wantSum, wantN, err := whole.TrainStep(0, rand.New(rand.NewPCG(5, 5)))
			if err != nil {
				t.Fatal(err)
			}
			step, err := ParallelTrainStep[float64](parts, split.workers, split.batch)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range parts.Params() {
				for j := range p.Grad {
					p.Grad[j] = math.NaN() // a previous step's, never zeroed
				}
			}
			sum, n, err := step(0, rand.New(rand.NewPCG(5, 5)))
			if err != nil {
				t.Fatal(err)
			}
			if n != wantN || math.Abs(sum-wantSum) > 1e-12 {
				t.Errorf("%s %+v: loss %v over %d tokens, whole batch %v over %d", cell, split, sum, n, wantSum, wantN)
			}
			for i, p := range parts.Params() {
				for j, g := range p.Grad {
					if want := whole.Params()[i].Grad[j]; math.Abs(g-want) > 1e-12*max(1, math.Abs(want)) {
						t.Fatalf("%s %+v: %s gradient [%d] %v, whole batch %v", cell, split, p.Name, j, g, want)
					}
				}
			}
		}
	}
	// Training through the copies teaches the task itself "hello".
	m, err := NewCharLMFromText[float64](charCfg("rnn", 8, 4), vocab, "hello", "hello", rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	m.cfg.Train.Batch = 2
	step, err := ParallelTrainStep[float64](m, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	parallel := &stepTask[float64]{CharLM: m, step: step}
	if loss := trainSteps(t, parallel, 300, 0.05, rand.New(rand.NewPCG(1, 1))); loss > 0.05 {
		t.Fatalf("loss after training on two workers %.4f, want < 0.05", loss)
	}
	var sample []byte
	err = m.Generate("h", 4, 0, nil, func(c string) error { sample = append(sample, c...); return nil })
	if err != nil || "h"+string(sample) != "hello" {
		t.Errorf("greedy sample from \"h\" = %q (%v), want \"hello\"", "h"+string(sample), err)
	}
	if _, err := ParallelTrainStep[float64](m, 3, 2); err == nil {
		t.Error("3 workers for a batch of 2: no error")
	}
}

// stepTask is a CharLM whose TrainStep is another step function.
type stepTask[T float32 | float64] struct {
	*CharLM[T]
	step func(int, *rand.Rand) (float64, int, error)
}

func (s *stepTask[T]) TrainStep(i int, rng *rand.Rand) (float64, int, error) { return s.step(i, rng) }

// TestParallelVideoStepEqualsWholeBatch: video clips split over workers
// give the whole batch's gradient (one training clip, so that every draw
// is the same), and a CNN with batch norm is refused.
func TestParallelVideoStepEqualsWholeBatch(t *testing.T) {
	dir := t.TempDir()
	build := func(batchnorm bool) *Video[float64] {
		cfg := videoCfg(dir, "gru")
		cfg.Train.Batch = 3
		cfg.Encoder.BatchNorm = batchnorm
		task, err := New[float64](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		v := task.(*Video[float64])
		v.train = v.train[:1]
		v.byLen = datasets.NewBuckets(frameCounts(v.train), 1)
		return v
	}
	whole, parts := build(false), build(false)
	whole.Params().ZeroGrad()
	wantSum, wantN, err := whole.TrainStep(0, rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	step, err := ParallelTrainStep[float64](parts, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	sum, n, err := step(0, rand.New(rand.NewPCG(5, 5)))
	if err != nil || n != wantN || math.Abs(sum-wantSum) > 1e-9 {
		t.Fatalf("loss %v over %d tokens (%v), whole batch %v over %d", sum, n, err, wantSum, wantN)
	}
	for i, p := range parts.Params() {
		for j, g := range p.Grad {
			if want := whole.Params()[i].Grad[j]; math.Abs(g-want) > 1e-9*max(1, math.Abs(want)) {
				t.Fatalf("%s gradient [%d] %v, whole batch %v", p.Name, j, g, want)
			}
		}
	}
	if _, err := ParallelTrainStep[float64](build(true), 2, 3); err == nil || !strings.Contains(err.Error(), "batchnorm") {
		t.Errorf("batch norm with two workers: error %v, want one naming encoder.batchnorm", err)
	}
}

// workersSeen is a char LM whose TrainStep (its replicas' too) records how
// many goroutines its products may use.
type workersSeen struct {
	*CharLM[float64]
	seen chan int
}

func (w workersSeen) TrainStep(step int, rng *rand.Rand) (float64, int, error) {
	w.seen <- fastblas.Workers()
	return w.CharLM.TrainStep(step, rng)
}

func (w workersSeen) TrainReplica(batch int) (Task[float64], error) {
	r, err := w.CharLM.TrainReplica(batch)
	if err != nil {
		return nil, err
	}
	return workersSeen{r.(*CharLM[float64]), w.seen}, nil
}

// TestParallelTrainStepShareOfCores: each worker's products may use its
// share of the cores, GOMAXPROCS ÷ workers (one on two cores with two
// workers, as many as there are with one), and the cap is lifted after
// the step.
func TestParallelTrainStepShareOfCores(t *testing.T) {
	vocab, _ := datasets.NewVocab([]string{"h", "e", "l", "o"})
	for _, c := range []struct{ cores, workers, want int }{{2, 2, 1}, {4, 2, 2}, {8, 3, 2}, {4, 1, 4}} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.cores))
			cfg := charCfg("gru", 8, 4)
			cfg.Train.Batch = 6
			m, err := NewCharLMFromText[float64](cfg, vocab, "hello", "hello", rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			task := workersSeen{m, make(chan int, c.workers)}
			step, err := ParallelTrainStep[float64](task, c.workers, cfg.Train.Batch)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := step(0, rand.New(rand.NewPCG(2, 2))); err != nil {
				t.Fatal(err)
			}
			for range c.workers {
				if got := <-task.seen; got != c.want {
					t.Errorf("%d cores, %d workers: a worker's products may use %d goroutines, want %d", c.cores, c.workers, got, c.want)
				}
			}
			if got := fastblas.Workers(); got != c.cores {
				t.Errorf("%d cores, %d workers: after the step, calls may use %d goroutines, want %d", c.cores, c.workers, got, c.cores)
			}
		}()
	}
}
