package plots

import (
	"math"
	"strconv"
	"testing"
)

// TestExactTicks: at least three ticks are labelled on every axis, and
// every label reads back as its tick's value.
func TestExactTicks(t *testing.T) {
	for _, r := range []struct{ lo, hi float64 }{
		{0, 30}, {7, 29}, {3.4, 3.6}, {1.25, 2.05}, {0, 7000}, {1000, 12000}, {0.001, 0.004}, {-2, 2},
	} {
		var labels []string
		for _, tk := range (exactTicks{}).Ticks(r.lo, r.hi) {
			if tk.Label == "" {
				continue
			}
			labels = append(labels, tk.Label)
			v, err := strconv.ParseFloat(tk.Label, 64)
			if err != nil || math.Abs(v-tk.Value) > (r.hi-r.lo)*1e-6 {
				t.Errorf("[%g, %g]: tick %g labelled %q", r.lo, r.hi, tk.Value, tk.Label)
			}
		}
		if len(labels) < 3 {
			t.Errorf("[%g, %g]: labels %q, want at least 3", r.lo, r.hi, labels)
		}
	}
}
