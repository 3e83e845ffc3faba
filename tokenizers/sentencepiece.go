package tokenizers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	sentencepiece "github.com/eliben/go-sentencepiece"
	"google.golang.org/protobuf/encoding/protowire"
)

// sentencePiece runs a model file made by SentencePiece's trainer (spm_train,
// or the Python package's SentencePieceTrainer), so that users can bring the
// vocabularies they already have. Encoding and decoding are
// github.com/eliben/go-sentencepiece's, whose pieces equal spm_encode's
// (tested on a golden file).
//
// Supported models: --model_type=bpe only, because go-sentencepiece
// implements only BPE (it was written for Gemma's tokenizer); unigram (spm's
// default), word and char models are refused with an error saying so. The
// model must also have been trained with --normalization_rule_name=identity
// (go-sentencepiece applies no normalisation rules; use this package's
// Normalization option, e.g. nfkc, instead of spm's nmt_nfkc), and without
// --treat_whitespace_as_suffix or --escape_whitespaces=false. spm's defaults
// --add_dummy_prefix and --remove_extra_whitespaces, which go-sentencepiece
// refuses, are carried out here around it, as spm does.
//
// Round trip: with a model trained with --byte_fallback and
// --remove_extra_whitespaces=false, Decode(Encode(x)) equals the normalised x
// except that a literal "▁" (U+2581) comes back as a space, as in
// SentencePiece itself. Without byte fallback, characters outside the model's
// alphabet become the unknown piece, decoded as " ⁇ "; with
// remove_extra_whitespaces, leading, trailing and repeated spaces are lost.
type sentencePiece struct {
	opts Options
	norm func(string) string

	model []byte // the model file as given, which is what MarshalJSON stores
	proc  *sentencepiece.Processor
	spec  spModel
	ids   map[string]int // piece → id, for Decode
	unk   int            // the unknown piece's id
	vocab []string       // the pieces Encode can produce, in id order
}

// SentencePiece model piece types (sentencepiece_model.proto).
const (
	spNormal      = 1
	spUnknown     = 2
	spControl     = 3
	spUserDefined = 4
	spUnused      = 5
	spByte        = 6
)

// spModel is what this package reads from a model proto itself:
// go-sentencepiece exposes neither the pieces (needed to turn Decode's
// pieces back into ids) nor the specs it rejects.
type spModel struct {
	pieces    []string
	types     []int32
	modelType uint64 // TrainerSpec.model_type: 1 unigram, 2 bpe, 3 word, 4 char

	whitespaceSuffix       bool   // TrainerSpec.treat_whitespace_as_suffix
	normName               string // NormalizerSpec.name
	charsMap               int    // bytes of NormalizerSpec.precompiled_charsmap
	addDummyPrefix         bool   // NormalizerSpec.add_dummy_prefix
	removeExtraWhitespaces bool   // NormalizerSpec.remove_extra_whitespaces
	escapeWhitespaces      bool   // NormalizerSpec.escape_whitespaces
	denormalizes           bool   // a DenormalizerSpec with rules
}

var spModelTypes = map[uint64]string{1: "unigram", 2: "bpe", 3: "word", 4: "char"}

