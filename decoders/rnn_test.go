package decoders

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/nn"
)

// fixture is a decoder with a batch of random initial states, keys and
// tokens, the initial states and keys wrapped as parameters so that the
// gradient check covers what Backward returns.
type fixture struct {
	d               *RNN[float64]
	h0, c0, keys    *nn.Param[float64]
	tokens, targets []int
	B, S, steps     int
}

func newFixture(t *testing.T, cfg Config, withC0 bool) *fixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	d, err := New[float64]("decoder", cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{d: d, B: 3, S: 4, steps: 5}
	f.h0 = nn.NewParam[float64]("h0", cfg.Layers*f.B, cfg.Hidden)
	nn.InitNormal(f.h0.Value, 0.5, rng)
	if withC0 {
		f.c0 = nn.NewParam[float64]("c0", cfg.Layers*f.B, cfg.Hidden)
		nn.InitNormal(f.c0.Value, 0.5, rng)
	}
	if cfg.Attention != "" && cfg.Attention != "none" {
		f.keys = nn.NewParam[float64]("keys", f.B*f.S, cfg.Key)
		nn.InitNormal(f.keys.Value, 1, rng)
	}
	f.tokens = make([]int, f.steps*f.B)
	f.targets = make([]int, f.steps*f.B)
	for i := range f.tokens {
		f.tokens[i] = 1 + rng.IntN(cfg.Vocab-1)
		f.targets[i] = rng.IntN(cfg.Vocab)
	}
	// The last item ends one step early: padding in and ignored out.
	f.tokens[(f.steps-1)*f.B+f.B-1] = cfg.Pad
	f.targets[(f.steps-1)*f.B+f.B-1] = nn.IgnoreIndex
	return f
}

func (f *fixture) batch() Batch[float64] {
	b := Batch[float64]{H0: f.h0.Mat(), Tokens: append([]int(nil), f.tokens...), Steps: f.steps}
	if f.c0 != nil {
		b.C0 = f.c0.Mat()
	}
	if f.keys != nil {
		b.Keys, b.S, b.Lengths = f.keys.Mat(), f.S, []int{f.S, f.S - 1, 2}
	}
	return b
}

// params lists the decoder's parameters and the wrapped inputs.
func (f *fixture) params() nn.Params[float64] {
	ps := append(nn.Params[float64]{}, f.d.Params()...)
	for _, p := range []*nn.Param[float64]{f.h0, f.c0, f.keys} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// loss runs forward and backward (accumulating all gradients) and returns
// the mean loss per target.
func (f *fixture) loss(t *testing.T, ratio float64) float64 {
	t.Helper()
	logits, err := f.d.Forward(f.batch(), ratio, true, rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	dlogits := nn.NewMat[float64](logits.Rows, logits.Cols)
	sum, n, err := nn.CrossEntropy(logits, f.targets, dlogits, 0)
	if err != nil {
		t.Fatal(err)
	}
	dh0, dc0, dkeys := f.d.Backward(dlogits)
	nn.AddTo(f.h0.GradMat(), dh0)
	if f.c0 != nil {
		nn.AddTo(f.c0.GradMat(), dc0)
	}
	if f.keys != nil {
		nn.AddTo(f.keys.GradMat(), dkeys)
	}
	return sum / float64(n)
}

func baseConfig() Config {
	return Config{Vocab: 7, Embed: 5, Cell: nn.CellGRU, Hidden: 6, Layers: 1, Key: 6}
}

// TestGradients checks the decoder — every attention kind, input feeding,
// tied embeddings, stacked layers, dropout, scheduled sampling, initial
// LSTM cells — and the gradients it returns for its initial states and
// keys against finite differences.
func TestGradients(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		c0     bool
		ratio  float64
	}{
		{"gru, no attention", func(c *Config) { c.Attention = "none" }, false, 1},
		{"lstm, initial cells, no attention, 2 layers", func(c *Config) { c.Cell, c.Layers = nn.CellLSTM, 2 }, true, 1},
		{"lstm, dot, input feeding", func(c *Config) { c.Cell, c.Attention, c.InputFeeding = nn.CellLSTM, "dot", true }, true, 1},
		{"gru, general, 2 layers", func(c *Config) { c.Attention, c.Layers, c.Key = "general", 2, 3 }, false, 1},
		{"rnn, additive (Bahdanau), 2 layers", func(c *Config) { c.Cell, c.Attention, c.Layers, c.Key = nn.CellRNN, "additive", 2, 4 }, false, 1},
		{"gru, general, tied embeddings, dropout", func(c *Config) {
			c.Attention, c.TieEmbeddings, c.Embed, c.Dropout = "general", true, 6, 0.3
		}, false, 1},
		{"lstm, additive, scheduled sampling", func(c *Config) { c.Cell, c.Attention = nn.CellLSTM, "additive" }, true, 0.5},
		{"lstm, general, 2 layers, weight drop", func(c *Config) {
			c.Cell, c.Attention, c.Layers, c.Dropout, c.WeightDrop = nn.CellLSTM, "general", 2, 0.2, 0.4
		}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.change(&cfg)
			f := newFixture(t, cfg, tc.c0)
			params := f.params()
			if _, err := params.ByName(); err != nil {
				t.Fatal(err)
			}
			params.ZeroGrad()
			f.loss(t, tc.ratio)
			res := nn.GradCheck(func() float64 { return f.loss(t, tc.ratio) }, params, 1e-6, 1e-8, 1e-5, 12, rand.New(rand.NewPCG(6, 6)))
			if !res.OK() {
				t.Fatalf("gradient check: %v", res)
			}
			t.Log(res)
		})
	}
}

