package datasets

// Moving-digit clips: a frame-labelling task generated from real MNIST digits.
// No small openly available video set with per-frame labels exists (see
// data/mnist/PROVENANCE.md), so the project animates one MNIST digit per clip
// and labels each frame with the direction the digit just moved. Clips are
// written in the plain clip layout that LoadClips reads, so generated clips
// and real clips (frames extracted from any video) go through one loader.
// Results on these clips must be reported as "generated from MNIST".

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Direction is the label of one frame: the direction of the digit's
// displacement from the previous frame.
type Direction int

// The directions, in the fixed label order of DirectionNames.
const (
	Still Direction = iota
	Up
	Down
	Left
	Right
)

// DirectionNames are the label names of the moving-digit task in label-id
// order. Pass them as ClipOptions.LabelOrder to load generated clips with
// these ids.
var DirectionNames = []string{"still", "up", "down", "left", "right"}

// String returns the label name, e.g. "left".
func (d Direction) String() string {
	if d < 0 || int(d) >= len(DirectionNames) {
		return fmt.Sprintf("Direction(%d)", int(d))
	}
	return DirectionNames[d]
}

// Delta returns the unit displacement (dx, dy) of d in image coordinates
// (y grows downwards).
func (d Direction) Delta() (dx, dy int) {
	switch d {
	case Up:
		return 0, -1
	case Down:
		return 0, 1
	case Left:
		return -1, 0
	case Right:
		return 1, 0
	}
	return 0, 0
}

// Reverse returns the opposite direction; Still stays Still.
func (d Direction) Reverse() Direction {
	switch d {
	case Up:
		return Down
	case Down:
		return Up
	case Left:
		return Right
	case Right:
		return Left
	}
	return d
}

// MovingDigitsConfig controls the generator. Zero fields take the defaults
// of DefaultMovingDigitsConfig, so MovingDigitsConfig{Seed: 7} is valid.
type MovingDigitsConfig struct {
	Size       int    // square canvas side in pixels (default 64)
	Frames     int    // frames per clip (default 20)
	MinSegment int    // shortest motion segment in frames (default 3)
	MaxSegment int    // longest motion segment in frames (default 8)
	MinSpeed   int    // slowest speed in pixels per frame (default 2)
	MaxSpeed   int    // fastest speed in pixels per frame (default 4)
	Seed       uint64 // every clip is a pure function of (Seed, clip index, digits)
}

// DefaultMovingDigitsConfig returns 64×64 canvases, 20 frames, segments of
// 3–8 frames and speeds of 2–4 pixels per frame, with seed 1.
func DefaultMovingDigitsConfig() MovingDigitsConfig {
	return MovingDigitsConfig{Size: 64, Frames: 20, MinSegment: 3, MaxSegment: 8, MinSpeed: 2, MaxSpeed: 4, Seed: 1}
}

// withDefaults fills zero fields (except Seed, for which 0 is a valid seed).
func (c MovingDigitsConfig) withDefaults() MovingDigitsConfig {
	d := DefaultMovingDigitsConfig()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.Size, d.Size)
	set(&c.Frames, d.Frames)
	set(&c.MinSegment, d.MinSegment)
	set(&c.MaxSegment, d.MaxSegment)
	set(&c.MinSpeed, d.MinSpeed)
	set(&c.MaxSpeed, d.MaxSpeed)
	return c
}

// validate checks the configuration (after defaults) for a digit of the
// given size. The canvas must leave room for two steps at top speed, so a
// digit blocked in one direction can always move in the other.
func (c MovingDigitsConfig) validate(digitRows, digitCols int) error {
	switch {
	case c.Size < 0 || c.Frames < 0 || c.MinSegment < 0 || c.MaxSegment < 0 || c.MinSpeed < 0 || c.MaxSpeed < 0:
		return fmt.Errorf("moving digits: negative config value in %+v", c)
	case c.MinSegment > c.MaxSegment:
		return fmt.Errorf("moving digits: MinSegment %d > MaxSegment %d", c.MinSegment, c.MaxSegment)
	case c.MinSpeed > c.MaxSpeed:
		return fmt.Errorf("moving digits: MinSpeed %d > MaxSpeed %d", c.MinSpeed, c.MaxSpeed)
	case c.Size-max(digitRows, digitCols) < 2*c.MaxSpeed:
		return fmt.Errorf("moving digits: canvas %d too small for %d×%d digits at speed %d (need %d)", c.Size, digitRows, digitCols, c.MaxSpeed, max(digitRows, digitCols)+2*c.MaxSpeed)
	case c.Frames > 100000:
		return fmt.Errorf("moving digits: %d frames per clip is implausible", c.Frames)
	}
	if c.Frames > 1 && !segmentTileable(c.Frames-1, c.MinSegment, c.MaxSegment)[c.Frames-1] {
		return fmt.Errorf("moving digits: %d moves (frames 1..%d) cannot be split into segments of %d..%d frames", c.Frames-1, c.Frames-1, c.MinSegment, c.MaxSegment)
	}
	return nil
}

