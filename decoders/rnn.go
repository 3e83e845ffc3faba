package decoders

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqtask/seqtask/nn"
)

// Config sizes a decoder.
type Config struct {
	Vocab   int     // output vocabulary, also the embedding's rows
	Embed   int     // word embedding size
	Cell    nn.Cell // rnn, lstm or gru
	Hidden  int     // units per recurrent layer
	Layers  int     // stacked recurrent layers
	Dropout float64 // between stacked layers and before the output layer (training only)
	// WeightDrop is DropConnect on the recurrent weights W_hh (training
	// only; nn.RecurrentConfig): it needs the whole-sequence path (teacher
	// forcing, no input feeding, no attention before the step).
	WeightDrop float64
	// Attention is the scoring function over the keys: dot or general
	// (Luong, after the recurrent step), additive (Bahdanau, before the
	// step, its context fed into the step); "" or "none" for no attention.
	Attention nn.AttentionKind
	// Key is the width of one key; used only with attention.
	Key int
	// InputFeeding feeds the previous attentional vector into the next
	// step (Luong; dot and general only).
	InputFeeding bool
	// TieEmbeddings makes the output layer read the embedding table, which
	// needs Embed equal to Hidden.
	TieEmbeddings bool
	// Pad is the padding token id: scheduled sampling never replaces it.
	Pad int
	// BF16 computes the training passes' products with the recurrent
	// stack's and the linear layers' weights in bfloat16 (nn.BF16Pass).
	BF16 bool
}

// RNN is the recurrent token decoder at the heart of the autoregressive
// kind: an embedding, a recurrent stack run one target token per step,
// optional attention over keys (source states, image regions), a combine
// layer, dropout and an output layer, given its initial states. Its
// parameters are named prefix.embedding.weight,
// prefix.rnn.*, prefix.attention.*, prefix.combine.* and prefix.out.*.
type RNN[T nn.Float] struct {
	cfg     Config
	emb     *nn.Param[T] // [V][E]
	rnn     *nn.Recurrent[T]
	attn    *nn.Attention[T] // nil without attention
	combine *nn.Linear[T]    // [ctx; h] → attentional vector (tanh after it); nil without attention
	out     *nn.Linear[T]
	drop    nn.Dropout[T]

	run run[T]
	// Stepwise disables the whole-sequence fast path, so that tests can
	// compare the two paths.
	Stepwise bool
}

// run holds one batch's forward values that the backward pass needs — the
// layers' caches among them — step by step; the buffers are reused across
// batches.
type run[T nn.Float] struct {
	steps, batch int
	tokens       []int     // decoder input ids, time-major [T*B]
	in           nn.Mat[T] // decoder step inputs [T*B][E+feed]
	cat          nn.Mat[T] // combine inputs [ctx; h] [T*B][Key+H]
	att          nn.Mat[T] // attentional vectors (or h without attention) [T*B][H]
	dropped      nn.Mat[T] // att after dropout, fed to the output layer
	keys         nn.AttentionKeys[T]
	step         []*stepCache[T] // per step: what the step-wise path keeps; attention's caches in both paths
	rnn          nn.RecurrentCache[T]
	combine      nn.LinearCache[T] // forwardWhole: combine over all steps
	drop         nn.DropoutCache[T]
	out          nn.LinearCache[T]
	whole        bool      // the decoder ran over the whole sequence at once (forwardWhole)
	datt         nn.Mat[T] // [T*B][H] gradient of the attentional vectors from the output layer
	dcat         nn.Mat[T] // gradient of combine's output before tanh [T*B][H]
	dcatStep     nn.Mat[T] // d[ctx; h] of one step [B][Key+H]
	dcatAll      nn.Mat[T] // forwardWhole: d[ctx; h] of all steps [T*B][Key+H]
	dyAll        nn.Mat[T] // forwardWhole: gradient of the decoder outputs [T*B][H]
	dstep        nn.Mat[T] // [B][H] scratch
	dq           nn.Mat[T]
	dctx         nn.Mat[T]
	dfeed        nn.Mat[T]      // gradient flowing into the previous step's feed [B][feed]
	dhTopExtra   nn.Mat[T]      // Bahdanau: gradient of h_{t-1} from step t's query [B][H]
	dh0          nn.Mat[T]      // gradient of the initial states [L*B][H]
	pass         nn.BF16Pass[T] // with Config.BF16, the training pass's rounded weights
}

