package datasets

// Image-captioning data: the Flickr8k release layout and the COCO captions
// JSON format, read into one common type (CaptionSet) so that a captioning
// model does not care which corpus it is trained on. Captions are kept raw
// here; PreprocessCaption, CaptionVocab and CaptionSet.Encode turn them into
// id sequences. Images themselves are decoded by ImageLoader (images.go).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// Standard file names of the Flickr8k text release.
const (
	Flickr8kTokenFile = "Flickr8k.token.txt"
	Flickr8kTrainList = "Flickr_8k.trainImages.txt"
	Flickr8kDevList   = "Flickr_8k.devImages.txt"
	Flickr8kTestList  = "Flickr_8k.testImages.txt"
)

// Flickr8kImageDirs are the image folder names LoadFlickr8k looks for under
// the dataset folder, in order, when no image folder is given: the 64x64 copy
// used by seqtask and the folder names of the original release.
var Flickr8kImageDirs = []string{"images_64x64", "images", "Flicker8k_Dataset", "Flickr8k_Dataset"}

// CaptionedImage is one image and its human captions, raw as written in the
// source file.
type CaptionedImage struct {
	File     string   // image file name relative to CaptionSet.ImageDir, as written in the source
	Captions []string // captions in file order
}

// CaptionIssue is one problem found while reading a caption source: the
// offending item (an image file name or a caption key) and why it was skipped.
type CaptionIssue struct {
	Item   string // image file name or caption key
	Line   int    // line in Source where it was found (0 when not line based, e.g. JSON)
	Reason string
}

func (i CaptionIssue) String() string {
	if i.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", i.Line, i.Item, i.Reason)
	}
	return fmt.Sprintf("%s: %s", i.Item, i.Reason)
}

// CaptionReport says what a reader kept and what it skipped, so that silent
// data loss is visible: every skipped image is named with its reason.
type CaptionReport struct {
	Source          string         // the file the captions came from
	Lines           int            // non-blank caption lines, too long ones included (Flickr8k), annotations (COCO) or split-list entries (Select) read
	SpaceSeparated  int            // Flickr8k lines whose key and caption are separated by a space, not a tab (the line-1 quirk)
	Captions        int            // captions kept
	SkippedCaptions int            // captions dropped together with a skipped image, or on a line too long to read
	Skipped         []CaptionIssue // images skipped (no image file, not in the caption file, no captions, unknown image id) and Flickr8k lines too long to read
}

// SkippedImages is the number of images (or split entries) skipped.
func (r CaptionReport) SkippedImages() int { return len(r.Skipped) }

// SkippedNames returns the names of the skipped items in report order.
func (r CaptionReport) SkippedNames() []string {
	out := make([]string, len(r.Skipped))
	for i, s := range r.Skipped {
		out[i] = s.Item
	}
	return out
}

// CaptionSet is a list of captioned images whose files live in ImageDir,
// with the report of how it was read.
type CaptionSet struct {
	ImageDir string
	Images   []CaptionedImage
	Report   CaptionReport
}

// Path returns the file path of image i (ImageDir joined with its File).
func (s *CaptionSet) Path(i int) string { return filepath.Join(s.ImageDir, s.Images[i].File) }

// Paths returns the file paths of all images, in order.
func (s *CaptionSet) Paths() []string {
	out := make([]string, len(s.Images))
	for i := range s.Images {
		out[i] = s.Path(i)
	}
	return out
}

// NumCaptions is the total number of captions over all images.
func (s *CaptionSet) NumCaptions() int {
	n := 0
	for _, im := range s.Images {
		n += len(im.Captions)
	}
	return n
}

