package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func testRNG() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

// randomParam returns a Param holding random values, used to treat inputs
// and projection weights uniformly in gradient checks.
func randomParam(name string, rng *rand.Rand, rows, cols int) *Param[float64] {
	p := NewParam[float64](name, rows, cols)
	InitUniform(p.Value, 1, rng)
	return p
}

// dot is Σ a⊙b, the scalar loss whose gradient with respect to a is b.
func dot(a Mat[float64], b []float64) float64 {
	var s float64
	for i, v := range a.Data[:a.Rows*a.Cols] {
		s += v * b[i]
	}
	return s
}

func checkGrad(t *testing.T, name string, loss func() float64, params Params[float64]) {
	t.Helper()
	res := GradCheck(loss, params, 1e-6, 1e-8, 1e-6, 40, testRNG())
	if res.Checked == 0 || !res.OK() {
		t.Errorf("%s: gradient check failed: %v", name, res)
	} else {
		t.Logf("%s: %v", name, res)
	}
}

func TestLinearGradients(t *testing.T) {
	rng := testRNG()
	l := NewLinear[float64]("fc", 5, 3, rng)
	x := randomParam("x", rng, 4, 5)
	proj := randomParam("proj", rng, 4, 3)
	var c LinearCache[float64]
	loss := func() float64 { return dot(l.Forward(&c, x.Mat()), proj.Value) }
	loss()
	l.Params().ZeroGrad()
	l.Backward(&c, proj.Mat(), x.GradMat())
	checkGrad(t, "linear", loss, append(l.Params(), x))
}

func TestEmbeddingGradients(t *testing.T) {
	rng := testRNG()
	e := NewEmbedding[float64]("emb", 6, 3, rng)
	ids := []int{0, 5, 2, 5} // a repeated id must accumulate
	proj := randomParam("proj", rng, 4, 3)
	var c EmbeddingCache[float64]
	loss := func() float64 {
		y, err := e.Forward(&c, ids)
		if err != nil {
			t.Fatal(err)
		}
		return dot(y, proj.Value)
	}
	loss()
	e.Backward(&c, proj.Mat())
	checkGrad(t, "embedding", loss, e.Params())
	if _, err := e.Forward(&c, []int{6}); err == nil {
		t.Error("Forward with id 6 on a table of 6 succeeded")
	}
}

