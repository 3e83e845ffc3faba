package datasets

import (
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writePNG writes a w x h PNG whose pixel (x, y) is f(x, y) and returns its path.
func writePNG(t *testing.T, dir, name string, w, h int, f func(x, y int) color.NRGBA) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, f(x, y))
		}
	}
	p := filepath.Join(dir, name)
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(fh, img); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// uniquePixels gives every pixel of a small image a different colour, so
// that a crop or flip can be located exactly.
func uniquePixels(x, y int) color.NRGBA {
	return color.NRGBA{uint8(10 + 20*x), uint8(10 + 20*y), uint8(5 * (x + y)), 255}
}

func newLoader(t *testing.T, cfg ImageConfig) *ImageLoader {
	t.Helper()
	l, err := NewImageLoader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func near(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-5 }

func TestImageConfigValidation(t *testing.T) {
	cases := []struct {
		name    string
		cfg     ImageConfig
		wantErr string
	}{
		{"defaults", ImageConfig{}, ""},
		{"default config", DefaultImageConfig(), ""},
		{"larger resize", ImageConfig{Size: 32, Resize: 36}, ""},
		{"negative size", ImageConfig{Size: -1}, "size -1"},
		{"resize below size", ImageConfig{Size: 32, Resize: 30}, "resize 30"},
		{"negative pad", ImageConfig{Size: 8, Pad: -2}, "pad -2"},
		{"zero std", ImageConfig{Std: [3]float32{0.5, 0, 0.5}}, "std[1]"},
		{"crop scale above 1", ImageConfig{MinScale: 1.2}, "min scale 1.2"},
		{"NaN crop scale", ImageConfig{MinScale: math.NaN()}, "min scale NaN"},
		{"jitter of 1", ImageConfig{Jitter: 1}, "jitter 1"},
		{"negative jitter", ImageConfig{Jitter: -0.1}, "jitter -0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := NewImageLoader(c.cfg)
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				cfg := l.Config()
				if cfg.Size == 0 || cfg.Resize < cfg.Size || cfg.Std == [3]float32{} {
					t.Errorf("defaults not filled: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want %q", err, c.wantErr)
			}
		})
	}
}

func TestImageShapes(t *testing.T) {
	cases := []struct {
		file string
		cfg  ImageConfig
	}{
		{"a.jpg", ImageConfig{Size: 4}},              // 8x6 landscape JPEG
		{"b.png", ImageConfig{Size: 4}},              // 5x7 portrait PNG
		{"c.gif", ImageConfig{Size: 4}},              // 4x4 GIF
		{"a.jpg", ImageConfig{Size: 16, Resize: 20}}, // upscaled
		{"b.png", ImageConfig{Size: 3, Resize: 5, Pad: 1, Flip: true}},
	}
	for _, c := range cases {
		l := newLoader(t, c.cfg)
		p := filepath.Join(captionImages(), c.file)
		x, err := l.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		s := c.cfg.Size
		if x.C != 3 || x.H != s || x.W != s || len(x.Data) != 3*s*s {
			t.Errorf("%s %+v: shape %dx%dx%d (%d values), want 3x%dx%d", c.file, c.cfg, x.C, x.H, x.W, len(x.Data), s, s)
		}
		for i, v := range x.Data {
			if v < -1 || v > 1 || math.IsNaN(float64(v)) {
				t.Fatalf("%s: value %d = %v outside [-1, 1]", c.file, i, v)
			}
		}
		tr, err := l.LoadTrain(p, rand.New(rand.NewPCG(1, 2)))
		if err != nil || tr.C != 3 || tr.H != s || tr.W != s {
			t.Errorf("%s: LoadTrain %+v, %v", c.file, tr, err)
		}
	}
}

