package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/internal/atomicfile"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/tasks"
)

// ErrNonFinite reports a NaN or infinite loss, gradient or validation
// metric, which stops training rather than letting it write garbage
// weights.
var ErrNonFinite = errors.New("training diverged")

// train runs the optimisation loop for task, writing the run folder.
func train[T nn.Float](ctx context.Context, opts Options, cfg *config.Config, runDir string, task tasks.Task[T]) error {
	out := newProgress(opts.Stderr)
	defer out.clear() // an error is printed on a line of its own
	reportEvaluations(task, out)
	trainStep, err := newTrainStepper(task, cfg)
	if err != nil {
		return err
	}
	lock, err := prepareRunFolder(runDir, opts.Resume != "", opts.Overwrite, out.note)
	if err != nil {
		return err
	}
	defer lock.Release()
	params := task.Params()
	weights := weightsOf(task)
	if _, err := params.ByName(); err != nil {
		return err
	}
	opt, err := nn.NewOptimizer(cfg.Train.NNOptimizer(), params)
	if err != nil {
		return &config.Error{Key: "train.optimizer.kind", Msg: err.Error()}
	}
	sched := cfg.Train.NNSchedule()
	if err := sched.Validate(); err != nil {
		return &config.Error{Key: "train.schedule", Msg: err.Error()}
	}
	rng, pcg := newRNG(cfg.Seed, streamTrain)
	resolved, err := cfg.Marshal()
	if err != nil {
		return err
	}
	ck := checkpoint[T]{Params: params, Buffers: task.Buffers(), Config: resolved, TaskMeta: task.Meta(), Best: math.Inf(1)}
	lastPath, bestPath := filepath.Join(runDir, lastCheckpoint), filepath.Join(runDir, bestCheckpoint)
	_, statErr := os.Stat(lastPath)
	resuming := opts.Resume != "" && statErr == nil
	if opts.Resume != "" && !resuming {
		out.note("%s stopped before its first checkpoint: training it from step 0 with its config.yaml", runDir)
	}
	if resuming {
		if err := ck.load(lastPath); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if err := opt.SetState(params, ck.Optim); err != nil {
			return fmt.Errorf("resume %s: %w", lastPath, err)
		}
		if err := pcg.UnmarshalBinary(ck.RNG); err != nil {
			return fmt.Errorf("resume %s: RNG state: %w", lastPath, err)
		}
		ck.Config = resolved // -set may have changed limits such as train.steps
		out.note("resuming %s at step %d (best validation %s %.4f)", runDir, ck.Step, cfg.Eval.Select, displayScore(cfg.Eval.Select, ck.Best))
	} else if cfg.Train.InitFrom != "" {
		if err := importWeights(cfg.Train.InitFrom, weights); err != nil {
			return fmt.Errorf("train.init_from: %w", err)
		}
		out.note("initialised weights from %s", cfg.Train.InitFrom)
	}
	if w, b := cfg.Train.Workers, cfg.Train.Batch; w > 1 {
		share := fmt.Sprint(b / w)
		if b%w != 0 {
			share += fmt.Sprintf("–%d", b/w+1)
		}
		if cores := runtime.GOMAXPROCS(0); w > cores {
			out.note("training %d workers on %d core(s), taking turns, each on %s of a batch's %d examples (train.workers)", w, cores, share, b)
		} else {
			out.note("training on %d cores, each on %s of a batch's %d examples (train.workers)", w, share, b)
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(runDir, "config.yaml"), resolved, 0o644); err != nil {
		return err
	}
	mlog, history, err := openMetricsLog(filepath.Join(runDir, "metrics.jsonl"), ck.Step)
	if err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	defer mlog.Close()
	samples, err := os.OpenFile(filepath.Join(runDir, "samples.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer samples.Close()

	lastGood := "none was written yet" // for the message that stops a diverged run
	if resuming {
		lastGood = fmt.Sprintf("%s (step %d)", lastPath, ck.Step)
	}
	save := func(path string) error {
		ck.Optim = opt.State()
		b, err := pcg.MarshalBinary()
		if err != nil {
			return err
		}
		ck.RNG = b
		if err := ck.save(path); err != nil {
			return err
		}
		if path == lastPath {
			lastGood = fmt.Sprintf("%s (step %d)", lastPath, ck.Step)
		}
		return nil
	}
	diverged := func(step int, what string) error {
		return fmt.Errorf("step %d: %w (%s): training stopped; the last good checkpoint is %s; lower train.optimizer.lr or set train.clip",
			step, ErrNonFinite, what, lastGood)
	}
	if resuming {
		if err := dropSnapshotsAfter(runDir, ck.Step); err != nil {
			return err
		}
	}
	start := time.Now()
	prior := ck.Elapsed
	elapsed := func() time.Duration { return prior + time.Since(start) }
	// average replaces the weights by the mean of the kept snapshots,
	// evaluates them, keeps them as averaged.safetensors and as the best
	// checkpoint if they beat it; the last checkpoint keeps the weights
	// training reached, so a later -resume continues from those.
	average := func() error {
		steps, err := averageSnapshots(runDir, weights)
		if err != nil || len(steps) < 2 {
			return err
		}
		m, err := task.Evaluate()
		if err != nil {
			return err
		}
		r := record{Step: ck.Step, Split: "averaged", Loss: m["loss"], Elapsed: elapsed().Seconds(), Metrics: m}
		if err := mlog.write(r); err != nil {
			return err
		}
		score := displayScore(cfg.Eval.Select, m[cfg.Eval.Select])
		if err := save(filepath.Join(runDir, averagedFile)); err != nil {
			return err
		}
		verdict := "the best single checkpoint stays best"
		if score < ck.Best {
			ck.Best = score
			if err := save(bestPath); err != nil {
				return err
			}
			verdict = "it is now " + bestCheckpoint
		}
		out.note("averaged the weights of the last %d evaluations (steps %d–%d): validation %s %.4f; %s",
			len(steps), steps[0], steps[len(steps)-1], cfg.Eval.Select, m[cfg.Eval.Select], verdict)
		return nil
	}
	tc := cfg.Train
	var winLoss float64
	var winTokens, winSteps int
	var winNorm float64
	winStart := time.Now()
	pretrainSteps := 0
	if p, ok := task.(tasks.Pretrainer); ok {
		pretrainSteps = p.PretrainSteps()
	}
	evaluate := func(step int) (stop bool, err error) {
		m, err := task.Evaluate()
		if err != nil {
			return false, fmt.Errorf("evaluate at step %d: %w", step, err)
		}
		for _, k := range m.Keys() {
			if v := m[k]; math.IsNaN(v) || math.IsInf(v, 0) {
				return false, diverged(step, fmt.Sprintf("validation %s %v", k, v))
			}
		}
		pretraining := step > 0 && step <= pretrainSteps
		r := record{Step: step, Split: "val", Loss: m["loss"], Elapsed: elapsed().Seconds(), Metrics: m}
		if pretraining {
			r.Split = "pretrain"
		}
		history = append(history, r)
		if err := mlog.write(r); err != nil {
			return false, err
		}
		if pretraining {
			// Only part of the model has trained: log what it learned and
			// keep the run resumable, but select nothing by it.
			line := fmt.Sprintf("step %d: pre-training", step)
			for _, k := range m.Keys() {
				line += fmt.Sprintf(" %s %.4f", k, m[k])
			}
			out.note("%s", line)
			ck.Step, ck.Elapsed = step, elapsed()
			return false, save(lastPath)
		}
		score, ok := m[cfg.Eval.Select]
		if !ok {
			return false, &config.Error{Key: "eval.select", Msg: fmt.Sprintf("the %s task reports no metric %q (it reports %v)", cfg.Task, cfg.Eval.Select, m.Keys())}
		}
		score = displayScore(cfg.Eval.Select, score) // lower is better from here on
		improved := score < ck.Best
		line := fmt.Sprintf("step %d: validation", step)
		for _, k := range m.Keys() {
			line += fmt.Sprintf(" %s %.4f", k, m[k])
		}
		if improved {
			ck.Best, ck.BadEvals = score, 0
			line += " (best)"
		} else {
			ck.BadEvals++
		}
		out.note("%s", line)
		srng, _ := newRNG(cfg.Seed^uint64(step), streamSample)
		if s, err := task.Sample(srng); err == nil && s != "" {
			fmt.Fprintf(samples, "── step %d ──\n%s\n\n", step, s)
		}
		ck.Step, ck.Elapsed = step, elapsed()
		if tc.Average > 0 {
			if err := snapshot(runDir, step, tc.Average, weights); err != nil {
				return false, fmt.Errorf("train.average: %w", err)
			}
		}
		if improved {
			if err := save(bestPath); err != nil {
				return false, err
			}
		}
		if err := save(lastPath); err != nil {
			return false, err
		}
		if err := plotHistory(runDir, cfg.Task+" — "+runDir, cfg.Eval.Select, history); err != nil {
			out.note("warning: plots: %v", err)
		}
		if tc.Patience > 0 && ck.BadEvals >= tc.Patience {
			out.note("early stop: %d evaluations without a better validation %s", ck.BadEvals, cfg.Eval.Select)
			return true, nil
		}
		return false, nil
	}

	step := ck.Step
	lastEval := step
	stopReason := "reached train.steps"
	for step < tc.Steps {
		if tc.TimeLimit > 0 && elapsed() >= tc.TimeLimit {
			stopReason = fmt.Sprintf("reached train.time_limit %v", tc.TimeLimit)
			break
		}
		if ctx.Err() != nil {
			stopReason = "interrupted"
			break
		}
		sum, n, err := trainStep(step, rng)
		if err != nil {
			return fmt.Errorf("step %d: %w", step+1, err)
		}
		loss := sum / float64(max(n, 1))
		norm := params.ClipGradNorm(tc.Clip)
		if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
			return diverged(step+1, fmt.Sprintf("loss %v, gradient norm %v", loss, norm))
		}
		lr := sched.LR(step)
		if tc.Schedule.Over == "time" {
			lr = sched.LRAt(step, elapsed().Seconds()/tc.TimeLimit.Seconds())
		}
		if p, ok := task.(tasks.PhaseLearningRate); ok {
			if phase, ok := p.PhaseLR(step); ok {
				lr = phase
			}
		}
		opt.Step(params, lr)
		step++
		winLoss += sum
		winTokens += n
		winSteps++
		winNorm += norm
		if step%tc.LogEvery == 0 || step == tc.Steps {
			secs := max(time.Since(winStart).Seconds(), 1e-9)
			r := record{Step: step, Split: "train", Loss: winLoss / float64(max(winTokens, 1)), LR: lr,
				TokS: float64(winTokens) / secs, Norm: winNorm / float64(winSteps), Elapsed: elapsed().Seconds()}
			history = append(history, r)
			if err := mlog.write(r); err != nil {
				return err
			}
			secPerStep := secs / float64(winSteps)
			out.status(step, expectedSteps(step, tc, elapsed(), secPerStep), r.Loss, r.TokS, lr, eta(step, tc, elapsed(), secPerStep))
			winLoss, winTokens, winSteps, winNorm, winStart = 0, 0, 0, 0, time.Now()
		}
		if step%tc.EvalEvery == 0 {
			lastEval = step
			stop, err := evaluate(step)
			if err != nil {
				return err
			}
			if stop {
				stopReason = "early stopping"
				break
			}
		}
	}
	if step != lastEval || step == 0 {
		if _, err := evaluate(step); err != nil {
			return err
		}
	}
	if tc.Average > 0 && stopReason != "interrupted" {
		if err := average(); err != nil {
			return fmt.Errorf("train.average: %w", err)
		}
	}
	if err := report(task, runDir, opts.Stdout); err != nil {
		return err
	}
	out.note("stopped at step %d (%s) after %v; best validation %s %.4f; run folder %s",
		step, stopReason, elapsed().Round(time.Second), cfg.Eval.Select, displayScore(cfg.Eval.Select, ck.Best), runDir)
	if stopReason == "interrupted" {
		out.note("continue with: runner -resume %s", runDir)
	}
	return nil
}

// displayScore maps a metric to a lower-is-better score and back: metrics
// where higher is better (BLEU, accuracy) are negated, so that one
// comparison serves every task.
func displayScore(metric string, v float64) float64 {
	if tasks.HigherIsBetter(metric) {
		return -v
	}
	return v
}

// expectedSteps is the step count the progress line shows as the run's
// end: train.steps, or when train.time_limit will stop the run first at
// the recent pace, the step it will reach then, marked "~" (a run bounded
// by time, train.schedule.over: time, sets train.steps far beyond reach).
func expectedSteps(step int, tc config.Train, elapsed time.Duration, secPerStep float64) string {
	if tc.TimeLimit > 0 && secPerStep > 0 {
		byTime := step + int((tc.TimeLimit-elapsed).Seconds()/secPerStep)
		if byTime < tc.Steps {
			return fmt.Sprintf("~%d", max(byTime, step))
		}
	}
	return strconv.Itoa(tc.Steps)
}

// eta estimates the time left: the steps still to run at the recent pace,
// or the time limit's remainder if that comes first.
func eta(step int, tc config.Train, elapsed time.Duration, secPerStep float64) time.Duration {
	left := time.Duration(float64(tc.Steps-step) * secPerStep * float64(time.Second))
	if tc.TimeLimit > 0 {
		left = min(left, tc.TimeLimit-elapsed)
	}
	return left
}
