package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/seqtask/seqtask/vecmath"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// AttentionKind names a scoring function as configs spell it. Each kind
// lives in its own file (attention_dot.go, attention_general.go,
// attention_additive.go): its parameters, its scores forward and backward,
// and an init function that registers it, so a new kind is one file (plus
// its gradient check).
type AttentionKind string

// AttentionKinds lists the registered kinds, in the order configs and
// error messages name them.
var AttentionKinds []AttentionKind

// AttentionConfig sizes an attention layer: Query is the decoder state's
// width, Key the encoder states' width, Hidden the width of the additive
// score's tanh layer (ignored by the other kinds).
type AttentionConfig struct {
	Kind               AttentionKind
	Query, Key, Hidden int
}

// Validate reports the first impossible setting.
func (c AttentionConfig) Validate() error {
	k, ok := attentionRegistry[c.Kind]
	switch {
	case !ok:
		return fmt.Errorf("unknown attention %q (want one of %v)", c.Kind, AttentionKinds)
	case c.Query < 1 || c.Key < 1:
		return fmt.Errorf("attention query size %d and key size %d must both be at least 1", c.Query, c.Key)
	}
	if k.check != nil {
		return k.check(c)
	}
	return nil
}

// BeforeStep reports whether a decoder using this kind attends before its
// recurrent step, with the previous state as the query, and feeds the
// context into the step (Bahdanau et al.), rather than after it with the
// new state (Luong et al.): the convention each score was published with.
func (k AttentionKind) BeforeStep() bool { return attentionRegistry[k].beforeStep }

// attentionScore is one kind's scoring function at one element type, with
// its parameters. The shared code does the rest: the softmax over each
// sequence's valid positions, the context, their backward pass, and the
// bookkeeping of a batch's steps.
type attentionScore[T Float] interface {
	params() Params[T]
	// setKeys does the work all of a batch's steps share, into k.proj, or
	// leaves k.proj empty for score to fill before the batch's first
	// backward step.
	setKeys(k *AttentionKeys[T])
	// score writes into c.weights the scores of the query c.q against the
	// valid keys of each sequence (the softmax comes after), keeping in c
	// what backward needs.
	score(k *AttentionKeys[T], c *AttentionCache[T])
	// backward takes the scores' gradient k.ds, accumulates the
	// parameters' gradients and the keys' (into k.dkeys, or into k.dproj
	// with k.pending set, for flush), and writes the queries' gradient
	// into dq unless dq is empty.
	backward(k *AttentionKeys[T], c *AttentionCache[T], dq Mat[T])
	// flush pushes k.dproj into k.dkeys and the parameters' gradients.
	flush(k *AttentionKeys[T])
}

// attentionEntry is a registered kind.
type attentionEntry struct {
	order      int
	beforeStep bool
	check      func(AttentionConfig) error // the kind's own size checks; nil for none
	f32        func(prefix string, cfg AttentionConfig, rng *rand.Rand) attentionScore[float32]
	f64        func(prefix string, cfg AttentionConfig, rng *rand.Rand) attentionScore[float64]
}

var attentionRegistry = map[AttentionKind]attentionEntry{}

// registerAttention adds a kind under name; e.order places it in
// AttentionKinds. A duplicate name or order is a programming error and
// panics.
func registerAttention(name AttentionKind, e attentionEntry) {
	for n, o := range attentionRegistry {
		if n == name || o.order == e.order {
			panic(fmt.Sprintf("nn: attention %q registered twice (or at the order of %q)", name, n))
		}
	}
	attentionRegistry[name] = e
	AttentionKinds = append(AttentionKinds, name)
	slices.SortFunc(AttentionKinds, func(a, b AttentionKind) int {
		return attentionRegistry[a].order - attentionRegistry[b].order
	})
}

// Attention scores one decoder query per sequence against that sequence's
// encoder states and returns their softmax-weighted average, for a decoder
// that runs one target step at a time. It holds only its parameters; a
// batch's state lives in an AttentionKeys and each step's in an
// AttentionCache, both owned by the caller.
//
// Use per batch: SetKeys once with the encoder states, Forward once per
// decoder step with a cache per step, then Backward once per cache in any
// order (usually reverse), then KeysGrad for the gradient of the encoder
// states. Shapes: B sequences, S source positions, keys [B*S][Key]
// batch-major (row b*S+s), queries [B][Query]. Parameters are named under
// prefix as the PyTorch modules computing the same scores (each kind's
// constant lists them).
type Attention[T Float] struct {
	Config AttentionConfig
	score  attentionScore[T]
}

