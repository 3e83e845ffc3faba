package tokenizers

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/seqtask/seqtask/datasets"
)

// scripts are texts every tokenizer must get through: several scripts,
// emoji with ZWJ sequences, combining accents, and awkward whitespace.
var scripts = []string{
	"안녕하세요, 세계! 한국어 문장입니다.",
	"我爱北京天安门。今天天气很好。",
	"こんにちは、世界。カタカナとひらがな。",
	"Привет, мир! Съешь же ещё этих мягких французских булок.",
	"مرحبا بالعالم، هذه جملة عربية.",
	"नमस्ते दुनिया",
	"Family: 👨‍👩‍👧‍👦, flags 🇫🇷🇰🇷, skin 👍🏽, heart ❤️, rainbow 🏳️‍🌈",
	"Combining: cafe\u0301 nai\u0308ve, Zalgo Z\u0335\u0321a\u0300l\u0317go, k\u0301",
	"Compatibility: ﬁne Ｆｕｌｌ width, x²",
	"   three leading spaces, two trailing  ",
	"multiple   inner    spaces",
	"tabs\tbetween\t\twords\t",
	"two\nlines\r\n",
	" ",
	"A literal ▁ mark, ▁▁ twice, <0x41> and <unk> as text.",
	"",
}

var (
	tatoebaOnce sync.Once
	tatoeba     []string
	tatoebaErr  error
)

// readTatoeba returns both sides of every pair of the shipped Tatoeba file,
// English then French.
func readTatoeba(tb testing.TB) []string {
	tb.Helper()
	tatoebaOnce.Do(func() {
		f, err := os.Open("../data/translation/eng-fra.txt.gz")
		if err != nil {
			tatoebaErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			tatoebaErr = err
			return
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			en, fr, _ := strings.Cut(sc.Text(), "\t")
			tatoeba = append(tatoeba, en, fr)
		}
		tatoebaErr = sc.Err()
	})
	if tatoebaErr != nil {
		tb.Fatal(tatoebaErr)
	}
	return tatoeba
}

// sample returns every k-th Tatoeba sentence.
func sample(tb testing.TB, k int) []string {
	var out []string
	for i, s := range readTatoeba(tb) {
		if i%k == 0 {
			out = append(out, s)
		}
	}
	return out
}

