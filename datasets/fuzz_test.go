package datasets

// Fuzz tests of the readers of user files, at the level of a reader over
// bytes. Each checks its reader against an independent reading of the same
// bytes (strings.Split instead of LineReader, a second JSON decoding), so
// that a fuzzer finds wrong counts and lost lines, not only panics. The
// seeds run in go test; run a fuzzer with
//
//	go test -run '^$' -fuzz '^FuzzReadPairs$' -fuzztime 10m -parallel 2 ./datasets/

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"image/gif"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzStreamLimit is the decompression limit while fuzzing, so that a gzip
// bomb the fuzzer makes costs a millisecond, not a gigabyte.
const fuzzStreamLimit = 1 << 20

// addFileSeeds adds the content of testdata files as seeds.
func addFileSeeds(f *testing.F, paths ...string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// refLine is one line as the reference splitter sees it.
type refLine struct {
	text    string
	crlf    bool
	tooLong bool
}

// refLines splits content into lines the simple way, as LineReader is
// documented to: "\n" ends a line, a final line needs none, a "\r" before
// the end is removed, a BOM starts only line 1, a line over max bytes
// (without its ending) is too long.
func refLines(content string, max int) []refLine {
	if content == "" {
		return nil
	}
	parts := strings.Split(content, "\n")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	out := make([]refLine, len(parts))
	for i, p := range parts {
		var l refLine
		if strings.HasSuffix(p, "\r") {
			p, l.crlf = p[:len(p)-1], true
		}
		if len(p) > max {
			l.tooLong, l.crlf = true, false
		} else {
			if i == 0 {
				p = strings.TrimPrefix(p, "\ufeff")
			}
			l.text = p
		}
		out[i] = l
	}
	return out
}

// FuzzReadPairs checks readPairs against a reference reading of the same
// (decompressed) bytes: the same pairs with the same line numbers, every
// line counted once as a pair or a skip with its reason, and an error (no
// panic) exactly when the content cannot be read or has no pair.
func FuzzReadPairs(f *testing.F) {
	for _, name := range []string{"small.tsv", "small_crlf.tsv", "small.tsv.gz", "gzip_named.txt", "attribution.tsv"} {
		b, err := os.ReadFile(filepath.Join(pairsDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0), uint8(0))
	}
	f.Add([]byte("\ufeffGo.\tVa !\r\n\n \t \nno tab\n\tvide\na\tb\tc\n\xff\tx"), uint8(1), uint8(0))
	f.Add([]byte("a\tb\tc"), uint8(2), uint8(0))
	f.Add([]byte("a\tb"), uint8(1), uint8(1))
	f.Add([]byte{0x1f, 0x8b}, uint8(0), uint8(1))
	old := maxStreamBytes
	maxStreamBytes = fuzzStreamLimit
	f.Cleanup(func() { maxStreamBytes = old })

	f.Fuzz(func(t *testing.T, data []byte, srcCol, tgtCol uint8) {
		opt := PairOptions{SrcColumn: int(srcCol % 4), TgtColumn: int(tgtCol % 4), KeepLines: 2}
		src, tgt := opt.SrcColumn, opt.TgtColumn
		if src == 0 && tgt == 0 {
			tgt = 1
		}
		p, err := readPairs(bytes.NewReader(data), "fuzz.tsv", opt)
		if err != nil && !strings.Contains(err.Error(), "fuzz.tsv") {
			t.Fatalf("error %q does not name the file", err)
		}
		if src == tgt {
			if err == nil || p != nil {
				t.Fatalf("columns %d and %d accepted", src, tgt)
			}
			return
		}

		// The reference content: data, or its gzip decompression.
		content, gzipped, readErr := data, false, error(nil)
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			gzipped = true
			var zr *gzip.Reader
			if zr, readErr = gzip.NewReader(bytes.NewReader(data)); readErr == nil {
				content, readErr = io.ReadAll(io.LimitReader(zr, fuzzStreamLimit+1))
			}
		}
		if readErr == nil && len(content) > fuzzStreamLimit {
			readErr = ErrTooLarge
		}
		if readErr != nil {
			if p != nil || err == nil {
				t.Fatalf("unreadable content (%v) gave pairs %v, error %v", readErr, p, err)
			}
			if errors.Is(readErr, ErrTooLarge) != errors.Is(err, ErrTooLarge) {
				t.Fatalf("reference error %v, reader error %v", readErr, err)
			}
			return
		}
		if p == nil {
			t.Fatalf("readable content, but no result: %v", err)
		}

		// What each line must give.
		var want []Pair
		wantSkip := map[SkipReason]int{}
		wantCRLF := 0
		lines := refLines(string(content), MaxLineBytes)
		need := max(src, tgt) + 1
		for i, l := range lines {
			if l.crlf {
				wantCRLF++
			}
			var reason SkipReason
			switch cols := strings.Split(l.text, "\t"); {
			case l.tooLong:
				reason = SkipTooLong
			case !utf8.ValidString(l.text):
				reason = SkipInvalidUTF8
			case strings.TrimSpace(l.text) == "":
				reason = SkipBlank
			case len(cols) == 1:
				reason = SkipNoTab
			case len(cols) < need:
				reason = SkipMissingCol
			case strings.TrimSpace(cols[src]) == "" || strings.TrimSpace(cols[tgt]) == "":
				reason = SkipEmptySide
			default:
				want = append(want, Pair{Src: strings.TrimSpace(cols[src]), Tgt: strings.TrimSpace(cols[tgt]), Line: i + 1})
				continue
			}
			wantSkip[reason]++
		}
		r := p.Report
		if !slices.Equal(p.Pairs, want) {
			t.Fatalf("pairs %+v, want %+v", p.Pairs, want)
		}
		if (err != nil) != (len(want) == 0) {
			t.Fatalf("%d pairs, error %v", len(want), err)
		}
		if r.Lines != len(lines) || r.Pairs != len(want) || r.CRLF != wantCRLF || r.Gzipped != gzipped || r.Path != "fuzz.tsv" {
			t.Fatalf("report %+v; want %d lines, %d pairs, %d CRLF, gzipped %v", r, len(lines), len(want), wantCRLF, gzipped)
		}
		if r.SkippedTotal()+r.Pairs != r.Lines {
			t.Fatalf("%d skipped + %d pairs != %d lines", r.SkippedTotal(), r.Pairs, r.Lines)
		}
		for reason, c := range r.Skipped {
			if c.Count != wantSkip[reason] || len(c.Lines) != min(c.Count, opt.KeepLines) || !slices.IsSorted(c.Lines) {
				t.Fatalf("%s: %+v, want count %d with the first %d lines", reason, c, wantSkip[reason], opt.KeepLines)
			}
		}
		for reason, n := range wantSkip {
			if r.Skipped[reason].Count != n {
				t.Fatalf("%s: counted %d, want %d", reason, r.Skipped[reason].Count, n)
			}
		}
	})
}

