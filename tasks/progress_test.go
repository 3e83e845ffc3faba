package tasks

import (
	"runtime"
	"testing"
)

// progressEvaluator is a task whose evaluation reports its progress.
type progressEvaluator interface {
	ProgressReporter
	Evaluate() (Metrics, error)
}

// TestEvaluationReportsProgress requires every decoding evaluation to
// report from none of its work to all of it, never going back, with the
// total it decodes (photos; translation: source tokens, on several cores
// at once, whose groups finish concurrently).
func TestEvaluationReportsProgress(t *testing.T) {
	// Translation decodes its groups on GOMAXPROCS cores: at least two, so
	// that their reports come concurrently even on a one-core machine.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	for _, tc := range []struct {
		name  string
		build func() (progressEvaluator, int) // the task and its units of work
	}{
		{"translation", func() (progressEvaluator, int) {
			m := newTranslation[float32](t, translationCfg("gru", "general"))
			tokens := 0
			for _, it := range m.devRefs {
				tokens += len(it.src)
			}
			return m, tokens
		}},
		{"captioning", func() (progressEvaluator, int) {
			cfg := captioningCfg("gru", "general")
			cfg.Eval.BLEUSentences = 7
			m, _ := newCaptioning[float32](t, cfg)
			return m, 7
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task, want := tc.build()
			var calls [][2]int
			task.SetProgress(func(done, total int) { calls = append(calls, [2]int{done, total}) })
			if _, err := task.Evaluate(); err != nil {
				t.Fatal(err)
			}
			if len(calls) < 2 || calls[0] != [2]int{0, want} || calls[len(calls)-1] != [2]int{want, want} {
				t.Fatalf("progress reports %v, want 0/%d first and %d/%d last", calls, want, want, want)
			}
			for i := 1; i < len(calls); i++ {
				if calls[i][0] < calls[i-1][0] || calls[i][1] != want {
					t.Fatalf("report %d: %v after %v", i, calls[i], calls[i-1])
				}
			}
			task.SetProgress(nil) // reports nothing, and does not fail
			if _, err := task.Evaluate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
