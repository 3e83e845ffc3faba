package tokenizers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestSentencePieceGolden checks that the pieces equal spm_encode's for both
// fixture models, on Tatoeba sentences and text in other scripts (see
// testdata/README.md for how the golden files were made).
func TestSentencePieceGolden(t *testing.T) {
	input, err := os.ReadFile("testdata/spm-golden-input.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(input), "\n"), "\n")
	for _, model := range []string{"spm-bpe600-exact", "spm-bpe600-default"} {
		golden, err := os.ReadFile(filepath.Join("testdata", model+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Split(strings.TrimSuffix(string(golden), "\n"), "\n")
		if len(want) != len(lines) {
			t.Fatalf("%s: %d golden lines for %d inputs", model, len(want), len(lines))
		}
		tok := mustNew(t, Options{Kind: "sentencepiece", ModelFile: filepath.Join("testdata", model+".model"), Normalization: "none"}, nil)
		vocab := tok.(Vocabulary).Pieces()
		for i, line := range lines {
			got := tok.Encode(line)
			if strings.Join(got, " ") != want[i] {
				t.Errorf("%s line %d %q:\n got %q\nwant %q", model, i+1, line, strings.Join(got, " "), want[i])
			}
			for _, p := range got {
				if !slices.Contains(vocab, p) {
					t.Errorf("%s: piece %q is not in Pieces()", model, p)
				}
			}
		}
	}
}

// TestSentencePieceDefaults checks spm's default add_dummy_prefix and
// remove_extra_whitespaces, which this package carries out itself.
func TestSentencePieceDefaults(t *testing.T) {
	tok := mustNew(t, Options{Kind: "sentencepiece", ModelFile: "testdata/spm-bpe600-default.model"}, nil)
	for in, want := range map[string]string{
		"  le   chat  ": "le chat",
		"a\tb":          "a\tb", // only spaces are extra whitespace to spm
		"   ":           "",
	} {
		if got := tok.Decode(tok.Encode(in)); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

// TestSentencePieceUnsupported checks that models go-sentencepiece cannot run
// exactly are refused with the reason.
func TestSentencePieceUnsupported(t *testing.T) {
	model, err := os.ReadFile("testdata/spm-bpe600-exact.model")
	if err != nil {
		t.Fatal(err)
	}
	// withField appends to a model a message field holding one field; a
	// parser merges it into the existing message of that number.
	withField := func(base []byte, msg, field protowire.Number, typ protowire.Type, v []byte) []byte {
		var inner []byte
		inner = protowire.AppendTag(inner, field, typ)
		inner = append(inner, v...)
		out := protowire.AppendTag(slices.Clone(base), msg, protowire.BytesType)
		return protowire.AppendBytes(out, inner)
	}
	str := func(s string) []byte { return protowire.AppendString(nil, s) }
	varint := func(v uint64) []byte { return protowire.AppendVarint(nil, v) }
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a SentencePiece model: it has no pieces"},
		{"truncated", model[:len(model)/2], "not a SentencePiece model"},
		{"word model", withField(model, 2, 3, protowire.VarintType, varint(3)), "model type word is not supported"},
		{"nmt_nfkc", withField(withField(model, 3, 1, protowire.BytesType, str("nmt_nfkc")), 3, 2, protowire.BytesType, str("rules")), `normalization rule "nmt_nfkc" is not supported`},
		{"suffix", withField(model, 2, 24, protowire.VarintType, varint(1)), "--treat_whitespace_as_suffix is not supported"},
		{"unescaped", withField(model, 3, 5, protowire.VarintType, varint(0)), "--escape_whitespaces=false is not supported"},
	} {
		path := filepath.Join(dir, c.name+".model")
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{Kind: "sentencepiece", ModelFile: path}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
