package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// attnRun is what a decoder-like loop over an Attention produced.
type attnRun[T Float] struct {
	loss     float64
	ctx, w   []Mat[T] // per step, as returned (owned by the caches)
	dq       []Mat[T] // per step
	dkeys    Mat[T]
	step0ctx Mat[T] // step 0's context copied right after its Forward
}

// attnState is the caller's side of an Attention: a batch's keys state and
// a cache per step, reused across runs.
type attnState[T Float] struct {
	keys   AttentionKeys[T]
	caches []*AttentionCache[T]
}

// runAttention sets the keys, runs one Forward per query with loss
// Σ_t Σ ctx_t⊙rc_t + Σ w_t⊙rw_t (rw may be nil), and, when backward is set,
// backpropagates the steps in reverse order.
func runAttention[T Float](t testing.TB, a *Attention[T], st *attnState[T], keys Mat[T], lengths []int, S int, qs, rc, rw []Mat[T], backward bool) attnRun[T] {
	t.Helper()
	if err := a.SetKeys(&st.keys, keys, lengths, S); err != nil {
		t.Fatal(err)
	}
	var r attnRun[T]
	for len(st.caches) < len(qs) {
		st.caches = append(st.caches, new(AttentionCache[T]))
	}
	caches := st.caches
	for i, q := range qs {
		c := caches[i]
		ctx, w := a.Forward(&st.keys, c, q)
		if !sameMat(ctx, c.Context()) || !sameMat(w, c.Weights()) {
			t.Fatal("the cache's outputs differ from Forward's")
		}
		if i == 0 {
			r.step0ctx = ctx.Clone()
		}
		r.ctx, r.w = append(r.ctx, ctx), append(r.w, w)
		for j, v := range ctx.Data[:ctx.Rows*ctx.Cols] {
			r.loss += float64(v) * float64(rc[i].Data[j])
		}
		if rw != nil {
			for j, v := range w.Data[:w.Rows*w.Cols] {
				r.loss += float64(v) * float64(rw[i].Data[j])
			}
		}
	}
	if !backward {
		return r
	}
	r.dq = make([]Mat[T], len(qs))
	for i := len(qs) - 1; i >= 0; i-- {
		r.dq[i] = NewMat[T](qs[i].Rows, qs[i].Cols)
		var dw Mat[T]
		if rw != nil {
			dw = rw[i]
		}
		a.Backward(&st.keys, caches[i], rc[i], dw, r.dq[i])
	}
	r.dkeys = a.KeysGrad(&st.keys)
	return r
}

// setPrecomputeAt moves the step at which general attention switches to
// projecting the keys (no effect on the other kinds).
func setPrecomputeAt[T Float](a *Attention[T], at int) {
	if g, ok := a.score.(*generalScore[T]); ok {
		g.precomputeAt = at
	}
}

func toMat[T Float](p *Param[float64]) Mat[T] {
	m := NewMat[T](p.Shape[0], p.Size()/p.Shape[0])
	for i, v := range p.Value {
		m.Data[i] = T(v)
	}
	return m
}

func paramMats[T Float](ps []*Param[float64]) []Mat[T] {
	if ps == nil {
		return nil
	}
	ms := make([]Mat[T], len(ps))
	for i, p := range ps {
		ms[i] = toMat[T](p)
	}
	return ms
}

// attnInputs draws keys, per-step queries and loss projections.
type attnInputs struct {
	keys       *Param[float64]
	qs, rc, rw []*Param[float64]
}

func newAttnInputs(rng *rand.Rand, cfg AttentionConfig, B, S, steps int, weightsLoss bool) attnInputs {
	in := attnInputs{keys: randomParam("keys", rng, B*S, cfg.Key)}
	for i := 0; i < steps; i++ {
		in.qs = append(in.qs, randomParam("q"+string(rune('0'+i)), rng, B, cfg.Query))
		in.rc = append(in.rc, randomParam("rc", rng, B, cfg.Key))
		if weightsLoss {
			in.rw = append(in.rw, randomParam("rw", rng, B, S))
		}
	}
	return in
}

