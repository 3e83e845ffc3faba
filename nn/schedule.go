package nn

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate at each step: a linear warm-up, then a
// decay of the named kind.
type Schedule struct {
	Kind     string  // constant, step, exponential or cosine
	BaseLR   float64 // rate after warm-up
	Warmup   int     // steps of linear warm-up from 0
	StepSize int     // step: decay every StepSize steps
	Gamma    float64 // step and exponential: multiply by Gamma (per StepSize steps, or per step)
	Total    int     // cosine: steps over which the rate falls to MinLR
	MinLR    float64 // cosine: final rate
}

// ScheduleKinds lists the valid Schedule.Kind values.
var ScheduleKinds = []string{"constant", "step", "exponential", "cosine"}

// Validate reports the first impossible setting.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "", "constant", "exponential", "cosine":
	case "step":
		if s.StepSize < 1 {
			return fmt.Errorf("step schedule needs step_size >= 1, got %d", s.StepSize)
		}
	default:
		return fmt.Errorf("unknown schedule %q (want one of %v)", s.Kind, ScheduleKinds)
	}
	if s.Kind == "cosine" && s.Total < 1 {
		return fmt.Errorf("cosine schedule needs total steps >= 1, got %d", s.Total)
	}
	return nil
}

// LR is the learning rate for step (counting from 0); the cosine spans the
// Total steps after the warm-up.
func (s Schedule) LR(step int) float64 {
	return s.LRAt(step, float64(step-s.Warmup)/float64(max(s.Total, 1)))
}

// LRAt is the learning rate for step with the cosine's progress given as
// frac (0 at its start, 1 at its end) instead of counted in steps: the
// share of a time budget spent, so that a run bounded by time anneals by
// its end however fast its machine is. Warm-up still counts steps, and the
// step and exponential kinds count steps whatever frac says.
func (s Schedule) LRAt(step int, frac float64) float64 {
	if s.Warmup > 0 && step < s.Warmup {
		return s.BaseLR * float64(step+1) / float64(s.Warmup)
	}
	k := step - s.Warmup
	switch s.Kind {
	case "step":
		return s.BaseLR * math.Pow(s.Gamma, float64(k/s.StepSize))
	case "exponential":
		return s.BaseLR * math.Pow(s.Gamma, float64(k))
	case "cosine":
		frac = math.Min(math.Max(frac, 0), 1)
		return s.MinLR + (s.BaseLR-s.MinLR)*0.5*(1+math.Cos(math.Pi*frac))
	}
	return s.BaseLR
}
