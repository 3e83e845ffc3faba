package tasks

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/internal/atomicfile"
	"github.com/seqtask/seqtask/metrics"
)

// Captioning's scores and report: BLEU-1..4, CIDEr-D and the number of
// distinct captions; the best-constant baseline; the HTML page of the dev
// images beside their captions.

// bleu is corpus BLEU of order n over already tokenised captions.
func bleu(hyps []string, refStreams [][]string, n int) (float64, error) {
	s, err := metrics.CorpusBLEU(hyps, refStreams, metrics.BLEUOptions{Tokenize: metrics.TokenizeNone, MaxOrder: n})
	return s.Score, err
}

// captionScores scores captions of the first len(hyps) images of set.
func captionScores(hyps []string, set *datasets.CaptionSet) (Metrics, error) {
	refs := references(set, len(hyps))
	st := metrics.ReferenceStreams(refs)
	out := Metrics{}
	for n := 1; n <= 4; n++ {
		s, err := bleu(hyps, st, n)
		if err != nil {
			return nil, err
		}
		out[fmt.Sprintf("bleu%d", n)] = s
	}
	cider, err := metrics.CIDErD(hyps, refs, metrics.CIDErDOptions{})
	if err != nil {
		return nil, err
	}
	out["cider"] = cider.Score
	distinct := map[string]bool{}
	for _, h := range hyps {
		distinct[h] = true
	}
	out["distinct"] = float64(len(distinct))
	return out, nil
}

// constantCaption is the baseline a captioner must beat: the one training
// caption that, given to every training image, scores best (BLEU-4), and
// its score on the dev images.
type constantCaption struct {
	metrics.Constant
	dev float64
}

// bestConstant finds the baseline by exhaustive search over the training
// captions (metrics.BestConstant) and scores it on the first devImages dev
// images.
func (m *Captioning[T]) bestConstant(devImages int) (*constantCaption, error) {
	opts := metrics.BLEUOptions{Tokenize: metrics.TokenizeNone, MaxOrder: 4}
	best, err := metrics.BestConstant(references(m.train, len(m.train.Images)), opts)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	dev, err := metrics.NewConstantBLEU(references(m.dev, devImages), opts)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	return &constantCaption{Constant: best, dev: dev.Score(best.Output).Score}, nil
}

// captionDiagnostics says what a captioner's outputs are made of, in terms
// a user can act on: how many repeat a training caption word for word
// (recalled rather than composed), how much of the vocabulary they use,
// and which captions it keeps writing.
type captionDiagnostics struct {
	Verbatim  int // captions that occur word for word among the training captions
	Captions  int
	WordsUsed int // distinct words across the captions
	Frequent  []captionCount
}

type captionCount struct {
	Caption string
	Count   int
}

// diagnose computes captionDiagnostics for captions against the training
// captions (in the same text form), listing the top most frequent captions
// that occur more than once, most frequent first, ties in text order.
func diagnose(captions []string, training map[string]bool, top int) captionDiagnostics {
	d := captionDiagnostics{Captions: len(captions)}
	counts := map[string]int{}
	words := map[string]bool{}
	for _, c := range captions {
		if training[c] {
			d.Verbatim++
		}
		counts[c]++
		for _, w := range strings.Fields(c) {
			words[w] = true
		}
	}
	d.WordsUsed = len(words)
	for c, n := range counts {
		if n > 1 {
			d.Frequent = append(d.Frequent, captionCount{c, n})
		}
	}
	slices.SortFunc(d.Frequent, func(a, b captionCount) int {
		return cmp.Or(b.Count-a.Count, strings.Compare(a.Caption, b.Caption))
	})
	d.Frequent = d.Frequent[:min(top, len(d.Frequent))]
	return d
}

// trainingTexts are each training image's captions as the model spells
// them (the form m.text gives generated captions: rare words as <unk>),
// what generated captions are compared with.
func (m *Captioning[T]) trainingTexts() [][]string {
	out := make([][]string, len(m.trainIDs))
	for i, caps := range m.trainIDs {
		for _, ids := range caps {
			out[i] = append(out[i], m.text(ids))
		}
	}
	return out
}

