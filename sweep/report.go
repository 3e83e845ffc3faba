package sweep

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/internal/atomicfile"
	"github.com/seqtask/seqtask/internal/human"
	"github.com/seqtask/seqtask/plots"
)

// Files the report writes into the sweep folder.
const (
	reportMarkdown = "report.md"
	reportHTML     = "report.html"
	bestConfig     = "best.yaml"
	plotDir        = "plots"
	curvesPlot     = "curves.png"
)

// record is the part of a metrics.jsonl line the report reads.
type record struct {
	Step    int                `json:"step"`
	Split   string             `json:"split"`
	TokS    float64            `json:"tokens_per_s"`
	Elapsed float64            `json:"elapsed_s"`
	Metrics map[string]float64 `json:"metrics"`
}

// result is what a trial's run folder says about it.
type result struct {
	found   bool    // an evaluation reported the metric
	value   float64 // the best value of the metric
	step    int     // the step of the best evaluation
	elapsed float64 // its training time in seconds
	tokS    float64 // median training tokens/s
	curve   []plots.Point
	metrics []string // the metrics its evaluations reported
}

// readTrial reads the run folder run's metrics.jsonl: the best evaluation
// by metric (in its direction), the validation curve and the training
// speed. ok is false when it has no metrics yet.
func readTrial(run, metric string, higher bool) (r result, ok bool) {
	f, err := os.Open(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		return r, false
	}
	defer f.Close()
	var speeds []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec record
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch rec.Split {
		case "train":
			if rec.TokS > 0 {
				speeds = append(speeds, rec.TokS)
			}
			continue
		case "val", "averaged": // an average of the last evaluations may be the best
		default:
			continue // pre-training scores part of the model
		}
		for k := range rec.Metrics {
			if !slices.Contains(r.metrics, k) {
				r.metrics = append(r.metrics, k)
			}
		}
		v, has := rec.Metrics[metric]
		if !has || math.IsNaN(v) {
			continue
		}
		if rec.Split == "val" {
			r.curve = append(r.curve, plots.Point{Step: float64(rec.Step), Value: v})
		}
		if !r.found || (higher && v > r.value) || (!higher && v < r.value) {
			r.found, r.value, r.step, r.elapsed = true, v, rec.Step, rec.Elapsed
		}
	}
	sort.Strings(r.metrics)
	r.tokS = median(speeds)
	return r, true
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// row is a trial in the report.
type row struct {
	*Trial
	result
	state string
	why   string // a failed trial's reason
}

// valueOf returns the -set text of the trial's value of a varied key, "" if
// the trial does not set it.
func (r row) valueOf(key string) string {
	for _, o := range r.Overrides {
		if o.Key == key {
			return o.Value
		}
	}
	return ""
}

// Report reads the sweep folder dir and writes its report, atomically:
// report.md (a table of every trial, best first), report.html (the same
// with plots of the metric against each varied key and of every trial's
// validation curve, under plots/) and best.yaml (the best trial's config,
// ready for runner -config). It prints the Markdown to w.
func Report(dir string, w io.Writer) error {
	m, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &config.Error{File: dir, Msg: "no sweep here (no " + manifestFile + "): give the sweep folder, or the spec with -sweep-dir"}
	}
	if err != nil {
		return err
	}
	rows, err := readRows(dir, m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, plotDir), 0o755); err != nil {
		return err
	}
	pics, err := drawPlots(dir, m, rows)
	if err != nil {
		return fmt.Errorf("report plots: %w", err)
	}
	ensembles, err := readEnsembles(dir)
	if err != nil {
		return err
	}
	md := markdown(dir, m, rows, ensembles)
	if err := atomicfile.WriteFile(filepath.Join(dir, reportMarkdown), []byte(md), 0o644); err != nil {
		return err
	}
	page, err := html(dir, m, rows, pics, ensembles)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, reportHTML), page, 0o644); err != nil {
		return err
	}
	if rows[0].found {
		if err := writeBest(dir, m, rows[0]); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, md)
	return err
}