// stepCache is one step's layer caches.
type stepCache[T nn.Float] struct {
	rnn     nn.RecurrentCache[T] // the step-wise path runs the stack one step per call
	attn    nn.AttentionCache[T]
	combine nn.LinearCache[T] // step-wise path
}

// New builds a decoder, drawing its initial weights from rng.
func New[T nn.Float](prefix string, cfg Config, rng *rand.Rand) (*RNN[T], error) {
	if cfg.Attention == "none" {
		cfg.Attention = ""
	}
	switch {
	case cfg.Vocab < 1 || cfg.Embed < 1:
		return nil, fmt.Errorf("decoder: vocabulary %d and embedding %d must be positive", cfg.Vocab, cfg.Embed)
	case cfg.TieEmbeddings && cfg.Embed != cfg.Hidden:
		return nil, fmt.Errorf("decoder: tied embeddings need embed (%d) equal to hidden (%d)", cfg.Embed, cfg.Hidden)
	case cfg.Attention != "" && cfg.Key < 1:
		return nil, fmt.Errorf("decoder: attention needs the key width, got %d", cfg.Key)
	}
	d := &RNN[T]{cfg: cfg}
	d.emb = nn.NewParam[T](prefix+".embedding.weight", cfg.Vocab, cfg.Embed)
	nn.InitNormal(d.emb.Value, 1, rng)
	var err error
	if cfg.Attention != "" {
		d.attn, err = nn.NewAttention[T](prefix+".attention", nn.AttentionConfig{
			Kind: cfg.Attention, Query: cfg.Hidden, Key: cfg.Key, Hidden: cfg.Hidden}, rng)
		if err != nil {
			return nil, fmt.Errorf("decoder.attention: %w", err)
		}
		d.combine = nn.NewLinear[T](prefix+".combine", cfg.Key+cfg.Hidden, cfg.Hidden, rng)
	}
	d.rnn, err = nn.NewRecurrent[T](prefix+".rnn", nn.RecurrentConfig{
		Cell: cfg.Cell, Input: cfg.Embed + d.feedSize(), Hidden: cfg.Hidden, Layers: cfg.Layers, Dropout: cfg.Dropout, WeightDrop: cfg.WeightDrop}, rng)
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	d.out = nn.NewLinear[T](prefix+".out", cfg.Hidden, cfg.Vocab, rng)
	if cfg.TieEmbeddings {
		d.out.Weight = d.emb // one table, read by the embedding and the output layer
	}
	d.drop.P = cfg.Dropout
	return d, nil
}

// Config returns the decoder's configuration.
func (d *RNN[T]) Config() Config { return d.cfg }

// Attends reports whether the decoder has attention, and so reads keys.
func (d *RNN[T]) Attends() bool { return d.attn != nil }

// Whole reports whether the last Forward ran the recurrent stack over the
// whole sequence at once (teacher forcing without input feeding) rather
// than step by step.
func (d *RNN[T]) Whole() bool { return d.run.whole }

// Params lists every parameter once (a tied table appears once).
func (d *RNN[T]) Params() nn.Params[T] {
	ps := nn.Params[T]{d.emb}
	ps = append(ps, d.rnn.Params()...)
	if d.attn != nil {
		ps = append(ps, d.attn.Params()...)
		ps = append(ps, d.combine.Params()...)
	}
	if d.cfg.TieEmbeddings {
		return append(ps, d.out.Bias)
	}
	return append(ps, d.out.Params()...)
}

// Describe lists the decoder's layers for a model summary.
func (d *RNN[T]) Describe() []string {
	c := d.cfg
	att := "no attention"
	if d.attn != nil {
		att = string(c.Attention) + " attention"
		if d.bahdanau() {
			att += " (before the step, context fed in)"
		} else if c.InputFeeding {
			att += ", input feeding"
		}
	}
	return []string{
		fmt.Sprintf("decoder    embedding %d → %d, %s %d hidden × %d layer(s), %s", c.Vocab, c.Embed, c.Cell, c.Hidden, c.Layers, att),
		fmt.Sprintf("out        %d → %d logits (tied embeddings %v), softmax cross-entropy", c.Hidden, c.Vocab, c.TieEmbeddings),
	}
}