func TestImageColoursAndNormalisation(t *testing.T) {
	dir := t.TempDir()
	// 8x4: columns 0-3 pure red, 4-7 black. Shorter side is already 4, so
	// the centre crop keeps columns 2..5 exactly: red, red, black, black.
	halves := writePNG(t, dir, "halves.png", 8, 4, func(x, y int) color.NRGBA {
		if x < 4 {
			return color.NRGBA{255, 0, 0, 255}
		}
		return color.NRGBA{0, 0, 0, 255}
	})
	grey := writePNG(t, dir, "grey.png", 3, 3, func(x, y int) color.NRGBA { return color.NRGBA{51, 102, 204, 255} })

	l := newLoader(t, ImageConfig{Size: 4})
	x, err := l.Load(halves)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 4 {
		for col, want := range [][3]float32{{1, -1, -1}, {1, -1, -1}, {-1, -1, -1}, {-1, -1, -1}} {
			for c := range 3 {
				if got := x.At(c, y, col); !near(got, want[c]) {
					t.Errorf("halves (c%d, y%d, x%d) = %v, want %v", c, y, col, got, want[c])
				}
			}
		}
	}

	mean, std := [3]float32{0.2, 0.4, 0.6}, [3]float32{0.1, 0.2, 0.4}
	l2 := newLoader(t, ImageConfig{Size: 3, Mean: mean, Std: std})
	g, err := l2.Load(grey)
	if err != nil {
		t.Fatal(err)
	}
	pix := [3]float32{51, 102, 204}
	for c := range 3 {
		want := (pix[c]/255 - mean[c]) / std[c]
		for i := range 9 {
			if got := g.Data[c*9+i]; !near(got, want) {
				t.Fatalf("channel %d value %d = %v, want %v", c, i, got, want)
			}
		}
	}
}

