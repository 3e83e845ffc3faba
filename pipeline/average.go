package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/seqtask/seqtask/internal/atomicfile"
	"github.com/seqtask/seqtask/nn"
)

// Checkpoint averaging (train.average: N): at each evaluation the weights
// are kept as a snapshot in the run folder's snapshots/, the last N of
// them; when training ends they are averaged — the cheap standard
// substitute for an ensemble — and the average is evaluated, written to
// averaged.safetensors, and becomes best.safetensors if it scores better
// than the best single checkpoint.

const (
	snapshotDir     = "snapshots"
	averagedFile    = "averaged.safetensors"
	snapshotPattern = "step-%09d.safetensors"
)

// snapshot writes the weights of step into dir's snapshots and removes
// all but the last keep of them.
func snapshot[T nn.Float](dir string, step, keep int, weights nn.Params[T]) error {
	sd := filepath.Join(dir, snapshotDir)
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return err
	}
	if _, err := atomicfile.Clean(sd); err != nil {
		return err
	}
	if err := exportWeights(filepath.Join(sd, fmt.Sprintf(snapshotPattern, step)), weights); err != nil {
		return err
	}
	steps, err := snapshotSteps(dir)
	if err != nil {
		return err
	}
	for _, s := range steps[:max(len(steps)-keep, 0)] {
		if err := os.Remove(filepath.Join(sd, fmt.Sprintf(snapshotPattern, s))); err != nil {
			return err
		}
	}
	return nil
}

// snapshotSteps lists the steps of dir's snapshots, oldest first.
func snapshotSteps(dir string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(dir, snapshotDir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		num, ok := strings.CutPrefix(strings.TrimSuffix(e.Name(), ".safetensors"), "step-")
		if n, err := strconv.Atoi(num); ok && err == nil && strings.HasSuffix(e.Name(), ".safetensors") {
			steps = append(steps, n)
		}
	}
	slices.Sort(steps)
	return steps, nil
}

// dropSnapshotsAfter removes snapshots of steps after step: a resumed run
// repeats them.
func dropSnapshotsAfter(dir string, step int) error {
	steps, err := snapshotSteps(dir)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if s > step {
			if err := os.Remove(filepath.Join(dir, snapshotDir, fmt.Sprintf(snapshotPattern, s))); err != nil {
				return err
			}
		}
	}
	return nil
}

// averageSnapshots sets weights to the mean of dir's snapshots (sums in
// float64) and returns the steps averaged.
func averageSnapshots[T nn.Float](dir string, weights nn.Params[T]) ([]int, error) {
	steps, err := snapshotSteps(dir)
	if err != nil || len(steps) == 0 {
		return nil, err
	}
	sums := make([][]float64, len(weights))
	for i, p := range weights {
		sums[i] = make([]float64, p.Size())
	}
	for _, s := range steps {
		if err := importWeights(filepath.Join(dir, snapshotDir, fmt.Sprintf(snapshotPattern, s)), weights); err != nil {
			return nil, err
		}
		for i, p := range weights {
			for j, v := range p.Value {
				sums[i][j] += float64(v)
			}
		}
	}
	for i, p := range weights {
		for j := range p.Value {
			p.Value[j] = T(sums[i][j] / float64(len(steps)))
		}
	}
	return steps, nil
}
