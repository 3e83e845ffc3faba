package tokenizers

import (
	"encoding/json"
	"errors"

	"github.com/seqtask/seqtask/datasets"
)

// words is the word-level tokenizer translation has always used:
// datasets.Tokenize and datasets.Detokenize behind the Tokenizer interface.
//
// It is not lossless, by design: datasets.Normalize trims the text, turns
// every run of Unicode spaces (tabs, no-break spaces, ...) into one space,
// drops zero-width characters (so emoji ZWJ sequences fall apart into their
// emoji) and soft hyphens, and unifies apostrophes, "…" and Unicode hyphens;
// Detokenize then chooses the spacing around punctuation by rule. What it
// keeps is every other character, in order: Decode(Encode(x)) with its
// spaces removed equals datasets.Normalize of the normalised x with its
// spaces removed (up to the typography just listed); and a decoded text
// encodes to the same pieces again (tested on every seventh sentence of the
// shipped corpus, English and French rules, and on text in other scripts).
type words struct {
	opts Options
	norm func(string) string
}

func newWords(o Options, _ []string) (Tokenizer, error) {
	f, err := o.normalizer()
	if err != nil {
		return nil, err
	}
	return &words{opts: o, norm: f}, nil
}

func restoreWords(o Options, state json.RawMessage) (Tokenizer, error) {
	if len(state) != 0 {
		return nil, errors.New("words keeps no state, but the data has some")
	}
	return newWords(o, nil)
}

func (t *words) Kind() string { return "words" }

// Encode normalises text (lowercasing is the Options' Lower) and splits it
// with datasets.Tokenize under the Options' Lang.
func (t *words) Encode(text string) []string {
	return datasets.Tokenize(t.norm(text), datasets.TokenizeOptions{Lang: t.opts.Lang})
}

// Decode joins pieces with datasets.Detokenize under the Options' Lang.
func (t *words) Decode(pieces []string) string {
	return datasets.Detokenize(pieces, t.opts.Lang)
}

func (t *words) MarshalJSON() ([]byte, error) { return marshal(t.opts, nil) }
