// Package tokenizers turns text into the pieces a sequence model reads and
// writes, and pieces back into text.
//
// A Tokenizer is made by New from Options, which name its kind:
//
//   - "words": the word and punctuation rules of datasets.Tokenize, undone by
//     datasets.Detokenize. Readable, but lossy on spacing and typography.
//   - "bpe": byte-pair encoding learned from training text at a chosen
//     vocabulary size, with SentencePiece-style whitespace marks and byte
//     fallback, so that decoding gives back the normalised text exactly.
//   - "sentencepiece": a BPE model file made by SentencePiece's own trainer,
//     run by github.com/eliben/go-sentencepiece.
//   - "chars": one piece per Unicode code point.
//
// Every kind first normalises its input (Options.Normalize): invalid UTF-8
// becomes U+FFFD, the text is optionally lowercased, then put in Unicode
// normal form NFC, NFKC or left as is. The round-trip guarantee of each kind
// is stated in terms of that normalised text.
//
// A tokenizer's options and learned state marshal to JSON (json.Marshal of the
// Tokenizer) and Unmarshal restores it, so a checkpoint can carry its
// tokenizer in its metadata and prediction needs no other file.
//
// Pieces are strings rather than ids: the caller maps them to ids with its own
// vocabulary, which also holds its special tokens (<pad>, <bos>, <eos>,
// <unk>). Tokenizers whose pieces form a closed set (bpe, sentencepiece) also
// implement Vocabulary, which lists them.
package tokenizers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer splits text into pieces and joins pieces back into text.
// Implementations are safe for concurrent use.
type Tokenizer interface {
	// Kind returns the name the tokenizer was made under ("bpe", ...).
	Kind() string
	// Encode normalises text and splits it into pieces. It never fails: any
	// string, including invalid UTF-8, gives a (possibly empty) list.
	Encode(text string) []string
	// Decode joins pieces back into text. It accepts any strings, including
	// pieces the tokenizer would never produce, so that a model's output
	// always decodes.
	Decode(pieces []string) string
	// MarshalJSON returns the tokenizer's options and learned state, from
	// which Unmarshal makes an equal tokenizer.
	MarshalJSON() ([]byte, error)
}

// Vocabulary is implemented by tokenizers whose Encode output is drawn from a
// fixed, known set of pieces (bpe and sentencepiece), so that a caller can
// size its embedding tables before seeing any text.
type Vocabulary interface {
	// Pieces returns every piece Encode can produce, each once, in the
	// tokenizer's own id order. The caller must not modify it.
	Pieces() []string
}

// Options select and configure a tokenizer. Fields a kind does not use must
// be left zero, so that a misplaced setting is reported rather than ignored.
type Options struct {
	// Kind is "words", "bpe", "sentencepiece" or "chars" (case-insensitive).
	Kind string `json:"kind"`
	// Normalization is the Unicode normal form applied before learning and
	// encoding: "none", "nfc" or "nfkc". Empty means "nfc", which only unifies
	// canonically equivalent spellings (a precomposed é and e + U+0301) and so
	// never changes what a text says; "nfkc" also folds compatibility
	// characters (ﬁ → fi, full-width Ａ → A, no-break space → space).
	Normalization string `json:"normalization,omitempty"`
	// Lower lowercases the text (Unicode case mapping) before normalising.
	Lower bool `json:"lower,omitempty"`
	// Lang selects the apostrophe rules of the words kind ("en", "fr"; see
	// datasets.Tokenize). Words only.
	Lang string `json:"lang,omitempty"`
	// VocabSize is the number of pieces a bpe tokenizer learns: its 256 byte
	// pieces, its base characters and its merges (not the caller's special
	// tokens). Fewer if the training text runs out of pairs to merge. Bpe
	// only, required.
	VocabSize int `json:"vocab_size,omitempty"`
	// CharacterCoverage is the fraction of the training text's character
	// occurrences that bpe's base alphabet must cover, most frequent
	// characters first; rarer characters are spelled with byte pieces. Zero
	// means 1 (every character seen). Lower it (SentencePiece uses 0.9995) for
	// scripts with thousands of characters, such as Chinese. Bpe only.
	CharacterCoverage float64 `json:"character_coverage,omitempty"`
	// ModelFile is the path of a SentencePiece .model file. Sentencepiece
	// only, required; the file's contents, not its path, are what the
	// tokenizer marshals.
	ModelFile string `json:"model_file,omitempty"`
}

// kind builds and restores one kind of tokenizer. Options reach it
// normalised and validated.
type kind struct {
	// learn makes a tokenizer, from training texts where the kind learns.
	learn func(o Options, texts []string) (Tokenizer, error)
	// restore makes a tokenizer from the state its MarshalJSON wrote.
	restore func(o Options, state json.RawMessage) (Tokenizer, error)
}

// kinds is the registry of tokenizer kinds by name. It is a map literal, so a
// duplicate name is a compile error.
var kinds = map[string]kind{
	"words":         {learn: newWords, restore: restoreWords},
	"chars":         {learn: newChars, restore: restoreChars},
	"bpe":           {learn: learnBPE, restore: restoreBPE},
	"sentencepiece": {learn: loadSentencePiece, restore: restoreSentencePiece},
}