// TestWholeSequencePath checks that the fast path (the recurrent stack over
// the whole sequence at once) computes exactly the step-wise path's logits
// and gradients, initial states and keys included.
func TestWholeSequencePath(t *testing.T) {
	for _, attention := range []nn.AttentionKind{"none", "general", "dot"} {
		cfg := baseConfig()
		cfg.Cell, cfg.Layers, cfg.Attention = nn.CellLSTM, 2, attention
		f := newFixture(t, cfg, true)
		run := func(stepwise bool) (float64, map[string][]float64) {
			f.d.Stepwise = stepwise
			f.params().ZeroGrad()
			loss := f.loss(t, 1)
			if f.d.Whole() == stepwise {
				t.Fatalf("%s: stepwise=%v but the whole-sequence path was %v", attention, stepwise, f.d.Whole())
			}
			g := map[string][]float64{}
			for _, p := range f.params() {
				g[p.Name] = append([]float64(nil), p.Grad...)
			}
			return loss, g
		}
		lw, gw := run(false)
		ls, gs := run(true)
		if math.Abs(lw-ls) > 1e-10 {
			t.Errorf("%s: loss %v whole, %v step-wise", attention, lw, ls)
		}
		for name, g := range gw {
			for i := range g {
				if math.Abs(g[i]-gs[name][i]) > 1e-10 {
					t.Fatalf("%s: %s[%d] = %v whole, %v step-wise", attention, name, i, g[i], gs[name][i])
				}
			}
		}
	}
}

