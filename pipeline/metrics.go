package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/seqtask/seqtask/internal/atomicfile"
	"github.com/seqtask/seqtask/plots"
)

// record is one line of a run's metrics.jsonl: a training window
// (split "train"), an evaluation (split "val"), or an evaluation while only
// part of the model trains (split "pretrain", see tasks.Pretrainer).
type record struct {
	Step    int                `json:"step"`
	Split   string             `json:"split"`
	Loss    float64            `json:"loss"`
	LR      float64            `json:"lr,omitempty"`
	TokS    float64            `json:"tokens_per_s,omitempty"`
	Norm    float64            `json:"grad_norm,omitempty"`
	Elapsed float64            `json:"elapsed_s"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// metricsLog appends records to metrics.jsonl, one JSON object per line,
// so that a run can be followed with tail -f and read by any tool.
type metricsLog struct {
	path string
	f    *os.File
}

// openMetricsLog opens path for appending, first dropping records after
// step keep: a resumed run repeats the steps after its checkpoint, and
// keeping both copies would make the curve lie.
func openMetricsLog(path string, keep int) (*metricsLog, []record, error) {
	var kept []record
	if b, err := os.ReadFile(path); err == nil {
		var buf bytes.Buffer
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r record
			if json.Unmarshal(sc.Bytes(), &r) != nil || r.Step > keep {
				continue
			}
			kept = append(kept, r)
			buf.Write(sc.Bytes())
			buf.WriteByte('\n')
		}
		if err := sc.Err(); err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return nil, nil, fmt.Errorf("rewrite %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return &metricsLog{path: path, f: f}, kept, nil
}

func (l *metricsLog) write(r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = l.f.Write(append(b, '\n'))
	return err
}

func (l *metricsLog) Close() error { return l.f.Close() }

// plotHistory draws the loss curves of a run's records into loss.png in
// dir and, when runs are selected by another metric (BLEU, accuracy), that
// metric's validation curve into <metric>.png, beside the task's baseline
// for it if it reports one (baseline_<metric>).
func plotHistory(dir, title, metric string, records []record) error {
	var train, val, score []plots.Point
	baseline := math.NaN()
	for _, r := range records {
		p := plots.Point{Step: float64(r.Step), Value: r.Loss}
		switch r.Split {
		case "train":
			train = append(train, p)
			continue
		case "pretrain":
			continue
		}
		val = append(val, p)
		if v, ok := r.Metrics[metric]; ok {
			score = append(score, plots.Point{Step: float64(r.Step), Value: v})
		}
		if v, ok := r.Metrics["baseline_"+metric]; ok {
			baseline = v
		}
	}
	if err := plots.LossCurve(filepath.Join(dir, "loss.png"), title, train, val); err != nil {
		return err
	}
	if metric == "loss" {
		return nil
	}
	return plots.MetricCurve(filepath.Join(dir, metric+".png"), title, metric, score, baseline)
}
