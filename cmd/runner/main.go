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
	"strings"

	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/pipeline"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // something failed while running
	exitUsage   = 2 // bad flags or config
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `runner trains and runs recurrent sequence models from a YAML config.

Usage:
  runner -config FILE [-mode train] [-set key=value ...] [-run DIR]
  runner -resume DIR [-set key=value ...]
  runner -config FILE -mode eval|predict|summary|export [flags]

Modes:
  train    train the model; writes the run folder (default runs/<config name>):
           config.yaml, metrics.jsonl, loss.png, samples.txt,
           best.safetensors and last.safetensors (checkpoints)
  eval     score the best checkpoint on the validation data (translation: or on -input PAIRS)
  predict  charlm: sample text from the best checkpoint (-prime, -length, -temperature)
           translation: translate lines from stdin or -input, one per line (-attention DIR)
           video: label every frame of -input CLIP_FOLDER_OR_GIF
  summary  print the model's layers and parameter counts; no training
  export   write the best checkpoint's weights (PyTorch names) to -out FILE.safetensors

Every config key is documented in configs/reference.yaml; -set overrides any
of them, e.g. -set train.optimizer.lr=0.001 -set decoder.cell=gru.
Ctrl-C during training saves a checkpoint; -resume DIR continues from it.

Exit status: 0 success, 1 failure while running, 2 usage or config error.

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
	fs.StringVar(&opts.RunDir, "run", "", "run `folder` (default runs/<config name>)")
	fs.StringVar(&opts.Resume, "resume", "", "continue the interrupted run in `folder`")
	fs.StringVar(&opts.Output, "out", "", "export: safetensors `file` to write")
	fs.StringVar(&input, "input", "", "predict: read from `path` instead of stdin (translation: a file of sentences; video: a clip folder or GIF); eval (translation): a file of sentence pairs to score")
	fs.StringVar(&opts.AttentionDir, "attention", "", "predict (translation): draw each sentence's attention map as a PNG into `folder`")
	fs.StringVar(&prime, "prime", "", "predict (charlm): `text` to start from (default eval.sample.prime)")
	fs.IntVar(&length, "length", 0, "predict (charlm): characters to generate (default eval.sample.length)")
	fs.Float64Var(&temperature, "temperature", 0, "predict (charlm): sampling temperature, 0 < t (default eval.sample.temperature)")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := pipeline.Run(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "runner: %v\n", err)
		if pipeline.IsUsage(err) {
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
}