// feedSize is the width of what a step feeds forward besides the word
// embedding: the attentional vector (Luong input feeding), the context
// (Bahdanau), or nothing.
func (d *RNN[T]) feedSize() int {
	switch {
	case d.cfg.Attention == "":
		return 0
	case d.bahdanau():
		return d.cfg.Key
	case d.cfg.InputFeeding:
		return d.cfg.Hidden
	}
	return 0
}

// bahdanau reports whether the decoder attends before each step and feeds
// the context into it, as its attention kind was published with.
func (d *RNN[T]) bahdanau() bool { return d.cfg.Attention.BeforeStep() }

// Batch is one batch for Forward.
type Batch[T nn.Float] struct {
	// H0 holds the initial hidden states, layer-major [Layers*B][Hidden];
	// C0 the LSTM's initial cells likewise, or empty for zeros.
	H0, C0 nn.Mat[T]
	// Keys are what attention reads, batch-major [B*S][Key], S per item;
	// empty without attention.
	Keys nn.Mat[T]
	S    int
	// Lengths[b] is the number of valid keys of item b (the rest are
	// padding); nil means S for every item.
	Lengths []int
	// Tokens are the decoder inputs, time-major [Steps*B] (row t*B+b),
	// Pad past each sequence's end. Scheduled sampling overwrites them in
	// place with the tokens actually fed.
	Tokens []int
	Steps  int
}

// check validates b against the decoder and returns the batch size.
func (d *RNN[T]) check(b Batch[T]) (int, error) {
	c := d.cfg
	if b.H0.Rows%c.Layers != 0 || b.H0.Rows == 0 || b.H0.Cols != c.Hidden {
		return 0, fmt.Errorf("decoder: initial states are %d×%d, want (%d layers × batch)×%d", b.H0.Rows, b.H0.Cols, c.Layers, c.Hidden)
	}
	B := b.H0.Rows / c.Layers
	if !b.C0.Empty() && (b.C0.Rows != b.H0.Rows || b.C0.Cols != b.H0.Cols || !c.Cell.HasCellState()) {
		return 0, fmt.Errorf("decoder: initial cells %d×%d given to a %s decoder with states %d×%d", b.C0.Rows, b.C0.Cols, c.Cell, b.H0.Rows, b.H0.Cols)
	}
	if b.Steps < 1 || len(b.Tokens) != b.Steps*B {
		return 0, fmt.Errorf("decoder: %d tokens for %d steps of batch %d", len(b.Tokens), b.Steps, B)
	}
	for i, tok := range b.Tokens {
		if tok < 0 || tok >= c.Vocab {
			return 0, fmt.Errorf("decoder: token %d at step %d, item %d is outside the vocabulary of %d", tok, i/B, i%B, c.Vocab)
		}
	}
	if d.attn != nil && (b.S < 1 || b.Keys.Rows != B*b.S || b.Keys.Cols != c.Key) {
		return 0, fmt.Errorf("decoder: keys are %d×%d, want (batch %d × %d positions)×%d", b.Keys.Rows, b.Keys.Cols, B, b.S, c.Key)
	}
	return B, nil
}

