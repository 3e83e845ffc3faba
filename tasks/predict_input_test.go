package tasks

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/datasets"
)

// TestTranslationPredictLines feeds -mode predict streams with blank lines
// and a 1 MB line: the long line is reported and skipped, every input line
// gets its output line, the rest of the stream is translated, and the
// summary counts only lines really translated.
func TestTranslationPredictLines(t *testing.T) {
	m := newTranslation[float32](t, translationCfg("gru", "none"))
	var one bytes.Buffer
	if err := m.Predict(Input{Reader: strings.NewReader("Go.\n")}, &one, nil); err != nil {
		t.Fatal(err)
	}
	goOut := strings.TrimSuffix(one.String(), "\n")
	huge := strings.Repeat("go ", 1<<20/3)
	tooManyTokens := strings.Repeat("go ", maxSourceTokens+1)
	for _, tc := range []struct {
		name    string
		in      string
		want    []string // output lines
		log     []string // substrings of the log
		summary string   // "" when nothing was skipped
	}{
		{"plain", "Go.\nGo.\n", []string{goOut, goOut}, nil, ""},
		{"blank lines", "Go.\n\n  \nGo.", []string{goOut, "", "", goOut}, nil, ""},
		{"1 MB line", "Go.\n" + huge + "\n\nGo.\n", []string{goOut, "", "", goOut},
			[]string{fmt.Sprintf("line 2: skipped: longer than %d bytes", datasets.MaxLineBytes)},
			fmt.Sprintf("translated 2 lines; skipped 0 longer than %d tokens and 1 longer than %d bytes", maxSourceTokens, datasets.MaxLineBytes)},
		{"too many tokens and a blank line", tooManyTokens + "\n\nGo.\n", []string{"", "", goOut},
			[]string{"line 1: skipped: 201 tokens"},
			fmt.Sprintf("translated 1 lines; skipped 1 longer than %d tokens and 0 longer than %d bytes", maxSourceTokens, datasets.MaxLineBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, log bytes.Buffer
			if err := m.Predict(Input{Reader: strings.NewReader(tc.in), Log: &log}, &out, nil); err != nil {
				t.Fatal(err)
			}
			if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("output lines %q, want %q", got, tc.want)
			}
			for _, w := range tc.log {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log %q lacks %q", log.String(), w)
				}
			}
			if tc.summary == "" && strings.Contains(log.String(), "translated") || tc.summary != "" && !strings.Contains(log.String(), tc.summary) {
				t.Errorf("log %q, want summary %q", log.String(), tc.summary)
			}
		})
	}
	dir := t.TempDir()
	if err := m.Predict(Input{Path: dir}, &bytes.Buffer{}, nil); !errors.Is(err, datasets.ErrNotRegular) || !strings.Contains(err.Error(), dir) {
		t.Errorf("-input a directory: err = %v, want ErrNotRegular naming it", err)
	}
}

// TestCaptioningPredictLines feeds a stream of image paths with blank
// lines, a missing image and a 1 MB line: blank lines are ignored and not
// counted, the others are reported and skipped, and the rest is captioned.
func TestCaptioningPredictLines(t *testing.T) {
	m, _ := newCaptioning[float32](t, captioningCfg("gru", "none"))
	img := m.train.Path(0)
	var one bytes.Buffer
	if err := m.Predict(Input{Path: img}, &one, nil); err != nil {
		t.Fatal(err)
	}
	want := img + "\t" + strings.TrimSuffix(one.String(), "\n")
	huge := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name    string
		in      string
		want    []string
		log     []string
		summary string
	}{
		{"blank lines", "\n" + img + "\n\n  \n" + img, []string{want, want}, nil, ""},
		{"1 MB line and a missing image", img + "\n" + huge + "\n\nnowhere.jpg\n" + img + "\n", []string{want, want},
			[]string{fmt.Sprintf("line 2: skipped: longer than %d bytes", datasets.MaxLineBytes), "line 4: skipped"},
			fmt.Sprintf("captioned 2 images; skipped 1 unusable and 1 lines longer than %d bytes", datasets.MaxLineBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, log bytes.Buffer
			if err := m.Predict(Input{Reader: strings.NewReader(tc.in), Log: &log}, &out, nil); err != nil {
				t.Fatal(err)
			}
			if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("output lines %q, want %q", got, tc.want)
			}
			for _, w := range tc.log {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log %q lacks %q", log.String(), w)
				}
			}
			if tc.summary == "" && strings.Contains(log.String(), "captioned") || tc.summary != "" && !strings.Contains(log.String(), tc.summary) {
				t.Errorf("log %q, want summary %q", log.String(), tc.summary)
			}
		})
	}
}