func TestAttentionGradients(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cfg          AttentionConfig
		lengths      []int
		S            int
		precomputeAt int // general only; -1 = default (S)
		weightsLoss  bool
	}{
		{"dot", AttentionConfig{Kind: AttentionDot, Query: 4, Key: 4}, []int{3, 5}, 5, -1, true},
		{"dot context only", AttentionConfig{Kind: AttentionDot, Query: 4, Key: 4}, []int{5, 2}, 5, -1, false},
		{"general per-step", AttentionConfig{Kind: AttentionGeneral, Query: 3, Key: 4}, []int{3, 5}, 5, -1, true},
		{"general keys projected", AttentionConfig{Kind: AttentionGeneral, Query: 3, Key: 4}, []int{3, 5}, 5, 0, true},
		{"general switching at step 1", AttentionConfig{Kind: AttentionGeneral, Query: 3, Key: 4}, []int{3, 5}, 5, 1, true},
		{"general short source switches", AttentionConfig{Kind: AttentionGeneral, Query: 3, Key: 4}, []int{1, 2, 2}, 2, -1, true},
		{"additive", AttentionConfig{Kind: AttentionAdditive, Query: 3, Key: 4, Hidden: 5}, []int{3, 5}, 5, -1, true},
		{"additive three sequences", AttentionConfig{Kind: AttentionAdditive, Query: 2, Key: 3, Hidden: 4}, []int{1, 4, 2}, 4, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := testRNG()
			const steps = 3
			a, err := NewAttention[float64]("attn", tc.cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			setPrecomputeAt(a, tc.precomputeAt)
			B := len(tc.lengths)
			in := newAttnInputs(rng, tc.cfg, B, tc.S, steps, tc.weightsLoss)
			qs := make([]Mat[float64], steps)
			for i, q := range in.qs {
				qs[i] = q.Mat()
			}
			rc, rw := paramMats[float64](in.rc), paramMats[float64](in.rw)
			var st attnState[float64]
			loss := func() float64 {
				return runAttention(t, a, &st, in.keys.Mat(), tc.lengths, tc.S, qs, rc, rw, false).loss
			}
			a.Params().ZeroGrad()
			r := runAttention(t, a, &st, in.keys.Mat(), tc.lengths, tc.S, qs, rc, rw, true)
			if g := a.KeysGrad(&st.keys); &g.Data[0] != &r.dkeys.Data[0] || g.Data[0] != r.dkeys.Data[0] {
				t.Error("a second KeysGrad changed the gradient")
			}
			copy(in.keys.Grad, r.dkeys.Data)
			for i, q := range in.qs {
				copy(q.Grad, r.dq[i].Data)
			}
			if !sameMat(r.step0ctx, r.ctx[0]) {
				t.Error("step 0's context changed after later steps")
			}
			for i, w := range r.w {
				for b, n := range tc.lengths {
					row := w.Row(b)
					var sum float64
					for s, v := range row {
						if s >= n && v != 0 {
							t.Errorf("step %d sequence %d: padding position %d has weight %g", i, b, s, v)
						}
						sum += v
					}
					if math.Abs(sum-1) > 1e-12 {
						t.Errorf("step %d sequence %d: weights sum to %g", i, b, sum)
					}
				}
			}
			for b, n := range tc.lengths {
				for s := n; s < tc.S; s++ {
					for _, v := range r.dkeys.Row(b*tc.S + s) {
						if v != 0 {
							t.Fatalf("sequence %d padding position %d has key gradient %g", b, s, v)
						}
					}
				}
			}
			check := append(Params[float64]{in.keys}, in.qs...)
			check = append(check, a.Params()...)
			checkGrad(t, tc.name, loss, check)
		})
	}
}

func sameMat[T Float](a, b Mat[T]) bool {
	if a.Rows != b.Rows || a.Cols != b.Cols {
		return false
	}
	for i, v := range a.Data[:a.Rows*a.Cols] {
		if b.Data[i] != v {
			return false
		}
	}
	return true
}