// Select returns the images named in files, in that order, sharing caption
// slices with s. Names that s does not hold (because the caption file lacks
// them or their image was skipped) are reported in the result's Report and
// left out; a name listed twice is an error, since it would weight an image
// twice without anyone noticing.
func (s *CaptionSet) Select(files []string, source string) (*CaptionSet, error) {
	index := make(map[string]int, len(s.Images))
	for i, im := range s.Images {
		index[im.File] = i
	}
	skipped := make(map[string]string, len(s.Report.Skipped))
	for _, sk := range s.Report.Skipped {
		skipped[sk.Item] = sk.Reason
	}
	out := &CaptionSet{ImageDir: s.ImageDir, Report: CaptionReport{Source: source}}
	seen := make(map[string]int, len(files))
	for n, f := range files {
		if prev, dup := seen[f]; dup {
			return nil, fmt.Errorf("%s: entry %d: %s is listed again (first at entry %d)", source, n+1, f, prev)
		}
		seen[f] = n + 1
		i, ok := index[f]
		if !ok {
			reason := "has no captions in " + s.Report.Source
			if r, was := skipped[f]; was {
				reason = r
			}
			out.Report.Skipped = append(out.Report.Skipped, CaptionIssue{Item: f, Line: n + 1, Reason: reason})
			continue
		}
		out.Images = append(out.Images, s.Images[i])
		out.Report.Captions += len(s.Images[i].Captions)
	}
	out.Report.Lines = len(files)
	return out, nil
}

// imageExists reports whether dir/name is an existing regular file (or a
// link to one). Whether it decodes is ImageLoader's business.
func imageExists(dir, name string) bool {
	fi, err := os.Stat(filepath.Join(dir, name))
	return err == nil && !fi.IsDir()
}

// ReadFlickr8kTokens reads a Flickr8k.token.txt caption file: one caption a
// line, "<image>.jpg#<n><TAB><caption>". As in the original release, the key
// may be separated from the caption by a space instead of a tab (line 1 of
// the real file, and lines 6 and 12 too); both are accepted and counted. Images appear in order of
// first mention, captions in file order. An image id whose file does not
// exist in imageDir (for example the release's defective
// "2258277193_586949ec62.jpg.1") is skipped with its captions and reported,
// and so is a line longer than MaxLineBytes. Any other line that is not a
// caption line is an error naming the file and line.
func ReadFlickr8kTokens(tokenPath, imageDir string) (*CaptionSet, error) {
	f, err := OpenFile(tokenPath)
	if err != nil {
		return nil, fmt.Errorf("flickr8k captions: %w", err)
	}
	defer f.Close()
	return readFlickr8kTokens(f, tokenPath, imageDir, func(name string) bool { return imageExists(imageDir, name) })
}

// readFlickr8kTokens is ReadFlickr8kTokens over r, the content of tokenPath,
// with exists telling whether an image file is there.
func readFlickr8kTokens(r io.Reader, tokenPath, imageDir string, exists func(name string) bool) (*CaptionSet, error) {
	set := &CaptionSet{ImageDir: imageDir, Report: CaptionReport{Source: tokenPath}}
	index := map[string]int{}    // image -> position in set.Images
	missing := map[string]bool{} // images skipped for a missing file
	lr := NewLineReader(r, MaxLineBytes)
	for lr.Next() {
		line := lr.LineNumber()
		if lr.TooLong() {
			set.Report.Lines++
			set.Report.SkippedCaptions++
			set.Report.Skipped = append(set.Report.Skipped, CaptionIssue{Item: "caption line", Line: line,
				Reason: fmt.Sprintf("longer than the %s line limit, not read", formatBytes(int64(lr.Max())))})
			continue
		}
		text := lr.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		set.Report.Lines++
		key, caption, sep := strings.Cut(text, "\t")
		if !sep {
			key, caption, sep = strings.Cut(text, " ")
			if !sep {
				return nil, fmt.Errorf("%s:%d: no separator between caption key and caption in %q", tokenPath, line, captionClip(text))
			}
			set.Report.SpaceSeparated++
		}
		key = strings.TrimSpace(key)
		caption = strings.TrimSpace(caption)
		hash := strings.LastIndexByte(key, '#')
		if hash <= 0 {
			return nil, fmt.Errorf("%s:%d: caption key %q is not of the form <image>#<n>", tokenPath, line, captionClip(key))
		}
		image, num := key[:hash], key[hash+1:]
		if _, err := strconv.Atoi(num); err != nil {
			return nil, fmt.Errorf("%s:%d: caption key %q: caption number %q is not an integer", tokenPath, line, captionClip(key), captionClip(num))
		}
		if caption == "" {
			return nil, fmt.Errorf("%s:%d: caption %s is empty", tokenPath, line, captionClip(key))
		}
		if i, ok := index[image]; ok {
			set.Images[i].Captions = append(set.Images[i].Captions, caption)
			set.Report.Captions++
			continue
		}
		if _, ok := missing[image]; ok {
			set.Report.SkippedCaptions++
			continue
		}
		if !exists(image) {
			missing[image] = true
			set.Report.Skipped = append(set.Report.Skipped, CaptionIssue{Item: image, Line: line, Reason: "image file not found in " + imageDir})
			set.Report.SkippedCaptions++
			continue
		}
		index[image] = len(set.Images)
		set.Images = append(set.Images, CaptionedImage{File: image, Captions: []string{caption}})
		set.Report.Captions++
	}
	if err := lr.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", tokenPath, lr.LineNumber(), err)
	}
	if len(set.Images) == 0 {
		return nil, fmt.Errorf("%s: no captioned image with an existing file (%d lines, %d images skipped)", tokenPath, set.Report.Lines, len(set.Report.Skipped))
	}
	return set, nil
}