// allOf returns n copies of s: the lengths of keys that have no padding.
func allOf(n, s int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// Forward runs the decoder over a batch and returns the logits [Steps*B][V],
// valid until the next Forward. With ratio < 1 (training), each step after
// the first feeds the model's own previous prediction instead of the given
// token with probability 1-ratio, per sequence (scheduled sampling). train
// enables dropout; rng draws dropout masks and sampling decisions.
func (d *RNN[T]) Forward(b Batch[T], ratio float64, train bool, rng *rand.Rand) (nn.Mat[T], error) {
	B, err := d.check(b)
	if err != nil {
		return nn.Mat[T]{}, err
	}
	c := d.cfg
	r := &d.run
	steps := b.Steps
	r.steps, r.batch, r.tokens = steps, B, b.Tokens
	if d.attn != nil {
		lengths := b.Lengths
		if lengths == nil {
			lengths = allOf(B, b.S)
		}
		if err := d.attn.SetKeys(&r.keys, b.Keys, lengths, b.S); err != nil {
			return nn.Mat[T]{}, fmt.Errorf("decoder: %w", err)
		}
		r.keys.PlanSteps(steps)
	}
	for len(r.step) < steps {
		r.step = append(r.step, new(stepCache[T]))
	}
	pass := r.pass.Begin(train && c.BF16)
	r.rnn.TrainBF16(pass)
	r.combine.TrainBF16(pass)
	r.out.TrainBF16(pass)
	for _, sc := range r.step {
		sc.rnn.TrainBF16(pass)
		sc.combine.TrainBF16(pass)
	}
	r.in = nn.NewMatLike(r.in, steps*B, c.Embed+d.feedSize())
	r.att = nn.NewMatLike(r.att, steps*B, c.Hidden)
	if d.attn != nil {
		r.cat = nn.NewMatLike(r.cat, steps*B, c.Key+c.Hidden)
	}
	r.whole = ratio >= 1 && d.feedSize() == 0 && !d.Stepwise
	if train && c.WeightDrop > 0 && !r.whole {
		return nn.Mat[T]{}, fmt.Errorf("decoder: weight drop needs the whole sequence at once (teacher forcing, no input feeding, no attention before the step); one step at a time would draw a mask per step")
	}
	if r.whole {
		d.forwardWhole(b.H0, b.C0, train, rng)
	}
	h, cs := b.H0, b.C0
	for t := 0; t < steps && !r.whole; t++ {
		if t > 0 && ratio < 1 { // scheduled sampling: maybe feed the model's own guess
			// (through the output layer's cache, which its last use below refills)
			guess := d.out.Forward(&r.out, r.att.RowBlock((t-1)*B, t*B))
			for i := 0; i < B; i++ {
				if r.tokens[t*B+i] != c.Pad && rng.Float64() >= ratio {
					r.tokens[t*B+i] = nn.Argmax(guess.Row(i))
				}
			}
		}
		h, cs = d.step(t, h, cs, train, rng)
	}
	y := r.att
	if train && d.drop.P > 0 {
		r.dropped = nn.NewMatLike(r.dropped, y.Rows, y.Cols)
		r.dropped.CopyFrom(y)
		d.drop.Forward(&r.drop, r.dropped, true, rng)
		y = r.dropped
	} else {
		d.drop.Forward(&r.drop, y, false, nil)
	}
	return d.out.Forward(&r.out, y), nil
}

// step runs step t of the step-wise path with step t's caches: it builds
// the step input from the words and the previous feed, runs the recurrent
// stack over one step, attends, combines, and leaves the attentional vector
// in r.att. hPrev, cPrev are the states entering the step; it returns
// those leaving it.
func (d *RNN[T]) step(t int, hPrev, cPrev nn.Mat[T], train bool, rng *rand.Rand) (hn, cn nn.Mat[T]) {
	r := &d.run
	sc := r.step[t]
	B, E := r.batch, d.cfg.Embed
	rows := func(x nn.Mat[T]) nn.Mat[T] { return x.RowBlock(t*B, (t+1)*B) }
	in := rows(r.in)
	table := nn.Mat[T]{Rows: d.emb.Shape[0], Cols: E, Data: d.emb.Value}
	for b := 0; b < B; b++ {
		copy(in.Row(b)[:E], table.Row(r.tokens[t*B+b]))
	}
	feed := d.feedSize()
	var ctx nn.Mat[T]
	switch {
	case d.bahdanau():
		q := hPrev.RowBlock((d.cfg.Layers-1)*B, d.cfg.Layers*B)
		ctx, _ = d.attn.Forward(&r.keys, &sc.attn, q)
		for b := 0; b < B; b++ {
			copy(in.Row(b)[E:], ctx.Row(b))
		}
	case feed > 0: // Luong input feeding: the previous attentional vector
		for b := 0; b < B; b++ {
			if t == 0 {
				clear(in.Row(b)[E:])
			} else {
				copy(in.Row(b)[E:], r.att.Row((t-1)*B+b))
			}
		}
	}
	y, hn, cn := d.rnn.Forward(&sc.rnn, in, 1, B, hPrev, cPrev, train, rng)
	att := rows(r.att)
	if d.attn == nil {
		att.CopyFrom(y)
		return hn, cn
	}
	if !d.bahdanau() {
		ctx, _ = d.attn.Forward(&r.keys, &sc.attn, y)
	}
	cat := rows(r.cat)
	K := d.cfg.Key
	for b := 0; b < B; b++ {
		copy(cat.Row(b)[:K], ctx.Row(b))
		copy(cat.Row(b)[K:], y.Row(b))
	}
	pre := d.combine.Forward(&sc.combine, cat)
	nn.Tanh(att.Data[:att.Rows*att.Cols], pre.Data[:pre.Rows*pre.Cols])
	return hn, cn
}

// forwardWhole is the forward pass when no step depends on the previous
// step's output (teacher forcing, no input feeding, attention after the
// step, if any): the recurrent stack runs over the whole sequence in one
// call — its input projection one GEMM for all steps — and the combine
// layer over all steps at once too.
func (d *RNN[T]) forwardWhole(h0, c0 nn.Mat[T], train bool, rng *rand.Rand) {
	r := &d.run
	B, E, K := r.batch, d.cfg.Embed, d.cfg.Key
	table := nn.Mat[T]{Rows: d.emb.Shape[0], Cols: E, Data: d.emb.Value}
	for i, tok := range r.tokens {
		copy(r.in.Row(i), table.Row(tok))
	}
	y, _, _ := d.rnn.Forward(&r.rnn, r.in, r.steps, B, h0, c0, train, rng)
	if d.attn == nil {
		r.att.CopyFrom(y)
		return
	}
	for t := 0; t < r.steps; t++ {
		ctx, _ := d.attn.Forward(&r.keys, &r.step[t].attn, y.RowBlock(t*B, (t+1)*B))
		for b := 0; b < B; b++ {
			row := r.cat.Row(t*B + b)
			copy(row[:K], ctx.Row(b))
			copy(row[K:], y.Row(t*B+b))
		}
	}
	pre := d.combine.Forward(&r.combine, r.cat)
	n := r.att.Rows * r.att.Cols
	nn.Tanh(r.att.Data[:n], pre.Data[:n])
}

// backwardWhole is the backward pass of forwardWhole, from the gradient of
// the attentional vectors in r.datt; it returns the gradients of the
// initial states.
func (d *RNN[T]) backwardWhole() (dh0, dc0 nn.Mat[T]) {
	r := &d.run
	B, H, E, K := r.batch, d.cfg.Hidden, d.cfg.Embed, d.cfg.Key
	dy := r.datt
	if d.attn != nil {
		for i, a := range r.att.Data[:r.att.Rows*H] {
			r.dcat.Data[i] = r.datt.Data[i] * (1 - a*a)
		}
		r.dcatAll = nn.NewMatLike(r.dcatAll, r.steps*B, K+H)
		d.combine.Backward(&r.combine, r.dcat, r.dcatAll)
		r.dyAll = nn.NewMatLike(r.dyAll, r.steps*B, H)
		for t := 0; t < r.steps; t++ {
			for b := 0; b < B; b++ {
				row := r.dcatAll.Row(t*B + b)
				copy(r.dctx.Row(b), row[:K])
				copy(r.dyAll.Row(t*B+b), row[K:])
			}
			d.attn.Backward(&r.keys, &r.step[t].attn, r.dctx, nn.Mat[T]{}, r.dq)
			nn.AddTo(r.dyAll.RowBlock(t*B, (t+1)*B), r.dq)
		}
		dy = r.dyAll
	}
	dx, dh0, dc0 := d.rnn.Backward(&r.rnn, dy, nn.Mat[T]{}, nn.Mat[T]{})
	table := nn.Mat[T]{Rows: d.emb.Shape[0], Cols: E, Data: d.emb.Grad}
	for i, tok := range r.tokens {
		row := table.Row(tok)
		for j, v := range dx.Row(i) {
			row[j] += v
		}
	}
	return dh0, dc0
}

// Backward backpropagates dlogits [Steps*B][V] of the last Forward through
// the steps in reverse, accumulating every parameter's gradient, and
// returns the gradients of the batch's initial states (dc0 empty unless
// the cell is an LSTM) and of its keys (empty without attention). The
// results are valid until the next Forward.
func (d *RNN[T]) Backward(dlogits nn.Mat[T]) (dh0, dc0, dkeys nn.Mat[T]) {
	r := &d.run
	B, H, E, K := r.batch, d.cfg.Hidden, d.cfg.Embed, d.cfg.Key
	L := d.cfg.Layers
	r.datt = nn.NewMatLike(r.datt, r.steps*B, H)
	d.out.Backward(&r.out, dlogits, r.datt)
	d.drop.Backward(&r.drop, r.datt)
	if d.attn != nil {
		r.dcat = nn.NewMatLike(r.dcat, r.steps*B, H) // gradient of combine's output before tanh, all steps
	}
	r.dstep = nn.NewMatLike(r.dstep, B, H)
	r.dq = nn.NewMatLike(r.dq, B, H)
	r.dctx = nn.NewMatLike(r.dctx, B, max(K, 1))
	feed := d.feedSize()
	r.dfeed = nn.NewMatLike(r.dfeed, B, max(feed, 1))
	r.dfeed.Zero()
	r.dhTopExtra = nn.NewMatLike(r.dhTopExtra, B, H)
	r.dhTopExtra.Zero()
	r.dcatStep = nn.NewMatLike(r.dcatStep, B, K+H) // d[ctx; h] of one step
	table := nn.Mat[T]{Rows: d.emb.Shape[0], Cols: E, Data: d.emb.Grad}
	var dh, dc nn.Mat[T]
	if r.whole {
		dh, dc = d.backwardWhole()
	}
	for t := r.steps - 1; t >= 0 && !r.whole; t-- {
		rows := func(x nn.Mat[T]) nn.Mat[T] { return x.RowBlock(t*B, (t+1)*B) }
		sc := r.step[t]
		datt := rows(r.datt)
		if feed > 0 && !d.bahdanau() && t < r.steps-1 { // input feeding: step t+1 read att_t
			for b := 0; b < B; b++ {
				row := datt.Row(b)
				for j, v := range r.dfeed.Row(b) {
					row[j] += v
				}
			}
		}
		dy := r.dstep
		if d.attn == nil {
			dy.CopyFrom(datt)
		} else {
			att, dpre := rows(r.att), rows(r.dcat)
			for i, a := range att.Data[:B*H] {
				dpre.Data[i] = datt.Data[i] * (1 - a*a)
			}
			d.combine.Backward(&sc.combine, dpre, r.dcatStep)
			for b := 0; b < B; b++ {
				copy(r.dctx.Row(b), r.dcatStep.Row(b)[:K])
				copy(dy.Row(b), r.dcatStep.Row(b)[K:])
			}
			if !d.bahdanau() {
				d.attn.Backward(&r.keys, &sc.attn, r.dctx, nn.Mat[T]{}, r.dq)
				nn.AddTo(dy, r.dq)
			}
		}
		if d.bahdanau() {
			nn.AddTo(dy, r.dhTopExtra)
		}
		dx, dhPrev, dcPrev := d.rnn.Backward(&sc.rnn, dy, dh, dc)
		dh, dc = dhPrev, dcPrev
		for b := 0; b < B; b++ {
			row := table.Row(r.tokens[t*B+b])
			for j, v := range dx.Row(b)[:E] {
				row[j] += v
			}
		}
		switch {
		case d.bahdanau():
			for b := 0; b < B; b++ {
				row := r.dctx.Row(b)
				for j, v := range dx.Row(b)[E:] {
					row[j] += v
				}
			}
			d.attn.Backward(&r.keys, &sc.attn, r.dctx, nn.Mat[T]{}, r.dhTopExtra)
		case feed > 0:
			for b := 0; b < B; b++ {
				copy(r.dfeed.Row(b), dx.Row(b)[E:])
			}
		}
	}
	if d.attn != nil {
		dkeys = d.attn.KeysGrad(&r.keys)
	}
	r.dh0 = nn.NewMatLike(r.dh0, L*B, H)
	r.dh0.CopyFrom(dh)
	if d.bahdanau() {
		nn.AddTo(r.dh0.RowBlock((L-1)*B, L*B), r.dhTopExtra) // step 0's query was the top initial state
	}
	return r.dh0, dc, dkeys
}
