package datasets

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TokenizeOptions controls Tokenize.
type TokenizeOptions struct {
	// Lang selects the apostrophe rules: "en" (contractions), "fr" (elisions);
	// anything else keeps apostrophes inside words. Case-insensitive.
	Lang string
	// Lower lowercases the text with Unicode case mapping before splitting.
	Lower bool
}

// frenchElisions are the words French elides before a vowel, without their
// apostrophe. Matching is case-insensitive.
var frenchElisions = map[string]bool{
	"l": true, "j": true, "c": true, "ç": true, "n": true, "d": true, "m": true,
	"t": true, "s": true, "qu": true, "jusqu": true, "lorsqu": true,
	"puisqu": true, "quoiqu": true,
}

// englishClitics are the contraction suffixes split off an English word, in
// the order they are tried (longest first where one is a suffix of another).
var englishClitics = []string{"n't", "'re", "'ve", "'ll", "'s", "'d", "'m"}

// englishLeadingWords are English words that begin with an apostrophe, which
// must not be taken for an opening quotation mark.
var englishLeadingWords = map[string]bool{
	"'em": true, "'tis": true, "'twas": true, "'til": true, "'cause": true,
}

// Normalize applies the character normalisation of Tokenize (step 1 above)
// without splitting or lowercasing. Leading and trailing spaces are removed
// and inner runs of spaces become one space.
func Normalize(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false // a space is pending
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			// Invalid UTF-8 (or a literal U+FFFD) carries no information.
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case r == '\u200b', r == '\u200c', r == '\u200d', r == '\u2060', r == '\ufeff', r == '\u00ad':
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		switch r {
		case '\u2019', '\u2018', '\u02bc', '\u2032', '\u00b4', '`':
			b.WriteByte('\'')
		case '\u2010', '\u2011':
			b.WriteByte('-')
		case '\u2026':
			b.WriteString("...")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Tokenize splits a sentence into word and punctuation tokens, for European
// text (English and French in particular). It never fails: any string,
// including invalid UTF-8, yields a (possibly empty) token list. It works in
// three steps:
//
//  1. Normalize: Unicode NFC; every curly or typographic apostrophe (’ ‘ ʼ ′ ´ `)
//     becomes the ASCII apostrophe '; every Unicode space (including the
//     narrow no-break space U+202F and no-break space U+00A0 that French text
//     puts before ? ! : ; and inside « ») becomes one ASCII space; zero-width
//     characters and soft hyphens are removed; "…" becomes "..."; the Unicode
//     hyphens U+2010 and U+2011 become "-".
//
//  2. Optionally lowercase with Unicode case mapping (É → é, Ç → ç).
//
//  3. Split on spaces, then split every punctuation mark and symbol off as its
//     own token: . , ? ! ; : « » " ( ) $ % and so on. A run of dots is one
//     token ("..."). A '.' or ',' between two digits stays inside the number
//     ("3.5", "1,000"). A hyphen inside a word stays ("peut-être", "a-t-il",
//     "well-known"); a hyphen at the edge of a word or standing alone is a
//     token. Apostrophes are then handled by language, as below.
//
// Apostrophe rules, chosen by TokenizeOptions.Lang:
//
//   - "fr": elisions are split after the apostrophe: l'homme → l' homme,
//     qu'il → qu' il, j'ai → j' ai, c'est → c' est, and likewise for n' d' m'
//     t' s' ç' jusqu' lorsqu' puisqu' quoiqu'. Words whose apostrophe is not
//     an elision of that list stay whole (aujourd'hui, quelqu'un, presqu'île).
//   - "en": contractions are split the Penn Treebank way, so that every piece
//     is a real suffix shared across words and Detokenize only has to
//     concatenate: don't → do n't, can't → ca n't, won't → wo n't,
//     it's → it 's, I'm → I 'm, we're → we 're, I've → I 've, I'll → I 'll,
//     I'd → I 'd, should've → should 've (also the possessive: Tom's → Tom 's).
//     Splitting keeps the vocabulary small: "n't" and "'s" are learned once
//     instead of once per verb. "o'clock" and the leading-apostrophe words
//     'em, 'tis, 'twas, 'til, 'cause stay whole; a plural possessive (boys')
//     keeps its apostrophe.
//   - any other language: apostrophes inside a word are kept.
//
// In every language an apostrophe at the start of a word, or at the end of a
// word that also started with one, is a quotation mark and becomes a "'"
// token ('present' → ' present ').
//
// Detokenize undoes step 3 (not the lowercasing or the normalisation).
func Tokenize(s string, opt TokenizeOptions) []string {
	s = Normalize(s)
	if opt.Lower {
		s = strings.ToLower(s)
	}
	lang := strings.ToLower(opt.Lang)
	var out []string
	for s != "" {
		field, rest, _ := strings.Cut(s, " ")
		out = tokenizeField(out, field, lang)
		s = rest
	}
	return out
}

// isWordRune reports whether r can be part of a word (before the edge
// apostrophes and hyphens are trimmed off).
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '\'' || r == '-' || r == '_'
}

// tokenizeField appends the tokens of one space-free field to out. Tokens
// are substrings of field.
func tokenizeField(out []string, field, lang string) []string {
	for i := 0; i < len(field); {
		r, size := utf8.DecodeRuneInString(field[i:])
		switch {
		case isWordRune(r):
			j := i + size
			prevDigit := unicode.IsDigit(r)
			for j < len(field) {
				rj, sj := utf8.DecodeRuneInString(field[j:])
				if isWordRune(rj) {
					prevDigit = unicode.IsDigit(rj)
					j += sj
					continue
				}
				// Decimal point or thousands separator inside a number.
				if (rj == '.' || rj == ',') && prevDigit && j+1 < len(field) && field[j+1] >= '0' && field[j+1] <= '9' {
					j++
					continue
				}
				break
			}
			out = appendWord(out, field[i:j], lang)
			i = j
		case r == '.':
			j := i + 1
			for j < len(field) && field[j] == '.' {
				j++
			}
			out = append(out, field[i:j])
			i = j
		default:
			// Punctuation, symbols and anything else: one token per rune.
			out = append(out, field[i:i+size])
			i += size
		}
	}
	return out
}

// appendWord appends the tokens of one word (letters, digits, marks,
// apostrophes, hyphens) to out, applying the edge and apostrophe rules.
func appendWord(out []string, w, lang string) []string {
	// Leading quotation apostrophes and hyphens.
	quoted := false
	for len(w) > 0 && (w[0] == '\'' || w[0] == '-') {
		if lang == "en" && w[0] == '\'' && englishLeadingWords[strings.ToLower(strings.TrimRight(w, "'-"))] {
			break
		}
		if w[0] == '\'' {
			quoted = true
			out = append(out, "'")
			w = w[1:]
			continue
		}
		n := len(w) - len(strings.TrimLeft(w, "-"))
		out = append(out, w[:n])
		w = w[n:]
	}
	// Trailing hyphens and quotation apostrophes, collected in reverse.
	var tail []string
	for len(w) > 0 {
		last := w[len(w)-1]
		if last == '-' {
			n := len(w) - len(strings.TrimRight(w, "-"))
			tail = append(tail, w[len(w)-n:])
			w = w[:len(w)-n]
			continue
		}
		if last == '\'' {
			stem := w[:len(w)-1]
			lower := strings.ToLower(stem)
			switch {
			case lang == "fr" && frenchElisions[lower]:
				// "l'" standing alone (e.g. typed "l' homme") is an elision.
			case lang == "en" && !quoted && strings.HasSuffix(lower, "s") && len(stem) > 1:
				// Plural possessive: boys'.
			default:
				tail = append(tail, "'")
				w = stem
				continue
			}
		}
		break
	}
	if w != "" {
		switch lang {
		case "fr":
			out = appendFrench(out, w)
		case "en":
			out = appendEnglish(out, w)
		default:
			out = append(out, w)
		}
	}
	for k := len(tail) - 1; k >= 0; k-- {
		out = append(out, tail[k])
	}
	return out
}

// appendFrench splits leading elisions off w: qu'aujourd'hui → qu' aujourd'hui.
func appendFrench(out []string, w string) []string {
	for {
		i := strings.IndexByte(w, '\'')
		if i <= 0 || i == len(w)-1 || !frenchElisions[strings.ToLower(w[:i])] {
			return append(out, w)
		}
		out = append(out, w[:i+1])
		w = w[i+1:]
	}
}

// appendEnglish splits contraction suffixes off w: shouldn't've → should n't 've.
func appendEnglish(out []string, w string) []string {
	var suffixes []string
	for {
		lower := strings.ToLower(w)
		found := false
		for _, c := range englishClitics {
			if len(lower) > len(c) && strings.HasSuffix(lower, c) && lower[len(lower)-len(c)-1] != '\'' {
				suffixes = append(suffixes, w[len(w)-len(c):])
				w = w[:len(w)-len(c)]
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	out = append(out, w)
	for k := len(suffixes) - 1; k >= 0; k-- {
		out = append(out, suffixes[k])
	}
	return out
}

// Detokenize joins tokens back into text, the inverse of Tokenize's
// splitting step (case and character normalisation are not undone).
//
// Rules, for every language: no space before . , ... ) ] } %, none after
// ( [ { ¿ ¡; an English clitic ('s n't 're 've 'll 'd 'm) is joined to the
// word before it without a space; straight quotes " and ' alternate between opening (space
// before, none after) and closing (none before, space after); a hyphen token
// has spaces on both sides.
//
// English ("en" and every language other than "fr"): no space before ? ! : ;
// nor after $; « and » are treated like opening and closing quotes.
//
// French ("fr"): an elision (l' qu' j' c' n' d' m' t' s' ç' jusqu' lorsqu'
// puisqu' quoiqu', any case) is joined to the word after it; French typography, with a plain ASCII space (not the narrow
// no-break space of printed French, so the output is easy to compare and
// type): a space before ? ! : ; and », and after «. Thus
// Detokenize([« bonjour » , dit-il .], "fr") is "« bonjour », dit-il.".
func Detokenize(tokens []string, lang string) string {
	fr := strings.EqualFold(lang, "fr")
	var b strings.Builder
	openDouble, openSingle := false, false // inside "…" / '…'
	glueNext := false                      // the previous token forbids a space after it
	for _, tok := range tokens {
		if tok == "" {
			continue
		}
		space := b.Len() > 0 && !glueNext
		glueNext = false
		switch {
		case tok == "\"":
			if openDouble {
				space = false
			} else {
				glueNext = true
			}
			openDouble = !openDouble
		case tok == "'":
			if openSingle {
				space = false
			} else {
				glueNext = true
			}
			openSingle = !openSingle
		case isClosingPunct(tok):
			space = false
		case tok == "?" || tok == "!" || tok == ":" || tok == ";":
			if !fr {
				space = false
			}
		case tok == "»":
			if !fr {
				space = false
			}
		case tok == "«":
			if !fr {
				glueNext = true
			}
		case tok == "(" || tok == "[" || tok == "{" || tok == "¿" || tok == "¡":
			glueNext = true
		case tok == "$":
			if !fr {
				glueNext = true
			}
		case isEnglishClitic(tok):
			space = false
		case fr && isElision(tok):
			glueNext = true
		}
		if space {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// isClosingPunct reports whether tok is written without a space before it in
// every language.
func isClosingPunct(tok string) bool {
	switch tok {
	case ",", ")", "]", "}", "%":
		return true
	}
	return strings.Trim(tok, ".") == "" // ".", "...", "...."
}

// isEnglishClitic reports whether tok is a contraction suffix made by the
// English rules of Tokenize.
func isEnglishClitic(tok string) bool {
	lower := strings.ToLower(tok)
	for _, c := range englishClitics {
		if lower == c {
			return true
		}
	}
	return false
}

// isElision reports whether tok is a French elided word made by the French
// rules of Tokenize (l', qu', J'), matched case-insensitively.
func isElision(tok string) bool {
	stem, ok := strings.CutSuffix(tok, "'")
	return ok && frenchElisions[strings.ToLower(stem)]
}