// trainingCaptions is the set of trainingTexts.
func (m *Captioning[T]) trainingCaptions() map[string]bool {
	out := map[string]bool{}
	for _, caps := range m.trainingTexts() {
		for _, c := range caps {
			out[c] = true
		}
	}
	return out
}

// reportFile is the page Report writes into the run folder.
const reportFile = "captions.html"

var reportPage = template.Must(template.New("captions").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Captions of the dev images</title>
<style>body{font-family:sans-serif;max-width:60em;margin:auto}td{vertical-align:top;padding:.4em}img{width:128px;image-rendering:pixelated}.gen{font-weight:bold}</style>
</head><body>
<h1>Captions of {{len .Rows}} dev images</h1>
<p>{{.Summary}}</p>
<p>Best constant caption (baseline): “{{.Baseline}}”</p>
<table>
{{range .Rows}}<tr><td>{{if .Src}}<img src="{{.Src}}" alt="{{.File}}">{{end}}<br>{{.File}}</td>
<td><p class="gen">{{.Caption}}</p><ol>{{range .Refs}}<li>{{.}}</li>{{end}}</ol></td></tr>
{{end}}</table></body></html>
`))

type reportRow struct {
	File, Caption string
	Src           template.URL // the image embedded as a data URL; empty when unreadable
	Refs          []string
}

// Report writes captions.html into dir: each dev image of the last
// evaluation (embedded, so the page stands alone) beside its generated
// caption and its references; it prints the scores and the baseline to w.
func (m *Captioning[T]) Report(dir string, w io.Writer) error {
	if m.dev == nil {
		return fmt.Errorf("captioning report: no dev data loaded")
	}
	if m.last == nil {
		if _, err := m.Evaluate(); err != nil {
			return err
		}
	}
	if m.last == nil {
		fmt.Fprintf(w, "no captions yet: the run stopped while the encoder was pre-training (encoder.pretrain_steps %d)\n", m.cfg.Encoder.PretrainSteps)
		return nil
	}
	var rows []reportRow
	for i, c := range m.last {
		im := m.dev.Images[i]
		row := reportRow{File: im.File, Caption: c, Refs: im.Captions}
		if b, err := os.ReadFile(m.dev.Path(i)); err == nil {
			row.Src = template.URL("data:" + http.DetectContentType(b) + ";base64," + base64.StdEncoding.EncodeToString(b))
		}
		rows = append(rows, row)
	}
	var summary strings.Builder
	for _, k := range m.lastM.Keys() {
		fmt.Fprintf(&summary, "%s %.4g  ", k, m.lastM[k])
	}
	err := atomicfile.Write(filepath.Join(dir, reportFile), 0o644, func(f io.Writer) error {
		return reportPage.Execute(f, struct {
			Summary, Baseline string
			Rows              []reportRow
		}{strings.TrimSpace(summary.String()), m.baseline.Output, rows})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", reportFile, err)
	}
	fmt.Fprintf(w, "dev images: %d; %s\n", len(rows), strings.TrimSpace(summary.String()))
	fmt.Fprintf(w, "baseline: the constant caption %q scores BLEU-4 %.2f on the dev images (best of %d training captions tried on %d training images, where it scores %.2f)\n",
		m.baseline.Output, m.baseline.dev, m.baseline.Candidates, m.baseline.Items, m.baseline.Score)
	d := diagnose(m.last, m.trainingCaptions(), 5)
	fmt.Fprintf(w, "diagnostics: %d of %d captions (%.0f%%) repeat a training caption word for word; %d distinct words used of a vocabulary of %d\n",
		d.Verbatim, d.Captions, 100*float64(d.Verbatim)/float64(max(d.Captions, 1)), d.WordsUsed, m.vocab.Len())
	for _, f := range d.Frequent {
		fmt.Fprintf(w, "  written %d times: %q\n", f.Count, f.Caption)
	}
	fmt.Fprintf(w, "captions beside their images: %s\n", filepath.Join(dir, reportFile))
	return nil
}
