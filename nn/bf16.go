package nn

import "github.com/seqtask/seqtask/fastblas"

// BF16Pass holds the bfloat16 copies of a model's weights for one training
// pass, forward and backward, shared by every cache the pass runs through
// (a decoder that runs its stack one step per cache rounds each weight once
// per pass, not once per step). Each weight is rounded on its first forward
// product of the pass and its transpose on its first backward one, into
// storage kept from pass to pass. The model calls Begin before each forward
// pass: the optimizer has changed the weights since the last. Its zero
// value is ready to use; it is not safe for concurrent use (data-parallel
// workers each have their own).
type BF16Pass[T Float] struct {
	pass   int
	copies map[passKey[T]]*passCopy
}

// passKey names one rounded copy: a weight, as W or as Wᵀ.
type passKey[T Float] struct {
	w          *Param[T]
	transposed bool
}

// passCopy is one rounded copy and the pass it was made in.
type passCopy struct {
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
// [in][out] when transposed.
func (p *BF16Pass[T]) rounded(w *Param[T], transposed bool) *fastblas.BF16Matrix {
	if p.copies == nil {
		p.copies = map[passKey[T]]*passCopy{}
	}
	k := passKey[T]{w, transposed}
	e := p.copies[k]
	if e == nil {
		m := w.Mat()
		rows, cols := m.Rows, m.Cols
		if transposed {
			rows, cols = cols, rows
		}
		e = &passCopy{m: fastblas.MakeBF16Matrix(rows, cols), pass: -1}
		p.copies[k] = e
	}
	if e.pass != p.pass {
		v := any(w.Value).([]float32)
		if transposed {
			e.m.RoundTransposed(v)
		} else {
			e.m.Round(v)
		}
		e.pass = p.pass
	}
	return e.m
}