// Kinds returns the names New accepts, sorted.
func Kinds() []string {
	names := make([]string, 0, len(kinds))
	for name := range kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// New makes a tokenizer of the kind o.Kind. A bpe tokenizer learns its merges
// from texts (pass both sides of a corpus for a joint vocabulary, or one side
// for a per-side one); the other kinds ignore texts.
func New(o Options, texts []string) (Tokenizer, error) {
	o, k, err := o.check()
	if err != nil {
		return nil, fmt.Errorf("tokenizers: %w", err)
	}
	t, err := k.learn(o, texts)
	if err != nil {
		return nil, fmt.Errorf("tokenizers: %s: %w", o.Kind, err)
	}
	return t, nil
}

// Normalize applies the normalisation every tokenizer made from o applies
// before encoding: invalid UTF-8 to U+FFFD, lowercasing if o.Lower, then the
// Unicode normal form. Callers use it to prepare reference text the same way.
func (o Options) Normalize(text string) (string, error) {
	f, err := o.normalizer()
	if err != nil {
		return "", fmt.Errorf("tokenizers: %w", err)
	}
	return f(text), nil
}

// normalizer returns the function Normalize applies.
func (o Options) normalizer() (func(string) string, error) {
	var form func(string) string
	switch strings.ToLower(o.Normalization) {
	case "none":
		form = func(s string) string { return s }
	case "", "nfc":
		form = norm.NFC.String
	case "nfkc":
		form = norm.NFKC.String
	default:
		return nil, fmt.Errorf("unknown normalization %q (want none, nfc or nfkc)", o.Normalization)
	}
	lower := o.Lower
	return func(s string) string {
		s = strings.ToValidUTF8(s, "\uFFFD")
		if lower {
			s = strings.ToLower(s)
		}
		return form(s)
	}, nil
}

// check normalises o (lowercase names, defaults filled in) and validates it
// in one place, returning the kind it names.
func (o Options) check() (Options, kind, error) {
	o.Kind = strings.ToLower(o.Kind)
	o.Normalization = strings.ToLower(o.Normalization)
	if o.Normalization == "" {
		o.Normalization = "nfc"
	}
	k, ok := kinds[o.Kind]
	if !ok {
		return o, kind{}, fmt.Errorf("unknown kind %q (want one of %s)", o.Kind, strings.Join(Kinds(), ", "))
	}
	if _, err := o.normalizer(); err != nil {
		return o, kind{}, err
	}
	var errs []error
	unused := func(set bool, field string) {
		if set {
			errs = append(errs, fmt.Errorf("%s does not apply to kind %q", field, o.Kind))
		}
	}
	unused(o.Lang != "" && o.Kind != "words", "Lang")
	unused(o.VocabSize != 0 && o.Kind != "bpe", "VocabSize")
	unused(o.CharacterCoverage != 0 && o.Kind != "bpe", "CharacterCoverage")
	unused(o.ModelFile != "" && o.Kind != "sentencepiece", "ModelFile")
	switch o.Kind {
	case "bpe":
		if o.VocabSize <= 0 {
			errs = append(errs, fmt.Errorf("bpe needs a positive VocabSize, got %d", o.VocabSize))
		}
		if o.CharacterCoverage < 0 || o.CharacterCoverage > 1 {
			errs = append(errs, fmt.Errorf("CharacterCoverage %v is outside [0, 1]", o.CharacterCoverage))
		}
	case "sentencepiece":
		if o.ModelFile == "" {
			errs = append(errs, errors.New("sentencepiece needs a ModelFile"))
		}
	}
	return o, k, errors.Join(errs...)
}

// formatVersion is written in every marshalled tokenizer, so that a later
// format can still read (or clearly refuse) an older checkpoint's.
const formatVersion = 1

// envelope is the JSON form of every tokenizer: its kind, options and the
// kind's own state.
type envelope struct {
	Version int             `json:"version"`
	Options Options         `json:"options"`
	State   json.RawMessage `json:"state,omitempty"`
}

// marshal writes the envelope of a tokenizer with options o and state
// (marshalled to JSON; nil for kinds that learn nothing).
func marshal(o Options, state any) ([]byte, error) {
	env := envelope{Version: formatVersion, Options: o}
	if state != nil {
		raw, err := json.Marshal(state)
		if err != nil {
			return nil, fmt.Errorf("tokenizers: marshal %s state: %w", o.Kind, err)
		}
		env.State = raw
	}
	return json.Marshal(env)
}

// Unmarshal restores a tokenizer from the JSON its MarshalJSON wrote. Corrupt
// or truncated data is an error, never a silently different tokenizer.
func Unmarshal(data []byte) (Tokenizer, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("tokenizers: unmarshal: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("tokenizers: unmarshal: data after the tokenizer's JSON object")
	}
	if env.Version != formatVersion {
		return nil, fmt.Errorf("tokenizers: unmarshal: format version %d, this build reads %d", env.Version, formatVersion)
	}
	o, k, err := env.Options.check()
	if err != nil {
		return nil, fmt.Errorf("tokenizers: unmarshal: %w", err)
	}
	t, err := k.restore(o, env.State)
	if err != nil {
		return nil, fmt.Errorf("tokenizers: unmarshal %s: %w", o.Kind, err)
	}
	return t, nil
}
