package metrics

import (
	"fmt"
	"regexp"
	"strings"
)

// A Tokenizer turns a detokenized sentence into a string of tokens separated
// by single spaces, the form BLEU counts n-grams over. BLEU scores are only
// comparable when computed with the same tokenizer, which is why sacreBLEU
// fixes the tokenizer rather than trusting the caller's tokenization.
type Tokenizer interface {
	// Name is the tokenizer's name in sacreBLEU signatures, e.g. "13a".
	Name() string
	// Tokenize returns the tokenized form of line.
	Tokenize(line string) string
}

// Names of the tokenizers TokenizerByName knows, spelled as in sacreBLEU.
const (
	Tokenize13a  = "13a"
	TokenizeNone = "none"
	TokenizeChar = "char"
)

// TokenizerByName returns the tokenizer sacreBLEU calls name. The empty name
// selects sacreBLEU's default, "13a". It returns an error for tokenizers this
// package does not implement (such as "intl", "zh" or "ja-mecab").
func TokenizerByName(name string) (Tokenizer, error) {
	tok, err := lookupTokenizer(name)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return tok, nil
}

// lookupTokenizer implements TokenizerByName, with errors left for the
// caller to put in context.
func lookupTokenizer(name string) (Tokenizer, error) {
	switch name {
	case "", Tokenize13a:
		return Tokenizer13a{}, nil
	case TokenizeNone:
		return TokenizerNone{}, nil
	case TokenizeChar:
		return TokenizerChar{}, nil
	}
	return nil, fmt.Errorf("unknown or unsupported tokenizer %q (have %q, %q, %q)",
		name, Tokenize13a, TokenizeNone, TokenizeChar)
}

// Tokenizer13a is sacreBLEU's default tokenizer, a reimplementation of the
// tokenization in the mteval-v13a.pl script used by WMT. It unescapes a few
// HTML entities, then puts spaces around most ASCII punctuation and symbols,
// around periods and commas that are not inside a number, and after a dash
// that follows a digit. Non-ASCII punctuation (« », …) is left attached.
type Tokenizer13a struct{}

// Name returns "13a".
func (Tokenizer13a) Name() string { return Tokenize13a }

// Tokenize applies the mteval-v13a rules to line.
func (Tokenizer13a) Tokenize(line string) string { return tokenize13a(line) }

// The regular-expression stage of the 13a tokenizer, applied in order, each
// rewriting all non-overlapping leftmost matches like Python's re.sub.
var re13a = []struct {
	re   *regexp.Regexp
	repl string
}{
	// Space out the ASCII symbols { | } ~ [ \ ] ^ _ ` space ! " # $ % &
	// ( ) * + : ; < = > ? @ /. The apostrophe, dash, period and comma are
	// handled separately or kept inside words.
	{regexp.MustCompile("([{-~\\[-` -&(-+:-@/])"), " ${1} "},
	// Tokenize a period or comma unless preceded by a digit.
	{regexp.MustCompile(`([^0-9])([.,])`), "${1} ${2} "},
	// Tokenize a period or comma unless followed by a digit.
	{regexp.MustCompile(`([.,])([^0-9])`), " ${1} ${2}"},
	// Tokenize a dash when preceded by a digit.
	{regexp.MustCompile(`([0-9])(-)`), "${1} ${2} "},
}

// tokenize13a implements Tokenizer13a.Tokenize.
func tokenize13a(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		// Sequential, as in mteval-v13a: "&amp;lt;" becomes "<".
		line = strings.ReplaceAll(line, "&quot;", `"`)
		line = strings.ReplaceAll(line, "&amp;", "&")
		line = strings.ReplaceAll(line, "&lt;", "<")
		line = strings.ReplaceAll(line, "&gt;", ">")
	}
	line = " " + line + " "
	for _, r := range re13a {
		line = r.re.ReplaceAllString(line, r.repl)
	}
	return strings.Join(pyFields(line), " ")
}

// TokenizerNone leaves sentences as they are, for input that is already
// tokenized. sacreBLEU discourages it because scores then depend on the
// caller's tokenization.
type TokenizerNone struct{}

// Name returns "none".
func (TokenizerNone) Name() string { return TokenizeNone }

// Tokenize returns line unchanged.
func (TokenizerNone) Tokenize(line string) string { return line }

// TokenizerChar makes every character (Unicode code point) a token, for
// languages written without spaces. Whitespace characters become separators.
type TokenizerChar struct{}

// Name returns "char".
func (TokenizerChar) Name() string { return TokenizeChar }

// Tokenize returns the code points of line separated by spaces.
func (TokenizerChar) Tokenize(line string) string {
	var b strings.Builder
	b.Grow(2 * len(line))
	for i, r := range line {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
