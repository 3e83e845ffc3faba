package nn

import (
	"fmt"
	"math"
)

// BatchNorm2D normalises each channel of a batch of images, as
// torch.nn.BatchNorm2d: y = (x - mean)/sqrt(var + Eps) * weight + bias.
//
// In training, mean and var are the batch's statistics over N, H and W (var
// biased), and the running estimates move towards them by Momentum (var
// unbiased, as PyTorch): running = (1-Momentum)*running + Momentum*batch.
// In evaluation the running estimates are used instead, so a single image
// is normalised the same way whatever batch it comes in.
//
// RunningMean and RunningVar are state, not learnable parameters: they are
// kept out of Params (an optimizer must not touch them) but a checkpoint
// must save them, under the names PyTorch's state_dict uses, which Buffers
// returns. BatchesTracked mirrors PyTorch's num_batches_tracked.
type BatchNorm2D[T Float] struct {
	Weight, Bias            *Param[T] // [C] scale (init 1) and shift (init 0)
	RunningMean, RunningVar *Param[T] // [C] running estimates (init 0 and 1); Grad unused
	BatchesTracked          int64     // training forward passes so far

	In            ImageShape // geometry of an input (and output) row
	Eps, Momentum float64    // 1e-5 and 0.1 by default, as PyTorch
}

// BatchNorm2DCache is what BatchNorm2D.Forward keeps for Backward and the
// output buffer it reuses; its zero value is ready to use.
type BatchNorm2DCache[T Float] struct {
	train  bool
	n      int
	xhat   Mat[T] // [N][C*H*W] normalised input
	y      Mat[T] // [N][C*H*W] output
	invStd []T    // [C] 1/sqrt(var+Eps) the Forward used
}

// NewBatchNorm2D returns a BatchNorm2D over images of geometry in, with
// parameters prefix.weight / prefix.bias and buffers prefix.running_mean /
// prefix.running_var, initialised as PyTorch does.
func NewBatchNorm2D[T Float](prefix string, in ImageShape) (*BatchNorm2D[T], error) {
	if !in.valid() {
		return nil, fmt.Errorf("batch_norm2d: input shape %v must be positive", in)
	}
	b := &BatchNorm2D[T]{
		Weight:      NewParam[T](prefix+".weight", in.C),
		Bias:        NewParam[T](prefix+".bias", in.C),
		RunningMean: NewParam[T](prefix+".running_mean", in.C),
		RunningVar:  NewParam[T](prefix+".running_var", in.C),
		In:          in,
		Eps:         1e-5,
		Momentum:    0.1,
	}
	for i := range b.Weight.Value {
		b.Weight.Value[i] = 1
		b.RunningVar.Value[i] = 1
	}
	return b, nil
}

// Params returns the learnable weight and bias.
func (b *BatchNorm2D[T]) Params() Params[T] { return Params[T]{b.Weight, b.Bias} }

// Buffers returns the running mean and variance: state a checkpoint must
// keep alongside Params, but that no optimizer may update.
func (b *BatchNorm2D[T]) Buffers() Params[T] { return Params[T]{b.RunningMean, b.RunningVar} }

// Forward normalises x [N][C*H*W] into y [N][C*H*W], held by bc until its
// next Forward, with the batch's statistics (updating the running ones)
// when train is set, else with the running statistics. Training on a
// batch with a single value per channel (N*H*W = 1) updates the running
// variance with the biased estimate, where PyTorch refuses.
func (b *BatchNorm2D[T]) Forward(bc *BatchNorm2DCache[T], x Mat[T], train bool) Mat[T] {
	if x.Cols != b.In.Size() {
		panic(fmt.Sprintf("nn: BatchNorm2D.Forward: input has %d columns, want %v = %d", x.Cols, b.In, b.In.Size()))
	}
	n, p := x.Rows, b.In.H*b.In.W
	bc.train, bc.n = train, n
	bc.xhat = resize(bc.xhat, n, x.Cols)
	bc.y = resize(bc.y, n, x.Cols)
	if len(bc.invStd) != b.In.C {
		bc.invStd = make([]T, b.In.C)
	}
	if train {
		b.BatchesTracked++
	}
	m := float64(n * p)
	// The channels are independent: each is normalised on one core, its
	// sums in the order they take on one core.
	parallelRange(b.In.C, 3*n*p, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var mean, inv float64
			if train {
				var s float64
				for i := 0; i < n; i++ {
					for _, v := range x.Row(i)[c*p : (c+1)*p] {
						s += float64(v)
					}
				}
				mean = s / m
				var ss float64
				for i := 0; i < n; i++ {
					for _, v := range x.Row(i)[c*p : (c+1)*p] {
						d := float64(v) - mean
						ss += d * d
					}
				}
				variance := ss / m
				inv = 1 / math.Sqrt(variance+b.Eps)
				unbiased := variance
				if m > 1 {
					unbiased = ss / (m - 1)
				}
				mo := b.Momentum
				b.RunningMean.Value[c] = T((1-mo)*float64(b.RunningMean.Value[c]) + mo*mean)
				b.RunningVar.Value[c] = T((1-mo)*float64(b.RunningVar.Value[c]) + mo*unbiased)
			} else {
				mean = float64(b.RunningMean.Value[c])
				inv = 1 / math.Sqrt(float64(b.RunningVar.Value[c])+b.Eps)
			}
			bc.invStd[c] = T(inv)
			tm, ti := T(mean), T(inv)
			w, sh := b.Weight.Value[c], b.Bias.Value[c]
			for i := 0; i < n; i++ {
				xs := x.Row(i)[c*p : (c+1)*p]
				hs := bc.xhat.Row(i)[c*p : (c+1)*p]
				ys := bc.y.Row(i)[c*p : (c+1)*p]
				for j, v := range xs {
					h := (v - tm) * ti
					hs[j] = h
					ys[j] = h*w + sh
				}
			}
		}
	})
	return bc.y
}