func TestImageAugmentationDeterministic(t *testing.T) {
	dir := t.TempDir()
	p := writePNG(t, dir, "u.png", 6, 6, uniquePixels)
	const size, pad = 6, 2
	l := newLoader(t, ImageConfig{Size: size, Pad: pad, Flip: true})
	eval, err := l.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	black := float32(-1) // (0 - 0.5) / 0.5

	// expected replays the loader's draws: x offset, y offset, flip.
	expected := func(seed uint64) *ImageTensor {
		r := rand.New(rand.NewPCG(seed, 7))
		span := size + 2*pad - size + 1
		x0, y0 := r.IntN(span), r.IntN(span)
		flip := r.IntN(2) == 1
		out := &ImageTensor{C: 3, H: size, W: size, Data: make([]float32, 3*size*size)}
		for c := range 3 {
			for y := range size {
				for x := range size {
					sx := x
					if flip {
						sx = size - 1 - x
					}
					px, py := x0+sx-pad, y0+y-pad
					v := black
					if px >= 0 && px < size && py >= 0 && py < size {
						v = eval.At(c, py, px)
					}
					out.Data[(c*size+y)*size+x] = v
				}
			}
		}
		return out
	}

	distinct := map[string]bool{}
	for seed := range uint64(12) {
		a, err := l.LoadTrain(p, rand.New(rand.NewPCG(seed, 7)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := l.LoadTrain(p, rand.New(rand.NewPCG(seed, 7)))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two draws differ", seed)
		}
		want := expected(seed)
		for i := range a.Data {
			if !near(a.Data[i], want.Data[i]) {
				t.Fatalf("seed %d: value %d = %v, want %v (crop/flip not as drawn)", seed, i, a.Data[i], want.Data[i])
			}
		}
		distinct[string(float32Bytes(a.Data))] = true
	}
	if len(distinct) < 4 {
		t.Errorf("12 seeds gave only %d distinct augmentations", len(distinct))
	}
	if l.Decodes() != 1 {
		t.Errorf("%d decodes, want 1", l.Decodes())
	}

	// Without augmentation LoadTrain equals Load, as a separate copy.
	plain := newLoader(t, ImageConfig{Size: size})
	e, _ := plain.Load(p)
	tr, err := plain.LoadTrain(p, rand.New(rand.NewPCG(1, 1)))
	if err != nil || !reflect.DeepEqual(e, tr) || &e.Data[0] == &tr.Data[0] {
		t.Errorf("plain LoadTrain differs from Load or shares its data (err %v)", err)
	}
	if _, err := plain.LoadTrain(p, nil); err == nil {
		t.Error("nil rng: no error")
	}
}

// TestImageRandomResizedCrop: on an image whose red channel is its column and
// green its row, each crop's value ranges show the box it was cut from: its
// area lies in [MinScale, 1] of the image and its aspect ratio in [3/4, 4/3]
// (up to a pixel of resampling), crops vary with the seed and repeat with it,
// and MinScale 1 is off.
func TestImageRandomResizedCrop(t *testing.T) {
	const size = 48
	dir := t.TempDir()
	p := writePNG(t, dir, "ramp.png", size, size, func(x, y int) color.NRGBA {
		return color.NRGBA{uint8(5 * x), uint8(5 * y), 100, 255}
	})
	const minScale = 0.3
	l := newLoader(t, ImageConfig{Size: size, MinScale: minScale})
	spans := map[[2]int]bool{}
	for seed := range uint64(20) {
		a, err := l.LoadTrain(p, rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := l.LoadTrain(p, rand.New(rand.NewPCG(seed, 1)))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two draws differ", seed)
		}
		// Columns (rows) of the box: the range of red (green) over the
		// output, in pixels of the source.
		span := func(c int) float64 {
			lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
			for y := range size {
				for x := range size {
					lo, hi = min(lo, a.At(c, y, x)), max(hi, a.At(c, y, x))
				}
			}
			return float64(hi-lo) * 0.5 * 255 / 5 // tensor = pixel/127.5 - 1
		}
		w, h := span(0)+1, span(1)+1
		area, aspect := w*h/(size*size), w/h
		if area < minScale*0.9 || area > 1.0001 {
			t.Errorf("seed %d: crop of %.1f x %.1f covers %.3f of the image, want [%v, 1]", seed, w, h, area, minScale)
		}
		if aspect < 0.75*0.93 || aspect > 4.0/3/0.93 {
			t.Errorf("seed %d: crop of %.1f x %.1f has aspect ratio %.3f, want [3/4, 4/3]", seed, w, h, aspect)
		}
		spans[[2]int{int(w), int(h)}] = true
	}
	if len(spans) < 10 {
		t.Errorf("20 seeds cut only %d distinct box sizes", len(spans))
	}
	off := newLoader(t, ImageConfig{Size: size, MinScale: 1})
	e, _ := off.Load(p)
	if tr, _ := off.LoadTrain(p, rand.New(rand.NewPCG(1, 1))); !reflect.DeepEqual(e, tr) {
		t.Error("MinScale 1 changed the image")
	}
}

// TestImageJitter: colour jitter changes a colourful image differently for
// each seed and identically for the same seed, keeps a gray image gray
// (brightness, contrast and saturation cannot tint it), and stays within
// its strength: a mid-gray image moves by at most 25% of the range
// brightness and contrast can add at Jitter 0.25.
func TestImageJitter(t *testing.T) {
	const size = 8
	dir := t.TempDir()
	colourful := writePNG(t, dir, "u.png", size, size, uniquePixels)
	gray := writePNG(t, dir, "g.png", size, size, func(x, y int) color.NRGBA {
		return color.NRGBA{128, 128, 128, 255}
	})
	l := newLoader(t, ImageConfig{Size: size, Jitter: 0.25})
	plain, _ := l.Load(colourful)
	distinct := map[string]bool{}
	for seed := range uint64(12) {
		a, err := l.LoadTrain(colourful, rand.New(rand.NewPCG(seed, 2)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := l.LoadTrain(colourful, rand.New(rand.NewPCG(seed, 2)))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two draws differ", seed)
		}
		if reflect.DeepEqual(a.Data, plain.Data) {
			t.Errorf("seed %d: jitter left the image unchanged", seed)
		}
		distinct[string(float32Bytes(a.Data))] = true

		g, _ := l.LoadTrain(gray, rand.New(rand.NewPCG(seed, 2)))
		for i := range size * size {
			r, gr, bl := g.Data[i], g.Data[size*size+i], g.Data[2*size*size+i]
			if r != gr || r != bl {
				t.Fatalf("seed %d: gray pixel %d became (%v, %v, %v)", seed, i, r, gr, bl)
			}
			if math.Abs(float64(r)) > 2*0.25+0.02 { // mid-gray is 0; brightness moves it by ≤ 25% of 255
				t.Fatalf("seed %d: gray pixel %d moved to %v, beyond the jitter's strength", seed, i, r)
			}
		}
	}
	if len(distinct) < 12 {
		t.Errorf("12 seeds gave %d distinct jitters", len(distinct))
	}
}

// TestImageLargerResizeCrop: with Resize > Size, evaluation takes the centre
// and training a random window of the resized image.
func TestImageLargerResizeCrop(t *testing.T) {
	dir := t.TempDir()
	p := writePNG(t, dir, "u.png", 6, 6, uniquePixels)
	l := newLoader(t, ImageConfig{Size: 4, Resize: 6})
	full := newLoader(t, ImageConfig{Size: 6})
	big, _ := full.Load(p)
	e, err := l.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for c := range 3 {
		for y := range 4 {
			for x := range 4 {
				if e.At(c, y, x) != big.At(c, y+1, x+1) {
					t.Fatalf("eval (c%d,y%d,x%d) not the centre crop", c, y, x)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 3))
	tr, _ := l.LoadTrain(p, r)
	r = rand.New(rand.NewPCG(3, 3))
	x0, y0 := r.IntN(3), r.IntN(3)
	for c := range 3 {
		for y := range 4 {
			for x := range 4 {
				if tr.At(c, y, x) != big.At(c, y+y0, x+x0) {
					t.Fatalf("train crop (c%d,y%d,x%d) not the window at (%d,%d)", c, y, x, x0, y0)
				}
			}
		}
	}
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		u := math.Float32bits(f)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}

func TestImageCache(t *testing.T) {
	l := newLoader(t, ImageConfig{Size: 4, Pad: 1, Flip: true})
	a := filepath.Join(captionImages(), "a.jpg")
	bad := filepath.Join(captionImages(), "corrupt.jpg")
	x1, err := l.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	x2, _ := l.Load(a)
	if x1 != x2 {
		t.Error("second Load returned a different tensor")
	}
	for i := range 5 {
		if _, err := l.LoadTrain(a, rand.New(rand.NewPCG(uint64(i), 0))); err != nil {
			t.Fatal(err)
		}
	}
	if l.Decodes() != 1 {
		t.Errorf("after repeated loads of one file: %d decodes, want 1", l.Decodes())
	}
	for range 3 {
		if _, err := l.Load(bad); err == nil {
			t.Fatal("corrupt JPEG decoded without error")
		}
	}
	if l.Decodes() != 2 || l.Cached() != 2 {
		t.Errorf("after a failing file loaded 3 times: %d decodes, %d cached, want 2, 2", l.Decodes(), l.Cached())
	}

	// Concurrent loads of the same files still decode each once.
	c := newLoader(t, ImageConfig{Size: 4})
	var many []string
	for range 40 {
		many = append(many, a, filepath.Join(captionImages(), "b.png"))
	}
	ok, _, err := c.Preload(many)
	if err != nil || len(ok) != 80 || c.Decodes() != 2 {
		t.Errorf("Preload of 2 files x 40: %d ok, %d decodes, err %v; want 80, 2", len(ok), c.Decodes(), err)
	}
}

func TestImageTooLarge(t *testing.T) {
	// A PNG header claiming 100000 x 100000 pixels, with no data behind it.
	dir := t.TempDir()
	p := writePNG(t, dir, "small.png", 2, 2, uniquePixels)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0}) // IHDR width, height
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	big := filepath.Join(dir, "big.png")
	if err := os.WriteFile(big, b, 0o644); err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, ImageConfig{Size: 4})
	if _, err := l.Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v, want a size refusal", err)
	}
}