// readRows reads every trial's results and state, sorted by the metric
// (trials without it last, in trial order).
func readRows(dir string, m *Manifest) ([]row, error) {
	rows := make([]row, len(m.Trials))
	var seen []string
	for i, t := range m.Trials {
		run := filepath.Join(dir, t.Dir)
		r, hasMetrics := readTrial(run, m.Metric, m.higher())
		for _, k := range r.metrics {
			if !slices.Contains(seen, k) {
				seen = append(seen, k)
			}
		}
		rows[i] = row{Trial: t, result: r, state: "not started"}
		if hasMetrics {
			rows[i].state = "unfinished"
		}
		if st, ok := readStatus(run); ok {
			rows[i].state = st.State
			if st.State == "failed" {
				rows[i].why = failure(run)
			}
		}
	}
	if len(seen) > 0 && !slices.ContainsFunc(rows, func(r row) bool { return r.found }) {
		sort.Strings(seen)
		return nil, &config.Error{File: filepath.Join(dir, manifestFile), Key: "metric",
			Msg: fmt.Sprintf("no trial reports the metric %q; their evaluations report %s (set metric: in the spec)", m.Metric, strings.Join(seen, ", "))}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.found != b.found {
			return a.found
		}
		if !a.found || a.value == b.value {
			return false
		}
		return (a.value > b.value) == m.higher()
	})
	return rows, nil
}

// columns are the report table's headers and each row's cells.
func columns(m *Manifest) []string {
	cols := append([]string{"rank", "trial"}, m.Keys...)
	return append(cols, m.Metric, "step", "time", "tokens/s", "state")
}

func cells(m *Manifest, rank int, r row) []string {
	out := []string{strconv.Itoa(rank), r.ID}
	for _, k := range m.Keys {
		out = append(out, r.valueOf(k))
	}
	if !r.found {
		return append(out, "–", "–", "–", human.Count(r.tokS), stateText(r))
	}
	return append(out, fmt.Sprintf("%.4f", r.value), strconv.Itoa(r.step),
		human.Duration(time.Duration(r.elapsed*float64(time.Second))), human.Count(r.tokS), stateText(r))
}

func stateText(r row) string {
	if r.why != "" {
		return r.state + ": " + r.why
	}
	return r.state
}

