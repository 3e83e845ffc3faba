package decoders

import (
	"fmt"
	"math"

	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/nn"
)

// search adapts the decoder to decoding.Stepper: it holds one decoder
// state per live hypothesis, the item (source sentence, image) each
// hypothesis belongs to, and its own caches of the decoder's layers.
type search[T nn.Float] struct {
	d       *RNN[T]
	rnn     nn.RecurrentCache[T]
	attKeys nn.AttentionKeys[T]
	att     nn.AttentionCache[T]
	combine nn.LinearCache[T]
	out     nn.LinearCache[T]
	S       int
	keys    nn.Mat[T] // keys per item [items*S][Key]
	lengths []int     // valid keys per item
	item    []int     // hypothesis → item
	h, c    nn.Mat[T] // [L*n][H]
	feed    nn.Mat[T] // [n][feed]
	in      nn.Mat[T]
	cat     nn.Mat[T]
	hkeys   nn.Mat[T] // keys laid out per hypothesis [n*S][Key]
	logp    []float64
	best    []int // StepArgmax's and StepTopK's answers, reused
	bestLP  []float64
	weight  [][]float64
}

// SearchOptions choose how a search computes, not what it searches for.
type SearchOptions struct {
	// BF16 computes each step's products with the decoder's weights (the
	// recurrent layers, the attention's combination and the output layer)
	// from operands rounded to bfloat16 (nn.WeightProducts.UseBF16): faster
	// where the CPU has AVX-512 BF16, at the cost of log-probabilities that
	// differ from float32's in their third significant digit. Without it
	// they are float32 products on weights packed once per search
	// (UsePacked).
	BF16 bool
}

// NewSearch returns the decoder as a decoding.Stepper for B items starting
// from the initial states h0 [Layers*B][Hidden] (and c0, or empty for
// zero LSTM cells), attending over keys [B*S][Key] with lengths (nil: S
// for every item). With attention the result is a
// decoding.AttentionStepper. It copies its inputs and keeps caches of its
// own: the decoder's Forward and Backward do not disturb it.
func (d *RNN[T]) NewSearch(h0, c0, keys nn.Mat[T], S int, lengths []int, opt SearchOptions) (decoding.Stepper, error) {
	c := d.cfg
	if h0.Rows%c.Layers != 0 || h0.Rows == 0 || h0.Cols != c.Hidden {
		return nil, fmt.Errorf("decoder: initial states are %d×%d, want (%d layers × batch)×%d", h0.Rows, h0.Cols, c.Layers, c.Hidden)
	}
	B := h0.Rows / c.Layers
	s := &search[T]{d: d, S: S, item: make([]int, B), h: h0.Clone()}
	for b := range s.item {
		s.item[b] = b
	}
	switch {
	case !c0.Empty() && (c0.Rows != h0.Rows || c0.Cols != h0.Cols):
		return nil, fmt.Errorf("decoder: initial cells %d×%d for states %d×%d", c0.Rows, c0.Cols, h0.Rows, h0.Cols)
	case !c0.Empty():
		s.c = c0.Clone()
	case c.Cell.HasCellState():
		s.c = nn.NewMat[T](h0.Rows, h0.Cols)
	}
	s.feed = nn.NewMat[T](B, max(d.feedSize(), 1))
	if opt.BF16 {
		s.rnn.UseBF16()
		s.combine.UseBF16()
		s.out.UseBF16()
	} else {
		s.rnn.UsePacked()
		s.combine.UsePacked()
		s.out.UsePacked()
	}
	if d.attn == nil {
		return s, nil
	}
	if S < 1 || keys.Rows != B*S || keys.Cols != c.Key {
		return nil, fmt.Errorf("decoder: keys are %d×%d, want (batch %d × %d positions)×%d", keys.Rows, keys.Cols, B, S, c.Key)
	}
	if lengths == nil {
		lengths = allOf(B, S)
	}
	s.keys = keys.Clone()
	s.lengths = append([]int(nil), lengths...)
	s.hkeys = s.keys.Clone()
	// Attend over the search's own copy, which Reorder rearranges.
	if err := d.attn.SetKeys(&s.attKeys, s.hkeys, s.lengths, S); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	return attentive[T]{s}, nil
}