func mustNew(tb testing.TB, o Options, texts []string) Tokenizer {
	tb.Helper()
	tok, err := New(o, texts)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// TestRoundTripScripts checks the exact round trip of every lossless kind,
// under every normalisation, on text in many scripts.
func TestRoundTripScripts(t *testing.T) {
	train := sample(t, 50)
	for _, form := range []string{"none", "nfc", "nfkc"} {
		for _, lower := range []bool{false, true} {
			kinds := []Options{
				{Kind: "bpe", VocabSize: 1000},
				{Kind: "chars"},
				{Kind: "sentencepiece", ModelFile: "testdata/spm-bpe600-exact.model"},
			}
			for _, o := range kinds {
				o.Normalization, o.Lower = form, lower
				tok := mustNew(t, o, train)
				for _, text := range scripts {
					want, err := o.Normalize(text)
					if err != nil {
						t.Fatal(err)
					}
					if o.Kind == "sentencepiece" {
						// SentencePiece cannot tell a literal ▁ from a space.
						want = strings.ReplaceAll(want, "▁", " ")
					}
					pieces := tok.Encode(text)
					if got := tok.Decode(pieces); got != want {
						t.Errorf("%s %s lower=%v: %q → %q → %q, want %q", o.Kind, form, lower, text, pieces, got, want)
					}
				}
			}
		}
	}
}

// TestWordsGuarantees checks what the lossy words kind does keep: every
// character but spaces, in order, after datasets.Normalize; and the same
// pieces when a decoded text is encoded again.
func TestWordsGuarantees(t *testing.T) {
	texts := append(slices.Clone(scripts), sample(t, 7)...)
	for _, o := range []Options{{Kind: "words", Lang: "en", Lower: true}, {Kind: "words", Lang: "fr"}, {Kind: "words", Normalization: "nfkc"}} {
		tok := mustNew(t, o, nil)
		for _, text := range texts {
			pieces := tok.Encode(text)
			decoded := tok.Decode(pieces)
			norm, _ := o.Normalize(text)
			noSpace := func(s string) string { return strings.ReplaceAll(s, " ", "") }
			if got, want := noSpace(decoded), noSpace(datasets.Normalize(norm)); got != want {
				t.Errorf("%+v: %q decodes to %q, whose characters differ from %q", o, text, decoded, want)
			}
			if again := tok.Encode(decoded); !slices.Equal(again, pieces) {
				t.Errorf("%+v: %q → %q → %q → %q", o, text, pieces, decoded, again)
			}
		}
	}
	// What it loses, stated by example: spacing, ZWJ, typography.
	tok := mustNew(t, Options{Kind: "words", Lang: "fr"}, nil)
	for in, want := range map[string]string{
		"  «Bonjour»,\tdit-il…  ": "« Bonjour », dit-il...",
		"👨‍👩‍👧":                   "👨 👩 👧",
		"l’homme":                 "l'homme",
	} {
		if got := tok.Decode(tok.Encode(in)); got != want {
			t.Errorf("words fr: %q → %q, want %q", in, got, want)
		}
	}
}

// TestMarshalRoundTrip checks that a restored tokenizer encodes exactly as
// the original and marshals to the same bytes.
func TestMarshalRoundTrip(t *testing.T) {
	train := sample(t, 20)
	texts := append(slices.Clone(scripts), sample(t, 101)...)
	for _, o := range []Options{
		{Kind: "words", Lang: "fr", Lower: true},
		{Kind: "chars", Normalization: "nfkc"},
		{Kind: "bpe", VocabSize: 2000, Normalization: "none"},
		{Kind: "bpe", VocabSize: 600, CharacterCoverage: 0.999, Lower: true},
		{Kind: "sentencepiece", ModelFile: "testdata/spm-bpe600-default.model"},
	} {
		tok := mustNew(t, o, train)
		data, err := json.Marshal(tok)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unmarshal(data)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if back.Kind() != tok.Kind() {
			t.Errorf("kind %q restored as %q", tok.Kind(), back.Kind())
		}
		for _, text := range texts {
			if a, b := tok.Encode(text), back.Encode(text); !slices.Equal(a, b) {
				t.Errorf("%+v: %q encodes to %q, restored to %q", o, text, a, b)
			}
		}
		if v, ok := tok.(Vocabulary); ok && !slices.Equal(v.Pieces(), back.(Vocabulary).Pieces()) {
			t.Errorf("%+v: restored pieces differ", o)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(data) {
			t.Errorf("%+v: marshalled again differs:\n%s\n%s", o, data, again)
		}
	}
}

// TestNewErrors checks that bad options are clear errors.
func TestNewErrors(t *testing.T) {
	train := sample(t, 50)
	for _, c := range []struct {
		o     Options
		texts []string
		want  string
	}{
		{Options{Kind: "wordpiece"}, nil, `unknown kind "wordpiece" (want one of bpe, chars, sentencepiece, words)`},
		{Options{Kind: "chars", Normalization: "nfd"}, nil, `unknown normalization "nfd"`},
		{Options{Kind: "bpe"}, train, "bpe needs a positive VocabSize, got 0"},
		{Options{Kind: "bpe", VocabSize: 300}, train, "vocabulary size 300 is too small: the 256 byte pieces and the "},
		{Options{Kind: "bpe", VocabSize: 1000}, []string{"", ""}, "no training text"},
		{Options{Kind: "bpe", VocabSize: 1000, CharacterCoverage: 1.5}, train, "CharacterCoverage 1.5 is outside [0, 1]"},
		{Options{Kind: "bpe", VocabSize: 1000, Lang: "fr"}, train, `Lang does not apply to kind "bpe"`},
		{Options{Kind: "words", VocabSize: 8000}, nil, `VocabSize does not apply to kind "words"`},
		{Options{Kind: "sentencepiece"}, nil, "sentencepiece needs a ModelFile"},
		{Options{Kind: "sentencepiece", ModelFile: "testdata/missing.model"}, nil, "open testdata/missing.model: no such file"},
		{Options{Kind: "sentencepiece", ModelFile: "testdata/spm-unigram200.model"}, nil, "model type unigram is not supported: go-sentencepiece runs BPE models only"},
		{Options{Kind: "sentencepiece", ModelFile: "testdata/spm-golden-input.txt"}, nil, "testdata/spm-golden-input.txt: not a SentencePiece model"},
	} {
		_, err := New(c.o, c.texts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v): error %v, want one containing %q", c.o, err, c.want)
		}
	}
}

// TestUnmarshalErrors checks that corrupt data is refused.
func TestUnmarshalErrors(t *testing.T) {
	bpe := mustNew(t, Options{Kind: "bpe", VocabSize: 400}, []string{"ab ab ab abc", "le chat"})
	good, err := json.Marshal(bpe)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unmarshal(good); err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	state := env["state"].(map[string]any)
	withState := func(key string, v any) []byte {
		st := map[string]any{"alphabet": state["alphabet"], "merges": state["merges"]}
		st[key] = v
		b, _ := json.Marshal(map[string]any{"version": 1, "options": env["options"], "state": st})
		return b
	}
	merges := state["merges"].([]any)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("bpe 8000"), "tokenizers: unmarshal: invalid character"},
		{"truncated", good[:len(good)/2], "unexpected EOF"},
		{"trailing", append(slices.Clone(good), " {}"...), "data after the tokenizer's JSON object"},
		{"version", []byte(`{"version":2,"options":{"kind":"chars"}}`), "format version 2, this build reads 1"},
		{"unknown field", []byte(`{"version":1,"options":{"kind":"chars","size":3}}`), `unknown field "size"`},
		{"unknown kind", []byte(`{"version":1,"options":{"kind":"wordpiece"}}`), `unknown kind "wordpiece"`},
		{"chars with state", []byte(`{"version":1,"options":{"kind":"chars"},"state":{"x":1}}`), "chars keeps no state"},
		{"bpe without state", []byte(`{"version":1,"options":{"kind":"bpe","vocab_size":400}}`), "unmarshal bpe: state:"},
		{"unknown piece", withState("merges", append(slices.Clone(merges), "zz q")), `("zz q") is not two known pieces`},
		{"byte piece merged", withState("merges", append(slices.Clone(merges), "<0x41> a")), `is not two known pieces`},
		{"no separator", withState("merges", []any{"ab"}), `merge 0 ("ab") is not two known pieces`},
		{"repeated merge", withState("merges", append(slices.Clone(merges), merges[0])), "which is already a piece or reserved"},
		{"repeated character", withState("alphabet", []any{"a", "b", "a"}), `alphabet entry 2 ("a") is repeated`},
		{"long character", withState("alphabet", []any{"ab"}), `alphabet entry 0 ("ab") is not a single character`},
		{"too many pieces", withState("merges", slices.Repeat([]any{"a b"}, 200)), "more than the vocabulary size 400"},
		{"sentencepiece model", []byte(`{"version":1,"options":{"kind":"sentencepiece","model_file":"x.model"},"state":{"model":"AAAA"}}`), "not a SentencePiece model"},
	} {
		_, err := Unmarshal(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestKindsAndNormalize(t *testing.T) {
	if got := Kinds(); !slices.Equal(got, []string{"bpe", "chars", "sentencepiece", "words"}) {
		t.Errorf("Kinds() = %q", got)
	}
	for _, c := range []struct {
		o       Options
		in, out string
	}{
		{Options{}, "cafe\u0301 ﬁ", "café ﬁ"},
		{Options{Normalization: "none"}, "cafe\u0301", "cafe\u0301"},
		{Options{Normalization: "NFKC", Lower: true}, "CAFE\u0301 ﬁ Ｘ\u00a0!", "café fi x !"},
		{Options{Normalization: "none"}, "bad \xff byte", "bad \uFFFD byte"},
	} {
		if got, err := c.o.Normalize(c.in); err != nil || got != c.out {
			t.Errorf("%+v.Normalize(%q) = %q, %v; want %q", c.o, c.in, got, err, c.out)
		}
	}
	if _, err := (Options{Normalization: "nfd"}).Normalize("x"); err == nil {
		t.Error("Normalize with nfd: no error")
	}
}
