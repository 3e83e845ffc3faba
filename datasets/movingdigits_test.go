package datasets

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

var (
	shippedOnce  sync.Once
	shippedMNIST *MNIST
	shippedErr   error
)

// shipped returns the MNIST test set shipped in data/mnist, read once.
func tdShipped(t *testing.T) *MNIST {
	t.Helper()
	shippedOnce.Do(func() { shippedMNIST, shippedErr = LoadMNIST(shippedMNISTDir, "test") })
	if shippedErr != nil {
		t.Fatal(shippedErr)
	}
	return shippedMNIST
}

var shippedMNISTDir = filepath.Join("..", "data", "mnist")

// inkBox returns the bounding box of the nonzero pixels of a size×size frame
// and their count.
func inkBox(f []uint8, size int) (image.Rectangle, int) {
	box := image.Rectangle{Min: image.Pt(size, size)}
	n := 0
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			if f[y*size+x] == 0 {
				continue
			}
			n++
			box.Min.X, box.Min.Y = min(box.Min.X, x), min(box.Min.Y, y)
			box.Max.X, box.Max.Y = max(box.Max.X, x+1), max(box.Max.Y, y+1)
		}
	}
	return box, n
}

// TestMovingDigitsProperties checks, on many clips of real digits, that every
// frame label equals the measured displacement of the digit's ink, the digit
// stays whole inside the canvas, and segments and speeds respect the config.
func TestMovingDigitsProperties(t *testing.T) {
	digits := tdShipped(t)
	configs := []struct {
		name string
		cfg  MovingDigitsConfig
	}{
		{"defaults", MovingDigitsConfig{Seed: 1}},
		{"seed 0 long clips", MovingDigitsConfig{Seed: 0, Frames: 60}},
		{"fast small canvas", MovingDigitsConfig{Seed: 9, Size: 40, MinSpeed: 6, MaxSpeed: 6, Frames: 30}},
	}
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg.withDefaults()
			clips, err := GenerateMovingDigits(digits, 150, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			bounces, moves := 0, 0
			for ci, c := range clips {
				if len(c.Frames) != cfg.Frames || len(c.Labels) != cfg.Frames {
					t.Fatalf("clip %d: %d frames, %d labels, want %d", ci, len(c.Frames), len(c.Labels), cfg.Frames)
				}
				if c.Labels[0] != Still {
					t.Fatalf("clip %d: frame 0 label %v, want still", ci, c.Labels[0])
				}
				_, wantInk := inkBox(digits.Images.Image(c.DigitIndex), 28)
				boxes := make([]image.Rectangle, len(c.Frames))
				for f, frame := range c.Frames {
					box, ink := inkBox(frame, cfg.Size)
					if ink != wantInk {
						t.Fatalf("clip %d frame %d: %d ink pixels, digit has %d (clipped by the edge?)", ci, f, ink, wantInk)
					}
					if p := c.Pos[f]; p.X < 0 || p.Y < 0 || p.X+28 > cfg.Size || p.Y+28 > cfg.Size {
						t.Fatalf("clip %d frame %d: digit at %v leaves the %d canvas", ci, f, p, cfg.Size)
					}
					boxes[f] = box
				}
				// Segments tile frames 1..T-1.
				next := 1
				for _, s := range c.Segments {
					if s.Start != next || s.Len < cfg.MinSegment || s.Len > cfg.MaxSegment {
						t.Fatalf("clip %d: segment %+v (expected start %d, length %d..%d)", ci, s, next, cfg.MinSegment, cfg.MaxSegment)
					}
					if (s.Dir == Still) != (s.Speed == 0) || s.Dir != Still && (s.Speed < cfg.MinSpeed || s.Speed > cfg.MaxSpeed) {
						t.Fatalf("clip %d: segment %+v has bad speed (want %d..%d, 0 when still)", ci, s, cfg.MinSpeed, cfg.MaxSpeed)
					}
					for f := s.Start; f < s.Start+s.Len; f++ {
						d := boxes[f].Min.Sub(boxes[f-1].Min)
						dx, dy := c.Labels[f].Delta()
						if d != image.Pt(dx*s.Speed, dy*s.Speed) {
							t.Fatalf("clip %d frame %d: label %v speed %d, but the ink moved by %v", ci, f, c.Labels[f], s.Speed, d)
						}
						if c.Labels[f] != s.Dir && c.Labels[f] != s.Dir.Reverse() {
							t.Fatalf("clip %d frame %d: label %v in a %v segment", ci, f, c.Labels[f], s.Dir)
						}
						if c.Labels[f] != s.Dir {
							bounces++
						}
						if s.Dir != Still {
							moves++
						}
					}
					next += s.Len
				}
				if next != cfg.Frames {
					t.Fatalf("clip %d: segments cover frames 1..%d, want 1..%d", ci, next-1, cfg.Frames-1)
				}
			}
			if bounces == 0 || moves == 0 {
				t.Fatalf("%d bounces and %d moves in 150 clips; the edge case was not exercised", bounces, moves)
			}
		})
	}
}

