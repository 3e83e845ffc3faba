package tasks

import (
	"math/rand/v2"
	"testing"

	"github.com/seqtask/seqtask/nn"
)

// trainSteps runs plain Adam steps (gradients clipped at norm 5) on m and
// returns the last step's loss per target token: the training loop of the
// tasks' learning tests.
func trainSteps[T nn.Float](t *testing.T, m Task[T], steps int, lr float64, rng *rand.Rand) float64 {
	t.Helper()
	params := m.Params()
	opt, err := nn.NewOptimizer(nn.OptimizerConfig{Kind: "adam"}, params)
	if err != nil {
		t.Fatal(err)
	}
	var loss float64
	for i := 0; i < steps; i++ {
		params.ZeroGrad()
		sum, n, err := m.TrainStep(i, rng)
		if err != nil {
			t.Fatal(err)
		}
		loss = sum / float64(n)
		params.ClipGradNorm(5)
		opt.Step(params, lr)
	}
	return loss
}