// AttentionKeys is one batch's state of an Attention: the keys SetKeys was
// given, the work every step shares (a kind's projection of the keys), the
// keys' gradient and scratch for the steps. The gradient buffers are made
// at the batch's first Backward, so a forward-only user (a search) has
// none. Its zero value is ready for SetKeys.
type AttentionKeys[T Float] struct {
	keys      Mat[T] // [B*S][Key], the caller's
	lengths   []int
	batch, sl int
	gen       uint64 // counts SetKeys, so that a cache of an earlier batch is refused
	planned   int    // steps the caller said it would run (PlanSteps; 0: unknown)
	steps     int    // Forward calls since SetKeys
	backSteps int    // Backward calls since SetKeys
	proj      Mat[T] // the kind's projection of every key (general: W k; additive: W_k k + b)
	projReady bool
	grads     bool   // dkeys, ds and dproj are sized and cleared for this batch
	dproj     Mat[T] // gradient of proj not yet pushed into dkeys and the parameters
	pending   bool
	dkeys     Mat[T]
	ds        Mat[T] // scratch: dscores [B][S]
	du        Mat[T] // scratch: the kind's query-side gradient
}

// startGrads sizes and clears k's gradient buffers once per batch.
func (k *AttentionKeys[T]) startGrads() {
	if k.grads {
		return
	}
	k.dkeys = resize(k.dkeys, k.keys.Rows, k.keys.Cols)
	k.dkeys.Zero()
	k.ds = resize(k.ds, k.batch, k.sl)
	k.dproj = resize(k.dproj, k.proj.Rows, k.proj.Cols)
	k.dproj.Zero()
	k.grads = true
}

// AttentionCache holds one Forward step's outputs and what its Backward
// needs; its zero value is ready to use. Pass a cache to Backward with the
// AttentionKeys of its Forward, before their next SetKeys.
type AttentionCache[T Float] struct {
	context Mat[T] // [B][Key]
	weights Mat[T] // [B][S]
	q       Mat[T] // copy of the query [B][Query]
	u       Mat[T] // the kind's transform of the query (general: Wᵀq [B][Key]; additive: W_q q [B][Hidden])
	e       Mat[T] // the kind's per-position values (additive: tanh(W_q q + W_k k + b) [B*S][Hidden], valid rows only)
	viaProj bool   // general: scored against the projected keys rather than Wᵀq
	keys    *AttentionKeys[T]
	gen     uint64
	done    bool
}

// Context returns the step's context [B][Key], held by the cache.
func (c *AttentionCache[T]) Context() Mat[T] { return c.context }

// Weights returns the step's attention weights [B][S], held by the cache.
func (c *AttentionCache[T]) Weights() Mat[T] { return c.weights }

