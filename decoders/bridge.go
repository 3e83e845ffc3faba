package decoders

import (
	"math/rand/v2"

	"github.com/seqtask/seqtask/nn"
)

// Bridge starts an autoregressive decoder from an encoder's summary s
// [B][F] (an image's features, a source sentence's final states):
// h0 = tanh(W s + b), the same for every decoder layer, and with a cell
// bridge (an LSTM decoder's c0) c0 = tanh(W_c s + b_c) likewise; without
// one an LSTM's cells start at zero. Parameters: bridge.* and bridge_c.*.
type Bridge[T nn.Float] struct {
	H, C           *nn.Linear[T] // C nil without a cell bridge
	layers, hidden int
}

// BridgeCache is what one Forward keeps for its Backward, and its buffers.
type BridgeCache[T nn.Float] struct {
	h, c         nn.LinearCache[T]
	hy, cy       nn.Mat[T] // the linear maps' outputs after tanh [B][H]
	h0, c0       nn.Mat[T] // [L*B][H]
	dpre, dsumC  nn.Mat[T]
	batch        int
	withCellPath bool
}

// NewBridge draws a bridge from in summary features to layers×hidden
// initial states; cell adds the cell bridge.
func NewBridge[T nn.Float](in, hidden, layers int, cell bool, rng *rand.Rand) *Bridge[T] {
	b := &Bridge[T]{H: nn.NewLinear[T]("bridge", in, hidden, rng), layers: layers, hidden: hidden}
	if cell {
		b.C = nn.NewLinear[T]("bridge_c", in, hidden, rng)
	}
	return b
}

// Params lists the bridge's parameters.
func (b *Bridge[T]) Params() nn.Params[T] {
	ps := b.H.Params()
	if b.C != nil {
		ps = append(ps, b.C.Params()...)
	}
	return ps
}

// Forward returns the initial states [L*B][H] for summaries s [B][F]; c0
// is empty without a cell bridge. They are held by c until its next use.
func (b *Bridge[T]) Forward(c *BridgeCache[T], s nn.Mat[T]) (h0, c0 nn.Mat[T]) {
	c.batch = s.Rows
	c.hy, c.h0 = b.side(b.H, &c.h, s, c.h0)
	c.withCellPath = b.C != nil
	if b.C == nil {
		return c.h0, nn.Mat[T]{}
	}
	c.cy, c.c0 = b.side(b.C, &c.c, s, c.c0)
	return c.h0, c.c0
}

func (b *Bridge[T]) side(l *nn.Linear[T], lc *nn.LinearCache[T], s, states nn.Mat[T]) (y, out nn.Mat[T]) {
	B, H := s.Rows, b.hidden
	y = l.Forward(lc, s)
	nn.Tanh(y.Data[:B*H], y.Data[:B*H])
	out = nn.NewMatLike(states, b.layers*B, H)
	for k := 0; k < b.layers; k++ {
		out.RowBlock(k*B, (k+1)*B).CopyFrom(y)
	}
	return y, out
}

// Backward takes the gradients of c's initial states (dc0 empty: none) and
// accumulates the bridge's parameter gradients. When ds is not empty it
// receives the gradient of the summaries (overwritten).
func (b *Bridge[T]) Backward(c *BridgeCache[T], dh0, dc0, ds nn.Mat[T]) {
	b.sideBack(c, b.H, &c.h, c.hy, dh0, ds)
	if c.withCellPath && !dc0.Empty() {
		if ds.Empty() {
			b.sideBack(c, b.C, &c.c, c.cy, dc0, nn.Mat[T]{})
			return
		}
		c.dsumC = nn.NewMatLike(c.dsumC, ds.Rows, ds.Cols)
		b.sideBack(c, b.C, &c.c, c.cy, dc0, c.dsumC)
		nn.AddTo(ds, c.dsumC)
	}
}

// sideBack backpropagates one linear+tanh side: each of its outputs fed
// every decoder layer, so their gradients add up.
func (b *Bridge[T]) sideBack(c *BridgeCache[T], l *nn.Linear[T], lc *nn.LinearCache[T], y, dstates, ds nn.Mat[T]) {
	B, H := c.batch, b.hidden
	c.dpre = nn.NewMatLike(c.dpre, B, H)
	c.dpre.Zero()
	for k := 0; k < b.layers; k++ {
		nn.AddTo(c.dpre, dstates.RowBlock(k*B, (k+1)*B))
	}
	for i, o := range y.Data[:B*H] {
		c.dpre.Data[i] *= 1 - o*o
	}
	l.Backward(lc, c.dpre, ds)
}