// Backward takes dy [N][C*H*W] for the Forward that filled bc, accumulates
// dweight += Σ dy*x̂ and dbias += Σ dy per channel, and writes dx
// [N][C*H*W] when dx is not empty. After a training Forward, dx includes
// the paths through the batch mean and variance:
// dx = weight/sqrt(var+Eps) * (dy - mean(dy) - x̂*mean(dy*x̂)); after an
// evaluation Forward the statistics are constants and dx = dy*weight/sqrt(rv+Eps).
func (b *BatchNorm2D[T]) Backward(bc *BatchNorm2DCache[T], dy, dx Mat[T]) {
	n, p := bc.n, b.In.H*b.In.W
	mustSameShape("BatchNorm2D.Backward", bc.y, dy)
	if !dx.Empty() {
		mustSameShape("BatchNorm2D.Backward dx", bc.y, dx)
	}
	m := float64(n * p)
	parallelRange(b.In.C, 3*n*p, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var sdy, sdyh float64
			for i := 0; i < n; i++ {
				hs := bc.xhat.Row(i)[c*p : (c+1)*p]
				for j, g := range dy.Row(i)[c*p : (c+1)*p] {
					sdy += float64(g)
					sdyh += float64(g * hs[j])
				}
			}
			b.Weight.Grad[c] += T(sdyh)
			b.Bias.Grad[c] += T(sdy)
			if dx.Empty() {
				continue
			}
			scale := b.Weight.Value[c] * bc.invStd[c]
			var mdy, mdyh T // zero in evaluation, where the statistics are constants
			if bc.train {
				mdy, mdyh = T(sdy/m), T(sdyh/m)
			}
			for i := 0; i < n; i++ {
				hs := bc.xhat.Row(i)[c*p : (c+1)*p]
				ds := dx.Row(i)[c*p : (c+1)*p]
				for j, g := range dy.Row(i)[c*p : (c+1)*p] {
					ds[j] = scale * (g - mdy - hs[j]*mdyh)
				}
			}
		}
	})
}

// FoldInto returns a convolution that computes b(conv(x)) with b in
// evaluation (its running statistics), for inference: conv's weights
// scaled per output channel by s = weight/sqrt(running_var + Eps) and the
// bias shifted to bias + (conv bias − running_mean)·s, as PyTorch's
// fuse_conv_bn_eval does. It saves the pass over every activation that
// normalising takes. dst is reused when it came from an earlier FoldInto
// of the same layers (the weights may have changed since: it is refolded
// every time); the result has no gradients to train.
func (b *BatchNorm2D[T]) FoldInto(dst, conv *Conv2D[T]) *Conv2D[T] {
	if conv.Out != b.In {
		panic(fmt.Sprintf("nn: BatchNorm2D.FoldInto: the convolution gives %v images, the batch norm takes %v", conv.Out, b.In))
	}
	if dst == nil || dst.Config.In != conv.Config.In || dst.Out != conv.Out || dst.Config.Kernel != conv.Config.Kernel {
		cfg := conv.Config
		cfg.NoBias = false
		dst = &Conv2D[T]{Weight: NewParam[T](conv.Weight.Name, conv.Weight.Shape...), Bias: NewParam[T](b.Bias.Name, cfg.Out),
			Config: cfg, In: conv.In, Out: conv.Out}
	}
	per := len(conv.Weight.Value) / b.In.C
	for o := range b.In.C {
		s := float64(b.Weight.Value[o]) / math.Sqrt(float64(b.RunningVar.Value[o])+b.Eps)
		for j, w := range conv.Weight.Value[o*per : (o+1)*per] {
			dst.Weight.Value[o*per+j] = T(float64(w) * s)
		}
		var bias float64
		if conv.Bias != nil {
			bias = float64(conv.Bias.Value[o])
		}
		dst.Bias.Value[o] = T(float64(b.Bias.Value[o]) + (bias-float64(b.RunningMean.Value[o]))*s)
	}
	return dst
}
