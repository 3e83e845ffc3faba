package plots

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one run's curve in a chart of many: a sweep's trials.
type Series struct {
	Name   string
	Points []Point
}

// others is the colour of the runs a chart of many does not name.
var others = color.Gray{Y: 190}

// Curves draws the curves of many runs against the step on one chart: the
// first highlight series (a sweep's best trials, best first) in colour,
// each named in the legend, and the rest thin and grey, so that a large
// sweep stays readable.
func Curves(path, title, yLabel string, series []Series, highlight int) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker, p.Y.Tick.Marker = exactTicks{}, exactTicks{}
	highlight = min(highlight, len(plotutil.DefaultColors))
	drawn := false
	// The grey ones first, so that the coloured ones lie on top.
	for i := len(series) - 1; i >= 0; i-- {
		s := series[i]
		if len(s.Points) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			xys[j] = plotter.XY{X: pt.Step, Y: pt.Value}
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		pts.Shape = draw.CircleGlyph{}
		if i < highlight {
			c := plotutil.Color(i)
			l.Color, l.Width, pts.Color, pts.Radius = c, vg.Points(1.8), c, vg.Points(2)
		} else {
			l.Color, l.Width, pts.Color, pts.Radius = others, vg.Points(0.8), others, vg.Points(1)
		}
		p.Add(l, pts)
		drawn = true
	}
	if !drawn {
		return nil
	}
	for i := 0; i < highlight && i < len(series); i++ {
		c := plotutil.Color(i)
		p.Legend.Add(series[i].Name, &plotter.Line{LineStyle: draw.LineStyle{Color: c, Width: vg.Points(1.8)}})
	}
	if len(series) > highlight {
		p.Legend.Add(fmt.Sprintf("%d others", len(series)-highlight), &plotter.Line{LineStyle: draw.LineStyle{Color: others, Width: vg.Points(0.8)}})
	}
	p.Legend.Top = true
	return save(p, 8*vg.Inch, 4.5*vg.Inch, path)
}

// Scatter draws one value (a sweep's metric) against one setting (a varied
// key), a point per run. With categories, x is the index of each point's
// category, labelled by name; logX puts a numeric x on a log scale.
func Scatter(path, title, xLabel, yLabel string, xs, ys []float64, categories []string, logX bool) error {
	if len(xs) == 0 {
		return nil
	}
	xys := make(plotter.XYs, len(xs))
	for i := range xs {
		xys[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker, p.Y.Tick.Marker = exactTicks{}, exactTicks{}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return fmt.Errorf("plot %s: %w", xLabel, err)
	}
	s.Color, s.Shape, s.Radius = plotColors[0], draw.CircleGlyph{}, vg.Points(3)
	p.Add(s)
	switch {
	case categories != nil:
		ticks := make(plot.ConstantTicks, len(categories))
		for i, c := range categories {
			ticks[i] = plot.Tick{Value: float64(i), Label: c}
		}
		p.X.Tick.Marker = ticks
		p.X.Min, p.X.Max = -0.5, float64(len(categories))-0.5
	case logX:
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	return save(p, 5*vg.Inch, 3.5*vg.Inch, path)
}
