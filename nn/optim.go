package nn

import (
	"fmt"
	"math"

	"github.com/seqtask/seqtask/vecmath"
)

// Optimizer updates parameters from their gradients. Its state (moments,
// accumulators, step count) is exposed so checkpoints can hold it and a
// resumed run continues exactly.
type Optimizer[T Float] interface {
	// Step applies one update with learning rate lr.
	Step(params Params[T], lr float64)
	// State returns the optimizer's tensors keyed by "<kind>.<slot>/<param>".
	State() OptimizerState[T]
	// SetState restores what State returned; a tensor that does not match a
	// parameter is an error.
	SetState(params Params[T], s OptimizerState[T]) error
}

// OptimizerState is what a checkpoint keeps of an optimizer: the number of
// Step calls, and its tensors, among them each parameter's own update count
// ("<kind>.step/<param>", one value) since frozen parameters skip updates.
type OptimizerState[T Float] struct {
	Steps   int
	Tensors map[string][]T
}

// OptimizerConfig selects and tunes an optimizer.
type OptimizerConfig struct {
	Kind        string  // sgd, adagrad or adam
	Momentum    float64 // sgd
	Beta1       float64 // adam, default 0.9
	Beta2       float64 // adam, default 0.999
	Eps         float64 // adam (1e-8) and adagrad (1e-10)
	WeightDecay float64 // L2 penalty added to the gradient, as PyTorch's weight_decay
}

// OptimizerKinds lists the valid OptimizerConfig.Kind values.
var OptimizerKinds = []string{"sgd", "adagrad", "adam"}

// NewOptimizer builds the optimizer cfg names for params.
func NewOptimizer[T Float](cfg OptimizerConfig, params Params[T]) (Optimizer[T], error) {
	o := &optimizer[T]{cfg: cfg, kind: cfg.Kind}
	switch cfg.Kind {
	case "sgd":
		o.update = o.sgd
		o.addSlots(params, "momentum")
	case "adagrad":
		if o.cfg.Eps == 0 {
			o.cfg.Eps = 1e-10
		}
		o.update = o.adagrad
		o.addSlots(params, "sum")
	case "adam":
		if o.cfg.Beta1 == 0 {
			o.cfg.Beta1 = 0.9
		}
		if o.cfg.Beta2 == 0 {
			o.cfg.Beta2 = 0.999
		}
		if o.cfg.Eps == 0 {
			o.cfg.Eps = 1e-8
		}
		o.update = o.adam
		o.addSlots(params, "m", "v")
	default:
		return nil, fmt.Errorf("unknown optimizer %q (want one of %v)", cfg.Kind, OptimizerKinds)
	}
	return o, nil
}

// optimizer holds the per-parameter state vectors ("slots") every kind
// keeps, and the kind's update rule.
type optimizer[T Float] struct {
	cfg    OptimizerConfig
	kind   string
	steps  int
	counts []int            // per parameter, in Params order: the updates it has had (Adam's bias correction)
	slots  map[string][][]T // slot name → one vector per parameter, in Params order
	names  []string         // parameter names, in Params order
	update func(k int, p *Param[T], lr float64)
}

func (o *optimizer[T]) addSlots(params Params[T], names ...string) {
	o.slots = make(map[string][][]T, len(names))
	for _, n := range names {
		vecs := make([][]T, len(params))
		for i, p := range params {
			vecs[i] = make([]T, p.Size())
		}
		o.slots[n] = vecs
	}
	o.counts = make([]int, len(params))
	for _, p := range params {
		o.names = append(o.names, p.Name)
	}
}

func (o *optimizer[T]) Step(params Params[T], lr float64) {
	o.steps++
	for k, p := range params {
		if p.Frozen {
			continue
		}
		o.counts[k]++
		o.update(k, p, lr)
	}
}

// stepKey names the tensor holding parameter name's update count.
func (o *optimizer[T]) stepKey(name string) string { return o.kind + ".step/" + name }

func (o *optimizer[T]) State() OptimizerState[T] {
	st := OptimizerState[T]{Steps: o.steps, Tensors: map[string][]T{}}
	for slot, vecs := range o.slots {
		for i, v := range vecs {
			st.Tensors[o.kind+"."+slot+"/"+o.names[i]] = v
		}
	}
	for i, n := range o.counts {
		st.Tensors[o.stepKey(o.names[i])] = []T{T(n)}
	}
	return st
}

