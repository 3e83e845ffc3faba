package pipeline

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/tasks"
)

// trainStepper runs one training step: forward and backward over a batch,
// setting the task's parameters' gradients to those of the mean loss per
// target token; it returns the summed loss and the number of target tokens.
type trainStepper func(step int, rng *rand.Rand) (float64, int, error)

// newTrainStepper returns the task's own TrainStep for train.workers 1
// (after zeroing the gradients it adds to), else a data-parallel step over
// that many copies of the task (which writes the gradients over).
func newTrainStepper[T nn.Float](task tasks.Task[T], cfg *config.Config) (trainStepper, error) {
	if cfg.Train.Workers <= 1 {
		params := task.Params()
		return func(step int, rng *rand.Rand) (float64, int, error) {
			params.ZeroGrad()
			return task.TrainStep(step, rng)
		}, nil
	}
	step, err := tasks.ParallelTrainStep(task, cfg.Train.Workers, cfg.Train.Batch)
	if errors.Is(err, tasks.ErrNotParallel) {
		return nil, &config.Error{Key: "train.workers", Msg: fmt.Sprintf("%d: the %s task trains on one worker (set 1)", cfg.Train.Workers, cfg.Task)}
	}
	if err != nil {
		return nil, fmt.Errorf("train.workers: %w", err)
	}
	return step, nil
}
