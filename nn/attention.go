package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/seqtask/seqtask/vecmath"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// AttentionKind names a scoring function as configs spell it.
type AttentionKind string

// The attention scores between a query q and a key k (the keys double as
// the values the context averages).
const (
	AttentionDot      AttentionKind = "dot"      // Luong: qᵀk (needs Query == Key)
	AttentionGeneral  AttentionKind = "general"  // Luong: qᵀ W k, W [Query][Key]
	AttentionAdditive AttentionKind = "additive" // Bahdanau: vᵀ tanh(W_q q + W_k k + b)
)

// AttentionKinds lists the valid kinds.
var AttentionKinds = []AttentionKind{AttentionDot, AttentionGeneral, AttentionAdditive}

// AttentionConfig sizes an attention layer: Query is the decoder state's
// width, Key the encoder states' width, Hidden the width of the additive
// score's tanh layer (ignored by the other kinds).
type AttentionConfig struct {
	Kind               AttentionKind
	Query, Key, Hidden int
}

// Validate reports the first impossible setting.
func (c AttentionConfig) Validate() error {
	switch {
	case c.Kind != AttentionDot && c.Kind != AttentionGeneral && c.Kind != AttentionAdditive:
		return fmt.Errorf("unknown attention %q (want one of %v)", c.Kind, AttentionKinds)
	case c.Query < 1 || c.Key < 1:
		return fmt.Errorf("attention query size %d and key size %d must both be at least 1", c.Query, c.Key)
	case c.Kind == AttentionDot && c.Query != c.Key:
		return fmt.Errorf("dot attention needs query size %d to equal key size %d (use general or additive)", c.Query, c.Key)
	case c.Kind == AttentionAdditive && c.Hidden < 1:
		return fmt.Errorf("additive attention hidden size %d must be at least 1", c.Hidden)
	}
	return nil
}

// Attention scores one decoder query per sequence against that sequence's
// encoder states and returns their softmax-weighted average, for a decoder
// that runs one target step at a time.
//
// Use per batch: SetKeys once with the encoder states, Forward once per
// decoder step (each returns its own cache, kept by the caller), then
// Backward once per cache in any order (usually reverse), then KeysGrad for
// the gradient of the encoder states. Shapes: B sequences, S source
// positions, keys [B*S][Key] batch-major (row b*S+s), queries [B][Query].
//
// Parameters, named as the PyTorch modules computing the same scores:
//
//	general:  prefix.weight [Query][Key] (nn.Linear(Key, Query, bias=False) on the keys)
//	additive: prefix.query_layer.weight [Hidden][Query],
//	          prefix.key_layer.weight [Hidden][Key], prefix.key_layer.bias [Hidden],
//	          prefix.energy_layer.weight [1][Hidden]
//
// Work shared by all steps is done once per batch: additive projects every
// key (W_k k + b) in SetKeys. General could either project every key (W k,
// B·S·Query·Key multiply-adds, plus twice that in backward) or project each
// step's query (Wᵀq, B·Query·Key per step, plus twice that in backward);
// the first is cheaper when the decoder runs more than S steps, which is
// not known in advance, so a batch starts with per-step projections and
// switches to projecting the keys at step S. That never costs more than
// twice the cheaper choice and equals it when T <= S.
type Attention[T Float] struct {
	Config AttentionConfig

	weight        *Param[T] // general
	wq, wk, bk, v *Param[T] // additive
	precomputeAt  int       // general: first step using W k; < 0 means S

	// Per batch, set by SetKeys.
	keys      Mat[T]
	lengths   []int
	batch, sl int
	gen       uint64
	steps     int    // Forward calls since SetKeys
	backSteps int    // Backward calls since SetKeys
	proj      Mat[T] // W k [B*S][Query] (general) or W_k k + b [B*S][Hidden] (additive)
	projReady bool
	dproj     Mat[T] // gradient of proj not yet pushed into keys and parameters
	pending   bool
	dkeys     Mat[T]
	caches    []*AttentionCache[T] // pool, reused across batches

	// Scratch for one call.
	pq Mat[T] // additive: W_q q [B][Hidden]
	ds Mat[T] // dscores [B][S]
	du Mat[T] // general: d(Wᵀq) [B][Key]; additive: d(W_q q) [B][Hidden]
}