// TestMovingDigitsDeterministic checks that the same seed writes the same
// bytes, a different seed does not, and clip i does not depend on n.
func TestMovingDigitsDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	cfg := MovingDigitsConfig{Seed: 42, Frames: 8}
	for _, run := range []struct {
		dir  string
		seed uint64
		n    int
	}{{a, 42, 3}, {b, 42, 3}, {c, 43, 3}} {
		cfg.Seed = run.seed
		if err := WriteMovingDigits(shippedMNISTDir, "test", run.dir, run.n, cfg); err != nil {
			t.Fatal(err)
		}
	}
	same, diff := tdReadTree(t, a), tdReadTree(t, b)
	if len(same) != 3*9+1 {
		t.Fatalf("wrote %d files, want 3 clips × (8 frames + labels.txt) + GENERATED.md", len(same))
	}
	if !reflect.DeepEqual(same, diff) {
		t.Fatal("same seed wrote different files")
	}
	other := tdReadTree(t, c)
	if reflect.DeepEqual(same["clip_00000/labels.txt"], other["clip_00000/labels.txt"]) &&
		bytes.Equal(same["clip_00000/frame_000.png"], other["clip_00000/frame_000.png"]) {
		t.Fatal("seeds 42 and 43 wrote the same first clip")
	}
	digits := tdShipped(t)
	one, err := GenerateMovingClip(digits, 2, MovingDigitsConfig{Seed: 42, Frames: 8})
	if err != nil {
		t.Fatal(err)
	}
	many, err := GenerateMovingDigits(digits, 3, MovingDigitsConfig{Seed: 42, Frames: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, many[2]) {
		t.Fatal("clip 2 alone differs from clip 2 of a batch")
	}
}