// parseSPModel reads the fields of spModel from a serialised ModelProto and
// checks that go-sentencepiece can run it exactly. It also returns the model
// rewritten in the form go-sentencepiece runs correctly: add_dummy_prefix and
// remove_extra_whitespaces cleared (the caller carries them out), and a
// padding piece.
func parseSPModel(data []byte) (spModel, []byte, error) {
	m := spModel{modelType: 1, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true}
	var keep []byte // top-level fields but the normalizer spec
	var normSpec []byte
	err := forFields(data, func(num protowire.Number, typ protowire.Type, v uint64, b, raw []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			var piece string
			pieceType := int32(spNormal)
			err := forFields(b, func(num protowire.Number, typ protowire.Type, v uint64, b, _ []byte) error {
				switch {
				case num == 1 && typ == protowire.BytesType:
					piece = string(b)
				case num == 3 && typ == protowire.VarintType:
					pieceType = int32(v)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(m.pieces), err)
			}
			m.pieces = append(m.pieces, piece)
			m.types = append(m.types, pieceType)
		case num == 2 && typ == protowire.BytesType:
			err := forFields(b, func(num protowire.Number, typ protowire.Type, v uint64, _, _ []byte) error {
				switch {
				case num == 3 && typ == protowire.VarintType:
					m.modelType = v
				case num == 24 && typ == protowire.VarintType:
					m.whitespaceSuffix = v != 0
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("trainer spec: %w", err)
			}
		case num == 3 && typ == protowire.BytesType:
			// Repeated occurrences of a message field merge, as their
			// concatenation does.
			normSpec = append(normSpec, b...)
			return nil // rewritten below
		case num == 5 && typ == protowire.BytesType:
			err := forFields(b, func(num protowire.Number, typ protowire.Type, _ uint64, b, _ []byte) error {
				if (num == 2 || num == 6) && typ == protowire.BytesType && len(b) > 0 {
					m.denormalizes = true
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("denormalizer spec: %w", err)
			}
		}
		keep = append(keep, raw...)
		return nil
	})
	if err != nil {
		return m, nil, fmt.Errorf("not a SentencePiece model: %w", err)
	}
	var spec []byte // the normalizer spec without the two flags
	err = forFields(normSpec, func(num protowire.Number, typ protowire.Type, v uint64, b, raw []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			m.normName = string(b)
		case (num == 2 || num == 6) && typ == protowire.BytesType:
			m.charsMap += len(b)
		case num == 3 && typ == protowire.VarintType:
			m.addDummyPrefix = v != 0
			return nil
		case num == 4 && typ == protowire.VarintType:
			m.removeExtraWhitespaces = v != 0
			return nil
		case num == 5 && typ == protowire.VarintType:
			m.escapeWhitespaces = v != 0
		}
		spec = append(spec, raw...)
		return nil
	})
	if err != nil {
		return m, nil, fmt.Errorf("not a SentencePiece model: normalizer spec: %w", err)
	}
	if len(m.pieces) == 0 {
		return m, nil, errors.New("not a SentencePiece model: it has no pieces")
	}
	switch {
	case m.modelType != 2:
		name := spModelTypes[m.modelType]
		if name == "" {
			name = fmt.Sprint(m.modelType)
		}
		return m, nil, fmt.Errorf("model type %s is not supported: go-sentencepiece runs BPE models only (train with spm_train --model_type=bpe)", name)
	case m.charsMap > 0:
		return m, nil, fmt.Errorf("normalization rule %q is not supported: go-sentencepiece applies no rules (train with --normalization_rule_name=identity and set this tokenizer's Normalization, e.g. nfkc)", m.normName)
	case m.denormalizes:
		return m, nil, errors.New("denormalization rules are not supported by go-sentencepiece")
	case m.whitespaceSuffix:
		return m, nil, errors.New("--treat_whitespace_as_suffix is not supported by go-sentencepiece")
	case !m.escapeWhitespaces:
		return m, nil, errors.New("--escape_whitespaces=false is not supported by go-sentencepiece")
	}
	spec = protowire.AppendTag(spec, 3, protowire.VarintType)
	spec = protowire.AppendVarint(spec, 0)
	spec = protowire.AppendTag(spec, 4, protowire.VarintType)
	spec = protowire.AppendVarint(spec, 0)
	keep = protowire.AppendTag(keep, 3, protowire.BytesType)
	keep = protowire.AppendBytes(keep, spec)

	// go-sentencepiece v0.6.0 concatenates two candidate symbols into a
	// buffer as long as the model's longest piece, and panics when they are
	// longer (processor.go, findMerged): on ordinary text with any model
	// whose pieces are short. A padding piece twice as long as any symbol
	// can be makes the buffer big enough. It is of type UNUSED, after every
	// other piece (so no id moves), and spelled with bytes that are not
	// UTF-8, so that no text, which Encode makes valid UTF-8, can match it.
	longest := utf8.UTFMax
	for _, p := range m.pieces {
		longest = max(longest, len(p))
	}
	var pad []byte
	pad = protowire.AppendTag(pad, 1, protowire.BytesType)
	pad = protowire.AppendBytes(pad, bytes.Repeat([]byte{0xFF}, 2*longest))
	pad = protowire.AppendTag(pad, 3, protowire.VarintType)
	pad = protowire.AppendVarint(pad, spUnused)
	keep = protowire.AppendTag(keep, 1, protowire.BytesType)
	return m, protowire.AppendBytes(keep, pad), nil
}

// forFields calls f on each field of a serialised protobuf message with its
// number, wire type, value (varints) or contents (length-delimited) and raw
// encoding (tag included).
func forFields(data []byte, f func(num protowire.Number, typ protowire.Type, v uint64, b, raw []byte) error) error {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, data[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		var v uint64
		var b []byte
		switch typ {
		case protowire.VarintType:
			v, _ = protowire.ConsumeVarint(data[n:])
		case protowire.BytesType:
			b, _ = protowire.ConsumeBytes(data[n:])
		}
		if err := f(num, typ, v, b, data[:n+m]); err != nil {
			return err
		}
		data = data[n+m:]
	}
	return nil
}

func loadSentencePiece(o Options, _ []string) (Tokenizer, error) {
	data, err := os.ReadFile(o.ModelFile)
	if err != nil {
		return nil, err
	}
	t, err := newSentencePiece(o, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.ModelFile, err)
	}
	return t, nil
}

// spState is the JSON form of a sentencepiece tokenizer: the model file
// itself (base64 in JSON), a few kilobytes to a megabyte.
type spState struct {
	Model []byte `json:"model"`
}

func restoreSentencePiece(o Options, state json.RawMessage) (Tokenizer, error) {
	var st spState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return newSentencePiece(o, st.Model)
}

func newSentencePiece(o Options, data []byte) (*sentencePiece, error) {
	f, err := o.normalizer()
	if err != nil {
		return nil, err
	}
	spec, rewritten, err := parseSPModel(data)
	if err != nil {
		return nil, err
	}
	proc, err := sentencepiece.NewProcessor(bytes.NewReader(rewritten))
	if err != nil {
		return nil, fmt.Errorf("go-sentencepiece: %w", err)
	}
	t := &sentencePiece{opts: o, norm: f, model: data, proc: proc, spec: spec, ids: make(map[string]int, len(spec.pieces))}
	for id, p := range spec.pieces {
		if _, dup := t.ids[p]; !dup {
			t.ids[p] = id
		}
		switch spec.types[id] {
		case spUnknown:
			t.unk = id
			t.vocab = append(t.vocab, p)
		case spNormal, spUserDefined, spByte:
			t.vocab = append(t.vocab, p)
		}
	}
	return t, nil
}

func (t *sentencePiece) Kind() string { return "sentencepiece" }

// Pieces returns the model's normal, user-defined, byte and unknown pieces
// (not its control pieces <s> and </s>), in the model's id order.
func (t *sentencePiece) Pieces() []string { return t.vocab }

// Encode normalises text and returns the model's pieces for it, the unknown
// piece standing for characters the model cannot spell.
func (t *sentencePiece) Encode(text string) []string {
	s := t.norm(text)
	if t.spec.removeExtraWhitespaces {
		s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
	}
	if s == "" {
		return nil
	}
	if t.spec.addDummyPrefix {
		s = " " + s
	}
	toks := t.proc.Encode(s)
	out := make([]string, len(toks))
	for i, tok := range toks {
		// go-sentencepiece gives an unknown token the text it stands for;
		// the piece is the model's unknown piece.
		out[i] = t.spec.pieces[tok.ID]
	}
	return out
}

// Decode turns pieces into ids (an unknown string is the unknown piece) and
// lets go-sentencepiece decode them; like spm, it then drops the space that
// add_dummy_prefix or remove_extra_whitespaces put before the first word.
func (t *sentencePiece) Decode(pieces []string) string {
	ids := make([]int, len(pieces))
	strip := false
	first := true
	for i, p := range pieces {
		id, ok := t.ids[p]
		if !ok {
			id = t.unk
		}
		ids[i] = id
		if first && t.spec.types[id] != spControl {
			first = false
			strip = (t.spec.addDummyPrefix || t.spec.removeExtraWhitespaces) &&
				t.spec.types[id] != spUnknown && t.spec.types[id] != spByte && strings.HasPrefix(p, "▁")
		}
	}
	s := t.proc.Decode(ids)
	if strip {
		s = strings.TrimPrefix(s, " ")
	}
	return s
}

func (t *sentencePiece) MarshalJSON() ([]byte, error) {
	return marshal(t.opts, spState{Model: t.model})
}
