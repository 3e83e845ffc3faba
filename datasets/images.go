package datasets

// Image input for captioning: decode (JPEG, PNG, GIF, through imaging),
// resize the shorter side, centre-crop, and convert to a float32 CHW tensor
// normalised per channel. Training augmentation (a random-resized crop, colour
// jitter, random crop after padding or from a larger resize, random horizontal
// flip) is drawn from a caller-given
// math/rand/v2 source so that a seed reproduces an epoch exactly. Each file
// is decoded once: the resized image and its evaluation tensor are cached in
// memory, and can be saved to and restored from a disk cache file.

import (
	"encoding/gob"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/disintegration/imaging"
)

// MaxImagePixels bounds width*height of an image file; larger ones are
// reported as unusable rather than decoded (a guard against decompression
// bombs). 50 megapixels is far above any captioning photo.
const MaxImagePixels = 50_000_000

// ImageTensor is an image as float32 values in CHW order: Data[c*H*W+y*W+x].
type ImageTensor struct {
	C, H, W int
	Data    []float32
}

// At returns the value of channel c at row y, column x.
func (t *ImageTensor) At(c, y, x int) float32 { return t.Data[(c*t.H+y)*t.W+x] }

// Mirror returns a copy of t flipped left to right.
func (t *ImageTensor) Mirror() *ImageTensor {
	out := &ImageTensor{C: t.C, H: t.H, W: t.W, Data: make([]float32, len(t.Data))}
	for r := 0; r < t.C*t.H; r++ {
		src, dst := t.Data[r*t.W:(r+1)*t.W], out.Data[r*t.W:(r+1)*t.W]
		for x, v := range src {
			dst[t.W-1-x] = v
		}
	}
	return out
}

// ImageConfig controls ImageLoader. Zero fields take the defaults noted.
type ImageConfig struct {
	Size   int  // output height and width; default 64
	Resize int  // the shorter side is resized to this, then centre-cropped square; default Size; must be >= Size
	Pad    int  // training only: pixels of black padding on each side before the random crop; default 0
	Flip   bool // training only: flip horizontally with probability 1/2
	// MinScale, training only: when in (0, 1), a random box covering between
	// MinScale and all of the image's area (aspect ratio 3:4 to 4:3) is cut
	// out and resized back to Resize x Resize before the other steps, as in
	// Inception's and torchvision's RandomResizedCrop; 0 or 1 is off.
	MinScale float64
	// Jitter, training only: brightness, contrast and saturation are each
	// changed by a random percentage in [-100·Jitter, 100·Jitter]; 0 is off.
	Jitter float64
	Mean   [3]float32 // per-channel mean of [0,1] pixel values; all-zero means 0.5
	Std    [3]float32 // per-channel standard deviation; all-zero means 0.5
}

// DefaultImageConfig is a 64x64 pipeline with mean = std = 0.5 (values in
// [-1, 1]) and training augmentation of a 4-pixel pad, random crop and flip.
func DefaultImageConfig() ImageConfig {
	return ImageConfig{Size: 64, Pad: 4, Flip: true}
}

func (c ImageConfig) withDefaults() (ImageConfig, error) {
	if c.Size == 0 {
		c.Size = 64
	}
	if c.Resize == 0 {
		c.Resize = c.Size
	}
	if c.Mean == [3]float32{} {
		c.Mean = [3]float32{0.5, 0.5, 0.5}
	}
	if c.Std == [3]float32{} {
		c.Std = [3]float32{0.5, 0.5, 0.5}
	}
	switch {
	case c.Size < 1 || c.Size > 4096:
		return c, fmt.Errorf("image config: size %d is outside 1..4096", c.Size)
	case c.Resize < c.Size || c.Resize > 4096:
		return c, fmt.Errorf("image config: resize %d must be between size %d and 4096", c.Resize, c.Size)
	case c.Pad < 0 || c.Pad > c.Size:
		return c, fmt.Errorf("image config: pad %d is outside 0..size (%d)", c.Pad, c.Size)
	case !(c.MinScale >= 0 && c.MinScale <= 1):
		return c, fmt.Errorf("image config: min scale %v is outside 0..1", c.MinScale)
	case !(c.Jitter >= 0 && c.Jitter < 1):
		return c, fmt.Errorf("image config: jitter %v is outside [0, 1)", c.Jitter)
	}
	for i, s := range c.Std {
		if !(s > 0) {
			return c, fmt.Errorf("image config: std[%d] = %v must be positive", i, s)
		}
	}
	return c, nil
}

// cachedImage is one decoded file: the resized square image augmentation
// crops from, and the centre-cropped evaluation tensor.
type cachedImage struct {
	once sync.Once
	base *image.NRGBA // Resize x Resize
	eval *ImageTensor
	err  error
}

