package pipeline

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotLoss draws the training and validation loss against the step into a
// PNG, the picture people look at first to judge a run.
func plotLoss(path, title string, records []record) error {
	var train, val plotter.XYs
	for _, r := range records {
		switch r.Split {
		case "train":
			train = append(train, plotter.XY{X: float64(r.Step), Y: r.Loss})
		case "val":
			val = append(val, plotter.XY{X: float64(r.Step), Y: r.Loss})
		}
	}
	if len(train) == 0 && len(val) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats per token)"
	p.Add(plotter.NewGrid())
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		idx  int
	}{{"train", train, 0}, {"validation", val, 1}} {
		if len(s.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.name, err)
		}
		l.Color = plotColors[s.idx]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Legend.Top = true
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}