func TestImageDiskCache(t *testing.T) {
	cfg := ImageConfig{Size: 4, Resize: 5}
	l := newLoader(t, cfg)
	paths := []string{filepath.Join(captionImages(), "a.jpg"), filepath.Join(captionImages(), "b.png"), filepath.Join(captionImages(), "corrupt.jpg")}
	if _, _, err := l.Preload(paths); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "images.cache")
	if err := l.SaveCache(file); err != nil {
		t.Fatal(err)
	}
	l2 := newLoader(t, cfg)
	n, err := l2.LoadCache(file)
	if err != nil || n != 2 {
		t.Fatalf("LoadCache: %d, %v; want 2 images", n, err)
	}
	for _, p := range paths[:2] {
		want, _ := l.Load(p)
		got, err := l2.Load(p)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s from disk cache differs (err %v)", p, err)
		}
		if _, err := l2.LoadTrain(p, rand.New(rand.NewPCG(1, 1))); err != nil {
			t.Error(err)
		}
	}
	if l2.Decodes() != 0 {
		t.Errorf("%d decodes after loading the disk cache, want 0", l2.Decodes())
	}
	other := newLoader(t, ImageConfig{Size: 4})
	if _, err := other.LoadCache(file); err == nil || !strings.Contains(err.Error(), "made for") {
		t.Errorf("config mismatch: err = %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.cache")
	if err := os.WriteFile(junk, []byte("not a gob"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := other.LoadCache(junk); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk cache: err = %v", err)
	}
}

func TestPreloadReport(t *testing.T) {
	dir := captionImages()
	cases := []struct {
		name    string
		files   []string
		ok      []int
		failed  []string
		reasons []string
		wantErr string
	}{
		{"mixed", []string{"a.jpg", "corrupt.jpg", "missing.jpg", "b.png", "c.gif"}, []int{0, 3, 4},
			[]string{"corrupt.jpg", "missing.jpg"}, []string{"unexpected EOF", "no such file"}, ""},
		{"none usable", []string{"corrupt.jpg", "missing.jpg"}, nil,
			[]string{"corrupt.jpg", "missing.jpg"}, []string{"unexpected EOF", "no such file"}, "no usable image among 2 (first: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLoader(t, ImageConfig{Size: 4})
			var paths []string
			for _, f := range c.files {
				paths = append(paths, filepath.Join(dir, f))
			}
			ok, rep, err := l.Preload(paths)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ok, c.ok) || rep.Requested != len(c.files) || rep.Loaded != len(c.ok) || len(rep.Failed) != len(c.failed) {
				t.Fatalf("ok %v report %+v; want ok %v, failed %v", ok, rep, c.ok, c.failed)
			}
			for i, f := range rep.Failed {
				if filepath.Base(f.File) != c.failed[i] || !strings.Contains(f.Reason, c.reasons[i]) {
					t.Errorf("failure %d = %+v, want %s: ...%s...", i, f, c.failed[i], c.reasons[i])
				}
			}
		})
	}
}