// segmentTileable reports, for every r in 0..n, whether r frames can be split
// exactly into segments whose lengths lie in lo..hi.
func segmentTileable(n, lo, hi int) []bool {
	ok := make([]bool, n+1)
	ok[0] = true
	for r := 1; r <= n; r++ {
		for l := lo; l <= hi && l <= r; l++ {
			if l > 0 && ok[r-l] {
				ok[r] = true
				break
			}
		}
	}
	return ok
}

// Segment is one stretch of motion: frames Start..Start+Len-1 (each frame
// labelled with the move that led to it) in direction Dir at Speed pixels per
// frame. Within a segment the digit bounces off the canvas edge, so a frame's
// label is Dir or Dir.Reverse(). A Still segment has Speed 0.
type Segment struct {
	Start, Len int
	Dir        Direction
	Speed      int
}

// MovingClip is one generated clip. Frames[t] is the Size×Size grayscale
// canvas (row-major, 0 = black) and Labels[t] the direction of the move from
// frame t-1 to t (Labels[0] is Still). Pos[t] is the digit's top-left corner.
type MovingClip struct {
	Frames      [][]uint8
	Labels      []Direction
	Pos         []image.Point
	Segments    []Segment
	Size        int
	DigitIndex  int   // index of the digit in the MNIST split
	DigitLabel  uint8 // its class 0..9 (not the frame label)
	Seed, Index uint64
}

// GenerateMovingClip generates clip number index from digits. The clip
// depends only on (cfg.Seed, index) and the digits, not on other clips, so
// clip 5 is the same whether 10 or 10,000 clips are generated.
func GenerateMovingClip(digits *MNIST, index int, cfg MovingDigitsConfig) (*MovingClip, error) {
	if digits == nil || digits.Images == nil || digits.Images.Count == 0 {
		return nil, errors.New("moving digits: no MNIST digits given")
	}
	if index < 0 {
		return nil, fmt.Errorf("moving digits: negative clip index %d", index)
	}
	cfg = cfg.withDefaults()
	dr, dc := digits.Images.Rows, digits.Images.Cols
	if err := cfg.validate(dr, dc); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(index)))
	c := &MovingClip{Size: cfg.Size, Seed: cfg.Seed, Index: uint64(index)}
	c.DigitIndex = rng.IntN(digits.Images.Count)
	if c.DigitIndex < len(digits.Labels) {
		c.DigitLabel = digits.Labels[c.DigitIndex]
	}
	maxX, maxY := cfg.Size-dc, cfg.Size-dr
	pos := image.Pt(rng.IntN(maxX+1), rng.IntN(maxY+1))

	c.Labels = make([]Direction, 0, cfg.Frames)
	c.Pos = make([]image.Point, 0, cfg.Frames)
	if cfg.Frames > 0 {
		c.Labels = append(c.Labels, Still)
		c.Pos = append(c.Pos, pos)
	}
	ok := segmentTileable(max(cfg.Frames-1, 0), cfg.MinSegment, cfg.MaxSegment)
	for t := 1; t < cfg.Frames; {
		remaining := cfg.Frames - t
		var lens []int
		for l := cfg.MinSegment; l <= cfg.MaxSegment && l <= remaining; l++ {
			if l > 0 && ok[remaining-l] {
				lens = append(lens, l)
			}
		}
		seg := Segment{Start: t, Len: lens[rng.IntN(len(lens))], Dir: Direction(rng.IntN(len(DirectionNames)))}
		speed := cfg.MinSpeed + rng.IntN(cfg.MaxSpeed-cfg.MinSpeed+1)
		if seg.Dir != Still {
			seg.Speed = speed
		}
		c.Segments = append(c.Segments, seg)
		dir := seg.Dir
		for k := 0; k < seg.Len; k++ {
			dx, dy := dir.Delta()
			next := pos.Add(image.Pt(dx*seg.Speed, dy*seg.Speed))
			if next.X < 0 || next.X > maxX || next.Y < 0 || next.Y > maxY {
				dir = dir.Reverse() // bounce: the label is the actual move
				dx, dy = dir.Delta()
				next = pos.Add(image.Pt(dx*seg.Speed, dy*seg.Speed))
			}
			pos = next
			c.Labels = append(c.Labels, dir)
			c.Pos = append(c.Pos, pos)
		}
		t += seg.Len
	}

	digit := digits.Images.Image(c.DigitIndex)
	c.Frames = make([][]uint8, len(c.Pos))
	for t, p := range c.Pos {
		f := make([]uint8, cfg.Size*cfg.Size)
		for y := 0; y < dr; y++ {
			copy(f[(p.Y+y)*cfg.Size+p.X:], digit[y*dc:(y+1)*dc])
		}
		c.Frames[t] = f
	}
	return c, nil
}