// ReadImageList reads a split list such as Flickr_8k.trainImages.txt: one
// image file name a line; blank lines are ignored, surrounding space trimmed.
// A line that cannot be a file name (with a tab or '#', or longer than
// MaxLineBytes) is an error naming the line.
func ReadImageList(path string) ([]string, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("image list: %w", err)
	}
	defer f.Close()
	var names []string
	lr := NewLineReader(f, MaxLineBytes)
	for lr.Next() {
		if lr.TooLong() {
			return nil, fmt.Errorf("%s:%d: longer than the %s line limit: not an image file name", path, lr.LineNumber(), formatBytes(int64(lr.Max())))
		}
		l := strings.TrimSpace(lr.Text())
		if l == "" {
			continue
		}
		if strings.ContainsAny(l, "\t#") {
			return nil, fmt.Errorf("%s:%d: %q is not an image file name (is this a caption file?)", path, lr.LineNumber(), captionClip(l))
		}
		names = append(names, l)
	}
	if err := lr.Err(); err != nil {
		return nil, fmt.Errorf("image list %s:%d: %w", path, lr.LineNumber(), err)
	}
	return names, nil
}

// Flickr8k is the Flickr8k release split into its official splits. Test is
// nil when the folder has no test list (seqtask's shared copy holds the test
// split out).
type Flickr8k struct {
	All   *CaptionSet // every captioned image with an existing file, in caption-file order
	Train *CaptionSet
	Dev   *CaptionSet
	Test  *CaptionSet
}

// LoadFlickr8k reads a folder in the Flickr8k layout: Flickr8k.token.txt,
// the train and dev split lists (and the test list when present) and an image
// folder. imageDir "" means the first of Flickr8kImageDirs found under dir.
// Split entries without captions or without an image file are reported in
// that split's Report and left out; an empty train split is an error.
func LoadFlickr8k(dir, imageDir string) (*Flickr8k, error) {
	if imageDir == "" {
		for _, d := range Flickr8kImageDirs {
			if fi, err := os.Stat(filepath.Join(dir, d)); err == nil && fi.IsDir() {
				imageDir = filepath.Join(dir, d)
				break
			}
		}
		if imageDir == "" {
			return nil, fmt.Errorf("flickr8k: %s has no image folder (looked for %s)", dir, strings.Join(Flickr8kImageDirs, ", "))
		}
	}
	all, err := ReadFlickr8kTokens(filepath.Join(dir, Flickr8kTokenFile), imageDir)
	if err != nil {
		return nil, err
	}
	out := &Flickr8k{All: all}
	for _, sp := range []struct {
		file     string
		dst      **CaptionSet
		optional bool
	}{{Flickr8kTrainList, &out.Train, false}, {Flickr8kDevList, &out.Dev, false}, {Flickr8kTestList, &out.Test, true}} {
		p := filepath.Join(dir, sp.file)
		if _, err := os.Stat(p); sp.optional && errors.Is(err, os.ErrNotExist) {
			continue
		}
		names, err := ReadImageList(p)
		if err != nil {
			return nil, fmt.Errorf("flickr8k: %w", err)
		}
		if *sp.dst, err = all.Select(names, p); err != nil {
			return nil, fmt.Errorf("flickr8k: %w", err)
		}
	}
	if len(out.Train.Images) == 0 {
		return nil, fmt.Errorf("flickr8k: %s: no usable training image (%d entries skipped)", filepath.Join(dir, Flickr8kTrainList), len(out.Train.Report.Skipped))
	}
	return out, nil
}

