package plots

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// grid adapts a matrix of counts to plotter.GridXYZ, row r drawn at the
// top for r = 0 so the picture reads like the printed table.
type grid struct {
	m    [][]float64
	rows int
}

func (g grid) Dims() (c, r int)   { return len(g.m[0]), g.rows }
func (g grid) Z(c, r int) float64 { return g.m[g.rows-1-r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

// Confusion draws a confusion matrix as a heat map with the counts written
// in its cells: rows are the true labels (top to bottom), columns the
// predicted ones. Each row is shaded by its own total, so rare classes are
// as readable as common ones.
func Confusion(path, title string, labels []string, counts [][]int) error {
	n := len(labels)
	if n == 0 || len(counts) != n {
		return fmt.Errorf("confusion plot: %d labels for %d rows", n, len(counts))
	}
	norm := make([][]float64, n)
	for r, row := range counts {
		if len(row) != n {
			return fmt.Errorf("confusion plot: row %d has %d columns, want %d", r, len(row), n)
		}
		total := 0
		for _, c := range row {
			total += c
		}
		norm[r] = make([]float64, n)
		for c, v := range row {
			if total > 0 {
				norm[r][c] = float64(v) / float64(total)
			}
		}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "true"
	pal := palette.Heat(32, 1)
	hm := plotter.NewHeatMap(grid{norm, n}, reversed(pal))
	hm.Min, hm.Max = 0, 1
	p.Add(hm)
	var cells plotter.XYLabels
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			cells.XYs = append(cells.XYs, plotter.XY{X: float64(c), Y: float64(n - 1 - r)})
			cells.Labels = append(cells.Labels, fmt.Sprint(counts[r][c]))
		}
	}
	lbl, err := plotter.NewLabels(cells)
	if err != nil {
		return err
	}
	for i := range lbl.TextStyle {
		lbl.TextStyle[i].XAlign, lbl.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
		lbl.TextStyle[i].Color = color.Black
	}
	p.Add(lbl)
	ticks := func(flip bool) plot.ConstantTicks {
		t := make(plot.ConstantTicks, n)
		for i, l := range labels {
			v := i
			if flip {
				v = n - 1 - i
			}
			t[i] = plot.Tick{Value: float64(v), Label: l}
		}
		return t
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks(false), ticks(true)
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	side := vg.Length(1.2*float64(n)+2) * vg.Inch
	return save(p, side, side, path)
}

type reversedPalette struct{ c []color.Color }

func (r reversedPalette) Colors() []color.Color { return r.c }

// reversed puts the palette's light colours first, for "0 is white".
func reversed(p palette.Palette) palette.Palette {
	c := p.Colors()
	out := make([]color.Color, len(c))
	for i := range c {
		out[i] = c[len(c)-1-i]
	}
	return reversedPalette{out}
}
