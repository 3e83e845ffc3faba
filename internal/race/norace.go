//go:build !race

// Package race reports whether the race detector is on, for tests whose
// checks it changes (it makes sync.Pool drop items at random, so a pooled
// path allocates).
package race

// Enabled is true when the binary was built with -race.
const Enabled = false
