package tasks

import (
	"fmt"
	"io"

	"github.com/seqtask/seqtask/datasets"
)

// eachLine reads the lines of in — the -input file, or else the stream —
// with bounded memory and calls fn with each (its 1-based number and text).
// A line longer than datasets.MaxLineBytes is reported, counted and handed
// to skip instead (a task that answers every line writes its placeholder
// there), and reading goes on. It returns how many lines were too long.
func eachLine(in Input, fn func(line int, text string) error, skip func(line int) error) (int, error) {
	r := in.Reader
	if in.Path != "" {
		f, err := datasets.OpenFile(in.Path)
		if err != nil {
			return 0, &InputError{Field: "input", Err: err}
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return 0, inputErrorf("input", "nothing to read: give -input FILE or lines on the standard input")
	}
	lr := datasets.NewLineReader(r, datasets.MaxLineBytes)
	for lr.Next() {
		line := lr.LineNumber()
		var err error
		if lr.TooLong() {
			fmt.Fprintf(in.logWriter(), "line %d: skipped: longer than %d bytes\n", line, lr.Max())
			err = skip(line)
		} else {
			err = fn(line, lr.Text())
		}
		if err != nil {
			return lr.Skipped(), err
		}
	}
	if err := lr.Err(); err != nil {
		return lr.Skipped(), fmt.Errorf("line %d: %w", lr.LineNumber(), err)
	}
	return lr.Skipped(), nil
}

// logWriter is where a prediction reports what it skipped.
func (in Input) logWriter() io.Writer {
	if in.Log == nil {
		return io.Discard
	}
	return in.Log
}
