package datasets

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// Sentence pairs for translation, in the tab-separated layout of the
// manythings.org/anki (Tatoeba) files such as data/translation/eng-fra.txt.gz:
// one pair per line, "source<TAB>target", possibly followed by more columns
// (newer releases add an attribution column), which are ignored.

// PairOptions controls ReadPairs.
type PairOptions struct {
	// SrcColumn and TgtColumn are the 0-based tab-separated columns holding
	// the source and target sentences. Both zero (the zero value) means the
	// file's own order, SrcColumn 0 and TgtColumn 1. For eng-fra.txt,
	// SrcColumn 1 and TgtColumn 0 give French→English.
	SrcColumn, TgtColumn int
	// KeepLines is how many line numbers the report keeps per malformed-line
	// reason; 0 means 5.
	KeepLines int
}

// Pair is one sentence pair as read from the file, trimmed of surrounding
// white space but otherwise unchanged.
type Pair struct {
	Src, Tgt string
	Line     int // 1-based line number in the file, for error messages
}

// Pairs is the result of ReadPairs: the usable pairs in file order and a
// report of every line that was not used and why.
type Pairs struct {
	Pairs  []Pair
	Report PairReport
}

// SkipReason says why a line of a pairs file was not used.
type SkipReason string

// The reasons a line is skipped. Each is counted in PairReport.Skipped.
const (
	SkipBlank       SkipReason = "blank line"     // nothing but white space
	SkipNoTab       SkipReason = "no tab"         // a single column
	SkipMissingCol  SkipReason = "missing column" // fewer columns than SrcColumn/TgtColumn need
	SkipEmptySide   SkipReason = "empty side"     // the source or target column is blank
	SkipInvalidUTF8 SkipReason = "invalid UTF-8"  // bytes that are not UTF-8
	SkipTooLong     SkipReason = "line too long"  // over MaxLineBytes, not read
)

// SkipCount is how often one reason occurred and the first line numbers.
type SkipCount struct {
	Count int
	Lines []int // the first PairOptions.KeepLines line numbers, ascending
}

// PairReport describes what ReadPairs made of a file, so that no line is
// dropped without a trace.
type PairReport struct {
	Path    string
	Gzipped bool // detected from the gzip magic bytes, not the file name
	Lines   int  // lines in the file (a final line without newline counts)
	Pairs   int  // usable pairs, len(Pairs.Pairs)
	CRLF    int  // lines that ended in "\r\n" (accepted; the "\r" is removed)
	Skipped map[SkipReason]SkipCount
}

// SkippedTotal is the number of lines not used.
func (r PairReport) SkippedTotal() int {
	n := 0
	for _, c := range r.Skipped {
		n += c.Count
	}
	return n
}

// String summarises the report in one line per reason, reasons sorted, e.g.
//
//	data/x.tsv: 12 lines, 9 pairs, 3 skipped
//	  no tab: 2 (lines 4, 7)
//	  empty side: 1 (line 9)
func (r PairReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d lines, %d pairs, %d skipped", r.Path, r.Lines, r.Pairs, r.SkippedTotal())
	if r.Gzipped {
		b.WriteString(" (gzip)")
	}
	if r.CRLF > 0 {
		fmt.Fprintf(&b, ", %d CRLF line endings", r.CRLF)
	}
	reasons := make([]string, 0, len(r.Skipped))
	for k := range r.Skipped {
		reasons = append(reasons, string(k))
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		c := r.Skipped[SkipReason(k)]
		nums := make([]string, len(c.Lines))
		for i, l := range c.Lines {
			nums[i] = fmt.Sprint(l)
		}
		word := "lines"
		if len(c.Lines) == 1 {
			word = "line"
		}
		more := ""
		if c.Count > len(c.Lines) {
			more = ", ..."
		}
		fmt.Fprintf(&b, "\n  %s: %d (%s %s%s)", k, c.Count, word, strings.Join(nums, ", "), more)
	}
	return b.String()
}