// FuzzReadFlickr8kTokens checks that every non-blank line of a caption
// file is counted once — as a caption kept or one skipped with its image or
// for its length — that kept images exist and hold trimmed, non-empty
// captions, and that a malformed file is an error naming it.
func FuzzReadFlickr8kTokens(f *testing.F) {
	addFileSeeds(f, filepath.Join(captionTestdata, Flickr8kTokenFile))
	f.Add([]byte("\ufeffa.jpg#0 A dog .\r\nbb.jpg#1\tmissing\n\nab.jpg#x\tbad number\n"))
	f.Add([]byte("ab.jpg#0\t \n"))
	f.Add([]byte("#0\tno image\n"))
	// An image "exists" when its name has an even length.
	exists := func(name string) bool { return len(name)%2 == 0 }
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := readFlickr8kTokens(bytes.NewReader(data), "fuzz.txt", "imgs", exists)
		if err != nil {
			if set != nil || !strings.HasPrefix(err.Error(), "fuzz.txt") {
				t.Fatalf("error %q with set %v: want no set and the file named", err, set)
			}
			return
		}
		nonBlank := 0
		lines := refLines(string(data), MaxLineBytes)
		for _, l := range lines {
			if l.tooLong || strings.TrimSpace(l.text) != "" {
				nonBlank++
			}
		}
		r := set.Report
		if r.Lines != nonBlank || r.Captions+r.SkippedCaptions != r.Lines || r.Captions != set.NumCaptions() || r.SpaceSeparated > r.Lines {
			t.Fatalf("report %+v with %d captions: want %d lines, each a caption kept or skipped", r, set.NumCaptions(), nonBlank)
		}
		if len(set.Images) == 0 {
			t.Fatal("no images and no error")
		}
		seen := map[string]bool{}
		for _, im := range set.Images {
			if !exists(im.File) || seen[im.File] || len(im.Captions) == 0 {
				t.Fatalf("image %q: exists %v, repeated %v, %d captions", im.File, exists(im.File), seen[im.File], len(im.Captions))
			}
			seen[im.File] = true
			for _, c := range im.Captions {
				if c == "" || c != strings.TrimSpace(c) || strings.ContainsAny(c, "\n") {
					t.Fatalf("image %q: caption %q", im.File, c)
				}
			}
		}
		prev := 0
		for _, sk := range r.Skipped {
			if sk.Line <= prev || sk.Line > len(lines) || seen[sk.Item] {
				t.Fatalf("skipped %+v after line %d of %d", sk, prev, len(lines))
			}
			prev = sk.Line
		}
	})
}

