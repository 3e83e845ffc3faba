package datasets

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const pairsDir = "testdata/pairs"

// smallWant are the pairs of testdata/pairs/small.tsv and its variants.
var smallWant = []Pair{
	{"Go.", "Va !", 1},
	{"Hi.", "Salut !", 2},
	{"I'm OK.", "Je vais bien.", 4},
	{"I don\u2019t know.", "Je ne sais pas.", 8},
	{"Thank you.", "Merci\u202f!", 10},
	{"Who is he?", "Qui est-il\u202f?", 11},
	{"Who is he?", "C'est qui\u202f?", 12},
	{"It's late.", "Il est tard.", 13},
}

var smallSkipped = map[SkipReason]SkipCount{
	SkipBlank:       {1, []int{3}},
	SkipNoTab:       {1, []int{5}},
	SkipEmptySide:   {2, []int{6, 7}},
	SkipInvalidUTF8: {1, []int{9}},
}

func TestReadPairsVariants(t *testing.T) {
	for _, tc := range []struct {
		file    string
		gzipped bool
		crlf    int
	}{
		{"small.tsv", false, 0},
		{"small_crlf.tsv", false, 13},
		{"small.tsv.gz", true, 0},
		{"gzip_named.txt", true, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(pairsDir, tc.file)
			got, err := ReadPairs(path, PairOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Pairs, smallWant) {
				t.Errorf("pairs:\n got %+v\nwant %+v", got.Pairs, smallWant)
			}
			r := got.Report
			if r.Path != path || r.Gzipped != tc.gzipped || r.Lines != 13 || r.Pairs != 8 || r.CRLF != tc.crlf {
				t.Errorf("report %+v: want path %s, gzipped %v, 13 lines, 8 pairs, %d CRLF", r, path, tc.gzipped, tc.crlf)
			}
			if !reflect.DeepEqual(r.Skipped, smallSkipped) {
				t.Errorf("skipped = %v, want %v", r.Skipped, smallSkipped)
			}
			if r.SkippedTotal()+r.Pairs != r.Lines {
				t.Errorf("skipped %d + pairs %d != lines %d: some line is unaccounted for", r.SkippedTotal(), r.Pairs, r.Lines)
			}
			s := r.String()
			for _, want := range []string{"13 lines, 8 pairs, 5 skipped", "empty side: 2 (lines 6, 7)", "invalid UTF-8: 1 (line 9)"} {
				if !strings.Contains(s, want) {
					t.Errorf("report string lacks %q:\n%s", want, s)
				}
			}
		})
	}
}

