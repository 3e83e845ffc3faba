// Command runner trains, evaluates and runs seqtask models from one YAML
// config per experiment:
//
//	runner -config configs/charlm.yaml                 # train
//	runner -config configs/charlm.yaml -mode predict   # sample from the best checkpoint
//
// Run "runner -help" for every flag. It only parses flags; the work is in
// package pipeline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/pipeline"
	"github.com/seqtask/seqtask/serve"
)

// Exit statuses, as shells and schedulers read them.
const (
	exitOK      = 0
	exitFailure = 1 // something failed while running
	exitUsage   = 2 // bad flags or config
	// A run stopped by a signal exits with 128 plus the signal's number
	// (130 for Ctrl-C, 143 for SIGTERM), after saving its checkpoint.
	exitSignal = 128
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `runner trains and runs recurrent sequence models from a YAML config.

Usage:
  runner -config FILE [-mode train] [-set key=value ...] [-run DIR] [-overwrite]
  runner -resume DIR [-set key=value ...]
  runner -run DIR -mode eval|predict|summary|export [flags]   (or -config FILE for runs/<name>)
  runner -mode serve -run DIR [-run DIR ...] [-addr host:port]
  runner -mode sweep -sweep SPEC.yaml [-sweep-dir DIR]
  runner -mode report -sweep DIR

Modes:
  train    train the model; writes the run folder (default runs/<config name>):
           config.yaml, metrics.jsonl, loss.png, samples.txt,
           best.safetensors and last.safetensors (checkpoints), and with
           train.average averaged.safetensors; eval, predict, export and
           serve load the best one, or the one -checkpoint names
  eval     score the best checkpoint on the validation data (translation: or on -input PAIRS);
           captioning, translation, charlm: -ensemble DIR (repeatable) decodes, scores
           and samples with those runs' models too; -json prints the figures as JSON
  predict  charlm: sample text from the best checkpoint (-prime, -length, -temperature)
           translation: translate lines from stdin or -input, one per line (-attention DIR)
           captioning: caption -input PHOTO, or the photo paths read from stdin
           video: label every frame of -input CLIP_FOLDER, GIF or video file
  summary  print the model's layers, parameter counts and the memory training
           takes; with -config it reads no data
  export   write the best checkpoint's weights (PyTorch names) to -out FILE.safetensors
  serve    serve the best checkpoint of each -run over HTTP at -addr: a JSON
           API (POST /v1/models/NAME/predict), OpenNMT-py's
           /translator/translate, Prometheus /metrics and a web page at /;
           one -run with -ensemble DIR serves that run's model decoding
           with those runs' models too
  sweep    train every trial of the sweep spec -sweep (a grid and/or random
           draws over config keys, repeated over seeds; every key is in
           configs/sweeps/reference.yaml) in the sweep folder -sweep-dir
           (default sweeps/<spec name>): one run folder per trial under
           trials/, a manifest.json, and when the trials end a report.
           Executor local: several trials at once here, the cores divided
           between them; slurm: one sbatch job array, an index per trial
           (the sweep folder must be on a file system the nodes share).
           Running it again continues: finished trials are kept,
           interrupted ones resume, missing ones start
  report   write a sweep folder's report: report.md, report.html (plots),
           best.yaml (the best trial's config); with the spec's ensemble: true,
           first evaluate the ensembles of seeds that are missing, failed or
           stale (a member trained again)

Every config key is documented in configs/reference.yaml; -set overrides any
of them, e.g. -set train.optimizer.lr=0.001 -set decoder.cell=gru.
Training into a folder that already holds a run is refused: continue it
with -resume DIR, pick another folder with -run, or replace it with
-overwrite. One process trains in a run folder at a time (its .lock file).

Ctrl-C (or SIGTERM) during training saves a checkpoint and exits 130 (143);
-resume DIR continues from it. A second Ctrl-C aborts at once. In a local
sweep every running trial does so; the same command continues the sweep.

-mode serve stops on Ctrl-C or SIGTERM once the requests in flight are
answered, and exits 0.

Exit status: 0 success, 1 failure while running, 2 usage or config error,
128+signal after an interrupted training run (or sweep, or report).

Flags:
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		opts        pipeline.Options
		sets        multiFlag
		input       string
		prime       string
		length      int
		temperature float64
	)
	fs.StringVar(&opts.Config, "config", "", "YAML config `file`")
	fs.StringVar(&opts.Mode, "mode", "train", "one of "+strings.Join(pipeline.Modes, ", "))
	fs.Var(&sets, "set", "override a config key, `key.path=value` (repeatable)")
	var runs multiFlag
	fs.Var(&runs, "run", "run `folder` (default runs/<config name>); -mode serve: repeat for each model")
	var ensemble multiFlag
	fs.Var(&ensemble, "ensemble", "eval, predict, serve (captioning, translation, charlm): decode, score and sample with the model of this run `folder` too, the next token's probabilities averaged over every model (repeatable; serve: with one -run)")
	fs.BoolVar(&opts.JSON, "json", false, "eval: print only the figures, as one JSON object: checkpoint, step, input (with -input), ensemble (the -ensemble folders) and metrics (no report)")
	fs.StringVar(&opts.Resume, "resume", "", "continue the interrupted run in `folder`")
	fs.StringVar(&opts.Sweep, "sweep", "", "-mode sweep: the sweep spec `file`; -mode report: the sweep folder (or the spec)")
	fs.StringVar(&opts.SweepDir, "sweep-dir", "", "-mode sweep: the sweep `folder` (default sweeps/<spec name>)")
	fs.BoolVar(&opts.Overwrite, "overwrite", false, "train: replace the run already in the run folder (its checkpoints, metrics and plots are removed)")
	fs.StringVar(&opts.Output, "out", "", "export: safetensors `file` to write")
	fs.StringVar(&opts.Checkpoint, "checkpoint", "", "eval, predict, export, serve: the run's `checkpoint`: best (default; last if never evaluated), last, or averaged (train.average)")
	fs.StringVar(&input, "input", "", "predict: read from `path` instead of stdin (translation: a file of sentences; captioning: an image; video: a clip folder, GIF or video file); eval (translation): a file of sentence pairs to score")
	var cpuProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to `file`, for go tool pprof (train, serve and sweep also when stopped by Ctrl-C)")
	fs.StringVar(&opts.AttentionDir, "attention", "", "predict (translation): draw each sentence's attention map as a PNG into `folder`")
	fs.StringVar(&prime, "prime", "", "predict (charlm): `text` to start from (default eval.sample.prime)")
	fs.IntVar(&length, "length", 0, "predict (charlm): characters to generate (default eval.sample.length)")
	fs.Float64Var(&temperature, "temperature", 0, "predict (charlm): sampling temperature, 0 < t (default eval.sample.temperature)")
	so := serve.DefaultOptions()
	fs.StringVar(&opts.Addr, "addr", "127.0.0.1:8080", "serve: `host:port` to listen at")
	fs.IntVar(&so.MaxBatch, "batch-size", so.MaxBatch, "serve: inputs a model runs in one batch (dynamic batching of concurrent requests)")
	fs.DurationVar(&so.MaxWait, "batch-wait", so.MaxWait, "serve: how long a batch's first input waits for others")
	fs.DurationVar(&so.Gather, "batch-gather", so.Gather, "serve: how long a batch's first input may wait for others while another copy of the model is busy (the batch starts when full or once no input has come for "+serve.DefaultGatherGap.String()+")")
	fs.IntVar(&so.Replicas, "replicas", so.Replicas, "serve: copies of each model, each running batches on its own core (default: one per core; the copies share the model's weights, each adds only its working buffers)")
	fs.IntVar(&so.Queue, "queue", so.Queue, "serve: inputs waiting per model; beyond it requests get 503 with Retry-After")
	fs.DurationVar(&so.Timeout, "timeout", so.Timeout, "serve: a request's deadline, queueing included")
	fs.Int64Var(&so.MaxBody, "max-body", so.MaxBody, "serve: largest request body, in bytes")
	fs.Int64Var(&so.UploadBytes, "upload-bytes", so.UploadBytes, "serve: bytes uploads hold at once across requests (images while decoded, at 4 bytes a pixel; clips while on disk); an upload waits for its share")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "runner: unexpected argument %q (flags come as -name value)\n", fs.Arg(0))
		return exitUsage
	}
	opts.Sets = sets
	switch {
	case opts.Mode == "serve":
		opts.Runs = runs
	case len(runs) > 1:
		fmt.Fprintf(stderr, "runner: -run given %d times; only -mode serve takes several\n", len(runs))
		return exitUsage
	case len(runs) == 1:
		opts.RunDir = runs[0]
	}
	if so.MaxBatch < 1 || so.Replicas < 1 || so.Queue < 1 || so.MaxWait < 0 || so.Gather < 0 || so.Timeout <= 0 || so.MaxBody < 1 || so.UploadBytes < 1 {
		fmt.Fprintln(stderr, "runner: -batch-size, -replicas, -queue, -timeout, -max-body and -upload-bytes must be positive, -batch-wait and -batch-gather not negative")
		return exitUsage
	}
	opts.Serve = so
	opts.Ensemble = ensemble
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "prime":
			opts.Prime = &prime
		case "length":
			opts.Length = &length
		case "temperature":
			opts.Temperature = &temperature
		}
	})
	if opts.Temperature != nil && temperature <= 0 {
		fmt.Fprintln(stderr, "runner: -temperature must be positive")
		return exitUsage
	}
	if opts.Length != nil && length < 0 {
		fmt.Fprintln(stderr, "runner: -length must not be negative")
		return exitUsage
	}
	opts.Input, opts.Stdout, opts.Stderr = stdin, stdout, stderr
	if input != "" {
		if _, err := os.Stat(input); err != nil {
			fmt.Fprintf(stderr, "runner: -input: %v\n", err)
			return exitUsage
		}
		opts.InputPath = input
	}
	fastblas.Install()
	stopProfile := func() {}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "runner: -cpuprofile: %v\n", err)
			return exitUsage
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fmt.Fprintf(stderr, "runner: -cpuprofile: %v\n", err)
			return exitUsage
		}
		// Also before the exit of a second Ctrl-C, so the profile is whole.
		stopProfile = sync.OnceFunc(func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(stderr, "runner: -cpuprofile: %v\n", err)
			}
		})
		defer stopProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopped atomic.Value // the signal that stopped training
	graceful := opts.Mode == "" || opts.Mode == "train" || opts.Mode == "serve" || opts.Mode == "sweep" || opts.Mode == "report"
	if graceful {
		// The first Ctrl-C (or SIGTERM, as a scheduler sends before it kills)
		// stops training at the next step and saves a checkpoint (in a sweep,
		// every running trial's), stops a server once its requests in
		// flight are answered, or stops a report's ensemble evaluation (a
		// child in its own process group, which the terminal's Ctrl-C does
		// not reach); a second one aborts at once. Other modes keep the
		// default: stop at once.
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		go func() {
			sig, ok := <-sigs
			if !ok {
				return
			}
			stopped.Store(sig)
			switch opts.Mode {
			case "serve":
				fmt.Fprintf(stderr, "\nrunner: %v: finishing the requests in flight, then stopping (again to abort at once)\n", sig)
			case "report":
				fmt.Fprintf(stderr, "\nrunner: %v: stopping any ensemble evaluation, then writing the report (again to abort at once)\n", sig)
			case "sweep":
				fmt.Fprintf(stderr, "\nrunner: %v: stopping the running trials (each saves a checkpoint) or the ensemble evaluation, then writing the report (again to abort at once)\n", sig)
			default:
				fmt.Fprintf(stderr, "\nrunner: %v: saving a checkpoint, then stopping (again to abort at once)\n", sig)
			}
			cancel()
			if sig, ok = <-sigs; ok {
				fmt.Fprintf(stderr, "runner: %v: aborted without saving\n", sig)
				stopProfile()
				os.Exit(exitSignal + signalNumber(sig))
			}
		}()
	}
	err := pipeline.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "runner: %v\n", err)
		if pipeline.IsUsage(err) {
			return exitUsage
		}
		return exitFailure
	}
	if sig, ok := stopped.Load().(os.Signal); ok && opts.Mode != "serve" {
		return exitSignal + signalNumber(sig)
	}
	return exitOK
}

func signalNumber(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return int(s)
	}
	return int(syscall.SIGINT)
}
