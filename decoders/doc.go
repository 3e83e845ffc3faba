// Package decoders holds the decoders a config names under decoder.kind,
// each a forward/backward pair over a batch built from nn's layers:
//
//   - synced (Synced): one output per input step — an optional token
//     embedding, a recurrent stack (or none) and a linear head per step.
//     Video labels frames with it over a CNN's per-frame features; the char
//     LM reads its own text with it and samples by feeding each drawn token
//     back (NewTokenStepper).
//   - autoregressive (Autoregressive): a new sequence, one token per step,
//     started from an encoder's output — a Bridge turns the encoder's
//     summary into the initial states, which the task never handles — and
//     attending over the encoder's memory (RNN holds the recurrent token
//     decoder itself). Its search (NewSearch) adapts it to package
//     decoding's greedy, sampling, beam and MBR strategies.
//
// kinds.go registers the kinds and checks each one's keys of the decoder
// section; a task names the kinds it takes.
package decoders