// counts says how many trials are in each state, in a fixed order.
func counts(rows []row) string {
	n := map[string]int{}
	for _, r := range rows {
		n[r.state]++
	}
	var parts []string
	for _, s := range []string{"done", "failed", "interrupted", "unfinished", "not started"} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// seedTable is the over-seeds table: a header, the alignment row, then a
// row per configuration.
func seedTable(m *Manifest, groups []group, ensembles map[string]EnsembleResult) [][]string {
	keys := slices.DeleteFunc(slices.Clone(m.Keys), func(k string) bool { return k == "seed" })
	head := append(slices.Clone(keys), m.Metric, "seeds")
	align := append(slices.Repeat([]string{"---"}, len(keys)), "---:", "---:")
	if m.Ensemble {
		head, align = append(head, "ensemble"), append(align, "---:")
	}
	out := [][]string{head, align}
	for _, g := range groups {
		cells := append(slices.Clone(g.values), fmt.Sprintf("%.4f ± %.4f", g.mean, g.sd), strconv.Itoa(g.n))
		if m.Ensemble {
			cells = append(cells, ensembleCell(m, ensembles, g))
		}
		out = append(out, cells)
	}
	return out
}

// markdown renders the report as Markdown.
func markdown(dir string, m *Manifest, rows []row, ensembles map[string]EnsembleResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Sweep %s\n\n", dir)
	fmt.Fprintf(&b, "Spec `%s`, base config `%s`; %d trials (%s), ranked by validation %s (%s is better).\n\n",
		m.Spec, m.Base, len(rows), counts(rows), m.Metric, map[bool]string{true: "higher", false: "lower"}[m.higher()])
	cols := columns(m)
	writeRow := func(cells []string) {
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	writeRow(slices.Clone(cols))
	align := make([]string, len(cols))
	for i := range align {
		align[i] = "---:"
		if i == 1 || i == len(cols)-1 || (i >= 2 && i < 2+len(m.Keys)) {
			align[i] = "---"
		}
	}
	writeRow(align)
	for i, r := range rows {
		writeRow(cells(m, i+1, r))
	}
	if groups := bySeed(m, rows); groups != nil {
		fmt.Fprintf(&b, "\nOver seeds (mean ± standard deviation of each trial's best %s", m.Metric)
		if m.Ensemble {
			fmt.Fprintf(&b, "; ensemble: the seeds' models together, each next token's probabilities averaged")
		}
		fmt.Fprintf(&b, "):\n\n")
		for _, cells := range seedTable(m, groups, ensembles) {
			writeRow(cells)
		}
	}
	if rows[0].found {
		fmt.Fprintf(&b, "\nBest: trial %s (%s), %s %.4f at step %d. Its config: `%s` (train it with `runner -config %s`; the trial's run folder is `%s`).\n",
			rows[0].ID, describe(rows[0].Overrides), m.Metric, rows[0].value, rows[0].step,
			filepath.Join(dir, bestConfig), filepath.Join(dir, bestConfig), filepath.Join(dir, rows[0].Dir))
	}
	return b.String()
}

// group is one configuration of a sweep repeated over seeds.
type group struct {
	values   []string // the varied keys' values but the seed's
	trials   []string // its trials' IDs, in trial order
	mean, sd float64
	n        int // seeds with a result
	// Seeds by how their last attempt ended.
	done, failed, interrupted int
}

// bySeed groups the trials that differ only in their seed, best mean
// first; nil unless the sweep repeats trials over several seeds.
func bySeed(m *Manifest, rows []row) []group {
	if !slices.Contains(m.Keys, "seed") {
		return nil
	}
	configs := seedGroups(m.Trials)
	if len(configs) == len(m.Trials) {
		return nil // one seed each: the main table says it all
	}
	value, state := map[string]float64{}, map[string]string{}
	for _, r := range rows {
		if r.found {
			value[r.ID] = r.value
		}
		state[r.ID] = r.state
	}
	var out []group
	for _, trials := range configs {
		g := group{trials: ids(trials)}
		for _, o := range withoutSeed(trials[0].Overrides) {
			g.values = append(g.values, o.Value)
		}
		var xs []float64
		for _, t := range trials {
			if v, ok := value[t.ID]; ok {
				xs = append(xs, v)
			}
			switch state[t.ID] {
			case "done":
				g.done++
			case "failed":
				g.failed++
			case "interrupted":
				g.interrupted++
			}
		}
		if len(xs) == 0 {
			continue
		}
		g.n = len(xs)
		for _, x := range xs {
			g.mean += x
		}
		g.mean /= float64(len(xs))
		for _, x := range xs {
			g.sd += (x - g.mean) * (x - g.mean)
		}
		if len(xs) > 1 {
			g.sd = math.Sqrt(g.sd / float64(len(xs)-1))
		}
		out = append(out, g)
	}
	sort.SliceStable(out, func(i, j int) bool { return (out[i].mean > out[j].mean) == m.higher() && out[i].mean != out[j].mean })
	return out
}

// ensembleCell is the report's text for the ensemble of a group's seeds:
// its metric, or why there is none.
func ensembleCell(m *Manifest, ensembles map[string]EnsembleResult, g group) string {
	r, ok := ensembles[ensembleKey(g.trials)]
	switch {
	case !ok && g.failed > 0:
		return "a seed failed"
	case !ok && g.interrupted > 0:
		return "a seed was interrupted"
	case !ok && g.done < len(g.trials):
		return "waiting for its seeds"
	case !ok:
		return "not evaluated yet"
	case r.Error != "":
		return "failed: " + r.Error
	}
	if v, ok := r.Metrics[m.Metric]; ok {
		return fmt.Sprintf("%.4f", v)
	}
	return "no " + m.Metric
}

// picture is a plot of the report, relative to the sweep folder.
type picture struct{ Path, Caption string }

// drawPlots draws the metric against each varied key (the seed aside) and
// every trial's validation curve into the sweep folder's plots/.
func drawPlots(dir string, m *Manifest, rows []row) ([]picture, error) {
	var pics []picture
	for _, key := range m.Keys {
		if key == "seed" {
			continue
		}
		var xs, ys []float64
		var texts []string
		for _, r := range rows {
			if r.found {
				texts = append(texts, r.valueOf(key))
				ys = append(ys, r.value)
			}
		}
		if len(texts) == 0 {
			continue
		}
		categories, numeric := axisOf(m, key)
		positive := true
		for _, s := range texts {
			if numeric {
				x, _ := strconv.ParseFloat(s, 64)
				xs = append(xs, x)
				positive = positive && x > 0
			} else {
				xs = append(xs, float64(slices.Index(categories, s)))
			}
		}
		if numeric {
			categories = nil
		}
		lo, hi := slices.Min(xs), slices.Max(xs)
		logX := numeric && positive && hi >= 10*lo
		rel := filepath.Join(plotDir, "metric-"+strings.ReplaceAll(key, "/", "_")+".png")
		title := fmt.Sprintf("best validation %s against %s", m.Metric, key)
		if err := plots.Scatter(filepath.Join(dir, rel), title, key, m.Metric, xs, ys, categories, logX); err != nil {
			return nil, err
		}
		pics = append(pics, picture{Path: rel, Caption: title})
	}
	var series []plots.Series
	for _, r := range rows {
		name := r.ID
		if r.found {
			name = fmt.Sprintf("%s (%.4g)", r.ID, r.value)
		}
		series = append(series, plots.Series{Name: name, Points: r.curve})
	}
	rel := filepath.Join(plotDir, curvesPlot)
	title := "validation " + m.Metric + " of every trial (best in colour)"
	if err := plots.Curves(filepath.Join(dir, rel), title, "validation "+m.Metric, series, 7); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
		pics = append(pics, picture{Path: rel, Caption: title})
	}
	return pics, nil
}

// axisOf returns the values a varied key takes across the trials, in
// trial order, and whether they are all numbers.
func axisOf(m *Manifest, key string) (values []string, numeric bool) {
	numeric = true
	for _, t := range m.Trials {
		for _, o := range t.Overrides {
			if o.Key != key || slices.Contains(values, o.Value) {
				continue
			}
			values = append(values, o.Value)
			if _, err := strconv.ParseFloat(o.Value, 64); err != nil {
				numeric = false
			}
		}
	}
	return values, numeric
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep {{.Dir}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f4f4f4; }
td.text { text-align: left; }
tr.best td { font-weight: bold; }
figure { display: inline-block; margin: 1em 1em 0 0; }
figcaption { font-size: 0.85em; color: #555; }
img { max-width: 100%; }
</style></head><body>
<h1>Sweep {{.Dir}}</h1>
<p>Spec <code>{{.Spec}}</code>, base config <code>{{.Base}}</code>; {{.N}} trials ({{.Counts}}), ranked by validation {{.Metric}} ({{.Better}} is better).</p>
<table>
<tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range $i, $r := .Rows}}<tr{{if and (eq $i 0) $.HasBest}} class="best"{{end}}>{{range $j, $c := $r}}<td{{if index $.Text $j}} class="text"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</table>
{{if .Seeds}}<h2>Over seeds</h2>
<p>Mean ± standard deviation of each trial's best {{.Metric}}{{if .Ensemble}}; ensemble: the seeds' models together, each next token's probabilities averaged{{end}}.</p>
<table>
<tr>{{range index .Seeds 0}}<th>{{.}}</th>{{end}}</tr>
{{range slice .Seeds 2}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}{{if .HasBest}}<p>Best: trial {{.Best}}. Its config: <a href="{{.BestConfig}}">{{.BestConfig}}</a>, ready for <code>runner -config</code>.</p>{{end}}
{{range .Pictures}}<figure><img src="{{.Path}}" alt="{{.Caption}}"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}</body></html>
`))

// html renders the report as a page beside its plots.
func html(dir string, m *Manifest, rows []row, pics []picture, ensembles map[string]EnsembleResult) ([]byte, error) {
	cols := columns(m)
	text := make([]bool, len(cols))
	for i := range text {
		text[i] = i == 1 || i == len(cols)-1 || (i >= 2 && i < 2+len(m.Keys))
	}
	data := struct {
		Dir, Spec, Base, Counts, Metric, Better, Best, BestConfig string
		N                                                         int
		HasBest, Ensemble                                         bool
		Columns                                                   []string
		Seeds                                                     [][]string // seedTable's rows
		Text                                                      []bool
		Rows                                                      [][]string
		Pictures                                                  []picture
	}{Dir: dir, Spec: m.Spec, Base: m.Base, Counts: counts(rows), Metric: m.Metric, Better: "lower",
		N: len(rows), HasBest: rows[0].found, Columns: cols, Text: text, Pictures: pics, BestConfig: bestConfig, Ensemble: m.Ensemble}
	if groups := bySeed(m, rows); groups != nil {
		data.Seeds = seedTable(m, groups, ensembles)
	}
	if m.higher() {
		data.Better = "higher"
	}
	if rows[0].found {
		data.Best = fmt.Sprintf("%s (%s), %s %.4f at step %d", rows[0].ID, describe(rows[0].Overrides), m.Metric, rows[0].value, rows[0].step)
	}
	for i, r := range rows {
		data.Rows = append(data.Rows, cells(m, i+1, r))
	}
	var b bytes.Buffer
	err := page.Execute(&b, data)
	return b.Bytes(), err
}

// writeBest writes the best trial's resolved config as best.yaml, under a
// comment saying where it comes from.
func writeBest(dir string, m *Manifest, best row) error {
	cfg, err := os.ReadFile(filepath.Join(dir, best.Dir, "config.yaml"))
	if err != nil {
		return err
	}
	head := fmt.Sprintf("# The best trial of the sweep %s: trial %s (%s),\n# validation %s %.4f at step %d. Train it again with: runner -config %s\n",
		dir, best.ID, describe(best.Overrides), m.Metric, best.value, best.step, filepath.Join(dir, bestConfig))
	return atomicfile.WriteFile(filepath.Join(dir, bestConfig), append([]byte(head), cfg...), 0o644)
}
