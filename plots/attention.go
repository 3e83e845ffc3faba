package plots

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Attention draws a translation's attention weights as a heat map: source
// words along the bottom, output words down the side (first at the top),
// darker where the decoder looked while producing that word.
func Attention(path, title string, source, output []string, weights [][]float64) error {
	if len(output) == 0 || len(source) == 0 {
		return fmt.Errorf("attention plot: %d source and %d output words", len(source), len(output))
	}
	rows := min(len(weights), len(output))
	if rows == 0 {
		return fmt.Errorf("attention plot: no weights")
	}
	m := make([][]float64, rows)
	for r := 0; r < rows; r++ {
		if len(weights[r]) < len(source) {
			return fmt.Errorf("attention plot: row %d has %d weights for %d source words", r, len(weights[r]), len(source))
		}
		m[r] = weights[r][:len(source)]
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "source"
	p.Y.Label.Text = "output"
	hm := plotter.NewHeatMap(grid{m, rows}, reversed(palette.Heat(32, 1)))
	hm.Min, hm.Max = 0, 1
	p.Add(hm)
	xt := make(plot.ConstantTicks, len(source))
	for i, w := range source {
		xt[i] = plot.Tick{Value: float64(i), Label: w}
	}
	yt := make(plot.ConstantTicks, rows)
	for i := 0; i < rows; i++ {
		yt[i] = plot.Tick{Value: float64(rows - 1 - i), Label: output[i]}
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Tick.Label.Rotation = 0.8
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = -1, -0.5
	p.X.Min, p.X.Max = -0.5, float64(len(source))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(rows)-0.5
	w := vg.Length(0.5*float64(len(source))+2) * vg.Inch
	h := vg.Length(0.4*float64(rows)+2) * vg.Inch
	return save(p, w, h, path)
}
