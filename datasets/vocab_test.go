package datasets

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestNewVocabRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tokens []string
	}{
		{"duplicate", []string{"a", "b", "a"}},
		{"empty", []string{"a", ""}},
	} {
		if _, err := NewVocab(tc.tokens); err == nil {
			t.Errorf("%s: NewVocab(%q) succeeded, want error", tc.name, tc.tokens)
		}
	}
}

func TestBuildVocabOrderAndCaps(t *testing.T) {
	counts := map[string]int{"the": 5, "cat": 2, "sat": 2, "rare": 1}
	tests := []struct {
		name string
		opt  VocabOptions
		want []string
	}{
		{"min freq 2", VocabOptions{MinFreq: 2, Specials: Specials}, []string{"<pad>", "<bos>", "<eos>", "<unk>", "the", "cat", "sat"}},
		{"capped", VocabOptions{MinFreq: 1, MaxSize: 6, Specials: Specials}, []string{"<pad>", "<bos>", "<eos>", "<unk>", "the", "cat"}},
		{"no specials", VocabOptions{MinFreq: 1}, []string{"the", "cat", "sat", "rare"}},
	}
	for _, tc := range tests {
		got := BuildVocab(counts, tc.opt).Tokens()
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestVocabEncodeDecodeRoundTrip(t *testing.T) {
	v := BuildVocab(map[string]int{"a": 3, "b": 2}, VocabOptions{MinFreq: 1, Specials: Specials})
	ids, err := v.Encode([]string{"a", "zzz", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{4, 3, 5}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("Encode = %v, want %v (unknown → <unk>=3)", ids, want)
	}
	toks, err := v.Decode(ids)
	if err != nil || !reflect.DeepEqual(toks, []string{"a", "<unk>", "b"}) {
		t.Fatalf("Decode = %q, %v", toks, err)
	}
	if _, err := v.Decode([]int{99}); err == nil {
		t.Error("Decode(99) succeeded on a vocabulary of 6")
	}
	chars, _ := NewVocab([]string{"h", "e", "l", "o"})
	if _, err := chars.Encode([]string{"h", "x"}); err == nil {
		t.Error("Encode of an unknown char without <unk> succeeded")
	}
	b, _ := json.Marshal(chars)
	var back Vocab
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.Tokens(), chars.Tokens()) {
		t.Fatalf("JSON round trip: %q, %v", back.Tokens(), err)
	}
}