// ReadPairs reads tab-separated sentence pairs from path, plain text or gzip
// (recognised by its magic bytes, whatever the file is called). It accepts
// LF and CRLF line endings and a UTF-8 byte-order mark, ignores columns it
// was not asked for, and trims white space around each sentence.
//
// A malformed line (blank, no tab, too few columns, an empty side, invalid
// UTF-8, longer than MaxLineBytes) is not fatal: it is skipped and counted in
// the report with its line number. It is an error when the file is not a
// regular file or cannot be read (naming the file and, for read errors, the
// line), when its content exceeds 1 GiB (after decompression: a gzip bomb is
// an error, not exhausted memory), and when it holds no usable pair; in that
// last case the returned *Pairs is non-nil and its Report says why.
func ReadPairs(path string, opt PairOptions) (*Pairs, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pairs: %w", err) // *PathError names the file
	}
	defer f.Close()
	return readPairs(f, path, opt)
}

// readPairs is ReadPairs over the content of r; path names it in the report
// and in errors.
func readPairs(r io.Reader, path string, opt PairOptions) (*Pairs, error) {
	src, tgt := opt.SrcColumn, opt.TgtColumn
	if src == 0 && tgt == 0 {
		tgt = 1
	}
	if src < 0 || tgt < 0 || src == tgt {
		return nil, fmt.Errorf("read pairs %s: source column %d and target column %d must be distinct and non-negative", path, opt.SrcColumn, opt.TgtColumn)
	}
	keep := opt.KeepLines
	if keep <= 0 {
		keep = 5
	}
	out := &Pairs{Report: PairReport{Path: path, Skipped: map[SkipReason]SkipCount{}}}
	rep := &out.Report
	content, gz, err := decompress(r, maxStreamBytes)
	if err != nil {
		return nil, fmt.Errorf("read pairs %s: %w", path, err)
	}
	rep.Gzipped = gz

	skip := func(reason SkipReason, line int) {
		c := rep.Skipped[reason]
		c.Count++
		if len(c.Lines) < keep {
			c.Lines = append(c.Lines, line)
		}
		rep.Skipped[reason] = c
	}
	need := max(src, tgt) + 1
	lr := NewLineReader(content, MaxLineBytes)
	for lr.Next() {
		line, raw := lr.LineNumber(), lr.Line()
		if lr.CRLF() {
			rep.CRLF++
		}
		switch {
		case lr.TooLong():
			skip(SkipTooLong, line)
		case !utf8.Valid(raw):
			skip(SkipInvalidUTF8, line)
		case len(bytes.TrimSpace(raw)) == 0:
			skip(SkipBlank, line)
		case bytes.IndexByte(raw, '\t') < 0:
			skip(SkipNoTab, line)
		default:
			cols := bytes.SplitN(raw, []byte{'\t'}, need+1)
			if len(cols) < need {
				skip(SkipMissingCol, line)
				break
			}
			s := strings.TrimSpace(string(cols[src]))
			t := strings.TrimSpace(string(cols[tgt]))
			if s == "" || t == "" {
				skip(SkipEmptySide, line)
				break
			}
			out.Pairs = append(out.Pairs, Pair{Src: s, Tgt: t, Line: line})
		}
	}
	rep.Lines = lr.LineNumber()
	if err := lr.Err(); err != nil {
		return nil, fmt.Errorf("read pairs %s:%d: %w", path, lr.LineNumber(), err)
	}
	rep.Pairs = len(out.Pairs)
	if len(out.Pairs) == 0 {
		return out, fmt.Errorf("read pairs %s: no usable sentence pairs in %d lines (%d skipped)", path, rep.Lines, rep.SkippedTotal())
	}
	return out, nil
}

// TokenPair is a sentence pair split into tokens.
type TokenPair struct {
	Src, Tgt []string
	Line     int // line in the source file, carried from Pair.Line
}

// TokenizePairs tokenises both sides of every pair, each with its own
// options (its own language).
func TokenizePairs(pairs []Pair, src, tgt TokenizeOptions) []TokenPair {
	out := make([]TokenPair, len(pairs))
	for i, p := range pairs {
		out[i] = TokenPair{Src: Tokenize(p.Src, src), Tgt: Tokenize(p.Tgt, tgt), Line: p.Line}
	}
	return out
}

// LengthFilterStats counts what FilterByLength kept and dropped.
type LengthFilterStats struct {
	Kept        int
	SrcTooLong  int // dropped because the source alone was too long
	TgtTooLong  int // dropped because the target alone was too long
	BothTooLong int
	Empty       int // dropped because a side has no tokens (e.g. only zero-width characters)
}