func TestReadPairsColumns(t *testing.T) {
	path := filepath.Join(pairsDir, "attribution.tsv")
	// File order: English → French; the attribution column is ignored.
	p, err := ReadPairs(path, PairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Pairs) != 4 || p.Pairs[3] != (Pair{"Wow!", "\u00c7a alors\u202f!", 4}) {
		t.Errorf("eng→fra pairs = %+v", p.Pairs)
	}
	// French → English by swapping columns.
	p, err = ReadPairs(path, PairOptions{SrcColumn: 1, TgtColumn: 0})
	if err != nil {
		t.Fatal(err)
	}
	if p.Pairs[2] != (Pair{"Cours\u202f!", "Run!", 3}) {
		t.Errorf("fra→eng pair 3 = %+v", p.Pairs[2])
	}
	// Asking for the third column of a two-column file counts missing columns.
	p, err = ReadPairs(filepath.Join(pairsDir, "small.tsv"), PairOptions{SrcColumn: 2, TgtColumn: 0, KeepLines: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Pairs) != 1 || p.Pairs[0].Line != 2 || !strings.HasPrefix(p.Pairs[0].Src, "CC-BY") {
		t.Errorf("column 2 pairs = %+v", p.Pairs)
	}
	if c := p.Report.Skipped[SkipMissingCol]; c.Count != 9 || !reflect.DeepEqual(c.Lines, []int{1, 4}) {
		t.Errorf("missing column = %+v, want 9 with first lines [1 4]", c)
	}
	// Equal columns are rejected.
	if _, err := ReadPairs(path, PairOptions{SrcColumn: 1, TgtColumn: 1}); err == nil {
		t.Error("equal columns accepted")
	}
}

func TestReadPairsErrors(t *testing.T) {
	missing := filepath.Join(pairsDir, "does-not-exist.tsv")
	if _, err := ReadPairs(missing, PairOptions{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err = %v, want one naming %s", err, missing)
	}
	empty := filepath.Join(pairsDir, "nopairs.tsv")
	p, err := ReadPairs(empty, PairOptions{})
	if err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("no pairs: err = %v, want one naming %s", err, empty)
	}
	if p == nil || p.Report.Lines != 3 || p.Report.SkippedTotal() != 3 {
		t.Errorf("no pairs: report = %+v", p)
	}
	// A truncated gzip stream is a read error naming the file.
	b, err := os.ReadFile(filepath.Join(pairsDir, "small.tsv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(t.TempDir(), "trunc.gz")
	if err := os.WriteFile(trunc, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPairs(trunc, PairOptions{}); err == nil || !strings.Contains(err.Error(), trunc) {
		t.Errorf("truncated gzip: err = %v, want one naming %s", err, trunc)
	}
	// An empty file.
	zero := filepath.Join(t.TempDir(), "zero.tsv")
	if err := os.WriteFile(zero, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPairs(zero, PairOptions{}); err == nil {
		t.Error("empty file accepted")
	}
	// A long line within MaxLineBytes is read whole; one over it is skipped
	// and counted, and the lines after it are read.
	long := filepath.Join(t.TempDir(), "long.tsv")
	src := strings.Repeat("word ", 12000) + "end"
	huge := strings.Repeat("x", MaxLineBytes) + "\ty"
	if err := os.WriteFile(long, []byte(src+"\tfin\n"+huge+"\nGo.\tVa !\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = ReadPairs(long, PairOptions{})
	if err != nil || len(p.Pairs) != 2 || p.Pairs[0].Src != src || p.Pairs[1].Line != 3 {
		t.Fatalf("long lines: err %v, pairs %d", err, len(p.Pairs))
	}
	if c := p.Report.Skipped[SkipTooLong]; c.Count != 1 || !reflect.DeepEqual(c.Lines, []int{2}) || p.Report.Lines != 3 {
		t.Errorf("long lines: report %+v", p.Report)
	}
	if s := p.Report.String(); !strings.Contains(s, "line too long: 1 (line 2)") {
		t.Errorf("long lines: report string %q", s)
	}
}

func TestFilterByLength(t *testing.T) {
	p, err := ReadPairs(filepath.Join(pairsDir, "small.tsv"), PairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tp := TokenizePairs(p.Pairs, TokenizeOptions{Lang: "en", Lower: true}, TokenizeOptions{Lang: "fr", Lower: true})
	if got := strings.Join(tp[3].Src, " "); got != "i do n't know ." {
		t.Errorf("tokenised source = %q", got)
	}
	// Source lengths: go . =2, hi . =2, i 'm ok . =4, i do n't know . =5, thank you . =3, who is he ? =4 (x2), it 's late . =4
	// Target lengths: va ! =2, salut ! =2, je vais bien . =4, je ne sais pas . =5, merci ! =2, qui est-il ? =3, c' est qui ? =4, il est tard . =4
	kept, st := FilterByLength(tp, 4, 3)
	if kept[3].Line != 11 {
		t.Errorf("kept line %d, want 11", kept[3].Line)
	}
	want := LengthFilterStats{Kept: 4, SrcTooLong: 0, TgtTooLong: 3, BothTooLong: 1}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if len(kept) != 4 || st.Dropped() != 4 || !strings.Contains(st.String(), "kept 4 of 8") {
		t.Errorf("kept %d, dropped %d, %s", len(kept), st.Dropped(), st)
	}
	if kept, st := FilterByLength(tp, 0, 0); len(kept) != 8 || st.Dropped() != 0 {
		t.Errorf("no limit dropped %d", st.Dropped())
	}
	_, st = FilterByLength([]TokenPair{{Src: nil, Tgt: []string{"x"}}}, 0, 0)
	if st.Empty != 1 {
		t.Errorf("empty side not counted: %+v", st)
	}
}

func TestVocabsAndEncode(t *testing.T) {
	tp := []TokenPair{
		{Src: []string{"i", "do", "n't", "know", "."}, Tgt: []string{"je", "ne", "sais", "pas", "."}, Line: 1},
		{Src: []string{"i", "know", "."}, Tgt: []string{"je", "sais", "."}, Line: 2},
	}
	src, tgt := BuildPairVocabs(tp, VocabOptions{MinFreq: 2})
	if got := src.Tokens(); !reflect.DeepEqual(got, []string{"<pad>", "<bos>", "<eos>", "<unk>", ".", "i", "know"}) {
		t.Errorf("src vocab = %q", got)
	}
	if got := tgt.Tokens(); !reflect.DeepEqual(got, []string{"<pad>", "<bos>", "<eos>", "<unk>", ".", "je", "sais"}) {
		t.Errorf("tgt vocab = %q", got)
	}
	_, capped := BuildPairVocabs(tp, VocabOptions{MinFreq: 1, MaxSize: 6})
	if capped.Len() != 6 {
		t.Errorf("capped vocab size %d", capped.Len())
	}
	ex, err := EncodePair(tp[0], src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	want := Example{Src: []int{5, 3, 3, 6, 4}, Tgt: []int{1, 5, 3, 6, 3, 4, 2}, Line: 1}
	if !reflect.DeepEqual(ex, want) {
		t.Errorf("EncodePair = %+v, want %+v", ex, want)
	}
	all, err := EncodePairs(tp, src, tgt)
	if err != nil || len(all) != 2 || all[1].Tgt[0] != 1 || all[1].Tgt[len(all[1].Tgt)-1] != 2 {
		t.Errorf("EncodePairs = %+v, %v", all, err)
	}
	// A target vocabulary without <bos> is an error, not a panic.
	bare, _ := NewVocab([]string{"<unk>", "je"})
	if _, err := EncodePair(tp[0], src, bare); err == nil {
		t.Error("EncodePair without <bos> succeeded")
	}
}

// shippedPairs is the path of the English–French file shipped with the repo.
var shippedPairs = filepath.Join("..", "data", "translation", "eng-fra.txt.gz")

// shipped caches the shipped file for the tests that use it after the test
// that checks it.
var shipped struct {
	once    sync.Once
	p       *Pairs
	err     error
	elapsed time.Duration
}

// loadShipped reads the shipped file once per test binary.
func loadShipped(t *testing.T) *Pairs {
	t.Helper()
	shipped.once.Do(func() {
		start := time.Now()
		shipped.p, shipped.err = ReadPairs(shippedPairs, PairOptions{})
		shipped.elapsed = time.Since(start)
	})
	if shipped.err != nil {
		t.Fatal(shipped.err)
	}
	return shipped.p
}

func TestReadPairsShipped(t *testing.T) {
	p := loadShipped(t)
	elapsed := shipped.elapsed
	t.Logf("%s in %v", p.Report, elapsed)
	const want = 139851 // PROVENANCE.md: 142,787 lines minus 2,936 held-out pairs
	if len(p.Pairs) != want || p.Report.Lines != want || p.Report.SkippedTotal() != 0 || !p.Report.Gzipped {
		t.Errorf("shipped file: %s; want %d pairs, none skipped", p.Report, want)
	}
	if p.Pairs[0] != (Pair{"Go.", "Va !", 1}) {
		t.Errorf("first pair %+v", p.Pairs[0])
	}
	distinct := map[string]bool{}
	for _, q := range p.Pairs {
		distinct[q.Src] = true
	}
	if len(distinct) != 96659 { // 98,659 in PROVENANCE.md minus the 2,000 held-out sources
		t.Errorf("distinct English sentences = %d, want 96659", len(distinct))
	}
	if elapsed > 3*time.Second { // typically ~0.2 s; generous for loaded machines and -race
		t.Errorf("reading took %v", elapsed)
	}
}
