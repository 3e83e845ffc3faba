// Package nn is seqtask's numerical core: parameters with gradients, layers as
// explicit forward/backward pairs, recurrent networks over whole sequences with
// exact backpropagation through time, losses, optimizers, schedules and a
// finite-difference gradient checker.
//
// Every type is generic over the element type (float32 or float64): training
// runs in float32 for speed, while gradient checks and the PyTorch parity
// tests run the very same code in float64. Matrix products go through gonum's
// blas32/blas64 interfaces, so a faster BLAS installed with blas32.Use (see
// package fastblas) speeds up every layer without touching it.
//
// Shapes follow one alphabet throughout the doc comments:
//
//	N batch rows (often T*B), T time, B batch, D input, H hidden,
//	G gates (1 RNN, 4 LSTM, 3 GRU), V vocabulary, W word vector.
//
// Sequences are time-major and flat: a [T][B][D] tensor is a Mat with T*B
// rows, row t*B+b holding step t of sequence b. That makes the input
// projection of all T steps one GEMM, and a step's rows one contiguous block.
//
// One cache convention holds for every layer (CS231n's "forward returns
// the output and a cache, backward takes the upstream gradient and the
// cache", with the cache passed in so nothing allocates in a hot loop). A
// layer holds only its parameters (and buffers such as batch norm's
// running statistics); what a Forward keeps for its Backward lives in a
// cache the caller owns — LinearCache for Linear, RecurrentCache for
// Recurrent, and so on — passed first to both:
//
//	var c nn.LinearCache[float32] // zero value ready; keep one per use
//	y := lin.Forward(&c, x)       // y is held by c until its next Forward
//	...
//	lin.Backward(&c, dy, dx)      // accumulates dW, db; writes dx
//
// The cache also owns the output buffer and the scratch, reused from call
// to call, so outputs stay valid until that cache's next use: callers
// copy what they want to keep. Backward accumulates into parameter
// gradients (call ZeroGrad between steps). One layer can serve any number
// of caches — a decoder running one step per call keeps a cache per step
// and backpropagates through them in reverse — and two users of a layer
// (training and a search) never share state. Attention's per-batch state
// (the keys and their projection) is an AttentionKeys passed before the
// step's AttentionCache.
//
// Recurrent cells (cell_*.go) and attention scores (attention_*.go) are
// each one file registered by name; Cells and AttentionKinds list them.
//
// Inference one token at a time (sampling at batch 1) goes through a
// Stepper instead of Recurrent.Forward: no caches for a backward pass, no
// allocation per step, and a token stepper's first-layer input projection
// precomputed per token.
//
// A Linear or Recurrent cache or a Stepper decides how its products with
// the weights are computed (WeightProducts, products.go): in bfloat16 on
// fastblas.SgemmBF16 — for inference on weights rounded once for its
// life; for training a BF16Pass rounds them once per forward pass, for the
// forward products and, transposed, for the gradients passed down, and the
// weight gradients' products round their operands too (weights and
// gradients stay float32) — or, for inference in float32, on weights
// packed once for the GEMM kernel (fastblas.SgemmPacked); a recurrent
// layer's per-step products with W_hh in a float32 training pass use W_hh
// packed once for the pass. Those modes call fastblas directly; every other
// product goes through blas32/blas64. Element-wise float32 work (ReLU,
// pooling, sums, Adam) runs on package vecmath's AVX-512 or AVX2 kernels,
// whose Go fallbacks give the same bits.
package nn