// ImageLoader decodes, preprocesses and caches images. It is safe for
// concurrent use; each path is decoded at most once (until a failed decode,
// which is remembered too, so that a bad file costs one attempt).
type ImageLoader struct {
	cfg     ImageConfig
	mu      sync.Mutex
	cache   map[string]*cachedImage
	decodes atomic.Int64
}

// NewImageLoader checks cfg, fills its defaults and returns an empty loader.
func NewImageLoader(cfg ImageConfig) (*ImageLoader, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &ImageLoader{cfg: c, cache: map[string]*cachedImage{}}, nil
}

// Config returns the configuration in use, defaults filled in.
func (l *ImageLoader) Config() ImageConfig { return l.cfg }

// Decodes is the number of files decoded so far (cache misses).
func (l *ImageLoader) Decodes() int { return int(l.decodes.Load()) }

// Cached is the number of paths in the cache, failed ones included.
func (l *ImageLoader) Cached() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cache)
}

func (l *ImageLoader) entry(path string) *cachedImage {
	l.mu.Lock()
	e, ok := l.cache[path]
	if !ok {
		e = &cachedImage{}
		l.cache[path] = e
	}
	l.mu.Unlock()
	e.once.Do(func() {
		l.decodes.Add(1)
		e.base, e.err = l.decode(path)
		if e.err == nil {
			off := (l.cfg.Resize - l.cfg.Size) / 2
			e.eval = l.tensor(e.base, off, off, false)
		}
	})
	return e
}

// decode opens path and returns it resized (shorter side to Resize, keeping
// the aspect ratio) and centre-cropped to a Resize x Resize square. The size
// is checked from the file's header before decoding (decodeImageFile), and
// an aspect ratio so extreme that the resized image would exceed
// MaxImagePixels is refused.
func (l *ImageLoader) decode(path string) (*image.NRGBA, error) {
	img, err := decodeImageFile(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	out, err := l.square(img)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	return out, nil
}

// Tensor returns the evaluation tensor of a decoded image (DecodeImage),
// without caching it: what Load gives for a file holding the image.
func (l *ImageLoader) Tensor(img image.Image) (*ImageTensor, error) {
	sq, err := l.square(img)
	if err != nil {
		return nil, err
	}
	off := (l.cfg.Resize - l.cfg.Size) / 2
	return l.tensor(sq, off, off, false), nil
}

// square resizes img's shorter side to Resize, keeping the aspect ratio,
// and crops the centre Resize x Resize square.
func (l *ImageLoader) square(img image.Image) (*image.NRGBA, error) {
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("empty (%dx%d)", b.Dx(), b.Dy())
	}
	r := l.cfg.Resize
	if long, short := int64(max(b.Dx(), b.Dy())), int64(min(b.Dx(), b.Dy())); int64(r)*int64(r)*long/short > MaxImagePixels {
		return nil, fmt.Errorf("%dx%d resized to a shorter side of %d would be larger than %d pixels", b.Dx(), b.Dy(), r, MaxImagePixels)
	}
	w, h := r, r
	if b.Dx() > b.Dy() {
		w = 0 // imaging keeps the aspect ratio for a 0 dimension
	} else if b.Dy() > b.Dx() {
		h = 0
	}
	var out *image.NRGBA
	if b.Dx() == r && b.Dy() == r {
		out = imaging.Clone(img)
	} else {
		out = imaging.Resize(img, w, h, imaging.Lanczos)
	}
	if out.Bounds().Dx() != r || out.Bounds().Dy() != r {
		out = imaging.CropCenter(out, r, r)
	}
	return out, nil
}

// tensor converts the Size x Size window of img at (x0, y0), optionally
// mirrored, into a normalised CHW tensor. img must be an *image.NRGBA whose
// bounds start at (0, 0).
func (l *ImageLoader) tensor(img *image.NRGBA, x0, y0 int, flip bool) *ImageTensor {
	s := l.cfg.Size
	win := imaging.Crop(img, image.Rect(x0, y0, x0+s, y0+s))
	if flip {
		win = imaging.FlipH(win)
	}
	t := &ImageTensor{C: 3, H: s, W: s, Data: make([]float32, 3*s*s)}
	var scale, shift [3]float32
	for c := range 3 {
		scale[c] = 1 / (255 * l.cfg.Std[c])
		shift[c] = l.cfg.Mean[c] / l.cfg.Std[c]
	}
	plane := s * s
	for y := range s {
		row := win.Pix[y*win.Stride:]
		for x := range s {
			p := row[4*x:]
			for c := range 3 {
				t.Data[c*plane+y*s+x] = float32(p[c])*scale[c] - shift[c]
			}
		}
	}
	return t
}

// Pixel is an element type a model reads images in.
type Pixel interface{ ~float32 | ~float64 }

