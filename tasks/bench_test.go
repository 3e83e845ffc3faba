package tasks

import (
	"math/rand/v2"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/nn"
)

// benchCharLM builds the char-LM of the speed issue's reference table:
// vocabulary 65, embedding 64, hidden 256, one layer, batch 32, seq 64.
func benchCharLM(b *testing.B, cell string) *CharLM[float32] {
	b.Helper()
	text, err := datasets.ReadText("../data/charlm/tinyshakespeare.txt")
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Task = "charlm"
	cfg.Data.SeqLen = 64
	cfg.Decoder = config.Decoder{Cell: cell, Hidden: 256, Layers: 1, Embed: 64, Init: "default"}
	cfg.Train.Batch = 32
	m, err := NewCharLMFromText[float32](&cfg, datasets.CharVocab(text), text[:200000], text[200000:210000], rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkCharLMTrainStep measures one Adam training step (forward,
// backward, clipping, update) in tokens per second.
func BenchmarkCharLMTrainStep(b *testing.B) {
	fastblas.Install()
	for _, cell := range []string{"rnn", "lstm", "gru"} {
		b.Run(cell, func(b *testing.B) {
			m := benchCharLM(b, cell)
			params := m.Params()
			opt, _ := nn.NewOptimizer(nn.OptimizerConfig{Kind: "adam"}, params)
			rng := rand.New(rand.NewPCG(2, 2))
			tokens := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				params.ZeroGrad()
				_, n, err := m.TrainStep(i, rng)
				if err != nil {
					b.Fatal(err)
				}
				params.ClipGradNorm(5)
				opt.Step(params, 0.002)
				tokens += n
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkCharLMSample measures greedy-free sampling at batch 1, one step
// per character, in characters per second.
func BenchmarkCharLMSample(b *testing.B) {
	fastblas.Install()
	for _, cell := range []string{"lstm", "gru"} {
		b.Run(cell, func(b *testing.B) {
			m := benchCharLM(b, cell)
			rng := rand.New(rand.NewPCG(3, 3))
			const length = 200
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := m.Generate("\n", length, 1, rng, func(string) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*length)/b.Elapsed().Seconds(), "chars/s")
		})
	}
}