// GenerateMovingDigits generates clips 0..n-1 (see GenerateMovingClip).
func GenerateMovingDigits(digits *MNIST, n int, cfg MovingDigitsConfig) ([]*MovingClip, error) {
	if n < 0 {
		return nil, fmt.Errorf("moving digits: negative clip count %d", n)
	}
	clips := make([]*MovingClip, 0, n)
	for i := 0; i < n; i++ {
		c, err := GenerateMovingClip(digits, i, cfg)
		if err != nil {
			return nil, err
		}
		clips = append(clips, c)
	}
	return clips, nil
}

// LabelNames returns the frame labels as names, one per frame.
func (c *MovingClip) LabelNames() []string {
	names := make([]string, len(c.Labels))
	for i, l := range c.Labels {
		names[i] = l.String()
	}
	return names
}

// WriteDir writes the clip into dir in the clip layout: 8-bit grayscale PNG
// frames frame_000.png, frame_001.png, … and labels.txt with one label name
// per line. dir is created if needed. The bytes written depend only on the
// clip, so the same seed gives byte-identical files.
func (c *MovingClip) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write clip %s: %w", dir, err)
	}
	width := max(3, len(fmt.Sprint(len(c.Frames)-1)))
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	for t, f := range c.Frames {
		img := &image.Gray{Pix: f, Stride: c.Size, Rect: image.Rect(0, 0, c.Size, c.Size)}
		var buf bytes.Buffer
		if err := enc.Encode(&buf, img); err != nil {
			return fmt.Errorf("write clip %s: frame %d: %w", dir, t, err)
		}
		name := filepath.Join(dir, fmt.Sprintf("frame_%0*d.png", width, t))
		if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write clip %s: %w", dir, err)
		}
	}
	labels := strings.Join(c.LabelNames(), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, ClipLabelsFile), []byte(labels), 0o644); err != nil {
		return fmt.Errorf("write clip %s: %w", dir, err)
	}
	return nil
}

// MovingDigitsClipName is the folder name of clip i in a generated data
// folder: clip_00000, clip_00001, …
func MovingDigitsClipName(i int) string { return fmt.Sprintf("clip_%05d", i) }

// WriteMovingDigits reads MNIST split ("train", "t10k" or "test") from
// mnistDir — data/mnist ships the test set; point it at a folder with the
// train files for training digits — and writes n generated clips into
// outDir/clip_00000, … one at a time (memory stays small for large n), plus
// outDir/GENERATED.md recording the source and configuration. LoadClips
// skips that file.
func WriteMovingDigits(mnistDir, split, outDir string, n int, cfg MovingDigitsConfig) error {
	digits, err := LoadMNIST(mnistDir, split)
	if err != nil {
		return err
	}
	return WriteMovingDigitClips(digits, fmt.Sprintf("the MNIST %q split in %s", split, filepath.Base(mnistDir)), outDir, n, cfg)
}

// WriteMovingDigitClips is WriteMovingDigits for digits already loaded (for
// instance a Slice of a split); source describes them in GENERATED.md.
func WriteMovingDigitClips(digits *MNIST, source, outDir string, n int, cfg MovingDigitsConfig) error {
	if n < 0 {
		return fmt.Errorf("moving digits: negative clip count %d", n)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(digits.Images.Rows, digits.Images.Cols); err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("moving digits: %w", err)
	}
	for i := 0; i < n; i++ {
		c, err := GenerateMovingClip(digits, i, cfg)
		if err != nil {
			return err
		}
		if err := c.WriteDir(filepath.Join(outDir, MovingDigitsClipName(i))); err != nil {
			return err
		}
	}
	note := fmt.Sprintf(`# Moving-digit clips generated from MNIST (not real video)

%d clips generated by datasets.WriteMovingDigits from %d digits of %s.
Config: %d×%d frames, %d frames per clip, segments of %d..%d frames, speeds %d..%d px/frame, seed %d.
Labels, in id order: %s. The label of frame t is the direction of the digit's move from frame t-1 to t.
Report results on these clips as "generated from MNIST", never as real video.
`, n, digits.Len(), source, cfg.Size, cfg.Size, cfg.Frames, cfg.MinSegment, cfg.MaxSegment,
		cfg.MinSpeed, cfg.MaxSpeed, cfg.Seed, strings.Join(DirectionNames, ", "))
	if err := os.WriteFile(filepath.Join(outDir, "GENERATED.md"), []byte(note), 0o644); err != nil {
		return fmt.Errorf("moving digits: %w", err)
	}
	return nil
}
