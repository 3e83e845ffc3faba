package nn

import (
	"slices"
	"testing"
)

// TestRegistries checks that the cells and attention kinds list themselves
// in the order configs name them, and that a second registration under a
// taken name panics.
func TestRegistries(t *testing.T) {
	if want := []Cell{CellRNN, CellLSTM, CellGRU}; !slices.Equal(Cells, want) {
		t.Errorf("Cells = %v, want %v", Cells, want)
	}
	if want := []AttentionKind{AttentionDot, AttentionGeneral, AttentionAdditive}; !slices.Equal(AttentionKinds, want) {
		t.Errorf("AttentionKinds = %v, want %v", AttentionKinds, want)
	}
	for _, c := range Cells {
		if c.HasCellState() != (c == CellLSTM) {
			t.Errorf("%s: HasCellState %v", c, c.HasCellState())
		}
	}
	for _, k := range AttentionKinds {
		if k.BeforeStep() != (k == AttentionAdditive) {
			t.Errorf("%s: BeforeStep %v", k, k.BeforeStep())
		}
	}
	mustPanic(t, "a second gru", func() { registerCell(CellGRU, 99, gruCell[float32]{}, gruCell[float64]{}) })
	mustPanic(t, "a second dot", func() { registerAttention(AttentionDot, attentionEntry{order: 99}) })
	if len(Cells) != 3 || len(AttentionKinds) != 3 {
		t.Errorf("a refused registration was listed: %v, %v", Cells, AttentionKinds)
	}
}
