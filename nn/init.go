package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Draws are made in float64 and converted, so the same seed gives the same
// starting weights (up to rounding) in float32 and float64.

// InitUniform fills v with U(-bound, bound) drawn from rng.
func InitUniform[T Float](v []T, bound float64, rng *rand.Rand) {
	for i := range v {
		v[i] = T((2*rng.Float64() - 1) * bound)
	}
}

// InitNormal fills v with N(0, std²) drawn from rng.
func InitNormal[T Float](v []T, std float64, rng *rand.Rand) {
	for i := range v {
		v[i] = T(rng.NormFloat64() * std)
	}
}

// Init names a weight initialisation scheme as configs spell it.
type Init string

// The initialisation schemes a config may name.
const (
	InitDefault       Init = "default"        // PyTorch's default for the layer: U(±1/sqrt(fan))
	InitXavierUniform Init = "xavier_uniform" // U(±sqrt(6/(fan_in+fan_out)))
	InitScaledNormal  Init = "scaled_normal"  // N(0, 1/fan_in)
)

// InitSchemes lists the valid values of Init.
var InitSchemes = []Init{InitDefault, InitXavierUniform, InitScaledNormal}

// InitWeight fills a [fanOut][fanIn] weight under scheme; defaultBound is the
// layer's PyTorch default bound for U(±bound).
func InitWeight[T Float](scheme Init, v []T, fanIn, fanOut int, defaultBound float64, rng *rand.Rand) error {
	switch scheme {
	case "", InitDefault:
		InitUniform(v, defaultBound, rng)
	case InitXavierUniform:
		InitUniform(v, math.Sqrt(6/float64(fanIn+fanOut)), rng)
	case InitScaledNormal:
		InitNormal(v, 1/math.Sqrt(float64(fanIn)), rng)
	default:
		return fmt.Errorf("unknown initialisation %q (want one of %v)", scheme, InitSchemes)
	}
	return nil
}