// TestAttentionIgnoresPadding changes the padding keys to huge values and
// expects bit-identical outputs and gradients.
func TestAttentionIgnoresPadding(t *testing.T) {
	for _, kind := range AttentionKinds {
		cfg := AttentionConfig{Kind: kind, Query: 4, Key: 4, Hidden: 3}
		lengths, S := []int{3, 5}, 5
		run := func(pad float64) attnRun[float64] {
			rng := testRNG()
			a, err := NewAttention[float64]("attn", cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			setPrecomputeAt(a, 1)
			in := newAttnInputs(rng, cfg, len(lengths), S, 3, true)
			for s := lengths[0]; s < S; s++ {
				for j := range in.keys.Mat().Row(s) {
					in.keys.Value[s*cfg.Key+j] = pad
				}
			}
			qs := paramMats[float64](in.qs)
			r := runAttention(t, a, new(attnState[float64]), in.keys.Mat(), lengths, S, qs, paramMats[float64](in.rc), paramMats[float64](in.rw), true)
			r.dkeys = r.dkeys.Clone()
			for _, p := range a.Params() {
				r.dq = append(r.dq, Mat[float64]{Rows: 1, Cols: len(p.Grad), Data: append([]float64(nil), p.Grad...)})
			}
			return r
		}
		x, y := run(0.5), run(1e6)
		same := x.loss == y.loss && sameMat(x.dkeys, y.dkeys) && len(x.dq) == len(y.dq)
		for i := range x.dq {
			same = same && sameMat(x.dq[i], y.dq[i])
		}
		if !same {
			t.Errorf("%s: padding keys changed the results", kind)
		}
	}
}

// TestAttentionFloat32 runs the same batch in float32 and float64, twice
// (a larger batch first, so the second reuses grown buffers and caches).
func TestAttentionFloat32(t *testing.T) {
	for _, tc := range []struct {
		cfg          AttentionConfig
		precomputeAt int
	}{
		{AttentionConfig{Kind: AttentionDot, Query: 16, Key: 16}, -1},
		{AttentionConfig{Kind: AttentionGeneral, Query: 12, Key: 16}, -1},
		{AttentionConfig{Kind: AttentionGeneral, Query: 12, Key: 16}, 2},
		{AttentionConfig{Kind: AttentionAdditive, Query: 12, Key: 16, Hidden: 10}, -1},
	} {
		a64, err := NewAttention[float64]("attn", tc.cfg, testRNG())
		if err != nil {
			t.Fatal(err)
		}
		a32, err := NewAttention[float32]("attn", tc.cfg, testRNG())
		if err != nil {
			t.Fatal(err)
		}
		setPrecomputeAt(a64, tc.precomputeAt)
		setPrecomputeAt(a32, tc.precomputeAt)
		var st64 attnState[float64]
		var st32 attnState[float32]
		rng := rand.New(rand.NewPCG(5, 6))
		for _, batch := range []struct {
			lengths []int
			S       int
		}{{[]int{7, 3, 5, 1}, 7}, {[]int{2, 6, 4}, 6}} {
			in := newAttnInputs(rng, tc.cfg, len(batch.lengths), batch.S, 4, true)
			a64.Params().ZeroGrad()
			a32.Params().ZeroGrad()
			r64 := runAttention(t, a64, &st64, toMat[float64](in.keys), batch.lengths, batch.S,
				paramMats[float64](in.qs), paramMats[float64](in.rc), paramMats[float64](in.rw), true)
			r32 := runAttention(t, a32, &st32, toMat[float32](in.keys), batch.lengths, batch.S,
				paramMats[float32](in.qs), paramMats[float32](in.rc), paramMats[float32](in.rw), true)
			name := string(tc.cfg.Kind)
			for i := range r64.ctx {
				closeMats(t, name+" context", r32.ctx[i].Data, r64.ctx[i].Data)
				closeMats(t, name+" weights", r32.w[i].Data, r64.w[i].Data)
				closeMats(t, name+" dq", r32.dq[i].Data, r64.dq[i].Data)
			}
			closeMats(t, name+" keys grad", r32.dkeys.Data, r64.dkeys.Data)
			for k, p := range a64.Params() {
				closeMats(t, name+" "+p.Name, a32.Params()[k].Grad, p.Grad)
			}
		}
	}
}

func closeMats(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > 1e-5*(1+math.Abs(w)) {
			t.Errorf("%s[%d]: float32 %g, float64 %g", what, i, got[i], w)
			return
		}
	}
}