// cocoCaptions is the part of a COCO captions file (captions_train2014.json
// and the like) that captioning needs.
type cocoCaptions struct {
	Images []struct {
		ID       *int64 `json:"id"`
		FileName string `json:"file_name"`
	} `json:"images"`
	Annotations []struct {
		ImageID *int64 `json:"image_id"`
		Caption string `json:"caption"`
	} `json:"annotations"`
}

// MaxCaptionFileBytes bounds the COCO captions JSON file ReadCOCOCaptions
// reads whole: 256 MiB, nearly three times captions_train2017.json.
const MaxCaptionFileBytes = 256 << 20

// ReadCOCOCaptions reads a COCO captions JSON file: "images" with id and
// file_name, "annotations" with image_id and caption. Images keep the order of
// the "images" array and captions the order of the annotations. Images whose
// file is missing from imageDir, images without captions and annotations
// naming an unknown image are reported and skipped. Malformed JSON, a
// duplicate image id or an image without id or file_name is an error; JSON
// errors name the line. A file over MaxCaptionFileBytes is an error.
func ReadCOCOCaptions(path, imageDir string) (*CaptionSet, error) {
	b, err := ReadFile(path, MaxCaptionFileBytes)
	if err != nil {
		return nil, fmt.Errorf("coco captions: %w", err)
	}
	return parseCOCOCaptions(b, path, imageDir, func(name string) bool { return imageExists(imageDir, name) })
}

// parseCOCOCaptions is ReadCOCOCaptions over b, the content of path, with
// exists telling whether an image file is there.
func parseCOCOCaptions(b []byte, path, imageDir string, exists func(name string) bool) (*CaptionSet, error) {
	var doc cocoCaptions
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s:%d: coco captions: %w", path, captionJSONLine(b, err), err)
	}
	set := &CaptionSet{ImageDir: imageDir, Report: CaptionReport{Source: path, Lines: len(doc.Annotations)}}
	index := make(map[int64]int, len(doc.Images))
	for n, im := range doc.Images {
		if im.ID == nil || strings.TrimSpace(im.FileName) == "" {
			return nil, fmt.Errorf("%s: images[%d] lacks id or file_name", path, n)
		}
		if _, dup := index[*im.ID]; dup {
			return nil, fmt.Errorf("%s: images[%d]: image id %d appears twice", path, n, *im.ID)
		}
		index[*im.ID] = len(set.Images)
		set.Images = append(set.Images, CaptionedImage{File: im.FileName})
	}
	unknown := map[int64]bool{}
	for n, a := range doc.Annotations {
		if a.ImageID == nil {
			return nil, fmt.Errorf("%s: annotations[%d] lacks image_id", path, n)
		}
		i, ok := index[*a.ImageID]
		if !ok {
			set.Report.SkippedCaptions++
			if !unknown[*a.ImageID] {
				unknown[*a.ImageID] = true
				set.Report.Skipped = append(set.Report.Skipped, CaptionIssue{
					Item: fmt.Sprintf("image_id %d", *a.ImageID), Reason: fmt.Sprintf("annotations[%d] names an image not in \"images\"", n)})
			}
			continue
		}
		c := strings.TrimSpace(a.Caption)
		if c == "" {
			return nil, fmt.Errorf("%s: annotations[%d]: caption is empty", path, n)
		}
		set.Images[i].Captions = append(set.Images[i].Captions, c)
	}
	kept := set.Images[:0]
	for _, im := range set.Images {
		switch {
		case len(im.Captions) == 0:
			set.Report.Skipped = append(set.Report.Skipped, CaptionIssue{Item: im.File, Reason: "no captions"})
		case !exists(im.File):
			set.Report.Skipped = append(set.Report.Skipped, CaptionIssue{Item: im.File, Reason: "image file not found in " + imageDir})
			set.Report.SkippedCaptions += len(im.Captions)
		default:
			kept = append(kept, im)
			set.Report.Captions += len(im.Captions)
		}
	}
	set.Images = kept
	if len(set.Images) == 0 {
		return nil, fmt.Errorf("%s: no captioned image with an existing file (%d images skipped)", path, len(set.Report.Skipped))
	}
	return set, nil
}

