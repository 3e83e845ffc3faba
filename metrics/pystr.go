package metrics

import (
	"strings"
	"unicode"
)

// This file holds the few pieces of Python string semantics that sacreBLEU
// depends on. Go's strings.Fields and strings.ToLower differ from Python's
// str.split and str.lower on a handful of code points, and a tokenizer that
// splits differently yields different n-grams and so a different BLEU.

// pyIsSpace reports whether r is whitespace for Python's str.isspace, which
// is what str.split() and str.strip() use. It is Go's unicode.IsSpace plus
// the ASCII information separators U+001C..U+001F, which Python treats as
// whitespace (bidirectional class B or S) and Go does not.
func pyIsSpace(r rune) bool {
	if r >= 0x1c && r <= 0x1f {
		return true
	}
	return unicode.IsSpace(r)
}

// pyFields splits s around runs of Python whitespace, like Python's
// s.split() with no arguments.
func pyFields(s string) []string {
	return strings.FieldsFunc(s, pyIsSpace)
}

// pyRStrip removes trailing Python whitespace, like Python's s.rstrip().
func pyRStrip(s string) string {
	return strings.TrimRightFunc(s, pyIsSpace)
}

// pyLower lowercases s like Python's str.lower: the simple Unicode lowercase
// mapping, plus the two full mappings Python applies for lowercasing, namely
// U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE becoming "i" followed by
// U+0307 COMBINING DOT ABOVE, and a capital sigma at the end of a word
// becoming the final form U+03C2.
func pyLower(s string) string {
	needSpecial := false
	for _, r := range s {
		if r == 0x130 || r == 0x3a3 {
			needSpecial = true
			break
		}
	}
	if !needSpecial {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 2)
	for i, r := range rs {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3a3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3c2)
			} else {
				b.WriteRune(0x3c3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at rs[i] is in the Unicode
// Final_Sigma context: preceded by a cased letter (skipping case-ignorable
// characters) and not followed by one. This is the test CPython applies.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	k := i + 1
	for k < len(rs) && isCaseIgnorable(rs[k]) {
		k++
	}
	return k == len(rs) || !isCased(rs[k])
}

// isCased approximates the Unicode Cased property.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable approximates the Unicode Case_Ignorable property: marks,
// format characters, modifier letters and symbols, and the word-internal
// punctuation of Word_Break MidLetter, MidNumLet and Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024,
		0x2027, 0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
