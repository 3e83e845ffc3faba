package datasets

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const captionTestdata = "testdata/captions"

func captionImages() string { return filepath.Join(captionTestdata, "images") }

func TestReadFlickr8kTokens(t *testing.T) {
	set, err := ReadFlickr8kTokens(filepath.Join(captionTestdata, Flickr8kTokenFile), captionImages())
	if err != nil {
		t.Fatal(err)
	}
	want := []CaptionedImage{
		{"a.jpg", []string{"A dog runs across the grass .", "The dog's ball is RED!"}},
		{"b.png", []string{"Two children in T-shirts play .", "Children , playing"}},
		{"c.gif", []string{"A small GIF ."}},
		{"corrupt.jpg", []string{"This image is corrupt ."}},
	}
	if !reflect.DeepEqual(set.Images, want) {
		t.Errorf("images:\n got %q\nwant %q", set.Images, want)
	}
	r := set.Report
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"Lines", r.Lines, 8},
		{"SpaceSeparated", r.SpaceSeparated, 1},
		{"Captions", r.Captions, 6},
		{"SkippedCaptions", r.SkippedCaptions, 2},
		{"SkippedImages", r.SkippedImages(), 1},
		{"NumCaptions", set.NumCaptions(), 6},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if got := r.SkippedNames(); !reflect.DeepEqual(got, []string{"missing.jpg"}) {
		t.Errorf("skipped %q, want [missing.jpg]", got)
	}
	if sk := r.Skipped[0]; sk.Line != 5 || !strings.Contains(sk.Reason, "not found") {
		t.Errorf("skip issue %+v: want line 5 and a 'not found' reason", sk)
	}
	if got, want := set.Path(1), filepath.Join(captionImages(), "b.png"); got != want {
		t.Errorf("Path(1) = %q, want %q", got, want)
	}
}

func TestReadFlickr8kTokensErrors(t *testing.T) {
	imgs, _ := filepath.Abs(captionImages())
	cases := []struct {
		name, content, wantErr string
	}{
		{"no separator", "a.jpg#0\tok\nnoseparator\n", ":2: no separator"},
		{"no hash", "a.jpg#0\tok\na.jpg\tcaption\n", ":2: caption key \"a.jpg\""},
		{"bad number", "a.jpg#x\tcaption\n", ":1: caption key \"a.jpg#x\": caption number"},
		{"empty caption", "a.jpg#0\tok\n\n\na.jpg#1\t  \n", ":4: caption a.jpg#1 is empty"},
		{"all missing", "nope.jpg#0\tcaption\n", "no captioned image with an existing file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "tokens.txt")
			if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadFlickr8kTokens(p, imgs)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("err %v does not name the file", err)
			}
		})
	}
	if _, err := ReadFlickr8kTokens(filepath.Join(t.TempDir(), "absent.txt"), imgs); err == nil {
		t.Error("missing token file: no error")
	}
}