// CopyPixels writes t into dst as a model with channels input channels
// reads it: the three colour planes for 3, their average for 1 (gray).
func CopyPixels[P Pixel](dst []P, t *ImageTensor, channels int) {
	if channels == 3 {
		for i, v := range t.Data {
			dst[i] = P(v)
		}
		return
	}
	plane := t.H * t.W
	for i := range plane {
		dst[i] = P((t.Data[i] + t.Data[plane+i] + t.Data[2*plane+i]) / 3)
	}
}

// Load returns the evaluation tensor of path: shorter side resized to
// Resize, centre crop of Size. It is cached: later calls return the same
// tensor without decoding, so callers must not modify it.
func (l *ImageLoader) Load(path string) (*ImageTensor, error) {
	e := l.entry(path)
	if e.err != nil {
		return nil, e.err
	}
	return e.eval, nil
}

// LoadTrain returns a freshly augmented training tensor of path: the cached
// Resize x Resize image, with MinScale a random-resized crop of it, with
// Jitter its colours changed, padded with Pad black pixels on each side, a
// random Size x Size crop, and a horizontal flip with probability 1/2 when
// Flip is set. All randomness comes from rng, so the same seed gives the same
// tensor; options that are off draw nothing. With no option on and Resize ==
// Size it equals Load's tensor (a copy).
func (l *ImageLoader) LoadTrain(path string, rng *rand.Rand) (*ImageTensor, error) {
	if rng == nil {
		return nil, errors.New("LoadTrain: nil random source")
	}
	e := l.entry(path)
	if e.err != nil {
		return nil, e.err
	}
	src := e.base
	if s := l.cfg.MinScale; s > 0 && s < 1 {
		src = randomResizedCrop(src, s, rng)
	}
	if j := l.cfg.Jitter; j > 0 {
		src = jitterColours(src, j, rng)
	}
	if p := l.cfg.Pad; p > 0 {
		r := l.cfg.Resize
		canvas := imaging.New(r+2*p, r+2*p, color.NRGBA{A: 255})
		src = imaging.Paste(canvas, src, image.Pt(p, p))
	}
	span := src.Bounds().Dx() - l.cfg.Size + 1
	x0, y0 := rng.IntN(span), rng.IntN(span)
	flip := l.cfg.Flip && rng.IntN(2) == 1
	return l.tensor(src, x0, y0, flip), nil
}

// randomResizedCrop cuts a random box out of the square img, covering a
// fraction of its area drawn uniformly from [minScale, 1] with an aspect
// ratio drawn log-uniformly from [3/4, 4/3] (each side clamped to the
// image), and resizes the box back to img's size.
func randomResizedCrop(img *image.NRGBA, minScale float64, rng *rand.Rand) *image.NRGBA {
	r := img.Bounds().Dx()
	area := minScale + (1-minScale)*rng.Float64()
	aspect := math.Exp(math.Log(3.0/4) + rng.Float64()*math.Log(16.0/9))
	w := min(r, max(1, int(math.Round(float64(r)*math.Sqrt(area*aspect)))))
	h := min(r, max(1, int(math.Round(float64(r)*math.Sqrt(area/aspect)))))
	x0, y0 := rng.IntN(r-w+1), rng.IntN(r-h+1)
	box := imaging.Crop(img, image.Rect(x0, y0, x0+w, y0+h))
	return imaging.Resize(box, r, r, imaging.Linear)
}

// jitterColours changes img's brightness, contrast and saturation, in that
// order, each by a percentage drawn uniformly from [-100·strength,
// 100·strength].
func jitterColours(img *image.NRGBA, strength float64, rng *rand.Rand) *image.NRGBA {
	pct := func() float64 { return 100 * strength * (2*rng.Float64() - 1) }
	img = imaging.AdjustBrightness(img, pct())
	img = imaging.AdjustContrast(img, pct())
	return imaging.AdjustSaturation(img, pct())
}

// ImageIssue names an image that could not be used and why.
type ImageIssue struct {
	File   string
	Reason string
}

// ImageReport says how many images a Preload or FilterUsable used and which
// it skipped.
type ImageReport struct {
	Requested int
	Loaded    int
	Failed    []ImageIssue
}

// Preload decodes every path into the cache, in parallel, and returns the
// indices of the paths that decoded, in order, with a report naming each
// missing or corrupt file and the reason. Zero usable images is an error.
func (l *ImageLoader) Preload(paths []string) ([]int, ImageReport, error) {
	errs := make([]error, len(paths))
	workers := min(runtime.GOMAXPROCS(0), len(paths))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(paths) {
					return
				}
				errs[i] = l.entry(paths[i]).err
			}
		}()
	}
	wg.Wait()
	rep := ImageReport{Requested: len(paths)}
	var ok []int
	for i, err := range errs {
		if err != nil {
			rep.Failed = append(rep.Failed, ImageIssue{File: paths[i], Reason: decodeReason(err, paths[i])})
			continue
		}
		ok = append(ok, i)
	}
	rep.Loaded = len(ok)
	if len(ok) == 0 {
		first := ""
		if len(rep.Failed) > 0 {
			first = fmt.Sprintf(" (first: %s: %s)", rep.Failed[0].File, rep.Failed[0].Reason)
		}
		return nil, rep, fmt.Errorf("no usable image among %d%s", len(paths), first)
	}
	return ok, rep, nil
}