// Step feeds one token per hypothesis and returns next-token log-probabilities.
func (s *search[T]) Step(tokens []int) ([]float64, error) {
	logits, err := s.logits(tokens)
	if err != nil {
		return nil, err
	}
	n, V := logits.Rows, logits.Cols
	if cap(s.logp) < n*V {
		s.logp = make([]float64, n*V)
	}
	s.logp = s.logp[:n*V]
	for b := 0; b < n; b++ {
		logSoftmax(logits.Row(b), s.logp[b*V:(b+1)*V])
	}
	return s.logp, nil
}

// StepArgmax is Step for greedy search (decoding.ArgmaxStepper): per
// hypothesis only the most likely token and its log-probability, chosen
// among exactly the values Step would return, as decoding's argmax does
// (the first maximum), without storing every log-probability.
func (s *search[T]) StepArgmax(tokens []int) (best []int, logProbs []float64, vocab int, err error) {
	logits, err := s.logits(tokens)
	if err != nil {
		return nil, nil, 0, err
	}
	n := logits.Rows
	if cap(s.best) < n {
		s.best, s.bestLP = make([]int, n), make([]float64, n)
	}
	s.best, s.bestLP = s.best[:n], s.bestLP[:n]
	for b := 0; b < n; b++ {
		row := logits.Row(b)
		lz := nn.LogSumExp(row)
		k, top := 0, float64(row[0])-lz
		for i, v := range row[1:] {
			if x := float64(v) - lz; x > top {
				k, top = i+1, x
			}
		}
		s.best[b], s.bestLP[b] = k, top
	}
	return s.best, s.bestLP, logits.Cols, nil
}

// StepTopK is Step for beam search (decoding.TopKStepper): per hypothesis
// b the min(k, V) tokens that rank highest by prior[b] plus the
// log-probability Step would return, best first (the smaller id on ties),
// with those log-probabilities, instead of a row of V float64 values.
func (s *search[T]) StepTopK(tokens []int, prior []float64, k int) (best []int, logProbs []float64, vocab int, err error) {
	if len(prior) != len(tokens) || k < 1 {
		return nil, nil, 0, fmt.Errorf("decoder: the best %d of %d tokens with %d prior log-probabilities", k, len(tokens), len(prior))
	}
	logits, err := s.logits(tokens)
	if err != nil {
		return nil, nil, 0, err
	}
	n, V := logits.Rows, logits.Cols
	k = min(k, V)
	if cap(s.best) < n*k {
		s.best, s.bestLP = make([]int, n*k), make([]float64, n*k)
	}
	s.best, s.bestLP = s.best[:n*k], s.bestLP[:n*k]
	for b := 0; b < n; b++ {
		topTokens(logits.Row(b), prior[b], s.best[b*k:(b+1)*k], s.bestLP[b*k:(b+1)*k])
	}
	return s.best, s.bestLP, V, nil
}

// topTokens fills toks, best first, with the len(toks) tokens of the logit
// row whose prior + log-softmax value is highest, the smaller id first on
// ties, and logProbs with their log-softmax values as logSoftmax computes
// them. A NaN or +Inf logit makes the normaliser, and so every value, NaN.
func topTokens[T nn.Float](row []T, prior float64, toks []int, logProbs []float64) {
	lz := nn.LogSumExp(row)
	k, n := len(toks), 0
	worst := math.Inf(-1) // prior + logProbs[k-1] once k are held
	for tok, v := range row {
		x := float64(v) - lz
		key := prior + x
		if n == k {
			if !(key > worst) {
				continue // the common case, kept cheap
			}
			n--
		}
		// Insert after the held tokens that rank at least as high.
		j := n
		for ; j > 0 && key > prior+logProbs[j-1]; j-- {
			toks[j], logProbs[j] = toks[j-1], logProbs[j-1]
		}
		toks[j], logProbs[j] = tok, x
		n++
		if n == k {
			worst = prior + logProbs[k-1]
		}
	}
}