// TestReadFlickr8kTokensLongLine checks that a line over MaxLineBytes is
// skipped and reported with its number, and the lines after it are read.
func TestReadFlickr8kTokensLongLine(t *testing.T) {
	imgs, _ := filepath.Abs(captionImages())
	p := filepath.Join(t.TempDir(), "tokens.txt")
	content := "a.jpg#0\tA dog .\nb.png#0\t" + strings.Repeat("word ", MaxLineBytes/5+1) + "\n\nb.png#1\tChildren .\n"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := ReadFlickr8kTokens(p, imgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []CaptionedImage{{"a.jpg", []string{"A dog ."}}, {"b.png", []string{"Children ."}}}
	if !reflect.DeepEqual(set.Images, want) {
		t.Errorf("images %q, want %q", set.Images, want)
	}
	r := set.Report
	if r.Lines != 3 || r.Captions != 2 || r.SkippedCaptions != 1 || len(r.Skipped) != 1 {
		t.Fatalf("report %+v: want 3 lines, 2 captions, 1 skipped", r)
	}
	if sk := r.Skipped[0]; sk.Line != 2 || !strings.Contains(sk.String(), "line 2: caption line: longer than the 64 KiB line limit") {
		t.Errorf("skipped %q", sk)
	}
}

func TestLoadFlickr8k(t *testing.T) {
	d, err := LoadFlickr8k(captionTestdata, captionImages())
	if err != nil {
		t.Fatal(err)
	}
	if d.Test != nil {
		t.Errorf("Test = %v, want nil without a test list", d.Test)
	}
	cases := []struct {
		name        string
		set         *CaptionSet
		files       []string
		skipped     []string
		numCaptions int
	}{
		{"train", d.Train, []string{"a.jpg", "b.png", "corrupt.jpg"}, []string{"missing.jpg"}, 5},
		{"dev", d.Dev, []string{"c.gif"}, nil, 1},
		{"all", d.All, []string{"a.jpg", "b.png", "c.gif", "corrupt.jpg"}, []string{"missing.jpg"}, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var files []string
			for _, im := range c.set.Images {
				files = append(files, im.File)
			}
			if !reflect.DeepEqual(files, c.files) {
				t.Errorf("files %q, want %q", files, c.files)
			}
			if got := c.set.Report.SkippedNames(); !reflect.DeepEqual(got, c.skipped) && len(got)+len(c.skipped) > 0 {
				t.Errorf("skipped %q, want %q", got, c.skipped)
			}
			if got := c.set.NumCaptions(); got != c.numCaptions {
				t.Errorf("%d captions, want %d", got, c.numCaptions)
			}
		})
	}
	// The train split's report carries the reason the caption reader gave.
	if sk := d.Train.Report.Skipped; len(sk) != 1 || !strings.Contains(sk[0].Reason, "not found") || sk[0].Line != 4 {
		t.Errorf("train skipped %+v: want missing.jpg at entry 4, reason 'not found'", sk)
	}

	// Default image folder lookup fails helpfully when there is none.
	if _, err := LoadFlickr8k(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "no image folder") {
		t.Errorf("empty dir: err = %v", err)
	}
}

