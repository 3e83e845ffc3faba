package plots

import "image/color"

// plotColors are the series colours of every plot, train first.
var plotColors = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
}
