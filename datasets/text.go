package datasets

import (
	"bytes"
	"fmt"
	"sort"
	"unicode/utf8"
)

// MaxTextBytes bounds the text file ReadText reads whole: 256 MiB, more than
// twice enwik8 and 230 times tiny-shakespeare.
const MaxTextBytes = 256 << 20

// ReadText reads a UTF-8 text file for a character model. Invalid UTF-8 is an
// error naming the line, and an empty file is an error, because either
// would silently produce a useless vocabulary. A file that is not regular
// or is larger than MaxTextBytes is an error too.
func ReadText(path string) (string, error) {
	b, err := ReadFile(path, MaxTextBytes)
	if err != nil {
		return "", fmt.Errorf("read text: %w", err)
	}
	return parseText(b, path)
}

// parseText checks and converts the content b of the file name as ReadText
// does; errors name name.
func parseText(b []byte, name string) (string, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return "", fmt.Errorf("%s: the text is empty", name)
	}
	if !utf8.Valid(b) {
		line := 1
		for len(b) > 0 {
			r, size := utf8.DecodeRune(b)
			if r == utf8.RuneError && size <= 1 {
				return "", fmt.Errorf("%s:%d: invalid UTF-8", name, line)
			}
			if r == '\n' {
				line++
			}
			b = b[size:]
		}
	}
	return string(b), nil
}

// CharVocab returns the distinct characters of text, sorted by code point,
// as a vocabulary (no special tokens: every position is a real character).
func CharVocab(text string) *Vocab {
	seen := map[rune]bool{}
	for _, r := range text {
		seen[r] = true
	}
	chars := make([]string, 0, len(seen))
	for r := range seen {
		chars = append(chars, string(r))
	}
	sort.Strings(chars)
	v, _ := NewVocab(chars) // distinct and non-empty by construction
	return v
}

// EncodeChars maps every character of text to its id; a character outside
// the vocabulary is an error naming it.
func EncodeChars(v *Vocab, text string) ([]int, error) {
	ids := make([]int, 0, len(text))
	for i, r := range text {
		id, ok := v.ID(string(r))
		if !ok {
			return nil, fmt.Errorf("character %q at byte %d is not in the vocabulary", r, i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