func TestAttentionRejects(t *testing.T) {
	for _, tc := range []struct {
		cfg  AttentionConfig
		want string
	}{
		{AttentionConfig{Kind: "scaled", Query: 4, Key: 4}, "unknown attention"},
		{AttentionConfig{Kind: "", Query: 4, Key: 4}, "unknown attention"},
		{AttentionConfig{Kind: AttentionDot, Query: 3, Key: 4}, "equal"},
		{AttentionConfig{Kind: AttentionGeneral, Query: 0, Key: 4}, "at least 1"},
		{AttentionConfig{Kind: AttentionDot, Query: 0, Key: 0}, "at least 1"},
		{AttentionConfig{Kind: AttentionAdditive, Query: 4, Key: 4}, "hidden"},
	} {
		if _, err := NewAttention[float32]("attn", tc.cfg, testRNG()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewAttention(%+v) error %v, want one mentioning %q", tc.cfg, err, tc.want)
		}
	}

	a, err := NewAttention[float32]("attn", AttentionConfig{Kind: AttentionGeneral, Query: 3, Key: 4}, testRNG())
	if err != nil {
		t.Fatal(err)
	}
	keys := NewMat[float32](10, 4)
	for _, tc := range []struct {
		name    string
		keys    Mat[float32]
		lengths []int
		S       int
		want    string
	}{
		{"zero length", keys, []int{0, 5}, 5, "sequence 0 has length 0"},
		{"length beyond S", keys, []int{5, 6}, 5, "sequence 1 has length 6"},
		{"wrong rows", keys, []int{3, 3, 3}, 5, "rows"},
		{"wrong columns", NewMat[float32](10, 3), []int{5, 5}, 5, "columns"},
		{"no sequences", keys, nil, 5, "no sequences"},
		{"zero S", NewMat[float32](0, 4), []int{1}, 0, "source length"},
	} {
		var k AttentionKeys[float32]
		if err := a.SetKeys(&k, tc.keys, tc.lengths, tc.S); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetKeys %s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestAttentionMisuse(t *testing.T) {
	a, err := NewAttention[float64]("attn", AttentionConfig{Kind: AttentionDot, Query: 2, Key: 2}, testRNG())
	if err != nil {
		t.Fatal(err)
	}
	keys := NewMat[float64](4, 2)
	var k AttentionKeys[float64]
	var c AttentionCache[float64]
	if err := a.SetKeys(&k, keys, []int{2, 1}, 2); err != nil {
		t.Fatal(err)
	}
	a.Forward(&k, &c, NewMat[float64](2, 2))
	d := NewMat[float64](2, 2)
	a.Backward(&k, &c, d, Mat[float64]{}, Mat[float64]{})
	mustPanic(t, "second Backward of a cache", func() { a.Backward(&k, &c, d, Mat[float64]{}, Mat[float64]{}) })
	a.Forward(&k, &c, NewMat[float64](2, 2))
	if err := a.SetKeys(&k, keys, []int{2, 2}, 2); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "Backward of a cache from an earlier batch", func() { a.Backward(&k, &c, d, Mat[float64]{}, d) })
	var other AttentionKeys[float64]
	if err := a.SetKeys(&other, keys, []int{2, 2}, 2); err != nil {
		t.Fatal(err)
	}
	a.Forward(&other, &c, NewMat[float64](2, 2))
	mustPanic(t, "Backward of a cache with another batch's keys", func() { a.Backward(&k, &c, d, Mat[float64]{}, d) })
	mustPanic(t, "Forward with a wrong query shape", func() { a.Forward(&k, &c, NewMat[float64](3, 2)) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

// BenchmarkAttentionStep times decoder steps at B=64, S=10,
// Query=Key=Hidden=256 in float32: one op is a batch of 10 steps as a
// decoder runs them (SetKeys, 10 Forward, 10 Backward in reverse,
// KeysGrad); ns/step is that divided by 10, so it includes the per-batch
// work amortised over the steps.
func BenchmarkAttentionStep(b *testing.B) {
	const batch, S, dim, steps = 64, 10, 256, 10
	for _, kind := range AttentionKinds {
		b.Run(string(kind), func(b *testing.B) {
			rng := testRNG()
			cfg := AttentionConfig{Kind: kind, Query: dim, Key: dim, Hidden: dim}
			a, err := NewAttention[float32]("attn", cfg, rng)
			if err != nil {
				b.Fatal(err)
			}
			keys := NewMat[float32](batch*S, dim)
			InitUniform(keys.Data, 1, rng)
			lengths := make([]int, batch)
			for i := range lengths {
				lengths[i] = S - i%4
			}
			q := NewMat[float32](batch, dim)
			InitUniform(q.Data, 1, rng)
			dctx := NewMat[float32](batch, dim)
			InitUniform(dctx.Data, 1, rng)
			dq := NewMat[float32](batch, dim)
			var ks AttentionKeys[float32]
			caches := make([]AttentionCache[float32], steps)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := a.SetKeys(&ks, keys, lengths, S); err != nil {
					b.Fatal(err)
				}
				for t := range caches {
					a.Forward(&ks, &caches[t], q)
				}
				for t := steps - 1; t >= 0; t-- {
					a.Backward(&ks, &caches[t], dctx, Mat[float32]{}, dq)
				}
				a.KeysGrad(&ks)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "ns/step")
		})
	}
}

// TestAttentionPlanSteps: general attention told that more steps follow
// than there are positions projects the keys from the first step; told
// fewer, or nothing (as after each SetKeys), it projects the queries.
func TestAttentionPlanSteps(t *testing.T) {
	rng := testRNG()
	a, err := NewAttention[float64]("attn", AttentionConfig{Kind: AttentionGeneral, Query: 3, Key: 4}, rng)
	if err != nil {
		t.Fatal(err)
	}
	const B, S = 2, 5
	keys, q := NewMat[float64](B*S, 4), NewMat[float64](B, 3)
	InitUniform(keys.Data, 1, rng)
	InitUniform(q.Data, 1, rng)
	var k AttentionKeys[float64]
	for _, tc := range []struct {
		plan    int // 0: no PlanSteps
		viaProj bool
	}{{S + 1, true}, {S, false}, {0, false}, {S + 3, true}} {
		if err := a.SetKeys(&k, keys, []int{S, 3}, S); err != nil {
			t.Fatal(err)
		}
		if tc.plan > 0 {
			k.PlanSteps(tc.plan)
		}
		var c AttentionCache[float64]
		a.Forward(&k, &c, q)
		if c.viaProj != tc.viaProj {
			t.Errorf("%d steps planned for %d positions: step 0 scored against the projected keys %v, want %v", tc.plan, S, c.viaProj, tc.viaProj)
		}
	}
}