// AttentionCache holds one Forward step's outputs and what its Backward
// needs. It belongs to the Attention that made it and is recycled by its
// next SetKeys.
type AttentionCache[T Float] struct {
	context Mat[T] // [B][Key]
	weights Mat[T] // [B][S]
	q       Mat[T] // copy of the query [B][Query]
	u       Mat[T] // general per-step: Wᵀq [B][Key]
	e       Mat[T] // additive: tanh(W_q q + W_k k + b) [B*S][Hidden], valid rows only
	viaProj bool   // general: scored against proj rather than Wᵀq
	gen     uint64
	done    bool
}

// Context returns the step's context [B][Key] (valid until the next SetKeys).
func (c *AttentionCache[T]) Context() Mat[T] { return c.context }

// Weights returns the step's attention weights [B][S] (valid until the next SetKeys).
func (c *AttentionCache[T]) Weights() Mat[T] { return c.weights }

// NewAttention builds an attention layer with parameters named under prefix
// (see Attention), initialised U(±1/sqrt(fan_in)) as torch.nn.Linear does.
func NewAttention[T Float](prefix string, cfg AttentionConfig, rng *rand.Rand) (*Attention[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	a := &Attention[T]{Config: cfg, precomputeAt: -1}
	bound := func(in int) float64 { return 1 / math.Sqrt(float64(in)) }
	switch cfg.Kind {
	case AttentionGeneral:
		a.weight = NewParam[T](prefix+".weight", cfg.Query, cfg.Key)
		InitUniform(a.weight.Value, bound(cfg.Key), rng)
	case AttentionAdditive:
		h := cfg.Hidden
		a.wq = NewParam[T](prefix+".query_layer.weight", h, cfg.Query)
		a.wk = NewParam[T](prefix+".key_layer.weight", h, cfg.Key)
		a.bk = NewParam[T](prefix+".key_layer.bias", h)
		a.v = NewParam[T](prefix+".energy_layer.weight", 1, h)
		InitUniform(a.wq.Value, bound(cfg.Query), rng)
		InitUniform(a.wk.Value, bound(cfg.Key), rng)
		InitUniform(a.bk.Value, bound(cfg.Key), rng)
		InitUniform(a.v.Value, bound(h), rng)
	}
	return a, nil
}

// Params returns the learnable parameters (none for dot attention).
func (a *Attention[T]) Params() Params[T] {
	switch a.Config.Kind {
	case AttentionGeneral:
		return Params[T]{a.weight}
	case AttentionAdditive:
		return Params[T]{a.wq, a.wk, a.bk, a.v}
	}
	return nil
}

// SetKeys starts a batch: keys [B*S][Key] batch-major, with B = len(lengths)
// sequences of which sequence b has lengths[b] valid positions; the rest
// are padding, which gets zero weight and zero gradient (its values must
// be finite but are otherwise ignored). keys is used in place, not copied,
// and must stay unchanged until the batch's last Backward. SetKeys does the
// work every step shares, clears the keys' gradient and recycles the caches
// of the previous batch.
func (a *Attention[T]) SetKeys(keys Mat[T], lengths []int, S int) error {
	cfg := a.Config
	switch {
	case len(lengths) == 0:
		return fmt.Errorf("attention: no sequences (empty lengths)")
	case S < 1:
		return fmt.Errorf("attention: source length %d must be at least 1", S)
	case keys.Cols != cfg.Key:
		return fmt.Errorf("attention: keys have %d columns, want key size %d", keys.Cols, cfg.Key)
	case keys.Rows != len(lengths)*S:
		return fmt.Errorf("attention: keys have %d rows, want %d sequences × %d positions = %d", keys.Rows, len(lengths), S, len(lengths)*S)
	}
	for b, n := range lengths {
		if n < 1 || n > S {
			return fmt.Errorf("attention: sequence %d has length %d, want 1..%d", b, n, S)
		}
	}
	B := len(lengths)
	a.keys, a.batch, a.sl = keys, B, S
	a.lengths = append(a.lengths[:0], lengths...)
	a.gen++
	a.steps, a.backSteps = 0, 0
	a.projReady, a.pending = false, false
	a.dkeys = resize(a.dkeys, B*S, cfg.Key)
	a.dkeys.Zero()
	a.ds = resize(a.ds, B, S)
	switch cfg.Kind {
	case AttentionGeneral:
		a.proj = resize(a.proj, B*S, cfg.Query)
		a.dproj = resize(a.dproj, B*S, cfg.Query)
		a.dproj.Zero()
		a.du = resize(a.du, B, cfg.Key)
	case AttentionAdditive:
		h := cfg.Hidden
		a.proj = resize(a.proj, B*S, h)
		Gemm(false, true, 1, keys, a.wk.Mat(), 0, a.proj)
		addRowVector(a.proj, a.bk.Value)
		a.projReady = true
		a.dproj = resize(a.dproj, B*S, h)
		a.dproj.Zero()
		a.pq = resize(a.pq, B, h)
		a.du = resize(a.du, B, h)
	}
	return nil
}

// Forward attends with one step's queries q [B][Query] and returns the
// context [B][Key] (Σ_s w_s k_s over valid positions), the weights [B][S]
// (a softmax over each sequence's valid positions, exactly 0 on padding)
// and the cache to pass to Backward. The outputs live in the cache, so they
// stay valid until the next SetKeys; q is copied.
func (a *Attention[T]) Forward(q Mat[T]) (context, weights Mat[T], cache *AttentionCache[T]) {
	cfg := a.Config
	if a.batch == 0 {
		panic("nn: Attention.Forward before SetKeys")
	}
	if q.Rows != a.batch || q.Cols != cfg.Query {
		panic(fmt.Sprintf("nn: Attention.Forward: query is %dx%d, want %dx%d", q.Rows, q.Cols, a.batch, cfg.Query))
	}
	B, S := a.batch, a.sl
	c := a.nextCache()
	c.q.CopyFrom(q)
	a.steps++
	w := c.weights
	switch cfg.Kind {
	case AttentionDot:
		scoreRows(w, c.q, a.keys, a.lengths)
	case AttentionGeneral:
		at := a.precomputeAt
		if at < 0 {
			at = S
		}
		if a.steps-1 >= at && !a.projReady {
			Gemm(false, true, 1, a.keys, a.weight.Mat(), 0, a.proj)
			a.projReady = true
		}
		c.viaProj = a.projReady
		if c.viaProj {
			scoreRows(w, c.q, a.proj, a.lengths)
		} else {
			c.u = resize(c.u, B, cfg.Key)
			Gemm(false, false, 1, c.q, a.weight.Mat(), 0, c.u)
			scoreRows(w, c.u, a.keys, a.lengths)
		}
	case AttentionAdditive:
		h := cfg.Hidden
		Gemm(false, true, 1, c.q, a.wq.Mat(), 0, a.pq)
		c.e = resize(c.e, B*S, h)
		v := a.v.Value
		for b := 0; b < B; b++ {
			n, lo := a.lengths[b], b*S
			pq := a.pq.Row(b)
			blk := c.e.Data[lo*h : (lo+n)*h]
			pk := a.proj.Data[lo*h : (lo+n)*h]
			for s := 0; s < n; s++ {
				eb, kb := blk[s*h:(s+1)*h], pk[s*h:(s+1)*h]
				for j, x := range pq {
					eb[j] = kb[j] + x
				}
			}
			tanhSlice(blk, blk)
			row := w.Row(b)
			for s := 0; s < n; s++ {
				row[s] = vecDot(blk[s*h:(s+1)*h], v)
			}
		}
	}
	ctx := c.context
	for b := 0; b < B; b++ {
		n, row := a.lengths[b], w.Row(b)
		softmaxPrefix(row, n)
		out := ctx.Row(b)
		clear(out)
		for s := 0; s < n; s++ {
			vecAxpy(row[s], a.keys.Row(b*S+s), out)
		}
	}
	return ctx, w, c
}

// nextCache hands out the next pooled cache, sized for the current batch.
func (a *Attention[T]) nextCache() *AttentionCache[T] {
	if a.steps == len(a.caches) {
		a.caches = append(a.caches, new(AttentionCache[T]))
	}
	c := a.caches[a.steps]
	cfg := a.Config
	c.context = resize(c.context, a.batch, cfg.Key)
	c.weights = resize(c.weights, a.batch, a.sl)
	c.weights.Zero()
	c.q = resize(c.q, a.batch, cfg.Query)
	c.gen, c.done, c.viaProj = a.gen, false, false
	return c
}

// scoreRows sets w[b][s] = u_b · m_{b*S+s} for the valid positions of each
// sequence, S = w.Cols.
func scoreRows[T Float](w, u, m Mat[T], lengths []int) {
	S := w.Cols
	for b, n := range lengths {
		ub, row := u.Row(b), w.Row(b)
		for s := 0; s < n; s++ {
			row[s] = vecDot(ub, m.Row(b*S+s))
		}
	}
}

// Backward backpropagates one step given the gradients of its context
// dcontext [B][Key] and, optionally (empty Mat for none), of its weights
// dweights [B][S]. It accumulates into the parameters' gradients and the
// keys' gradient, and writes the queries' gradient into dq [B][Query]
// unless dq is empty. Each cache may be backpropagated once. Gradients that
// flow through the shared per-batch work reach the parameters and keys
// when the last cache made since SetKeys is backpropagated, or at KeysGrad;
// run all of a batch's Forward steps before its Backward steps, as a
// decoder does, or that per-batch work is repeated at every step.
func (a *Attention[T]) Backward(dcontext, dweights Mat[T], cache *AttentionCache[T], dq Mat[T]) {
	cfg := a.Config
	c := cache
	if c.gen != a.gen {
		panic("nn: Attention.Backward: cache from an earlier batch (SetKeys since its Forward)")
	}
	if c.done {
		panic("nn: Attention.Backward: cache already backpropagated")
	}
	B, S := a.batch, a.sl
	if dcontext.Rows != B || dcontext.Cols != cfg.Key {
		panic(fmt.Sprintf("nn: Attention.Backward: dcontext is %dx%d, want %dx%d", dcontext.Rows, dcontext.Cols, B, cfg.Key))
	}
	if !dweights.Empty() {
		mustSameShape("Attention.Backward dweights", dweights, c.weights)
	}
	if !dq.Empty() {
		mustSameShape("Attention.Backward dq", dq, c.q)
	}
	c.done = true
	a.backSteps++

	// Through the weighted average and the softmax: dscore = w ⊙ (dw - Σ w dw)
	// with dw_s = dcontext·k_s (+ dweights_s).
	ds := a.ds
	for b := 0; b < B; b++ {
		n, w, dc, d := a.lengths[b], c.weights.Row(b), dcontext.Row(b), ds.Row(b)
		var sum T
		for s := 0; s < n; s++ {
			k := a.keys.Row(b*S + s)
			g := vecDot(dc, k)
			if !dweights.Empty() {
				g += dweights.Row(b)[s]
			}
			d[s] = g
			sum += w[s] * g
			vecAxpy(w[s], dc, a.dkeys.Row(b*S+s))
		}
		for s := 0; s < n; s++ {
			d[s] = w[s] * (d[s] - sum)
		}
	}

	switch cfg.Kind {
	case AttentionDot:
		scoreBackward(ds, c.q, a.keys, a.dkeys, dq, a.lengths)
	case AttentionGeneral:
		if c.viaProj {
			scoreBackward(ds, c.q, a.proj, a.dproj, dq, a.lengths)
			a.pending = true
		} else {
			scoreBackward(ds, c.u, a.keys, a.dkeys, a.du, a.lengths)
			Gemm(true, false, 1, c.q, a.du, 1, a.weight.GradMat())
			if !dq.Empty() {
				Gemm(false, true, 1, a.du, a.weight.Mat(), 0, dq)
			}
		}
	case AttentionAdditive:
		h := cfg.Hidden
		v, dv := a.v.Value, a.v.Grad
		a.du.Zero()
		for b := 0; b < B; b++ {
			n, d, dpq := a.lengths[b], ds.Row(b), a.du.Row(b)
			for s := 0; s < n; s++ {
				r := b*S + s
				e, dpk := c.e.Data[r*h:(r+1)*h], a.dproj.Data[r*h:(r+1)*h]
				g := d[s]
				vecAxpy(g, e, dv)
				for j, x := range e {
					p := g * v[j] * (1 - x*x)
					dpk[j] += p
					dpq[j] += p
				}
			}
		}
		a.pending = true
		Gemm(true, false, 1, a.du, c.q, 1, a.wq.GradMat())
		if !dq.Empty() {
			Gemm(false, false, 1, a.du, a.wq.Mat(), 0, dq)
		}
	}
	if a.backSteps == a.steps {
		a.flush()
	}
}

// scoreBackward backpropagates w[b][s] = u_b · m_{b*S+s}: dm_r += ds·u_b
// and du_b = Σ_s ds·m_r (du is overwritten; skipped when empty).
func scoreBackward[T Float](ds, u, m, dm, du Mat[T], lengths []int) {
	S := ds.Cols
	for b, n := range lengths {
		d, ub := ds.Row(b), u.Row(b)
		var dub []T
		if !du.Empty() {
			dub = du.Row(b)
			clear(dub)
		}
		for s := 0; s < n; s++ {
			r := b*S + s
			vecAxpy(d[s], ub, dm.Row(r))
			if dub != nil {
				vecAxpy(d[s], m.Row(r), dub)
			}
		}
	}
}

// flush pushes the accumulated gradient of the shared projection into the
// keys' gradient and the parameters' gradients, and clears it.
func (a *Attention[T]) flush() {
	if !a.pending {
		return
	}
	switch a.Config.Kind {
	case AttentionGeneral:
		Gemm(false, false, 1, a.dproj, a.weight.Mat(), 1, a.dkeys)
		Gemm(true, false, 1, a.dproj, a.keys, 1, a.weight.GradMat())
	case AttentionAdditive:
		Gemm(false, false, 1, a.dproj, a.wk.Mat(), 1, a.dkeys)
		Gemm(true, false, 1, a.dproj, a.keys, 1, a.wk.GradMat())
		addColumnSums(a.bk.Grad, a.dproj)
	}
	a.dproj.Zero()
	a.pending = false
}

// KeysGrad returns the gradient of the keys [B*S][Key] accumulated by the
// Backward calls since SetKeys, including what flows through the shared
// per-batch work (whose parameter gradients it also completes). Padding
// rows are exactly zero. The result is valid until the next SetKeys.
func (a *Attention[T]) KeysGrad() Mat[T] {
	a.flush()
	return a.dkeys
}

// softmaxPrefix replaces row[:n] by its softmax and zeroes row[n:].
func softmaxPrefix[T Float](row []T, n int) {
	x := row[:n]
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	for i := range x {
		x[i] -= m
	}
	switch f := any(x).(type) {
	case []float32:
		vecmath.Exp32(f, f)
	case []float64:
		for i, v := range f {
			f[i] = math.Exp(v)
		}
	}
	var z T
	for _, v := range x {
		z += v
	}
	inv := 1 / z
	for i := range x {
		x[i] *= inv
	}
	clear(row[n:])
}

// vecDot is Σ a_i b_i over len(a) entries, through BLAS (SIMD in gonum).
func vecDot[T Float](a, b []T) T {
	n := len(a)
	switch x := any(a).(type) {
	case []float32:
		return T(blas32.Dot(blas32.Vector{N: n, Inc: 1, Data: x}, blas32.Vector{N: n, Inc: 1, Data: any(b).([]float32)}))
	case []float64:
		return T(blas64.Dot(blas64.Vector{N: n, Inc: 1, Data: x}, blas64.Vector{N: n, Inc: 1, Data: any(b).([]float64)}))
	}
	panic("unreachable")
}

// vecAxpy sets y += alpha·x over len(x) entries, through BLAS.
func vecAxpy[T Float](alpha T, x, y []T) {
	n := len(x)
	switch xs := any(x).(type) {
	case []float32:
		blas32.Axpy(float32(alpha), blas32.Vector{N: n, Inc: 1, Data: xs}, blas32.Vector{N: n, Inc: 1, Data: any(y).([]float32)})
	case []float64:
		blas64.Axpy(float64(alpha), blas64.Vector{N: n, Inc: 1, Data: xs}, blas64.Vector{N: n, Inc: 1, Data: any(y).([]float64)})
	}
}