// captionJSONLine turns the byte offset of a JSON decoding error into a 1-based
// line number (0 when the error carries no offset).
func captionJSONLine(b []byte, err error) int {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return 0
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// captionClip shortens s for an error message.
func captionClip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// CaptionOptions controls caption preprocessing and vocabulary building.
type CaptionOptions struct {
	MaxLen  int // keep at most this many words per caption (before <bos>/<eos>); 0 means no limit
	MinFreq int // words seen fewer times in the vocabulary's source set map to <unk>
}

// PreprocessCaption normalises a caption into word tokens: lowercase;
// apostrophes removed so that "dog's" becomes "dogs"; every other punctuation
// mark or symbol replaced by a space so that "t-shirt" becomes "t shirt" and
// the release's split-off " ." disappears; then split on whitespace and cut to
// maxLen words (maxLen <= 0: no limit). Digits are kept.
func PreprocessCaption(caption string, maxLen int) []string {
	var b strings.Builder
	b.Grow(len(caption))
	for _, r := range strings.ToLower(caption) {
		switch {
		case r == '\'' || r == '\u2019' || r == '`':
			// dropped: joins "dog's" into "dogs"
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	toks := strings.Fields(b.String())
	if maxLen > 0 && len(toks) > maxLen {
		toks = toks[:maxLen]
	}
	return toks
}

// CaptionVocab builds a word vocabulary from the preprocessed captions of
// set (normally the training split only, so that dev words unseen in
// training become <unk>): the reserved Specials first, then words seen at
// least opt.MinFreq times, most frequent first.
func CaptionVocab(set *CaptionSet, opt CaptionOptions) *Vocab {
	counts := map[string]int{}
	for _, im := range set.Images {
		for _, c := range im.Captions {
			for _, t := range PreprocessCaption(c, opt.MaxLen) {
				counts[t]++
			}
		}
	}
	return BuildVocab(counts, VocabOptions{MinFreq: opt.MinFreq, Specials: Specials})
}

// CaptionExample is one (image, caption) training pair as ids.
type CaptionExample struct {
	Image   int   // index into CaptionSet.Images
	Caption int   // index into that image's Captions
	IDs     []int // <bos> words... <eos>
}

// Encode turns every caption of s into a CaptionExample: preprocessed with
// opt.MaxLen, words outside v mapped to <unk>, wrapped in <bos> and <eos>.
// Examples are in image order, then caption order. v must hold the Specials.
func (s *CaptionSet) Encode(v *Vocab, opt CaptionOptions) ([]CaptionExample, error) {
	bos, ok1 := v.ID(BOSToken)
	eos, ok2 := v.ID(EOSToken)
	if _, ok3 := v.ID(UNKToken); !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("caption vocab lacks %s, %s or %s", BOSToken, EOSToken, UNKToken)
	}
	out := make([]CaptionExample, 0, s.NumCaptions())
	for i, im := range s.Images {
		for j, c := range im.Captions {
			ids, err := v.Encode(PreprocessCaption(c, opt.MaxLen))
			if err != nil {
				return nil, fmt.Errorf("%s: caption %d: %w", im.File, j, err)
			}
			seq := make([]int, 0, len(ids)+2)
			seq = append(seq, bos)
			seq = append(seq, ids...)
			seq = append(seq, eos)
			out = append(out, CaptionExample{Image: i, Caption: j, IDs: seq})
		}
	}
	return out, nil
}
