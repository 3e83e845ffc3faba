package tokenizers

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// chars splits text into Unicode code points, one piece each, spaces
// included (as " ").
//
// Code points rather than grapheme clusters (user-perceived characters):
// the round trip is exact either way, since Decode only concatenates, but
// the set of code points in a text is small and closed (letters, marks and
// symbols of its scripts), while clusters are open-ended — every emoji ZWJ
// sequence, every letter with a new combination of accents, is a new
// cluster — so a vocabulary of code points built from training text covers
// far more of the text a model will meet. A model can still write any
// cluster, code point by code point. NFC normalisation (the default)
// already makes most accented Latin letters a single code point.
type chars struct {
	opts Options
	norm func(string) string
}

func newChars(o Options, _ []string) (Tokenizer, error) {
	f, err := o.normalizer()
	if err != nil {
		return nil, err
	}
	return &chars{opts: o, norm: f}, nil
}

func restoreChars(o Options, state json.RawMessage) (Tokenizer, error) {
	if len(state) != 0 {
		return nil, errors.New("chars keeps no state, but the data has some")
	}
	return newChars(o, nil)
}

func (t *chars) Kind() string { return "chars" }

// Encode returns the code points of the normalised text. Decode(Encode(x))
// equals the normalised x exactly.
func (t *chars) Encode(text string) []string {
	s := t.norm(text)
	out := make([]string, 0, utf8.RuneCountInString(s))
	for i, r := range s {
		out = append(out, s[i:i+utf8.RuneLen(r)])
	}
	return out
}

// Decode concatenates the pieces.
func (t *chars) Decode(pieces []string) string { return strings.Join(pieces, "") }

func (t *chars) MarshalJSON() ([]byte, error) { return marshal(t.opts, nil) }
