package tasks

import (
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/fastblas"
)

// TestEstimateCountsWorkers: train.workers adds the copies' gradients,
// one weights' worth per copy, and nothing for one worker; bf16 training
// adds each copy's rounded W and Wᵀ.
func TestEstimateCountsWorkers(t *testing.T) {
	cfg := config.DefaultFor("charlm")
	one, err := Estimate(&cfg, Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	var weights int64
	for _, p := range one {
		if p.Key == "train.workers" {
			t.Fatalf("one worker: part %+v", p)
		}
		if strings.HasSuffix(p.What, paramsSuffix) {
			weights += p.Bytes / trainedCopies
		}
	}
	cfg.Train.Workers = 3
	three, err := Estimate(&cfg, Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Total(three)-Total(one), 3*weights; weights == 0 || got != want {
		t.Errorf("three workers add %d bytes, want %d (3 × %d of weights)", got, want, weights)
	}
	// bf16 training: each copy's weights rounded twice, at two bytes (eight
	// without bfloat16 instructions: float32 and packed).
	cfg.Train.Precision = "bf16"
	rounded, err := Estimate(&cfg, Sizes{})
	if err != nil {
		t.Fatal(err)
	}
	want := 3 * weights // 3 copies × W and Wᵀ at half the bytes of float32 weights
	if !fastblas.BF16Available() {
		want = 12 * weights
	}
	if got := Total(rounded) - Total(three); got != want {
		t.Errorf("bf16 with three workers adds %d bytes, want %d (%d bytes of float32 weights)", got, want, weights)
	}
}

// TestEstimateCountsSelfCriticalSamples: self-critical training runs the
// decoder over every sampled caption of a batch, so the estimate grows
// with train.self_critical.samples, and not at all while it is off.
func TestEstimateCountsSelfCriticalSamples(t *testing.T) {
	cfg := config.DefaultFor("captioning")
	cfg.Encoder = &config.Encoder{Kind: "cnn", Channels: []int{8, 16}, Kernel: 3, Out: 32, Freeze: true}
	cfg.Decoder.Attention = "general"
	total := func(start, samples int) int64 {
		cfg.Train.SelfCritical = config.SelfCritical{Start: start, Samples: samples}
		parts, err := Estimate(&cfg, Sizes{Vocab: 2000})
		if err != nil {
			t.Fatal(err)
		}
		return Total(parts)
	}
	off, offMany, five, ten := total(0, 5), total(0, 10), total(100, 5), total(100, 10)
	if off != offMany || !(off < five && five < ten) {
		t.Errorf("estimates: off %d (%d with samples 10), 5 samples %d, 10 samples %d; want off equal and growing with samples", off, offMany, five, ten)
	}
}