func TestCaptionSetSelect(t *testing.T) {
	set := &CaptionSet{ImageDir: "imgs", Images: []CaptionedImage{{"a.jpg", []string{"x"}}, {"b.jpg", []string{"y", "z"}}},
		Report: CaptionReport{Source: "tok.txt", Skipped: []CaptionIssue{{Item: "gone.jpg", Reason: "image file not found in imgs"}}}}
	cases := []struct {
		name    string
		files   []string
		want    []string
		skipped []string
		reasons []string
		wantErr string
	}{
		{"order follows list", []string{"b.jpg", "a.jpg"}, []string{"b.jpg", "a.jpg"}, nil, nil, ""},
		{"unknown and skipped", []string{"a.jpg", "new.jpg", "gone.jpg"}, []string{"a.jpg"}, []string{"new.jpg", "gone.jpg"},
			[]string{"has no captions in tok.txt", "image file not found in imgs"}, ""},
		{"duplicate", []string{"a.jpg", "b.jpg", "a.jpg"}, nil, nil, nil, "split.txt: entry 3: a.jpg is listed again (first at entry 1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := set.Select(c.files, "split.txt")
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var files, reasons []string
			for _, im := range got.Images {
				files = append(files, im.File)
			}
			for _, s := range got.Report.Skipped {
				reasons = append(reasons, s.Reason)
			}
			if !reflect.DeepEqual(files, c.want) || !reflect.DeepEqual(got.Report.SkippedNames(), nonNil(c.skipped)) || !reflect.DeepEqual(reasons, c.reasons) {
				t.Errorf("got files %q skipped %q reasons %q; want %q %q %q", files, got.Report.SkippedNames(), reasons, c.want, c.skipped, c.reasons)
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestReadImageList(t *testing.T) {
	cases := []struct {
		name, content string
		want          []string
		wantErr       string
	}{
		{"plain", "a.jpg\nb.jpg\n", []string{"a.jpg", "b.jpg"}, ""},
		{"crlf blank bom", "\ufeffa.jpg\r\n\r\n  b.jpg  \r\n", []string{"a.jpg", "b.jpg"}, ""},
		{"caption file", "a.jpg\na.jpg#0\tA dog\n", nil, ":2: "},
		{"line too long", "a.jpg\n" + strings.Repeat("x", MaxLineBytes+1) + "\nb.jpg\n", nil, ":2: longer than the 64 KiB line limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "list.txt")
			if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadImageList(p)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), p+c.wantErr) {
					t.Fatalf("err = %v, want %q", err, p+c.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestReadCOCOCaptions(t *testing.T) {
	set, err := ReadCOCOCaptions(filepath.Join(captionTestdata, "coco_captions.json"), captionImages())
	if err != nil {
		t.Fatal(err)
	}
	want := []CaptionedImage{
		{"b.png", []string{"Children playing"}},
		{"a.jpg", []string{"A dog on grass.", "A brown dog"}},
	}
	if !reflect.DeepEqual(set.Images, want) {
		t.Errorf("images %q, want %q", set.Images, want)
	}
	wantSkipped := []string{"image_id 42", "gone.jpg", "c.gif"}
	if got := set.Report.SkippedNames(); !reflect.DeepEqual(got, wantSkipped) {
		t.Errorf("skipped %q, want %q", got, wantSkipped)
	}
	if r := set.Report; r.Lines != 5 || r.Captions != 3 || r.SkippedCaptions != 2 {
		t.Errorf("report lines %d captions %d skipped captions %d, want 5 3 2", r.Lines, r.Captions, r.SkippedCaptions)
	}
}

func TestReadCOCOCaptionsErrors(t *testing.T) {
	cases := []struct {
		name, content, wantErr string
	}{
		{"syntax", "{\n\"images\": [\n{\"id\": 1,, }\n]}", ":3: coco captions"},
		{"type", "{\"images\": [{\"id\": \"one\", \"file_name\": \"a.jpg\"}]}", ":1: coco captions"},
		{"duplicate id", `{"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.png"}]}`, "images[1]: image id 1 appears twice"},
		{"no file name", `{"images": [{"id": 1}]}`, "images[0] lacks id or file_name"},
		{"no image id", `{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"caption": "x"}]}`, "annotations[0] lacks image_id"},
		{"empty caption", `{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "caption": " "}]}`, "annotations[0]: caption is empty"},
		{"nothing usable", `{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}`, "no captioned image"},
	}
	imgs, _ := filepath.Abs(captionImages())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.json")
			if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadCOCOCaptions(p, imgs)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want it to name %s and contain %q", err, p, c.wantErr)
			}
		})
	}
}

func TestPreprocessCaption(t *testing.T) {
	cases := []struct {
		in     string
		maxLen int
		want   []string
	}{
		{"A child in a pink dress is climbing up a set of stairs in an entry way .", 0,
			[]string{"a", "child", "in", "a", "pink", "dress", "is", "climbing", "up", "a", "set", "of", "stairs", "in", "an", "entry", "way"}},
		{"The dog's ball is RED!", 0, []string{"the", "dogs", "ball", "is", "red"}},
		{"Two children in T-shirts play .", 0, []string{"two", "children", "in", "t", "shirts", "play"}},
		{"  Children ,\tplaying  ", 0, []string{"children", "playing"}},
		{"A man & 2 dogs (on a hill) ; \"jumping\"", 0, []string{"a", "man", "2", "dogs", "on", "a", "hill", "jumping"}},
		{"A dog runs across the grass .", 3, []string{"a", "dog", "runs"}},
		{"A Café’s sign", 0, []string{"a", "cafés", "sign"}},
		{" . , !", 0, []string{}},
	}
	for _, c := range cases {
		got := PreprocessCaption(c.in, c.maxLen)
		if !reflect.DeepEqual(nonNil(got), c.want) {
			t.Errorf("PreprocessCaption(%q, %d) = %q, want %q", c.in, c.maxLen, got, c.want)
		}
	}
}

func TestCaptionVocabAndEncode(t *testing.T) {
	set := &CaptionSet{Images: []CaptionedImage{
		{"a.jpg", []string{"A dog runs.", "A dog sits"}},
		{"b.jpg", []string{"A cat runs !"}},
	}}
	opt := CaptionOptions{MinFreq: 2, MaxLen: 3}
	v := CaptionVocab(set, opt)
	wantTokens := []string{PadToken, BOSToken, EOSToken, UNKToken, "a", "dog", "runs"}
	if !reflect.DeepEqual(v.Tokens(), wantTokens) {
		t.Fatalf("vocab %q, want %q", v.Tokens(), wantTokens)
	}
	ex, err := set.Encode(v, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := []CaptionExample{
		{0, 0, []int{1, 4, 5, 6, 2}},
		{0, 1, []int{1, 4, 5, 3, 2}},
		{1, 0, []int{1, 4, 3, 6, 2}},
	}
	if !reflect.DeepEqual(ex, want) {
		t.Errorf("examples %v, want %v", ex, want)
	}
	bare, _ := NewVocab([]string{"a"})
	if _, err := set.Encode(bare, opt); err == nil {
		t.Error("vocab without specials: no error")
	}
}

// TestFlickr8kDemo checks the subset shipped in data/flickr8k-demo: its
// documented sizes, that every image decodes at 64x64, and that captions
// encode.
func TestFlickr8kDemo(t *testing.T) {
	dir := filepath.Join("..", "data", "flickr8k-demo")
	d, err := LoadFlickr8k(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		set      *CaptionSet
		images   int
		captions int
	}{{"train", d.Train, 300, 1500}, {"dev", d.Dev, 100, 500}, {"all", d.All, 400, 2000}} {
		if len(c.set.Images) != c.images || c.set.NumCaptions() != c.captions || len(c.set.Report.Skipped) != 0 {
			t.Errorf("%s: %d images, %d captions, skipped %v; want %d, %d, none",
				c.name, len(c.set.Images), c.set.NumCaptions(), c.set.Report.SkippedNames(), c.images, c.captions)
		}
	}
	if d.Test != nil {
		t.Error("demo has a test split; the official test split must stay held out")
	}
	train := map[string]bool{}
	for _, im := range d.Train.Images {
		train[im.File] = true
	}
	for _, im := range d.Dev.Images {
		if train[im.File] {
			t.Errorf("%s is in both train and dev", im.File)
		}
	}
	l, err := NewImageLoader(ImageConfig{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	usable, rep, err := l.FilterUsable(d.All)
	if err != nil || len(usable.Images) != 400 || len(rep.Failed) != 0 {
		t.Fatalf("FilterUsable: %d usable, failed %v, err %v", len(usable.Images), rep.Failed, err)
	}
	x, err := l.Load(d.Train.Path(0))
	if err != nil || x.C != 3 || x.H != 64 || x.W != 64 {
		t.Fatalf("Load: %+v, %v", x, err)
	}
	v := CaptionVocab(d.Train, CaptionOptions{MinFreq: 2, MaxLen: 20})
	if v.Len() < 200 || v.Len() > 1500 {
		t.Errorf("train vocab of %d words, want a few hundred", v.Len())
	}
	ex, err := d.Dev.Encode(v, CaptionOptions{MaxLen: 20})
	if err != nil || len(ex) != 500 {
		t.Fatalf("Encode dev: %d examples, %v", len(ex), err)
	}
	unk, _ := v.ID(UNKToken)
	unks, words := 0, 0
	for _, e := range ex {
		for _, id := range e.IDs[1 : len(e.IDs)-1] {
			words++
			if id == unk {
				unks++
			}
		}
	}
	if frac := float64(unks) / float64(words); frac <= 0 || frac > 0.2 {
		t.Errorf("dev <unk> rate %.3f, want in (0, 0.2]", frac)
	}
}
