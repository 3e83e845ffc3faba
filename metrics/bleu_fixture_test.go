package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sacreBLEUFixtures is the layout of testdata/bleu/sacrebleu_cases.json
// (see the README next to it).
type sacreBLEUFixtures struct {
	Version  string             `json:"sacrebleu_version"`
	Tokenize string             `json:"tokenize"`
	Cases    []sacreBLEUFixture `json:"cases"`
}

// sacreBLEUFixture is one case. Figures are pointers so that the test can
// tell a figure that is absent from one that is zero.
type sacreBLEUFixture struct {
	Name       string                     `json:"name"`
	Kind       string                     `json:"kind"`
	Options    map[string]json.RawMessage `json:"options"`
	Hypotheses []string                   `json:"hypotheses"`
	References [][]string                 `json:"references"`
	Score      *float64                   `json:"score"`
	Counts     []float64                  `json:"counts"`
	Totals     []float64                  `json:"totals"`
	Precisions []float64                  `json:"precisions"`
	BP         *float64                   `json:"bp"`
	SysLen     *float64                   `json:"sys_len"`
	RefLen     *float64                   `json:"ref_len"`
	Note       string                     `json:"note"`
}

// fixtureTolerance is how close every figure must be to sacreBLEU's.
const fixtureTolerance = 0.01

// TestSacreBLEUFixtures checks CorpusBLEU and SentenceBLEU against figures
// computed by sacreBLEU. The fixture file is $SEQTASK_BLEU_FIXTURES when
// set (or its sacrebleu_cases.json when it names a folder of fixtures, as
// $SEQTASK_TORCH_FIXTURES does), else testdata/bleu/sacrebleu_cases.json.
func TestSacreBLEUFixtures(t *testing.T) {
	path := os.Getenv("SEQTASK_BLEU_FIXTURES")
	if path == "" {
		path = "testdata/bleu"
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "sacrebleu_cases.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading fixtures: %v", err)
	}
	var fx sacreBLEUFixtures
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatalf("parsing fixtures %s: %v", path, err)
	}
	t.Logf("fixtures %s: sacreBLEU %s, tokenize %q, %d cases", path, fx.Version, fx.Tokenize, len(fx.Cases))

	checked := 0
	for _, c := range fx.Cases {
		what, err := checkFixture(fx.Tokenize, c)
		if err != nil {
			t.Errorf("case %q (%s): %v", c.Name, c.Kind, err)
			continue
		}
		t.Logf("case %q (%s): checked %s", c.Name, c.Kind, what)
		checked++
	}
	if checked == 0 {
		t.Fatalf("no fixture case was checked")
	}
}

// checkFixture computes one case and compares every figure it carries. It
// returns a description of what was checked, or an error describing the
// first problem: an unknown kind or option, a failed computation, or the
// list of figures that differ from sacreBLEU's.
func checkFixture(defaultTok string, c sacreBLEUFixture) (string, error) {
	opts := BLEUOptions{Tokenize: defaultTok}
	var optNames []string
	for k, raw := range c.Options {
		var err error
		switch k {
		case "lowercase":
			err = json.Unmarshal(raw, &opts.Lowercase)
		case "tokenize":
			err = json.Unmarshal(raw, &opts.Tokenize)
		case "smooth_method":
			var m string
			err = json.Unmarshal(raw, &m)
			opts.Smooth = SmoothMethod(m)
		case "smooth_value":
			err = json.Unmarshal(raw, &opts.SmoothValue)
		case "use_effective_order", "effective_order":
			var on bool
			err = json.Unmarshal(raw, &on)
			opts.EffectiveOrder = EffectiveOrderOff
			if on {
				opts.EffectiveOrder = EffectiveOrderOn
			}
		default:
			return "", fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return "", fmt.Errorf("option %q: %v", k, err)
		}
		optNames = append(optNames, fmt.Sprintf("%s=%s", k, raw))
	}

	var got BLEUScore
	var err error
	switch c.Kind {
	case "corpus":
		got, err = CorpusBLEU(c.Hypotheses, c.References, opts)
	case "sentence":
		if len(c.Hypotheses) != 1 {
			return "", fmt.Errorf("sentence case has %d hypotheses, want 1", len(c.Hypotheses))
		}
		refs := make([]string, len(c.References))
		for k, stream := range c.References {
			if len(stream) != 1 {
				return "", fmt.Errorf("sentence case reference stream %d has %d entries, want 1", k, len(stream))
			}
			refs[k] = stream[0]
		}
		got, err = SentenceBLEU(c.Hypotheses[0], refs, opts)
	default:
		return "", fmt.Errorf("unknown case kind %q", c.Kind)
	}
	if err != nil {
		return "", err
	}

	var checks, diffs []string
	scalar := func(name string, want *float64, have float64) {
		if want == nil {
			return
		}
		checks = append(checks, name)
		if !(math.Abs(*want-have) <= fixtureTolerance) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, sacreBLEU %v", name, have, *want))
		}
	}
	vector := func(name string, want []float64, have []float64) {
		if want == nil {
			return
		}
		checks = append(checks, name)
		if len(want) != len(have) {
			diffs = append(diffs, fmt.Sprintf("%s has %d orders, sacreBLEU %d", name, len(have), len(want)))
			return
		}
		for i := range want {
			if !(math.Abs(want[i]-have[i]) <= fixtureTolerance) {
				diffs = append(diffs, fmt.Sprintf("%s = %v, sacreBLEU %v", name, have, want))
				return
			}
		}
	}
	scalar("score", c.Score, got.Score)
	vector("counts", c.Counts, ints(got.Counts))
	vector("totals", c.Totals, ints(got.Totals))
	vector("precisions", c.Precisions, got.Precisions)
	scalar("bp", c.BP, got.BP)
	scalar("sys_len", c.SysLen, float64(got.SysLen))
	scalar("ref_len", c.RefLen, float64(got.RefLen))
	if c.Score == nil {
		return "", fmt.Errorf("case has no score to check")
	}
	if len(diffs) > 0 {
		return "", fmt.Errorf("differs from sacreBLEU: %s\n\tgot %v", strings.Join(diffs, "; "), got)
	}
	desc := fmt.Sprintf("%d hyps, %d ref streams", len(c.Hypotheses), len(c.References))
	if len(optNames) > 0 {
		desc += ", options " + strings.Join(optNames, " ")
	}
	return fmt.Sprintf("%s within %.2f [%s]: %v", strings.Join(checks, ", "), fixtureTolerance, desc, got), nil
}

// ints converts counts to float64 for comparison with JSON figures.
func ints(xs []int) []float64 {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return f
}
