package nn

import (
	"slices"
	"testing"
)

// TestRegistries checks that the cells and attention kinds list themselves
// in the order configs name them (rnn, lstm, gru; dot, general, additive,
// with any later registration in its place), that their properties are
// the published ones, and that a second registration under a taken name
// panics without being listed.
func TestRegistries(t *testing.T) {
	inOrder := func(list, want []string) bool {
		var got []string
		for _, x := range list {
			if slices.Contains(want, x) {
				got = append(got, x)
			}
		}
		return slices.Equal(got, want)
	}
	var cells, kinds []string
	for _, c := range Cells {
		cells = append(cells, string(c))
	}
	for _, k := range AttentionKinds {
		kinds = append(kinds, string(k))
	}
	if want := []string{"rnn", "lstm", "gru"}; !inOrder(cells, want) {
		t.Errorf("Cells = %v, want %v in that order", Cells, want)
	}
	if want := []string{"dot", "general", "additive"}; !inOrder(kinds, want) {
		t.Errorf("AttentionKinds = %v, want %v in that order", AttentionKinds, want)
	}
	for _, c := range []Cell{CellRNN, CellLSTM, CellGRU} {
		if c.HasCellState() != (c == CellLSTM) {
			t.Errorf("%s: HasCellState %v", c, c.HasCellState())
		}
	}
	for _, k := range []AttentionKind{AttentionDot, AttentionGeneral, AttentionAdditive} {
		if k.BeforeStep() != (k == AttentionAdditive) {
			t.Errorf("%s: BeforeStep %v", k, k.BeforeStep())
		}
	}
	nc, nk := len(Cells), len(AttentionKinds)
	mustPanic(t, "a second gru", func() { registerCell(CellGRU, 99, gruCell[float32]{}, gruCell[float64]{}) })
	mustPanic(t, "a second dot", func() { registerAttention(AttentionDot, attentionEntry{order: 99}) })
	if len(Cells) != nc || len(AttentionKinds) != nk {
		t.Errorf("a refused registration was listed: %v, %v", Cells, AttentionKinds)
	}
}
