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
// A layer's Forward caches what its Backward needs; outputs alias buffers the
// layer reuses on its next Forward, so callers copy what they want to keep.
// Backward accumulates into parameter gradients (call ZeroGrad between steps)
// and returns the gradient of its input.
//
// Inference one token at a time (sampling at batch 1) goes through a
// Stepper instead of Recurrent.Forward: no caches, no allocation per step,
// and a token stepper's first-layer input projection precomputed per token.
package nn