// NewAttention builds an attention layer with parameters named under prefix
// (see Attention), initialised U(±1/sqrt(fan_in)) as torch.nn.Linear does.
func NewAttention[T Float](prefix string, cfg AttentionConfig, rng *rand.Rand) (*Attention[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	e := attentionRegistry[cfg.Kind]
	a := &Attention[T]{Config: cfg}
	if _, single := any(T(0)).(float32); single {
		a.score = any(e.f32(prefix, cfg, rng)).(attentionScore[T])
	} else {
		a.score = any(e.f64(prefix, cfg, rng)).(attentionScore[T])
	}
	return a, nil
}

// Params returns the learnable parameters (none for dot attention).
func (a *Attention[T]) Params() Params[T] { return a.score.params() }

// SetKeys starts a batch in k: keys [B*S][Key] batch-major, with
// B = len(lengths) sequences of which sequence b has lengths[b] valid
// positions; the rest are padding, which gets zero weight and zero
// gradient (its values must be finite but are otherwise ignored). keys is
// used in place, not copied, and must stay unchanged until the batch's
// last Backward. SetKeys does the work every step shares and clears the
// keys' gradient; caches of k's previous batch can no longer be
// backpropagated.
func (a *Attention[T]) SetKeys(k *AttentionKeys[T], keys Mat[T], lengths []int, S int) error {
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
	k.keys, k.batch, k.sl = keys, B, S
	k.lengths = append(k.lengths[:0], lengths...)
	k.gen++
	k.steps, k.backSteps, k.planned = 0, 0, 0
	k.projReady, k.pending, k.grads = false, false, false
	k.proj = Mat[T]{Data: k.proj.Data}
	a.score.setKeys(k)
	return nil
}

// PlanSteps tells k that n query steps will follow its SetKeys (a
// teacher-forced decoder knows them; a search does not, and leaves it
// unknown), so that a kind whose per-batch work pays only over enough
// steps can choose it at the first: general attention then projects the
// keys at once when n exceeds their positions, instead of projecting each
// step's query until it has run as many steps as there are positions.
func (k *AttentionKeys[T]) PlanSteps(n int) { k.planned = n }

// Forward attends with one step's queries q [B][Query] over the batch in k
// and returns the context [B][Key] (Σ_s w_s k_s over valid positions) and
// the weights [B][S] (a softmax over each sequence's valid positions,
// exactly 0 on padding). Both are held by c, which keeps what Backward
// needs; q is copied.
func (a *Attention[T]) Forward(k *AttentionKeys[T], c *AttentionCache[T], q Mat[T]) (context, weights Mat[T]) {
	cfg := a.Config
	if k.batch == 0 {
		panic("nn: Attention.Forward before SetKeys")
	}
	if q.Rows != k.batch || q.Cols != cfg.Query {
		panic(fmt.Sprintf("nn: Attention.Forward: query is %dx%d, want %dx%d", q.Rows, q.Cols, k.batch, cfg.Query))
	}
	B, S := k.batch, k.sl
	c.context = resize(c.context, B, cfg.Key)
	c.weights = resize(c.weights, B, S)
	c.weights.Zero()
	c.q = resize(c.q, B, cfg.Query)
	c.q.CopyFrom(q)
	c.keys, c.gen, c.done, c.viaProj = k, k.gen, false, false
	k.steps++
	a.score.score(k, c)
	w, ctx := c.weights, c.context
	for b := 0; b < B; b++ {
		n, row := k.lengths[b], w.Row(b)
		softmaxPrefix(row, n)
		out := ctx.Row(b)
		clear(out)
		for s := 0; s < n; s++ {
			vecAxpy(row[s], k.keys.Row(b*S+s), out)
		}
	}
	return ctx, w
}

// Backward backpropagates the step whose Forward filled c, over the batch
// in k, given the gradients of its context dcontext [B][Key] and,
// optionally (empty Mat for none), of its weights dweights [B][S]. It
// accumulates into the parameters' gradients and the keys' gradient, and
// writes the queries' gradient into dq [B][Query] unless dq is empty. Each
// cache may be backpropagated once. Gradients that flow through the shared
// per-batch work reach the parameters and keys when the last cache made
// since SetKeys is backpropagated, or at KeysGrad; run all of a batch's
// Forward steps before its Backward steps, as a decoder does, or that
// per-batch work is repeated at every step.
func (a *Attention[T]) Backward(k *AttentionKeys[T], c *AttentionCache[T], dcontext, dweights, dq Mat[T]) {
	cfg := a.Config
	if c.keys != k || c.gen != k.gen {
		panic("nn: Attention.Backward: cache from another batch (SetKeys since its Forward)")
	}
	if c.done {
		panic("nn: Attention.Backward: cache already backpropagated")
	}
	B, S := k.batch, k.sl
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
	k.backSteps++
	k.startGrads()

	// Through the weighted average and the softmax: dscore = w ⊙ (dw - Σ w dw)
	// with dw_s = dcontext·k_s (+ dweights_s).
	ds := k.ds
	for b := 0; b < B; b++ {
		n, w, dc, d := k.lengths[b], c.weights.Row(b), dcontext.Row(b), ds.Row(b)
		var sum T
		for s := 0; s < n; s++ {
			key := k.keys.Row(b*S + s)
			g := vecDot(dc, key)
			if !dweights.Empty() {
				g += dweights.Row(b)[s]
			}
			d[s] = g
			sum += w[s] * g
			vecAxpy(w[s], dc, k.dkeys.Row(b*S+s))
		}
		for s := 0; s < n; s++ {
			d[s] = w[s] * (d[s] - sum)
		}
	}
	a.score.backward(k, c, dq)
	if k.backSteps == k.steps {
		a.flush(k)
	}
}

// flush pushes the accumulated gradient of the shared projection into the
// keys' gradient and the parameters' gradients, and clears it.
func (a *Attention[T]) flush(k *AttentionKeys[T]) {
	if !k.pending {
		return
	}
	a.score.flush(k)
	k.dproj.Zero()
	k.pending = false
}

// KeysGrad returns the gradient of k's keys [B*S][Key] accumulated by the
// Backward calls since SetKeys, including what flows through the shared
// per-batch work (whose parameter gradients it also completes). Padding
// rows are exactly zero. The result is held by k until its next SetKeys.
func (a *Attention[T]) KeysGrad(k *AttentionKeys[T]) Mat[T] {
	k.startGrads()
	a.flush(k)
	return k.dkeys
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
