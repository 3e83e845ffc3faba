package datasets

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCheckImageSize(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		want string // "" = accepted
	}{
		{64, 64, ""},
		{MaxImageSide, 1000, ""},
		{7071, 7071, ""},                         // 49.998 megapixels
		{7072, 7071, "larger than 50000000"},     // 50.006 megapixels
		{100000, 100000, "larger than 50000000"}, // pixels are checked first
		{MaxImageSide + 1, 1, "side longer than 32768"},
		{1, 40000, "side longer than 32768"},
		{0, 5, "empty image"},
		{5, -1, "empty image"},
	} {
		err := checkImageSize(tc.w, tc.h)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkImageSize(%d, %d) = %v, want %q", tc.w, tc.h, err, tc.want)
		}
	}
}

// forgedPNG returns a 2×2 PNG whose IHDR claims w×h pixels (with a valid
// checksum, so only the size is wrong).
func forgedPNG(t *testing.T, w, h uint32) []byte {
	t.Helper()
	b := tdPNG(t, tdSolid(2, 2, tdGray(9)))
	binary.BigEndian.PutUint32(b[16:20], w)
	binary.BigEndian.PutUint32(b[20:24], h)
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// encodeGIF encodes frames of 1×1 pixels on a w×h screen.
func encodeGIF(t *testing.T, w, h, frames int) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White}
	g := &gif.GIF{Config: image.Config{Width: w, Height: h, ColorModel: pal}}
	for i := range frames {
		g.Image = append(g.Image, image.NewPaletted(image.Rect(0, 0, 1, 1), pal))
		g.Image[i].Pix[0] = uint8(i % 2)
		g.Delay = append(g.Delay, 1)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestImageHeadersCheckedBeforeDecode gives forged headers to every image
// and GIF decoder: each must be refused from its header, naming the file,
// having allocated a few megabytes, not the gigabytes the header claims.
func TestImageHeadersCheckedBeforeDecode(t *testing.T) {
	// A 1×1 screen whose 1×1 frame sits at x = 3.
	frameOverScreen := encodeGIF(t, 1, 1, 1)
	desc := 13 + 6 + bytes.IndexByte(frameOverScreen[13+6:], gifImageDescriptor) // after the 2-colour table
	frameOverScreen[desc+1] = 3
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"PNG 100000x100000", "f0.png", forgedPNG(t, 100000, 100000), "100000x100000 is larger than 50000000 pixels"},
		{"PNG 40000x8", "f0.png", forgedPNG(t, 40000, 8), "side longer than 32768"},
		{"GIF frame file 60000x60000", "f0.gif", encodeGIF(t, 60000, 60000, 1), "larger than 50000000 pixels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			clip := filepath.Join(dir, "clip")
			tdWriteFile(t, filepath.Join(clip, tc.file), tc.data)
			tdWriteFile(t, filepath.Join(clip, ClipLabelsFile), []byte("a\n"))
			loader := newLoader(t, ImageConfig{Size: 4})
			for name, read := range map[string]func() error{
				"LoadClips":        func() error { _, err := LoadClips(dir, ClipOptions{}); return err },
				"LoadClipFrames":   func() error { _, _, err := LoadClipFrames(clip, ClipOptions{}); return err },
				"ImageLoader.Load": func() error { _, err := loader.Load(filepath.Join(clip, tc.file)); return err },
			} {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				err := read()
				runtime.ReadMemStats(&after)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
					t.Errorf("%s: err = %v, want %q naming %s", name, err, tc.want, tc.file)
				}
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
					t.Errorf("%s: allocated %d MiB", name, alloc>>20)
				}
			}
		})
	}

	// Animated GIF clips: checked by scanGIF before gif.DecodeAll.
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"too many frames", encodeGIF(t, 2, 2, MaxClipFrames+1), "more than 10000 frames"},
		{"screen 60000x60000", encodeGIF(t, 60000, 60000, 1), "larger than 50000000 pixels"},
		{"screen 40000x1", encodeGIF(t, 40000, 1, 1), "side longer than 32768"},
		{"frames times screen", encodeGIF(t, 4096, 4096, 17), "more than 16 frames of 4096x4096"},
		{"frame outside the screen", frameOverScreen, "exceeds the 1x1 screen"},
	} {
		t.Run("GIF "+tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "anim.gif")
			tdWriteFile(t, path, tc.data)
			tdWriteFile(t, filepath.Join(dir, "anim.labels.txt"), []byte("a\n"))
			for name, read := range map[string]func() error{
				"LoadClips":      func() error { _, err := LoadClips(dir, ClipOptions{}); return err },
				"LoadClipFrames": func() error { _, _, err := LoadClipFrames(path, ClipOptions{}); return err },
			} {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				err := read()
				runtime.ReadMemStats(&after)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "anim.gif") {
					t.Errorf("%s: err = %v, want %q naming anim.gif", name, err, tc.want)
				}
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
					t.Errorf("%s: allocated %d MiB", name, alloc>>20)
				}
			}
		})
	}
}

