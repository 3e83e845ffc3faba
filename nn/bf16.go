package nn

import (
	"sync"
	"unsafe"

	"github.com/seqtask/seqtask/fastblas"
)

// BF16Pass holds the bfloat16 copies of a model's weights for one training
// pass, forward and backward, shared by every cache the pass runs through
// (a decoder that runs its stack one step per cache rounds each weight once
// per pass, not once per step). Each weight is rounded on its first forward
// product of the pass and its transpose on its first backward one, into
// storage kept from pass to pass. The model calls Begin before each forward
// pass: the optimizer has changed the weights since the last. Its zero
// value is ready to use.
//
// Data-parallel copies of a model, whose parameters share their values,
// share one pass too (Params.ShareBF16): their own passes then take the
// copies from it, each weight rounded once per step for all of them. It is
// safe for concurrent use by their forward and backward passes; its owner
// begins it once per step while none runs.
type BF16Pass[T Float] struct {
	pass   int
	mu     sync.Mutex // guards copies
	copies map[passKey[T]]*passCopy
}

// passKey names one rounded copy: a weight's values, as W or as Wᵀ.
// Keyed by the values, copies of a model sharing them find one copy.
type passKey[T Float] struct {
	values     *T
	transposed bool
}

// passCopy is one rounded copy and the pass it was made in.
type passCopy struct {
	mu   sync.Mutex // held while it is rounded
	m    *fastblas.BF16Matrix
	pass int
}

// Begin starts a pass, in which every rounded weight is made again on
// first use, and returns p; when on is false it returns nil, which a
// cache's TrainBF16 takes for float32 products. A model calls it at the
// start of each forward pass with whether the pass trains in bfloat16.
func (p *BF16Pass[T]) Begin(on bool) *BF16Pass[T] {
	if !on {
		return nil
	}
	p.pass++
	return p
}

// rounded returns w [out][in] rounded in this pass, as W, or as Wᵀ
// [in][out] when transposed; from the pass w shares, if any.
func (p *BF16Pass[T]) rounded(w *Param[T], transposed bool) *fastblas.BF16Matrix {
	if s := w.sharedBF16; s != nil && s != p {
		return s.rounded(w, transposed)
	}
	k := passKey[T]{unsafe.SliceData(w.Value), transposed}
	p.mu.Lock()
	e := p.copies[k]
	if e == nil {
		if p.copies == nil {
			p.copies = map[passKey[T]]*passCopy{}
		}
		m := w.Mat()
		rows, cols := m.Rows, m.Cols
		if transposed {
			rows, cols = cols, rows
		}
		e = &passCopy{m: fastblas.MakeBF16Matrix(rows, cols), pass: -1}
		p.copies[k] = e
	}
	pass := p.pass
	p.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pass != pass {
		v := any(w.Value).([]float32)
		if transposed {
			e.m.RoundTransposed(v)
		} else {
			e.m.Round(v)
		}
		e.pass = pass
	}
	return e.m
}
