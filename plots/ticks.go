package plots

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// exactTicks are gonum's default ticks, labelled so that values can be
// read off the axis: with as many decimals as the values need (gonum/plot
// v0.17 chooses too few for steps like 0.05, and labels a tick at 3.45
// "3.5"), and every tick labelled when the default would label fewer than
// three (it often labels just 0 and 25 on a 0–30 axis).
type exactTicks struct{}

func (exactTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	labelled := 0
	for _, t := range ticks {
		if t.Label != "" {
			labelled++
		}
	}
	all := labelled < 3
	shown := func(t plot.Tick) bool { return all || t.Label != "" }
	tol := (hi - lo) * 1e-6
	for prec := 0; prec <= 10; prec++ {
		exact := true
		for _, t := range ticks {
			if shown(t) {
				v, _ := strconv.ParseFloat(strconv.FormatFloat(t.Value, 'f', prec, 64), 64)
				exact = exact && math.Abs(v-t.Value) <= tol
			}
		}
		if exact {
			for i, t := range ticks {
				if shown(t) {
					ticks[i].Label = strconv.FormatFloat(t.Value, 'f', prec, 64)
				}
			}
			break
		}
	}
	return ticks
}