func TestFilterUsableFlickr(t *testing.T) {
	d, err := LoadFlickr8k(captionTestdata, "") // finds testdata/captions/images
	if err != nil {
		t.Fatal(err)
	}
	if d.All.ImageDir != captionImages() {
		t.Errorf("image folder %q, want %q", d.All.ImageDir, captionImages())
	}
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, ImageConfig{Size: 4})
	train, rep, err := l.FilterUsable(d.Train)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, im := range train.Images {
		files = append(files, im.File)
	}
	if !reflect.DeepEqual(files, []string{"a.jpg", "b.png"}) {
		t.Errorf("usable train images %q, want [a.jpg b.png]", files)
	}
	if rep.Requested != 3 || rep.Loaded != 2 || len(rep.Failed) != 1 {
		t.Errorf("report %+v, want 3 requested, 2 loaded, 1 failed", rep)
	}
	wantSkipped := []string{"missing.jpg", filepath.Join(captionImages(), "corrupt.jpg")}
	if got := train.Report.SkippedNames(); !reflect.DeepEqual(got, wantSkipped) {
		t.Errorf("skipped %q, want %q", got, wantSkipped)
	}
	if train.Report.Captions != 4 || train.Report.SkippedCaptions != 1 {
		t.Errorf("captions %d skipped %d, want 4 and 1", train.Report.Captions, train.Report.SkippedCaptions)
	}
	if len(d.Train.Images) != 3 {
		t.Error("FilterUsable modified its input")
	}
	_, _, err = l.FilterUsable(&CaptionSet{ImageDir: captionImages(), Images: []CaptionedImage{{"corrupt.jpg", []string{"x"}}}, Report: CaptionReport{Source: "s.txt"}})
	if err == nil || !strings.Contains(err.Error(), "s.txt: no usable image") {
		t.Errorf("all corrupt: err = %v", err)
	}
}

// Mirror matches the loader's own flip: with no padding, LoadTrain's
// flipped draws equal the mirrored evaluation tensor.
func TestImageTensorMirror(t *testing.T) {
	p := writePNG(t, t.TempDir(), "a.png", 8, 8, func(x, y int) color.NRGBA {
		return color.NRGBA{R: uint8(30 * x), G: uint8(20 * y), B: uint8(7 * x * y), A: 255}
	})
	l, err := NewImageLoader(ImageConfig{Size: 8, Resize: 8, Flip: true})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := l.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	m := ev.Mirror()
	if m.At(1, 2, 0) != ev.At(1, 2, 7) || m.At(2, 7, 3) != ev.At(2, 7, 4) {
		t.Fatal("Mirror does not flip left to right")
	}
	flips := 0
	for seed := range uint64(20) {
		tr, err := l.LoadTrain(p, rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(tr.Data, m.Data) {
			flips++
		} else if !slices.Equal(tr.Data, ev.Data) {
			t.Fatalf("seed %d: a training draw that is neither the image nor its mirror", seed)
		}
	}
	if flips == 0 || flips == 20 {
		t.Errorf("%d of 20 draws flipped", flips)
	}
}