// logits runs one decoder step and returns the output logits [n][V],
// valid until the next step.
func (s *search[T]) logits(tokens []int) (nn.Mat[T], error) {
	d := s.d
	n := len(tokens)
	E, H, K := d.cfg.Embed, d.cfg.Hidden, d.cfg.Key
	L := d.cfg.Layers
	feed := d.feedSize()
	s.in = nn.NewMatLike(s.in, n, E+feed)
	table := nn.Mat[T]{Rows: d.emb.Shape[0], Cols: E, Data: d.emb.Value}
	for b, tok := range tokens {
		if tok < 0 || tok >= table.Rows {
			return nn.Mat[T]{}, fmt.Errorf("token %d outside the target vocabulary", tok)
		}
		copy(s.in.Row(b)[:E], table.Row(tok))
	}
	var ctx, weights nn.Mat[T]
	if d.bahdanau() {
		ctx, weights = d.attn.Forward(&s.attKeys, &s.att, s.h.RowBlock((L-1)*n, L*n))
		for b := 0; b < n; b++ {
			copy(s.in.Row(b)[E:], ctx.Row(b))
		}
	} else if feed > 0 {
		for b := 0; b < n; b++ {
			copy(s.in.Row(b)[E:], s.feed.Row(b))
		}
	}
	var cPrev nn.Mat[T]
	if !s.c.Empty() {
		cPrev = s.c
	}
	y, hn, cn := d.rnn.Forward(&s.rnn, s.in, 1, n, s.h, cPrev, false, nil)
	s.h.CopyFrom(hn)
	if !s.c.Empty() {
		s.c.CopyFrom(cn)
	}
	att := y
	if d.attn != nil {
		if !d.bahdanau() {
			ctx, weights = d.attn.Forward(&s.attKeys, &s.att, y)
		}
		s.cat = nn.NewMatLike(s.cat, n, K+H)
		for b := 0; b < n; b++ {
			copy(s.cat.Row(b)[:K], ctx.Row(b))
			copy(s.cat.Row(b)[K:], y.Row(b))
		}
		att = d.combine.Forward(&s.combine, s.cat)
		nn.Tanh(att.Data[:n*H], att.Data[:n*H])
		if feed > 0 && !d.bahdanau() {
			s.feed.CopyFrom(att)
		}
		s.weight = s.weight[:0]
		for b := 0; b < n; b++ {
			row := make([]float64, s.S)
			for j, w := range weights.Row(b) {
				row[j] = float64(w)
			}
			s.weight = append(s.weight, row)
		}
	}
	return d.out.Forward(&s.out, att), nil
}

// attentive is a search whose decoder attends: it also reports the
// attention weights, so the search can keep each hypothesis's alignment.
type attentive[T nn.Float] struct{ *search[T] }

// Attention reports the last step's attention weights.
func (a attentive[T]) Attention() [][]float64 { return a.weight }

// Reorder keeps the hypotheses at indices: their states, feeds and items.
func (s *search[T]) Reorder(indices []int) error {
	d := s.d
	n, old := len(indices), len(s.item)
	L := d.cfg.Layers
	for _, j := range indices {
		if j < 0 || j >= old {
			return fmt.Errorf("decoder: reorder index %d outside %d hypotheses", j, old)
		}
	}
	pick := func(src nn.Mat[T], blocks int) nn.Mat[T] {
		dst := nn.NewMat[T](blocks*n, src.Cols)
		for l := 0; l < blocks; l++ {
			for i, j := range indices {
				copy(dst.Row(l*n+i), src.Row(l*old+j))
			}
		}
		return dst
	}
	s.h = pick(s.h, L)
	if !s.c.Empty() {
		s.c = pick(s.c, L)
	}
	s.feed = pick(s.feed, 1)
	item := make([]int, n)
	for i, j := range indices {
		item[i] = s.item[j]
	}
	s.item = item
	if d.attn == nil {
		return nil
	}
	s.hkeys = nn.NewMatLike(s.hkeys, n*s.S, s.keys.Cols)
	lengths := make([]int, n)
	for i, it := range item {
		s.hkeys.RowBlock(i*s.S, (i+1)*s.S).CopyFrom(s.keys.RowBlock(it*s.S, (it+1)*s.S))
		lengths[i] = s.lengths[it]
	}
	return d.attn.SetKeys(&s.attKeys, s.hkeys, lengths, s.S)
}

// logSoftmax writes log(softmax(x)) into dst in float64.
func logSoftmax[T nn.Float](x []T, dst []float64) {
	lz := nn.LogSumExp(x)
	for i, v := range x {
		dst[i] = float64(v) - lz
	}
}
