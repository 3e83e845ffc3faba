// Package plots draws the pictures a run leaves for people to look at —
// loss curves, confusion matrices, attention maps — as PNG files, with
// gonum's plot.
package plots

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one measurement (a loss, a score) at a training step.
type Point struct{ Step, Value float64 }

// LossCurve draws the training and validation loss against the step into a
// PNG, the picture people look at first to judge a run.
func LossCurve(path, title string, trainLoss, valLoss []Point) error {
	var train, val plotter.XYs
	for _, p := range trainLoss {
		train = append(train, plotter.XY{X: p.Step, Y: p.Value})
	}
	for _, p := range valLoss {
		val = append(val, plotter.XY{X: p.Step, Y: p.Value})
	}
	if len(train) == 0 && len(val) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats per token)"
	p.X.Tick.Marker, p.Y.Tick.Marker = exactTicks{}, exactTicks{}
	p.Add(plotter.NewGrid())
	if len(train) > 0 {
		l, err := plotter.NewLine(train)
		if err != nil {
			return fmt.Errorf("plot train: %w", err)
		}
		l.Color, l.Width = plotColors[0], vg.Points(1.5)
		p.Add(l)
		p.Legend.Add("train", l)
	}
	if len(val) > 0 {
		// Evaluations are few: mark each one, so that even the first shows.
		l, pts, err := plotter.NewLinePoints(val)
		if err != nil {
			return fmt.Errorf("plot validation: %w", err)
		}
		l.Color, l.Width = plotColors[1], vg.Points(1.5)
		pts.Color, pts.Shape = plotColors[1], draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add("validation", l, pts)
	}
	p.Legend.Top = true
	return save(p, 7*vg.Inch, 4*vg.Inch, path)
}

// MetricCurve draws a validation score (BLEU, accuracy) against the step
// into a PNG, with a dashed horizontal line at baseline unless it is NaN:
// the score a model must beat, such as the best constant output's.
func MetricCurve(path, title, metric string, points []Point, baseline float64) error {
	if len(points) == 0 {
		return nil
	}
	xys := make(plotter.XYs, len(points))
	for i, pt := range points {
		xys[i] = plotter.XY{X: pt.Step, Y: pt.Value}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "validation " + metric
	p.X.Tick.Marker, p.Y.Tick.Marker = exactTicks{}, exactTicks{}
	p.Add(plotter.NewGrid())
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("plot %s: %w", metric, err)
	}
	l.Color, l.Width = plotColors[1], vg.Points(1.5)
	pts.Color, pts.Shape = plotColors[1], draw.CircleGlyph{}
	p.Add(l, pts)
	p.Legend.Add(metric, l, pts)
	if !math.IsNaN(baseline) {
		b, err := plotter.NewLine(plotter.XYs{{X: points[0].Step, Y: baseline}, {X: points[len(points)-1].Step, Y: baseline}})
		if err != nil {
			return fmt.Errorf("plot baseline: %w", err)
		}
		b.Color, b.Width, b.Dashes = plotColors[0], vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(b)
		p.Legend.Add(fmt.Sprintf("baseline %.4g", baseline), b)
		p.Y.Min = min(p.Y.Min, baseline)
		p.Y.Max = max(p.Y.Max, baseline)
	}
	// Scores are read against zero (a jump from 11.6 to 12.5 BLEU is not a
	// doubling), which also leaves the legend room at the bottom.
	p.Y.Min = min(p.Y.Min, 0)
	p.Legend.Top, p.Legend.Left = false, false
	return save(p, 7*vg.Inch, 4*vg.Inch, path)
}