func (o *optimizer[T]) SetState(params Params[T], st OptimizerState[T]) error {
	if st.Steps < 0 {
		return fmt.Errorf("optimizer state: %d steps", st.Steps)
	}
	expected := make(map[string]bool, len(st.Tensors))
	for slot, vecs := range o.slots {
		for i, p := range params {
			key := o.kind + "." + slot + "/" + p.Name
			expected[key] = true
			v, ok := st.Tensors[key]
			if !ok {
				return fmt.Errorf("optimizer state has no %q", key)
			}
			if len(v) != len(vecs[i]) {
				return fmt.Errorf("optimizer state %q has %d values, want %d", key, len(v), len(vecs[i]))
			}
			for j, x := range v {
				// Adam divides by the square root of its second moment.
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || (slot == "v" && x < 0) {
					return fmt.Errorf("optimizer state %q: value %d is %v", key, j, x)
				}
			}
			copy(vecs[i], v)
		}
	}
	o.steps = st.Steps
	for i, p := range params {
		// A checkpoint from before per-parameter counts: every parameter
		// was updated at every step.
		o.counts[i] = st.Steps
		key := o.stepKey(p.Name)
		v, ok := st.Tensors[key]
		if !ok {
			continue
		}
		expected[key] = true
		if len(v) != 1 {
			return fmt.Errorf("optimizer state %q has %d values, want 1", key, len(v))
		}
		if n := float64(v[0]); n != math.Trunc(n) || n < 0 || n > float64(st.Steps) {
			return fmt.Errorf("optimizer state %q: %v updates, want a whole number in 0..%d (the optimizer's steps)", key, v[0], st.Steps)
		}
		o.counts[i] = int(v[0])
	}
	for key := range st.Tensors {
		if !expected[key] {
			return fmt.Errorf("optimizer state %q belongs to no parameter of this model (is the checkpoint from another config or optimizer?)", key)
		}
	}
	return nil
}

// grad returns element i of p's gradient with weight decay folded in.
func (o *optimizer[T]) grad(p *Param[T], i int) float64 {
	g := float64(p.Grad[i])
	if o.cfg.WeightDecay != 0 {
		g += o.cfg.WeightDecay * float64(p.Value[i])
	}
	return g
}

// sgd is PyTorch's momentum SGD: buf = μ·buf + g; p -= lr·buf.
func (o *optimizer[T]) sgd(k int, p *Param[T], lr float64) {
	buf := o.slots["momentum"][k]
	for i := range p.Value {
		g := o.grad(p, i)
		if o.cfg.Momentum != 0 {
			g = o.cfg.Momentum*float64(buf[i]) + g
			buf[i] = T(g)
		}
		p.Value[i] -= T(lr * g)
	}
}

// adagrad: sum += g²; p -= lr·g/(sqrt(sum)+eps).
func (o *optimizer[T]) adagrad(k int, p *Param[T], lr float64) {
	sum := o.slots["sum"][k]
	for i := range p.Value {
		g := o.grad(p, i)
		acc := float64(sum[i]) + g*g
		sum[i] = T(acc)
		p.Value[i] -= T(lr * g / (math.Sqrt(acc) + o.cfg.Eps))
	}
}

// adam is Adam with PyTorch's bias correction, counted per parameter as
// PyTorch does, computed in T: float32 models update in single precision,
// as PyTorch's float32 Adam does.
func (o *optimizer[T]) adam(k int, p *Param[T], lr float64) {
	steps := float64(o.counts[k])
	b1, b2 := T(o.cfg.Beta1), T(o.cfg.Beta2)
	step := T(lr / (1 - math.Pow(o.cfg.Beta1, steps)))
	invC2 := T(1 / math.Sqrt(1-math.Pow(o.cfg.Beta2, steps)))
	eps, wd := T(o.cfg.Eps), T(o.cfg.WeightDecay)
	m, v, w, g := o.slots["m"][k], o.slots["v"][k], p.Value, p.Grad
	// Element-wise, so splitting large parameters over the cores gives the
	// same values bit for bit.
	if w32, ok := any(w).([]float32); ok {
		c := &vecmath.AdamCoefs{B1: float32(b1), B2: float32(b2), OneMinusB1: float32(1 - b1), OneMinusB2: float32(1 - b2),
			Step: float32(step), InvC2: float32(invC2), Eps: float32(eps), WeightDecay: float32(wd)}
		g32, m32, v32 := any(g).([]float32), any(m).([]float32), any(v).([]float32)
		parallelRange(len(w), 4, func(lo, hi int) { vecmath.Adam32(w32[lo:hi], g32[lo:hi], m32[lo:hi], v32[lo:hi], c) })
		return
	}
	parallelRange(len(w), 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := g[i]
			if wd != 0 {
				gi += wd * w[i]
			}
			mi := b1*m[i] + (1-b1)*gi
			vi := b2*v[i] + (1-b2)*gi*gi
			m[i], v[i] = mi, vi
			w[i] -= step * mi / (T(math.Sqrt(float64(vi)))*invC2 + eps)
		}
	})
}
