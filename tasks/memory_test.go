package tasks

import (
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
)

// TestEstimateCountsWorkers: train.workers adds the copies' gradients,
// one weights' worth per copy, and nothing for one worker.
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
}