// TestScanGIFMatchesDecoder checks scanGIF's frame count against
// gif.DecodeAll's on GIFs using every block kind, and that every truncation
// of them is refused by both (a GIF without its trailer is incomplete).
func TestScanGIFMatchesDecoder(t *testing.T) {
	pal := color.Palette{color.Black, color.White, color.Transparent}
	frame := func(x, y, w, h int, local bool) *image.Paletted {
		p := pal
		if local {
			p = color.Palette{color.White, color.Black}
		}
		m := image.NewPaletted(image.Rect(x, y, x+w, y+h), p)
		for i := range m.Pix {
			m.Pix[i] = uint8(i % 2)
		}
		return m
	}
	anim := &gif.GIF{
		Image:           []*image.Paletted{frame(0, 0, 8, 8, false), frame(2, 2, 3, 3, true), frame(7, 0, 1, 8, false), frame(0, 0, 8, 8, false)},
		Delay:           []int{0, 10, 20, 0},
		Disposal:        []byte{gif.DisposalNone, gif.DisposalBackground, gif.DisposalPrevious, 0},
		LoopCount:       3,
		BackgroundIndex: 2,
		Config:          image.Config{Width: 8, Height: 8, ColorModel: pal},
	}
	var enc bytes.Buffer
	if err := gif.EncodeAll(&enc, anim); err != nil {
		t.Fatal(err)
	}
	// The same GIF with a comment, a plain-text and a foreign application
	// extension before the first frame, as some tools write them.
	withExt := append([]byte(nil), enc.Bytes()...)
	at := 13 + 3*(1<<(1+withExt[10]&7))
	ext := []byte{0x21, 0xFE, 3, 'h', 'i', '!', 0}
	ext = append(ext, 0x21, 0x01, 12, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 2, 'o', 'k', 0)
	ext = append(ext, 0x21, 0xFF, 11, 'X', 'M', 'P', ' ', 'D', 'a', 't', 'a', 'X', 'M', 'P', 1, 'x', 0)
	withExt = append(withExt[:at], append(ext, withExt[at:]...)...)
	for name, data := range map[string][]byte{
		"encoded":         enc.Bytes(),
		"with extensions": withExt,
		"blink.gif":       mustRead(t, filepath.Join("testdata", "clips", "blink.gif")),
	} {
		t.Run(name, func(t *testing.T) {
			g, err := gif.DecodeAll(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			n, err := scanGIF(bufio.NewReader(bytes.NewReader(data)))
			if err != nil || n != len(g.Image) {
				t.Fatalf("scanGIF = %d, %v; DecodeAll has %d frames", n, err, len(g.Image))
			}
			for cut := range len(data) {
				_, decErr := gif.DecodeAll(bytes.NewReader(data[:cut]))
				_, scanErr := scanGIF(bufio.NewReader(bytes.NewReader(data[:cut])))
				if decErr == nil || scanErr == nil {
					t.Fatalf("cut at %d of %d: decoder error %v, scanGIF error %v; want both", cut, len(data), decErr, scanErr)
				}
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScanGIFErrors checks the structural errors scanGIF reports.
func TestScanGIFErrors(t *testing.T) {
	good := encodeGIF(t, 2, 2, 2)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "GIF header: unexpected EOF"},
		{"not a GIF", []byte("PNG89a1234567"), "not a GIF"},
		{"no trailer", good[:len(good)-1], "after frame 2: unexpected EOF"},
		{"no frames", append(append([]byte(nil), good[:13+6]...), 0x3B), "no frames"},
		{"unknown block", append(append([]byte(nil), good[:13+6]...), 0x99), "unknown block type 0x99 after frame 0"},
		{"unknown extension", append(append([]byte(nil), good[:13+6]...), 0x21, 0x42), "unknown extension 0x42"},
		{"bad graphic control", append(append([]byte(nil), good[:13+6]...), 0x21, 0xF9, 5, 0, 0, 0, 0, 0), "malformed graphic control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scanGIF(bufio.NewReader(bytes.NewReader(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if _, decErr := gif.DecodeAll(bytes.NewReader(tc.data)); decErr == nil {
				t.Errorf("gif.DecodeAll accepts what scanGIF refuses")
			}
		})
	}
}

// TestImageExtremeAspect checks that an image whose resize would exceed
// MaxImagePixels is refused rather than resized.
func TestImageExtremeAspect(t *testing.T) {
	dir := t.TempDir()
	strip := writePNG(t, dir, "strip.png", 30000, 1, func(x, y int) color.NRGBA { return color.NRGBA{A: 255} })
	l := newLoader(t, ImageConfig{Size: 64, Resize: 64})
	if _, err := l.Load(strip); err == nil || !strings.Contains(err.Error(), "would be larger than") || !strings.Contains(err.Error(), strip) {
		t.Fatalf("err = %v, want a refusal naming %s", err, strip)
	}
}