// FuzzReadCOCOCaptions checks that every annotation is counted once, as a
// caption kept or skipped, that kept images exist and hold trimmed,
// non-empty captions, and that a bad file is an error naming it.
func FuzzReadCOCOCaptions(f *testing.F) {
	addFileSeeds(f, filepath.Join(captionTestdata, "coco_captions.json"))
	f.Add([]byte(`{"images": [{"id": 1, "file_name": "ab.jpg"}, {"id": 2, "file_name": "c.jpg"}], "annotations": [{"image_id": 1, "caption": " A dog "}, {"image_id": 2, "caption": "x"}, {"image_id": 3, "caption": "y"}]}`))
	f.Add([]byte(`{"images": [{"id": 1, "file_name": "ab.jpg"}, {"id": 1, "file_name": "ab.jpg"}]}`))
	f.Add([]byte("{\n\"images\": [\n{\"id\": 1,, }\n]}"))
	exists := func(name string) bool { return len(name)%2 == 0 }
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := parseCOCOCaptions(data, "fuzz.json", "imgs", exists)
		if err != nil {
			if set != nil || !strings.HasPrefix(err.Error(), "fuzz.json") {
				t.Fatalf("error %q with set %v: want no set and the file named", err, set)
			}
			return
		}
		var doc struct {
			Annotations []json.RawMessage `json:"annotations"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("accepted, but does not decode a second time: %v", err)
		}
		r := set.Report
		if r.Lines != len(doc.Annotations) || r.Captions+r.SkippedCaptions != r.Lines || r.Captions != set.NumCaptions() {
			t.Fatalf("report %+v with %d captions: want %d annotations, each kept or skipped", r, set.NumCaptions(), len(doc.Annotations))
		}
		if len(set.Images) == 0 {
			t.Fatal("no images and no error")
		}
		for _, im := range set.Images {
			if !exists(im.File) || len(im.Captions) == 0 {
				t.Fatalf("image %q: exists %v, %d captions", im.File, exists(im.File), len(im.Captions))
			}
			for _, c := range im.Captions {
				if c == "" || c != strings.TrimSpace(c) {
					t.Fatalf("image %q: caption %q", im.File, c)
				}
			}
		}
	})
}

// FuzzParseClipLabels checks labels.txt parsing against the rule written
// out simply: the trimmed non-blank lines, blank lines allowed only at the
// end; otherwise an error at the first line breaking the rule.
func FuzzParseClipLabels(f *testing.F) {
	addFileSeeds(f, filepath.Join("testdata", "clips", "square_right", ClipLabelsFile), filepath.Join("testdata", "clips", "blink.labels.txt"))
	for _, s := range []string{"", "a", "a\n\n", "a\n\nb", "\ufeff a \r\n b\r\n\r\n", "\n", " \t\n", "a\r\rb\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseClipLabels(bytes.NewReader(data))

		var want []string
		wantLine, blank := 0, 0
	lines:
		for i, l := range refLines(string(data), MaxLineBytes) {
			text := strings.TrimSpace(l.text)
			switch {
			case l.tooLong:
				wantLine = i + 1
			case text == "":
				if blank == 0 {
					blank = i + 1
				}
				continue
			case blank > 0:
				wantLine = blank
			case len(want) == MaxClipFrames:
				wantLine = i + 1
			default:
				want = append(want, text)
				continue
			}
			break lines
		}
		var le *labelLineError
		switch {
		case wantLine > 0:
			if !errors.As(err, &le) || le.line != wantLine {
				t.Fatalf("labels %q, error %v; want an error at line %d", got, err, wantLine)
			}
		case len(want) == 0:
			if err == nil || err.Error() != "no labels" {
				t.Fatalf("labels %q, error %v; want \"no labels\"", got, err)
			}
		case err != nil || !slices.Equal(got, want):
			t.Fatalf("labels %q, error %v; want %q", got, err, want)
		}
	})
}

// FuzzReadText checks that text is accepted exactly when it is valid UTF-8
// and not blank, returned unchanged, and that invalid UTF-8 is reported at
// the line of the first bad byte.
func FuzzReadText(f *testing.F) {
	addFileSeeds(f, filepath.Join("testdata", "clips", "README.md"))
	for _, s := range []string{"", " \n\t", "hello\n", "ok\nok\n\xff\xfe", "\xe2\x82", "a\r\nb\xc0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := parseText(data, "fuzz.txt")
		switch {
		case strings.TrimSpace(string(data)) == "":
			if err == nil || err.Error() != "fuzz.txt: the text is empty" {
				t.Fatalf("blank text: error %v", err)
			}
		case !utf8.Valid(data):
			// The line of the first byte that a range over the string
			// decodes as an invalid one (RuneError of width 1).
			line := 1
			s := string(data)
			for i, r := range s {
				if r == utf8.RuneError {
					if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
						break
					}
				}
				if r == '\n' {
					line++
				}
			}
			if want := "fuzz.txt:" + strconv.Itoa(line) + ": invalid UTF-8"; err == nil || err.Error() != want {
				t.Fatalf("error %v, want %q", err, want)
			}
		case err != nil || text != string(data):
			t.Fatalf("valid text: error %v, text changed %v", err, text != string(data))
		}
	})
}

// FuzzScanGIF checks scanGIF against gif.DecodeAll: whenever the decoder
// accepts a GIF within the limits, scanGIF counts the same frames; scanGIF
// never accepts more than MaxClipFrames frames.
func FuzzScanGIF(f *testing.F) {
	addFileSeeds(f, filepath.Join("testdata", "clips", "blink.gif"), filepath.Join(captionImages(), "c.gif"))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := scanGIF(bufio.NewReader(bytes.NewReader(data)))
		if err == nil && (n < 1 || n > MaxClipFrames) {
			t.Fatalf("scanGIF accepted %d frames", n)
		}
		if len(data) < 10 {
			return
		}
		// Run the decoder only where its allocation is small: every frame
		// lies within the screen, and a frame takes at least 12 bytes.
		w, h := int(data[6])|int(data[7])<<8, int(data[8])|int(data[9])<<8
		if w*h*(len(data)/12+1) > 1<<24 {
			return
		}
		g, decErr := gif.DecodeAll(bytes.NewReader(data))
		if decErr != nil {
			return
		}
		if checkImageSize(w, h) != nil || len(g.Image) > MaxClipFrames || len(g.Image)*w*h > maxGIFWork {
			return // refused for its size, rightly
		}
		if err != nil || n != len(g.Image) {
			t.Fatalf("gif.DecodeAll reads %d frames; scanGIF %d, %v", len(g.Image), n, err)
		}
	})
}
