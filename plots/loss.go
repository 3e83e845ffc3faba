// Package plots draws the pictures a run leaves for people to look at —
// loss curves, confusion matrices, attention maps — as PNG files, with
// gonum's plot.
package plots

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one (step, loss) measurement.
type Point struct{ Step, Loss float64 }

// LossCurve draws the training and validation loss against the step into a
// PNG, the picture people look at first to judge a run.
func LossCurve(path, title string, trainLoss, valLoss []Point) error {
	var train, val plotter.XYs
	for _, p := range trainLoss {
		train = append(train, plotter.XY{X: p.Step, Y: p.Loss})
	}
	for _, p := range valLoss {
		val = append(val, plotter.XY{X: p.Step, Y: p.Loss})
	}
	if len(train) == 0 && len(val) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats per token)"
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
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}