// TestSearchMatchesForward checks that the search stepper computes what
// the training pass does: fed the same tokens, its log-probabilities are
// the log-softmax of Forward's logits at every step, also after a Reorder
// that reverses the items.
func TestSearchMatchesForward(t *testing.T) {
	for _, attention := range []nn.AttentionKind{"none", "dot", "general", "additive"} {
		t.Run(string(attention), func(t *testing.T) {
			cfg := baseConfig()
			cfg.Cell, cfg.Layers, cfg.Attention, cfg.InputFeeding = nn.CellLSTM, 2, attention, true
			f := newFixture(t, cfg, true)
			b := f.batch()
			logits, err := f.d.Forward(b, 1, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := logits.Clone()
			st, err := f.d.NewSearch(b.H0, b.C0, b.Keys, b.S, b.Lengths, SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := st.(decoding.AttentionStepper); ok != f.d.Attends() {
				t.Errorf("search is an AttentionStepper: %v, decoder attends: %v", ok, f.d.Attends())
			}
			order := []int{0, 1, 2}
			row := make([]float64, cfg.Vocab)
			for step := 0; step < f.steps; step++ {
				if step == 2 {
					if err := st.Reorder([]int{2, 1, 0}); err != nil {
						t.Fatal(err)
					}
					order = []int{2, 1, 0}
				}
				tokens := make([]int, f.B)
				for i, item := range order {
					tokens[i] = f.tokens[step*f.B+item]
				}
				logp, err := st.Step(tokens)
				if err != nil {
					t.Fatal(err)
				}
				for i, item := range order {
					logSoftmax(want.Row(step*f.B+item), row)
					for v := range row {
						if d := logp[i*cfg.Vocab+v] - row[v]; math.Abs(d) > 1e-10 {
							t.Fatalf("step %d item %d word %d: search %v, forward %v", step, item, v, logp[i*cfg.Vocab+v], row[v])
						}
					}
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	cfg := baseConfig()
	cfg.Attention = "general"
	f := newFixture(t, cfg, false)
	for _, tc := range []struct {
		name   string
		change func(*Batch[float64])
	}{
		{"token outside the vocabulary", func(b *Batch[float64]) { b.Tokens[4] = cfg.Vocab }},
		{"too few tokens", func(b *Batch[float64]) { b.Tokens = b.Tokens[1:] }},
		{"keys of the wrong width", func(b *Batch[float64]) { b.Keys.Cols, b.Keys.Rows = 3, b.Keys.Rows*2 }},
		{"states of the wrong width", func(b *Batch[float64]) { b.H0.Cols, b.H0.Rows = 2, 9 }},
		{"cells for a GRU", func(b *Batch[float64]) { b.C0 = b.H0 }},
	} {
		b := f.batch()
		tc.change(&b)
		if _, err := f.d.Forward(b, 1, false, nil); err == nil {
			t.Errorf("%s: Forward accepted it", tc.name)
		}
	}
	// Weight drop draws one mask per Forward: a training pass that runs
	// one step at a time (scheduled sampling here) would draw one per step.
	cfg.WeightDrop = 0.3
	f = newFixture(t, cfg, false)
	if _, err := f.d.Forward(f.batch(), 0.5, true, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("Forward with weight drop accepted a step-wise training pass")
	}
	for _, c := range []Config{
		{Vocab: 0, Embed: 5, Cell: nn.CellGRU, Hidden: 6, Layers: 1},
		{Vocab: 7, Embed: 5, Cell: nn.CellGRU, Hidden: 6, Layers: 1, TieEmbeddings: true},
		{Vocab: 7, Embed: 5, Cell: nn.CellGRU, Hidden: 6, Layers: 1, Attention: "dot"},
	} {
		if _, err := New[float64]("decoder", c, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("New accepted %+v", c)
		}
	}
}

// stepOnly hides a search's StepArgmax and StepTopK (and keeps its
// attention when it has one), so that Greedy and Beam run on Step's
// log-probabilities.
type stepOnly struct{ decoding.Stepper }

type stepOnlyAtt struct{ decoding.AttentionStepper }

// TestSearchShortcutsMatchStep checks that greedy search through the
// search's StepArgmax, and beam search through its StepTopK, find exactly
// what they find through Step — the same tokens, bitwise the same
// log-probabilities, the same attention — for every attention kind and
// cell, in float64 and float32.
func TestSearchShortcutsMatchStep(t *testing.T) {
	for _, attention := range []nn.AttentionKind{"none", "general", "additive"} {
		for _, cell := range []nn.Cell{nn.CellGRU, nn.CellLSTM} {
			cfg := Config{Vocab: 40, Embed: 5, Cell: cell, Hidden: 6, Layers: 2, Key: 6, Attention: attention}
			t.Run(string(attention)+"/"+string(cell)+"/float64", func(t *testing.T) { testSearchShortcuts[float64](t, cfg) })
			t.Run(string(attention)+"/"+string(cell)+"/float32", func(t *testing.T) { testSearchShortcuts[float32](t, cfg) })
		}
	}
}

func testSearchShortcuts[T nn.Float](t *testing.T, cfg Config) {
	rng := rand.New(rand.NewPCG(3, 4))
	d, err := New[T]("decoder", cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	const B, S = 6, 5
	h0 := nn.NewMat[T](cfg.Layers*B, cfg.Hidden)
	nn.InitNormal(h0.Data, 2, rng)
	var c0, keys nn.Mat[T]
	if cfg.Cell == nn.CellLSTM {
		c0 = nn.NewMat[T](cfg.Layers*B, cfg.Hidden)
		nn.InitNormal(c0.Data, 1, rng)
	}
	lengths := []int{S, 1, 3, S, 2, 4}
	if d.Attends() {
		keys = nn.NewMat[T](B*S, cfg.Key)
		nn.InitNormal(keys.Data, 1, rng)
	} else {
		lengths = nil
	}
	search := func() decoding.Stepper {
		st, err := d.NewSearch(h0, c0, keys, S, lengths, SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	const bos, eos, maxLen = 1, 2, 12
	fast := search()
	if _, ok := fast.(decoding.ArgmaxStepper); !ok {
		t.Fatal("the search is not a decoding.ArgmaxStepper")
	}
	if _, ok := fast.(decoding.TopKStepper); !ok {
		t.Fatal("the search is not a decoding.TopKStepper")
	}
	stepOnlySearch := func() decoding.Stepper {
		slow := search()
		if a, ok := slow.(decoding.AttentionStepper); ok {
			slow = stepOnlyAtt{a}
		} else {
			slow = stepOnly{slow}
		}
		if _, ok := slow.(decoding.ArgmaxStepper); ok {
			t.Fatal("the wrapper still has StepArgmax")
		}
		return slow
	}
	got, err := decoding.Greedy(fast, B, bos, eos, maxLen)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decoding.Greedy(stepOnlySearch(), B, bos, eos, maxLen)
	if err != nil {
		t.Fatal(err)
	}
	tokens := 0
	for i := range want {
		tokens += len(want[i].Tokens)
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("item %d: StepArgmax path %+v, Step path %+v", i, got[i], want[i])
		}
	}
	for _, width := range []int{1, 3, 25} { // 2·25 exceeds the vocabulary
		got, err := decoding.Beam(search(), B, bos, eos, maxLen, width, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decoding.Beam(stepOnlySearch(), B, bos, eos, maxLen, width, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("beam of %d: StepTopK path %+v, Step path %+v", width, got, want)
		}
	}
	if tokens < B*3 {
		t.Fatalf("only %d tokens generated: the test exercises too little", tokens)
	}
}
