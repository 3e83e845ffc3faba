// Package datasets reads the standard data formats seqtask trains on (plain
// text, sentence pairs, captioned images, labelled clips), turns them into
// integer sequences through vocabularies, and splits and batches them
// deterministically.
//
// Every reader bounds what it holds, whatever its input: files are opened
// through OpenFile and ReadFile (regular files only, whole-file reads
// capped), lines are read through LineReader (a line over MaxLineBytes is
// skipped and counted, not held), gzip input is a stream capped after
// decompression, and images and GIF clips are checked from their headers
// before any pixel is decoded.
package datasets

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Special tokens every word-level vocabulary reserves, in this order, so that
// their ids are the same across tasks: <pad>=0, <bos>=1, <eos>=2, <unk>=3.
const (
	PadToken = "<pad>"
	BOSToken = "<bos>"
	EOSToken = "<eos>"
	UNKToken = "<unk>"
)

// Specials lists the reserved tokens in id order.
var Specials = []string{PadToken, BOSToken, EOSToken, UNKToken}

// Vocab maps tokens to dense integer ids and back. The zero value is empty;
// build one with NewVocab or BuildVocab.
type Vocab struct {
	tokens []string
	index  map[string]int
}

// NewVocab returns a vocabulary whose id i is tokens[i]. A repeated or empty
// token is an error, since it would make decoding ambiguous.
func NewVocab(tokens []string) (*Vocab, error) {
	v := &Vocab{tokens: append([]string(nil), tokens...), index: make(map[string]int, len(tokens))}
	for i, t := range v.tokens {
		if t == "" {
			return nil, fmt.Errorf("vocab: token %d is empty", i)
		}
		if j, dup := v.index[t]; dup {
			return nil, fmt.Errorf("vocab: token %q appears at ids %d and %d", t, j, i)
		}
		v.index[t] = i
	}
	return v, nil
}

// VocabOptions controls BuildVocab.
type VocabOptions struct {
	MinFreq  int      // tokens seen fewer times are left out (mapped to <unk>)
	MaxSize  int      // cap on the total size including specials; 0 means no cap
	Specials []string // reserved tokens placed first, e.g. Specials
}

// BuildVocab keeps the tokens of counts that occur at least MinFreq times,
// most frequent first (ties broken alphabetically, so the result does not
// depend on map order), after the reserved tokens.
func BuildVocab(counts map[string]int, opt VocabOptions) *Vocab {
	type entry struct {
		tok string
		n   int
	}
	reserved := make(map[string]bool, len(opt.Specials))
	for _, s := range opt.Specials {
		reserved[s] = true
	}
	var entries []entry
	for t, n := range counts {
		if n >= opt.MinFreq && !reserved[t] && t != "" {
			entries = append(entries, entry{t, n})
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].n != entries[j].n {
			return entries[i].n > entries[j].n
		}
		return entries[i].tok < entries[j].tok
	})
	tokens := append([]string(nil), opt.Specials...)
	for _, e := range entries {
		if opt.MaxSize > 0 && len(tokens) >= opt.MaxSize {
			break
		}
		tokens = append(tokens, e.tok)
	}
	v, _ := NewVocab(tokens) // cannot fail: tokens are distinct and non-empty by construction
	return v
}

// Len is the number of tokens, the size of a softmax over the vocabulary.
func (v *Vocab) Len() int { return len(v.tokens) }

// Tokens returns the tokens in id order. The caller must not modify it.
func (v *Vocab) Tokens() []string { return v.tokens }

// ID returns the id of tok and whether it is in the vocabulary.
func (v *Vocab) ID(tok string) (int, bool) {
	id, ok := v.index[tok]
	return id, ok
}

// Token returns the token with the given id, or "" when id is out of range.
func (v *Vocab) Token(id int) string {
	if id < 0 || id >= len(v.tokens) {
		return ""
	}
	return v.tokens[id]
}

// Encode maps tokens to ids. Unknown tokens map to <unk> when the vocabulary
// has it; otherwise the first unknown token is an error naming it.
func (v *Vocab) Encode(tokens []string) ([]int, error) {
	ids := make([]int, len(tokens))
	unk, hasUNK := v.index[UNKToken]
	for i, t := range tokens {
		id, ok := v.index[t]
		switch {
		case ok:
			ids[i] = id
		case hasUNK:
			ids[i] = unk
		default:
			return nil, fmt.Errorf("token %q (position %d) is not in the vocabulary", t, i)
		}
	}
	return ids, nil
}

// Decode maps ids back to tokens; an id out of range is an error.
func (v *Vocab) Decode(ids []int) ([]string, error) {
	out := make([]string, len(ids))
	for i, id := range ids {
		if id < 0 || id >= len(v.tokens) {
			return nil, fmt.Errorf("id %d (position %d) is outside the vocabulary of %d", id, i, len(v.tokens))
		}
		out[i] = v.tokens[id]
	}
	return out, nil
}

// MarshalJSON stores the vocabulary as its token list, the form checkpoints keep.
func (v *Vocab) MarshalJSON() ([]byte, error) { return json.Marshal(v.tokens) }

// UnmarshalJSON restores a vocabulary written by MarshalJSON.
func (v *Vocab) UnmarshalJSON(b []byte) error {
	var tokens []string
	if err := json.Unmarshal(b, &tokens); err != nil {
		return err
	}
	nv, err := NewVocab(tokens)
	if err != nil {
		return err
	}
	*v = *nv
	return nil
}
