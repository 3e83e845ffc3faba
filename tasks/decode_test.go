package tasks

import (
	"testing"

	"github.com/seqtask/seqtask/decoding"
)

// TestSearchBatchSize: greedy and sampling searches hold a training batch
// of items; beam searches as many as fit in maxSearchRows hypotheses.
func TestSearchBatchSize(t *testing.T) {
	for _, tc := range []struct {
		strategy    string
		beam, batch int
		want        int
	}{
		{decoding.StrategyGreedy, 5, 64, 64},
		{decoding.StrategySample, 5, 64, 64},
		{decoding.StrategyBeam, 5, 64, 64},
		{decoding.StrategyMBR, 5, 32, 32},
		{decoding.StrategyBeam, 10, 128, maxSearchRows / 10},
		{decoding.StrategyBeam, 1000, 8, 1},
	} {
		if got := (DecodeOptions{Strategy: tc.strategy, Beam: tc.beam}).batchSize(tc.batch); got != tc.want {
			t.Errorf("%s beam %d batch %d: %d items per search, want %d", tc.strategy, tc.beam, tc.batch, got, tc.want)
		}
	}
}