// decodeReason strips the "image <path>: " prefix decode adds, for reports that
// already name the file.
func decodeReason(err error, path string) string {
	s := err.Error()
	p := "image " + path + ": "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// FilterUsable decodes the images of set and returns a copy holding only
// those that decoded, with the report of those that did not. Zero usable
// images is an error.
func (l *ImageLoader) FilterUsable(set *CaptionSet) (*CaptionSet, ImageReport, error) {
	ok, rep, err := l.Preload(set.Paths())
	if err != nil {
		return nil, rep, fmt.Errorf("%s: %w", set.Report.Source, err)
	}
	out := &CaptionSet{ImageDir: set.ImageDir, Report: set.Report}
	out.Report.Skipped = append([]CaptionIssue(nil), set.Report.Skipped...)
	out.Images = make([]CaptionedImage, 0, len(ok))
	for _, i := range ok {
		out.Images = append(out.Images, set.Images[i])
	}
	for _, f := range rep.Failed {
		out.Report.Skipped = append(out.Report.Skipped, CaptionIssue{Item: f.File, Reason: f.Reason})
	}
	out.Report.Captions = out.NumCaptions()
	out.Report.SkippedCaptions += set.NumCaptions() - out.Report.Captions
	return out, rep, nil
}

// imageDiskCache is the gob form of a cache file.
type imageDiskCache struct {
	Size, Resize int
	Mean, Std    [3]float32
	Paths        []string
	Pix          [][]byte // Resize*Resize*4 NRGBA bytes per path
}

// SaveCache writes the successfully decoded images to a cache file so that a
// later run can skip decoding. The file records the configuration it was
// made with; LoadCache refuses one made with another.
func (l *ImageLoader) SaveCache(path string) error {
	dc := imageDiskCache{Size: l.cfg.Size, Resize: l.cfg.Resize, Mean: l.cfg.Mean, Std: l.cfg.Std}
	l.mu.Lock()
	for p, e := range l.cache {
		if e.base != nil {
			dc.Paths = append(dc.Paths, p)
			dc.Pix = append(dc.Pix, e.base.Pix)
		}
	}
	l.mu.Unlock()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("image cache: %w", err)
	}
	if err := gob.NewEncoder(f).Encode(&dc); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("image cache %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("image cache %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("image cache: %w", err)
	}
	return nil
}

// LoadCache fills the in-memory cache from a file written by SaveCache with
// the same Size, Resize, Mean and Std, and returns how many images it added.
// Paths already cached are kept as they are.
func (l *ImageLoader) LoadCache(path string) (int, error) {
	f, err := OpenFile(path)
	if err != nil {
		return 0, fmt.Errorf("image cache: %w", err)
	}
	defer f.Close()
	var dc imageDiskCache
	if err := gob.NewDecoder(f).Decode(&dc); err != nil {
		return 0, fmt.Errorf("image cache %s: %w", path, err)
	}
	c := l.cfg
	if dc.Size != c.Size || dc.Resize != c.Resize || dc.Mean != c.Mean || dc.Std != c.Std {
		return 0, fmt.Errorf("image cache %s: made for size %d resize %d mean %v std %v, loader has size %d resize %d mean %v std %v",
			path, dc.Size, dc.Resize, dc.Mean, dc.Std, c.Size, c.Resize, c.Mean, c.Std)
	}
	if len(dc.Pix) != len(dc.Paths) {
		return 0, fmt.Errorf("image cache %s: %d paths but %d images", path, len(dc.Paths), len(dc.Pix))
	}
	r := c.Resize
	n := 0
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, p := range dc.Paths {
		if len(dc.Pix[i]) != 4*r*r {
			return n, fmt.Errorf("image cache %s: entry %d (%s) has %d bytes, want %d", path, i, p, len(dc.Pix[i]), 4*r*r)
		}
		if _, ok := l.cache[p]; ok {
			continue
		}
		base := &image.NRGBA{Pix: dc.Pix[i], Stride: 4 * r, Rect: image.Rect(0, 0, r, r)}
		off := (r - c.Size) / 2
		e := &cachedImage{base: base, eval: l.tensor(base, off, off, false)}
		e.once.Do(func() {}) // already loaded: never decode
		l.cache[p] = e
		n++
	}
	return n, nil
}