// Dropped is the number of pairs FilterByLength removed.
func (s LengthFilterStats) Dropped() int {
	return s.SrcTooLong + s.TgtTooLong + s.BothTooLong + s.Empty
}

// String reports the counts, e.g. "kept 9 of 12 pairs; dropped 2 source too
// long, 1 target too long, 0 both, 0 empty".
func (s LengthFilterStats) String() string {
	return fmt.Sprintf("kept %d of %d pairs; dropped %d source too long, %d target too long, %d both, %d empty",
		s.Kept, s.Kept+s.Dropped(), s.SrcTooLong, s.TgtTooLong, s.BothTooLong, s.Empty)
}

// FilterByLength keeps the pairs whose source has at most maxSrc tokens and
// whose target has at most maxTgt tokens (before <bos>/<eos> are added); a
// limit of 0 or less means no limit. Pairs with an empty side are dropped
// too, since they cannot be trained on. The input is not modified.
func FilterByLength(pairs []TokenPair, maxSrc, maxTgt int) ([]TokenPair, LengthFilterStats) {
	var st LengthFilterStats
	kept := make([]TokenPair, 0, len(pairs))
	for _, p := range pairs {
		srcLong := maxSrc > 0 && len(p.Src) > maxSrc
		tgtLong := maxTgt > 0 && len(p.Tgt) > maxTgt
		switch {
		case len(p.Src) == 0 || len(p.Tgt) == 0:
			st.Empty++
		case srcLong && tgtLong:
			st.BothTooLong++
		case srcLong:
			st.SrcTooLong++
		case tgtLong:
			st.TgtTooLong++
		default:
			kept = append(kept, p)
		}
	}
	st.Kept = len(kept)
	return kept, st
}

// BuildPairVocabs counts the tokens of each side and builds one vocabulary
// per side with BuildVocab. When opt.Specials is empty the standard Specials
// (<pad> <bos> <eos> <unk>) are used, so that <pad> is 0 as batching assumes.
// Build the vocabularies from the training split only, so dev words the
// model never saw map to <unk>.
func BuildPairVocabs(pairs []TokenPair, opt VocabOptions) (src, tgt *Vocab) {
	if len(opt.Specials) == 0 {
		opt.Specials = Specials
	}
	sc, tc := map[string]int{}, map[string]int{}
	for _, p := range pairs {
		for _, t := range p.Src {
			sc[t]++
		}
		for _, t := range p.Tgt {
			tc[t]++
		}
	}
	return BuildVocab(sc, opt), BuildVocab(tc, opt)
}

// Example is an encoded sentence pair ready for batching.
type Example struct {
	Src  []int // source ids, no markers: the encoder reads the sentence as is
	Tgt  []int // <bos> target ids <eos>; the decoder reads Tgt[:n-1] and predicts Tgt[1:]
	Line int   // line in the source file
}

// EncodePair maps a tokenised pair to ids, unknown tokens to <unk>, and wraps
// the target in <bos> ... <eos>. The target vocabulary must hold <bos>,
// <eos> and <unk>, the source vocabulary <unk>.
func EncodePair(p TokenPair, src, tgt *Vocab) (Example, error) {
	bos, ok1 := tgt.ID(BOSToken)
	eos, ok2 := tgt.ID(EOSToken)
	if !ok1 || !ok2 {
		return Example{}, fmt.Errorf("encode pair (line %d): target vocabulary lacks %s or %s", p.Line, BOSToken, EOSToken)
	}
	s, err := src.Encode(p.Src)
	if err != nil {
		return Example{}, fmt.Errorf("encode pair (line %d) source: %w", p.Line, err)
	}
	t, err := tgt.Encode(p.Tgt)
	if err != nil {
		return Example{}, fmt.Errorf("encode pair (line %d) target: %w", p.Line, err)
	}
	wrapped := make([]int, 0, len(t)+2)
	wrapped = append(wrapped, bos)
	wrapped = append(wrapped, t...)
	wrapped = append(wrapped, eos)
	return Example{Src: s, Tgt: wrapped, Line: p.Line}, nil
}

// EncodePairs encodes every pair with EncodePair, stopping at the first error.
func EncodePairs(pairs []TokenPair, src, tgt *Vocab) ([]Example, error) {
	out := make([]Example, len(pairs))
	for i, p := range pairs {
		e, err := EncodePair(p, src, tgt)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}