// tdReadTree maps relative path → contents for every file under dir.
func tdReadTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestMovingDigitsConfigErrors(t *testing.T) {
	digits := tdShipped(t)
	for _, tc := range []struct {
		name    string
		cfg     MovingDigitsConfig
		wantErr string
	}{
		{"canvas too small", MovingDigitsConfig{Size: 30}, "too small"},
		{"segments reversed", MovingDigitsConfig{MinSegment: 8, MaxSegment: 3}, "MinSegment"},
		{"speeds reversed", MovingDigitsConfig{MinSpeed: 4, MaxSpeed: 2}, "MinSpeed"},
		{"negative", MovingDigitsConfig{Frames: -1}, "negative"},
		{"frames not tileable", MovingDigitsConfig{Frames: 3}, "cannot be split"},
		{"fixed segment length", MovingDigitsConfig{Frames: 8, MinSegment: 5, MaxSegment: 5}, "cannot be split"},
	} {
		if _, err := GenerateMovingClip(digits, 0, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	if _, err := GenerateMovingClip(nil, 0, MovingDigitsConfig{}); err == nil {
		t.Error("nil digits: want error")
	}
	if _, err := GenerateMovingClip(digits, -1, MovingDigitsConfig{}); err == nil {
		t.Error("negative index: want error")
	}
	if err := WriteMovingDigits(t.TempDir(), "test", t.TempDir(), 1, MovingDigitsConfig{}); err == nil || !strings.Contains(err.Error(), "t10k-images") {
		t.Errorf("missing MNIST folder: error %v should name the file", err)
	}
	// A single frame is one still frame; 1+3 frames is one segment.
	for _, frames := range []int{1, 4} {
		c, err := GenerateMovingClip(digits, 0, MovingDigitsConfig{Frames: frames})
		if err != nil || len(c.Frames) != frames {
			t.Errorf("Frames=%d: %v", frames, err)
		}
	}
}

func TestDirection(t *testing.T) {
	for _, tc := range []struct {
		d      Direction
		name   string
		dx, dy int
		rev    Direction
	}{
		{Still, "still", 0, 0, Still},
		{Up, "up", 0, -1, Down},
		{Down, "down", 0, 1, Up},
		{Left, "left", -1, 0, Right},
		{Right, "right", 1, 0, Left},
	} {
		dx, dy := tc.d.Delta()
		if tc.d.String() != tc.name || dx != tc.dx || dy != tc.dy || tc.d.Reverse() != tc.rev || DirectionNames[tc.d] != tc.name {
			t.Errorf("%d: got %s (%d,%d) reverse %v", tc.d, tc.d, dx, dy, tc.d.Reverse())
		}
	}
	if s := Direction(9).String(); s != "Direction(9)" {
		t.Errorf("out of range String = %q", s)
	}
}

// TestGeneratedClipsLoadBack checks that generated clips go through the same
// loader as real clips and come back with identical labels and pixels.
func TestGeneratedClipsLoadBack(t *testing.T) {
	dir := t.TempDir()
	cfg := MovingDigitsConfig{Seed: 5, Frames: 12}
	const n = 4
	if err := WriteMovingDigits(shippedMNISTDir, "test", dir, n, cfg); err != nil {
		t.Fatal(err)
	}
	want, err := GenerateMovingDigits(tdShipped(t), n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	set, err := LoadClips(dir, ClipOptions{LabelOrder: DirectionNames})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Clips) != n || !reflect.DeepEqual(set.Labels, DirectionNames) || set.Channels != 1 || set.Height != 64 || set.Width != 64 {
		t.Fatalf("loaded %d clips, labels %q, %d×%d×%d", len(set.Clips), set.Labels, set.Channels, set.Height, set.Width)
	}
	for i, c := range set.Clips {
		if c.Name != MovingDigitsClipName(i) {
			t.Fatalf("clip %d named %q", i, c.Name)
		}
		for f, l := range c.Labels {
			if Direction(l) != want[i].Labels[f] {
				t.Fatalf("clip %d frame %d: loaded label %v, generated %v", i, f, Direction(l), want[i].Labels[f])
			}
			for p, v := range c.Frames[f] {
				if v != float32(want[i].Frames[f][p])/255 {
					t.Fatalf("clip %d frame %d pixel %d: loaded %v, generated %d", i, f, p, v, want[i].Frames[f][p])
				}
			}
		}
	}
	// Without a given order the label set is sorted from the data.
	sorted, err := LoadClips(dir, ClipOptions{Height: 32, Width: 32})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range sorted.Clips {
		for f, l := range c.Labels {
			if sorted.Labels[l] != want[i].Labels[f].String() {
				t.Fatalf("clip %d frame %d: %q, want %v", i, f, sorted.Labels[l], want[i].Labels[f])
			}
		}
		if len(c.Frames[0]) != 32*32 {
			t.Fatalf("resized frame has %d values", len(c.Frames[0]))
		}
	}
}