func TestCrossEntropyGradients(t *testing.T) {
	rng := testRNG()
	for _, tc := range []struct {
		name    string
		targets []int
		opts    CrossEntropyOptions
	}{
		{"mean per token", []int{1, 0, 3}, CrossEntropyOptions{}},
		{"padding ignored, per batch", []int{2, IgnoreIndex, 0}, CrossEntropyOptions{Divisor: 2}},
		{"weighted rows, negative weights (policy gradient)", []int{1, 2, 3}, CrossEntropyOptions{Weights: []float64{0.7, -1.3, 0}}},
		{"label smoothing, padding ignored", []int{1, IgnoreIndex, 3}, CrossEntropyOptions{Smoothing: 0.1}},
		{"label smoothing and weights", []int{0, 2, 3}, CrossEntropyOptions{Smoothing: 0.3, Weights: []float64{2, -0.5, 1}, Divisor: 3}},
		{"temperature 0.5, weighted (tempered policy gradient)", []int{3, 1, 0}, CrossEntropyOptions{Temperature: 0.5, Weights: []float64{1.5, -0.7, 0.2}}},
		{"temperature 2 with smoothing", []int{2, IgnoreIndex, 1}, CrossEntropyOptions{Temperature: 2, Smoothing: 0.2}},
	} {
		logits := randomParam("logits", rng, 3, 4)
		d := NewMat[float64](3, 4)
		loss := func() float64 {
			s, n, err := CrossEntropyWith(logits.Mat(), tc.targets, d, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.opts.Divisor > 0 {
				return s / tc.opts.Divisor
			}
			return s / float64(n)
		}
		loss()
		copy(logits.Grad, d.Data)
		checkGrad(t, tc.name, loss, Params[float64]{logits})
	}
	if _, _, err := CrossEntropy(NewMat[float64](1, 4), []int{4}, NewMat[float64](1, 4), 0); err == nil {
		t.Error("target 4 with 4 classes accepted")
	}
	for _, opts := range []CrossEntropyOptions{{Weights: []float64{1}}, {Smoothing: 1}, {Smoothing: -0.1}, {Smoothing: math.NaN()}, {Temperature: -1}, {Temperature: math.NaN()}, {Temperature: math.Inf(1)}} {
		if _, _, err := CrossEntropyWith(NewMat[float64](2, 4), []int{1, 2}, NewMat[float64](2, 4), opts); err == nil {
			t.Errorf("options %+v accepted", opts)
		}
	}
	// A row of weight w contributes w times its unweighted loss.
	x := randomParam("x", rng, 2, 4).Mat()
	plain, _, _ := CrossEntropy(x, []int{0, 3}, NewMat[float64](2, 4), 0)
	first, _, _ := CrossEntropy(x.RowBlock(0, 1), []int{0}, NewMat[float64](1, 4), 0)
	weighted, _, _ := CrossEntropyWith(x, []int{0, 3}, NewMat[float64](2, 4), CrossEntropyOptions{Weights: []float64{-2, 1}})
	if want := plain - 3*first; math.Abs(weighted-want) > 1e-12 {
		t.Errorf("weighted sum %v, want %v", weighted, want)
	}
	// Label smoothing by hand: logits (0, ln 3) give p = (1/4, 3/4); with
	// ε = 0.2 and target 1 the target distribution is (0.1, 0.9), and the
	// loss -0.1·ln(1/4) - 0.9·ln(3/4).
	two := NewMat[float64](1, 2)
	two.Data[1] = math.Log(3)
	d := NewMat[float64](1, 2)
	got, _, _ := CrossEntropyWith(two, []int{1}, d, CrossEntropyOptions{Smoothing: 0.2})
	if want := -0.1*math.Log(0.25) - 0.9*math.Log(0.75); math.Abs(got-want) > 1e-12 || math.Abs(d.Data[0]-0.15) > 1e-12 {
		t.Errorf("smoothed loss %v, gradient %v; want %v and (0.15, -0.15)", got, d.Data, want)
	}
	// At temperature τ the loss is that of logits/τ: (0, 2·ln 3) at τ = 2
	// give p = (1/4, 3/4) again.
	two.Data[1] = 2 * math.Log(3)
	got, _, _ = CrossEntropyWith(two, []int{1}, d, CrossEntropyOptions{Temperature: 2})
	if want := -math.Log(0.75); math.Abs(got-want) > 1e-12 || math.Abs(d.Data[0]-0.125) > 1e-12 {
		t.Errorf("loss at temperature 2 %v, gradient %v; want %v and (0.125, -0.125)", got, d.Data, want)
	}
}

func TestBinaryCrossEntropyGradients(t *testing.T) {
	rng := testRNG()
	logits := randomParam("logits", rng, 3, 5)
	for i := range logits.Value {
		logits.Value[i] *= 8 // reach the saturated ends, where the stable form matters
	}
	targets := NewMat[float64](3, 5)
	for i := range targets.Data {
		targets.Data[i] = float64(i % 2)
	}
	targets.Data[3] = 0.25 // soft labels are allowed
	d := NewMat[float64](3, 5)
	loss := func() float64 {
		s, n, err := BinaryCrossEntropy(logits.Mat(), targets, d, 0)
		if err != nil {
			t.Fatal(err)
		}
		return s / float64(n)
	}
	loss()
	copy(logits.Grad, d.Data)
	checkGrad(t, "binary cross-entropy", loss, Params[float64]{logits})

	// Against the textbook form −y·log σ(x) − (1−y)·log(1−σ(x)) where it is
	// still accurate.
	x, y := NewMat[float64](1, 3), NewMat[float64](1, 3)
	copy(x.Data, []float64{-2, 0.5, 3})
	copy(y.Data, []float64{0, 1, 0.5})
	s, _, err := BinaryCrossEntropy(x, y, NewMat[float64](1, 3), 0)
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for i, xi := range x.Data {
		p := 1 / (1 + math.Exp(-xi))
		want -= y.Data[i]*math.Log(p) + (1-y.Data[i])*math.Log(1-p)
	}
	if math.Abs(s-want) > 1e-12 {
		t.Errorf("loss %g, want %g", s, want)
	}
	if _, _, err := BinaryCrossEntropy(x, y, NewMat[float64](1, 2), 0); err == nil || !strings.Contains(err.Error(), "dlogits 1×2") {
		t.Errorf("a short gradient buffer accepted or not named: %v", err)
	}
	y.Data[1] = 2
	if _, _, err := BinaryCrossEntropy(x, y, NewMat[float64](1, 3), 0); err == nil || !strings.Contains(err.Error(), "[0][1]") {
		t.Errorf("target 2 accepted or not located: %v", err)
	}
}

func TestDropoutGradientsAndScale(t *testing.T) {
	rng := testRNG()
	x := randomParam("x", rng, 50, 40)
	proj := randomParam("proj", rng, 50, 40)
	d := Dropout[float64]{P: 0.3}
	var c DropoutCache[float64]
	buf := NewMat[float64](50, 40)
	loss := func() float64 {
		buf.CopyFrom(x.Mat())
		d.Forward(&c, buf, true, rand.New(rand.NewPCG(7, 7)))
		return dot(buf, proj.Value)
	}
	loss()
	g := proj.Mat().Clone()
	d.Backward(&c, g)
	copy(x.Grad, g.Data)
	checkGrad(t, "dropout", loss, Params[float64]{x})
	zeros := 0
	for _, m := range c.mask {
		if m == 0 {
			zeros++
		}
	}
	if frac := float64(zeros) / float64(len(c.mask)); frac < 0.25 || frac > 0.35 {
		t.Errorf("dropped fraction %.3f, want about 0.3", frac)
	}
	buf.CopyFrom(x.Mat())
	d.Forward(&c, buf, false, nil)
	if buf.Data[0] != x.Value[0] {
		t.Error("dropout changed its input in evaluation mode")
	}
}

// TestDropoutFromAndAdd checks the out-of-place forms against the in-place
// ones: ForwardFrom writes what Forward leaves in place, from the same
// draws, without touching its source; BackwardAdd adds what Backward
// leaves in place.
func TestDropoutFromAndAdd(t *testing.T) {
	for _, p := range []float64{0, 0.4} {
		rng := testRNG()
		src := randomParam("src", rng, 7, 9).Mat()
		keep := src.Clone()
		d := Dropout[float64]{P: p}
		var inPlace, from DropoutCache[float64]
		want := src.Clone()
		d.Forward(&inPlace, want, true, rand.New(rand.NewPCG(4, 4)))
		got := NewMat[float64](7, 9)
		d.ForwardFrom(&from, got, src, rand.New(rand.NewPCG(4, 4)))
		if !slices.Equal(got.Data, want.Data) || !slices.Equal(src.Data, keep.Data) {
			t.Fatalf("P=%v: ForwardFrom wrote %v (source now %v), want %v (source unchanged)", p, got.Data, src.Data, want.Data)
		}
		dy := randomParam("dy", rng, 7, 9).Mat()
		acc := randomParam("acc", rng, 7, 9).Mat()
		wantAcc := dy.Clone()
		d.Backward(&inPlace, wantAcc)
		for i := range wantAcc.Data {
			wantAcc.Data[i] += acc.Data[i]
		}
		dyKeep := dy.Clone()
		d.BackwardAdd(&from, acc, dy)
		if !slices.Equal(acc.Data, wantAcc.Data) || !slices.Equal(dy.Data, dyKeep.Data) {
			t.Fatalf("P=%v: BackwardAdd gave %v, want %v with dy unchanged", p, acc.Data, wantAcc.Data)
		}
	}
}

// TestDropoutRate checks the masks' statistics over 200,000 elements:
// the dropped fraction is P, neighbours (which share one random draw) are
// dropped together as often as independent elements would be (P²), and
// survivors are scaled by 1/(1-P).
func TestDropoutRate(t *testing.T) {
	for _, p := range []float64{0.1, 0.35, 0.5, 0.9, 1} {
		d := Dropout[float32]{P: p}
		var c DropoutCache[float32]
		x := NewMat[float32](400, 500)
		fill(x.Data, 1)
		d.Forward(&c, x, true, rand.New(rand.NewPCG(3, 4)))
		dropped, both := 0, 0
		for i, m := range c.mask {
			switch {
			case m == 0:
				dropped++
				if i%2 == 1 && c.mask[i-1] == 0 {
					both++
				}
			case m != float32(1/(1-p)) || x.Data[i] != m:
				t.Fatalf("P=%v: element %d scaled by %v (input now %v), want 0 or %v", p, i, m, x.Data[i], float32(1/(1-p)))
			}
		}
		n := float64(len(c.mask))
		if frac := float64(dropped) / n; math.Abs(frac-p) > 0.005 {
			t.Errorf("P=%v: dropped %.4f of the elements", p, frac)
		}
		if pairs := float64(both) / (n / 2); math.Abs(pairs-p*p) > 0.006 {
			t.Errorf("P=%v: %.4f of neighbour pairs dropped together, want %.4f", p, pairs, p*p)
		}
	}
}

func TestRecurrentGradients(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  RecurrentConfig
		h0   bool
	}{
		{"rnn", RecurrentConfig{Cell: CellRNN, Input: 3, Hidden: 4, Layers: 1}, true},
		{"rnn zero state", RecurrentConfig{Cell: CellRNN, Input: 3, Hidden: 4, Layers: 1}, false},
		{"lstm", RecurrentConfig{Cell: CellLSTM, Input: 3, Hidden: 4, Layers: 1}, true},
		{"gru", RecurrentConfig{Cell: CellGRU, Input: 3, Hidden: 4, Layers: 1}, true},
		{"lstm 2 layers dropout", RecurrentConfig{Cell: CellLSTM, Input: 3, Hidden: 4, Layers: 2, Dropout: 0.3}, true},
		{"gru bidirectional 2 layers", RecurrentConfig{Cell: CellGRU, Input: 3, Hidden: 4, Layers: 2, Bidirectional: true}, true},
		{"rnn bidirectional", RecurrentConfig{Cell: CellRNN, Input: 3, Hidden: 4, Layers: 1, Bidirectional: true}, false},
		{"lstm bidirectional", RecurrentConfig{Cell: CellLSTM, Input: 3, Hidden: 4, Layers: 1, Bidirectional: true}, true},
		{"lstm 2 layers weight drop", RecurrentConfig{Cell: CellLSTM, Input: 3, Hidden: 4, Layers: 2, Dropout: 0.3, WeightDrop: 0.4}, true},
		{"gru bidirectional weight drop", RecurrentConfig{Cell: CellGRU, Input: 3, Hidden: 4, Layers: 1, Bidirectional: true, WeightDrop: 0.5}, false},
		{"rnn weight drop", RecurrentConfig{Cell: CellRNN, Input: 3, Hidden: 4, Layers: 1, WeightDrop: 0.3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := testRNG()
			const steps, batch = 5, 2
			r, err := NewRecurrent[float64]("rnn", tc.cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			nd, rows := tc.cfg.Directions(), r.StateRows(batch)
			x := randomParam("x", rng, steps*batch, tc.cfg.Input)
			h0 := randomParam("h0", rng, rows, tc.cfg.Hidden)
			c0 := randomParam("c0", rng, rows, tc.cfg.Hidden)
			gy := randomParam("gy", rng, steps*batch, tc.cfg.Hidden*nd)
			ghn := randomParam("ghn", rng, rows, tc.cfg.Hidden)
			gcn := randomParam("gcn", rng, rows, tc.cfg.Hidden)
			withC := tc.cfg.Cell.HasCellState()
			var h0m, c0m Mat[float64]
			if tc.h0 {
				h0m = h0.Mat()
				if withC {
					c0m = c0.Mat()
				}
			}
			var c RecurrentCache[float64]
			loss := func() float64 {
				y, hn, cn := r.Forward(&c, x.Mat(), steps, batch, h0m, c0m, true, rand.New(rand.NewPCG(3, 4)))
				s := dot(y, gy.Value) + dot(hn, ghn.Value)
				if withC {
					s += dot(cn, gcn.Value)
				}
				return s
			}
			loss()
			var dcn Mat[float64]
			if withC {
				dcn = gcn.Mat()
			}
			dx, dh0, dc0 := r.Backward(&c, gy.Mat(), ghn.Mat(), dcn)
			copy(x.Grad, dx.Data)
			check := append(Params[float64]{x}, r.Params()...)
			if tc.h0 {
				copy(h0.Grad, dh0.Data)
				check = append(check, h0)
				if withC {
					copy(c0.Grad, dc0.Data)
					check = append(check, c0)
				}
			}
			checkGrad(t, tc.name, loss, check)
		})
	}
}

func TestRecurrentConfigRejects(t *testing.T) {
	for _, cfg := range []RecurrentConfig{
		{Cell: "tanh", Input: 1, Hidden: 1, Layers: 1},
		{Cell: CellGRU, Input: 0, Hidden: 1, Layers: 1},
		{Cell: CellGRU, Input: 1, Hidden: 1, Layers: 1, Dropout: 1},
		{Cell: CellLSTM, Input: 1, Hidden: 1, Layers: 1, WeightDrop: 1},
		{Cell: CellLSTM, Input: 1, Hidden: 1, Layers: 1, WeightDrop: -0.1},
	} {
		if _, err := NewRecurrent[float32]("r", cfg, testRNG()); err == nil {
			t.Errorf("NewRecurrent(%+v) succeeded", cfg)
		}
	}
}

// TestRecurrentWeightDrop checks what weight drop does to a training
// pass: it runs as the same stack would with W_hh replaced by one masked
// copy — one mask for every step and sequence — whose dropped elements are
// zero and kept ones scaled by 1/(1-p); evaluation uses W_hh as it is.
func TestRecurrentWeightDrop(t *testing.T) {
	for _, cell := range Cells {
		t.Run(string(cell), func(t *testing.T) {
			rng := testRNG()
			const steps, batch, p = 6, 3, 0.5
			cfg := RecurrentConfig{Cell: cell, Input: 3, Hidden: 5, Layers: 1, WeightDrop: p}
			r, err := NewRecurrent[float64]("rnn", cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			x := randomParam("x", rng, steps*batch, cfg.Input)
			var c RecurrentCache[float64]
			y, _, _ := r.Forward(&c, x.Mat(), steps, batch, Mat[float64]{}, Mat[float64]{}, true, rand.New(rand.NewPCG(5, 6)))
			masked := c.dirs[0].dropped.Value
			whh := r.dirs[0].whh.Value
			zeros := 0
			for i, v := range masked {
				switch {
				case v == 0:
					zeros++
				case math.Abs(v-whh[i]/(1-p)) > 1e-15:
					t.Fatalf("kept element %d is %v, want %v/(1-p)", i, v, whh[i])
				}
			}
			if zeros == 0 || zeros == len(masked) {
				t.Fatalf("%d of %d elements of W_hh dropped", zeros, len(masked))
			}

			plainCfg := cfg
			plainCfg.WeightDrop = 0
			plain, _ := NewRecurrent[float64]("rnn", plainCfg, testRNG())
			for i, q := range plain.Params() {
				copy(q.Value, r.Params()[i].Value)
			}
			copy(plain.dirs[0].whh.Value, masked)
			var pc RecurrentCache[float64]
			want, _, _ := plain.Forward(&pc, x.Mat(), steps, batch, Mat[float64]{}, Mat[float64]{}, false, nil)
			for i := range want.Data {
				if math.Abs(y.Data[i]-want.Data[i]) > 1e-12 {
					t.Fatalf("training output %d is %v, want %v (the stack on the masked W_hh)", i, y.Data[i], want.Data[i])
				}
			}

			copy(plain.dirs[0].whh.Value, whh)
			eval, _, _ := r.Forward(&c, x.Mat(), steps, batch, Mat[float64]{}, Mat[float64]{}, false, nil)
			want, _, _ = plain.Forward(&pc, x.Mat(), steps, batch, Mat[float64]{}, Mat[float64]{}, false, nil)
			for i := range want.Data {
				if eval.Data[i] != want.Data[i] {
					t.Fatalf("evaluation output %d is %v, want %v (W_hh as it is)", i, eval.Data[i], want.Data[i])
				}
			}
		})
	}
}

// TestRecurrentPadded checks a padded batch two ways: gradients against
// finite differences, and outputs and final states against running each
// sequence alone at its own length.
func TestRecurrentPadded(t *testing.T) {
	for _, cfg := range []RecurrentConfig{
		{Cell: CellRNN, Input: 3, Hidden: 4, Layers: 1, Bidirectional: true},
		{Cell: CellLSTM, Input: 3, Hidden: 4, Layers: 2, Bidirectional: true},
		{Cell: CellGRU, Input: 3, Hidden: 4, Layers: 1, Bidirectional: true},
	} {
		t.Run(string(cfg.Cell), func(t *testing.T) {
			rng := testRNG()
			const steps, batch = 5, 3
			lengths := []int{5, 2, 3}
			r, err := NewRecurrent[float64]("rnn", cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			nd, rows := cfg.Directions(), r.StateRows(batch)
			x := randomParam("x", rng, steps*batch, cfg.Input)
			h0 := randomParam("h0", rng, rows, cfg.Hidden)
			c0 := randomParam("c0", rng, rows, cfg.Hidden)
			gy := randomParam("gy", rng, steps*batch, cfg.Hidden*nd)
			for tt := 0; tt < steps; tt++ { // the loss ignores padded outputs
				for b, l := range lengths {
					if tt >= l {
						clear(gy.Value[(tt*batch+b)*cfg.Hidden*nd : (tt*batch+b+1)*cfg.Hidden*nd])
					}
				}
			}
			ghn := randomParam("ghn", rng, rows, cfg.Hidden)
			gcn := randomParam("gcn", rng, rows, cfg.Hidden)
			withC := cfg.Cell.HasCellState()
			var c0m, dcn Mat[float64]
			if withC {
				c0m, dcn = c0.Mat(), gcn.Mat()
			}
			var c RecurrentCache[float64]
			loss := func() float64 {
				y, hn, cn := r.ForwardPadded(&c, x.Mat(), steps, batch, lengths, h0.Mat(), c0m, false, nil)
				s := dot(y, gy.Value) + dot(hn, ghn.Value)
				if withC {
					s += dot(cn, gcn.Value)
				}
				return s
			}
			loss()
			y := c.outs[len(c.outs)-1].Clone()
			hn := c.hn.Clone()
			// Backward with non-zero gradients at padded outputs: they must be ignored.
			noisy := gy.Mat().Clone()
			for i := range noisy.Data {
				if gy.Value[i] == 0 {
					noisy.Data[i] = 100
				}
			}
			dx, dh0, dc0 := r.Backward(&c, noisy, ghn.Mat(), dcn)
			copy(x.Grad, dx.Data)
			copy(h0.Grad, dh0.Data)
			check := append(Params[float64]{x, h0}, r.Params()...)
			if withC {
				copy(c0.Grad, dc0.Data)
				check = append(check, c0)
			}
			checkGrad(t, "padded "+string(cfg.Cell), loss, check)
			// Each sequence alone, at its own length.
			for b, l := range lengths {
				xb := NewMat[float64](l, cfg.Input)
				for tt := 0; tt < l; tt++ {
					copy(xb.Row(tt), x.Mat().Row(tt*batch+b))
				}
				hb, cb := NewMat[float64](rows/batch, cfg.Hidden), NewMat[float64](rows/batch, cfg.Hidden)
				for k := 0; k < rows/batch; k++ {
					copy(hb.Row(k), h0.Mat().Row(k*batch+b))
					copy(cb.Row(k), c0.Mat().Row(k*batch+b))
				}
				if !withC {
					cb = Mat[float64]{}
				}
				var cb1 RecurrentCache[float64]
				yb, hnb, _ := r.Forward(&cb1, xb, l, 1, hb, cb, false, nil)
				for tt := 0; tt < l; tt++ {
					for j, v := range yb.Row(tt) {
						if d := v - y.Row(tt*batch + b)[j]; d > 1e-12 || d < -1e-12 {
							t.Fatalf("sequence %d step %d: padded batch output differs from running alone", b, tt)
						}
					}
				}
				for k := 0; k < rows/batch; k++ {
					for j, v := range hnb.Row(k) {
						if d := v - hn.Row(k*batch + b)[j]; d > 1e-12 || d < -1e-12 {
							t.Fatalf("sequence %d state %d: padded batch final state differs from running alone", b, k)
						}
					}
				}
			}
		})
	}
}

// TestRecurrentStepwise runs a sequence one step per call, a cache per
// step, and checks outputs and gradients equal the whole-sequence pass.
func TestRecurrentStepwise(t *testing.T) {
	for _, cell := range Cells {
		cfg := RecurrentConfig{Cell: cell, Input: 3, Hidden: 4, Layers: 2}
		rng := testRNG()
		const steps, batch = 4, 2
		r, _ := NewRecurrent[float64]("rnn", cfg, rng)
		x := randomParam("x", rng, steps*batch, 3)
		gy := randomParam("gy", rng, steps*batch, 4)
		var whole RecurrentCache[float64]
		y, _, _ := r.Forward(&whole, x.Mat(), steps, batch, Mat[float64]{}, Mat[float64]{}, false, nil)
		want := y.Clone()
		r.Params().ZeroGrad()
		dxWhole, _, _ := r.Backward(&whole, gy.Mat(), Mat[float64]{}, Mat[float64]{})
		dxWant := dxWhole.Clone()
		gradsWant := map[string][]float64{}
		for _, p := range r.Params() {
			gradsWant[p.Name] = append([]float64(nil), p.Grad...)
		}
		r.Params().ZeroGrad()
		caches := make([]RecurrentCache[float64], steps)
		var h, c Mat[float64]
		for s := range caches {
			ys, hn, cn := r.Forward(&caches[s], x.Mat().RowBlock(s*batch, (s+1)*batch), 1, batch, h, c, false, nil)
			for i, v := range ys.Data {
				if v != want.Data[s*batch*4+i] {
					t.Fatalf("%s step %d: stepwise output differs", cell, s)
				}
			}
			h, c = hn.Clone(), cn
			if cell.HasCellState() {
				c = cn.Clone()
			}
		}
		var dh, dc Mat[float64]
		for s := steps - 1; s >= 0; s-- {
			dx, dh0, dc0 := r.Backward(&caches[s], gy.Mat().RowBlock(s*batch, (s+1)*batch), dh, dc)
			for i, v := range dx.Data[:batch*3] {
				if d := v - dxWant.Data[s*batch*3+i]; d > 1e-12 || d < -1e-12 {
					t.Fatalf("%s step %d: stepwise dx differs", cell, s)
				}
			}
			dh = dh0.Clone()
			if cell.HasCellState() {
				dc = dc0.Clone()
			}
		}
		for _, p := range r.Params() {
			for i, v := range p.Grad {
				if d := v - gradsWant[p.Name][i]; d > 1e-12 || d < -1e-12 {
					t.Fatalf("%s: stepwise gradient of %s differs", cell, p.Name)
				}
			}
		}
	}
}

// BenchmarkDropout measures drawing and applying a training mask to a
// [1600][640] activation (configs/charlm-15m.yaml's layer output on one
// worker), in millions of elements per second.
func BenchmarkDropout(b *testing.B) {
	d := Dropout[float32]{P: 0.35}
	var c DropoutCache[float32]
	x := NewMat[float32](1600, 640)
	rng := rand.New(rand.NewPCG(1, 1))
	for b.Loop() {
		d.Forward(&c, x, true, rng)
	}
	b.ReportMetric(float64(b.N*len(x.Data))/b.Elapsed().Seconds()/1e6, "Melem/s")
}

// TestRecurrentFloat32MatchesFloat64: the float32 step, whose cells run
// through vecmath's kernels (the gradient checks above run the generic code
// in float64), gives the float64 step's outputs and gradients to float32
// precision, for every cell, two layers and initial states — a kernel fed
// the wrong operand would be off by far more.
func TestRecurrentFloat32MatchesFloat64(t *testing.T) {
	for _, cell := range []Cell{CellRNN, CellLSTM, CellGRU} {
		t.Run(string(cell), func(t *testing.T) {
			const steps, batch = 6, 3
			cfg := RecurrentConfig{Cell: cell, Input: 20, Hidden: 37, Layers: 2}
			r64, err := NewRecurrent[float64]("r", cfg, testRNG())
			if err != nil {
				t.Fatal(err)
			}
			r32, err := NewRecurrent[float32]("r", cfg, testRNG())
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range r64.Params() {
				for j, v := range p.Value {
					r32.Params()[i].Value[j] = float32(v)
				}
			}
			rng := testRNG()
			rows := r64.StateRows(batch)
			x := randomParam("x", rng, steps*batch, cfg.Input).Mat()
			h0 := randomParam("h0", rng, rows, cfg.Hidden).Mat()
			c0 := randomParam("c0", rng, rows, cfg.Hidden).Mat()
			gy := randomParam("gy", rng, steps*batch, cfg.Hidden).Mat()
			ghn := randomParam("ghn", rng, rows, cfg.Hidden).Mat()
			gcn := randomParam("gcn", rng, rows, cfg.Hidden).Mat()
			if !cell.HasCellState() {
				c0, gcn = Mat[float64]{}, Mat[float64]{}
			}
			var c64 RecurrentCache[float64]
			var c32 RecurrentCache[float32]
			y64, _, _ := r64.Forward(&c64, x, steps, batch, h0, c0, true, nil)
			y32, _, _ := r32.Forward(&c32, toFloat32(x), steps, batch, toFloat32(h0), toFloat32(c0), true, nil)
			dx64, dh064, _ := r64.Backward(&c64, gy, ghn, gcn)
			dx32, dh032, _ := r32.Backward(&c32, toFloat32(gy), toFloat32(ghn), toFloat32(gcn))
			const rel = 2e-5 // float32 rounding over a few dozen operations
			closeTo(t, "y", toFloat64(y32.Data), y64.Data, rel)
			closeTo(t, "dx", toFloat64(dx32.Data), dx64.Data, rel)
			closeTo(t, "dh0", toFloat64(dh032.Data), dh064.Data, rel)
			for i, p := range r64.Params() {
				closeTo(t, p.Name, toFloat64(r32.Params()[i].Grad), p.Grad, rel)
			}
		})
	}
}

func toFloat32(m Mat[float64]) Mat[float32] {
	out := Mat[float32]{Rows: m.Rows, Cols: m.Cols, Data: make([]float32, len(m.Data))}
	for i, v := range m.Data {
		out.Data[i] = float32(v)
	}
	return out
}

func toFloat64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// TestCrossEntropyCoreCount checks that CrossEntropyWith gives the same
// bits on one core and on several, for a product large enough to be
// shared out: rows ignored, weighted and smoothed included.
func TestCrossEntropyCoreCount(t *testing.T) {
	rng := testRNG()
	const rows, v = 64, 2048
	logits := NewMat[float32](rows, v)
	InitNormal(logits.Data, 3, rng)
	targets := make([]int, rows)
	weights := make([]float64, rows)
	for i := range targets {
		targets[i] = rng.IntN(v)
		weights[i] = rng.Float64() - 0.3
	}
	targets[5], targets[40] = IgnoreIndex, IgnoreIndex
	run := func(procs int) (float64, []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		d := NewMat[float32](rows, v)
		sum, count, err := CrossEntropyWith(logits, targets, d, CrossEntropyOptions{Weights: weights, Smoothing: 0.1})
		if err != nil || count != rows-2 {
			t.Fatalf("%d cores: count %d, error %v", procs, count, err)
		}
		return sum, d.Data
	}
	sum1, d1 := run(1)
	sum4, d4 := run(4)
	if sum1 != sum4 || !slices.Equal(d1, d4) {
		t.Fatalf("one core: loss %v; four: %v (gradients equal: %v)", sum1, sum4, slices.Equal(d1, d4))
	}
}
