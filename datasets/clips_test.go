package datasets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// solid returns a w×h image filled with c.
func tdSolid(w, h int, c color.Color) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func tdPNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tdGray(v uint8) color.Color { return color.Gray{Y: v} }

// tdGrayClip writes a clip folder whose frame i is a solid gray image of value
// values[i] (of size w×h), with the given labels.txt content (none if "-").
func tdGrayClip(t *testing.T, dir string, names []string, values []uint8, w, h int, labels string) {
	t.Helper()
	for i, n := range names {
		tdWriteFile(t, filepath.Join(dir, n), tdPNG(t, tdSolid(w, h, tdGray(values[i]))))
	}
	if labels != "-" {
		tdWriteFile(t, filepath.Join(dir, ClipLabelsFile), []byte(labels))
	}
}

// paletted returns a w×h paletted frame at offset (x, y) filled with index 1.
func tdPaletted(x, y, w, h int, fill color.Color) *image.Paletted {
	p := image.NewPaletted(image.Rect(x, y, x+w, y+h), color.Palette{color.Black, fill})
	for i := range p.Pix {
		p.Pix[i] = 1
	}
	return p
}

func tdGIF(t *testing.T, frames ...*image.Paletted) []byte {
	t.Helper()
	g := &gif.GIF{Config: image.Config{Width: 4, Height: 4, ColorModel: frames[0].Palette}}
	for _, f := range frames {
		g.Image = append(g.Image, f)
		g.Delay = append(g.Delay, 10)
		g.Disposal = append(g.Disposal, gif.DisposalNone)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadClipsFrameOrderAndFormats(t *testing.T) {
	dir := t.TempDir()
	// Written out of order; natural name order is 1, 2, 10 (and the 8×6
	// frames are resized to the configured 4×4).
	tdGrayClip(t, filepath.Join(dir, "b_clip"), []string{"frame_10.png", "frame_1.png", "frame_2.png"}, []uint8{30, 10, 20}, 8, 6, "run\nwalk\nrun\n")
	// Zero-padded names, mixed formats: PNG, JPEG, a still GIF, plus a
	// non-image file that is ignored.
	c := filepath.Join(dir, "a_clip")
	tdWriteFile(t, filepath.Join(c, "002.png"), tdPNG(t, tdSolid(4, 4, color.NRGBA{255, 0, 0, 255})))
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, tdSolid(16, 16, tdGray(128)), &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	tdWriteFile(t, filepath.Join(c, "000.jpg"), jb.Bytes())
	tdWriteFile(t, filepath.Join(c, "001.gif"), tdGIF(t, tdPaletted(0, 0, 4, 4, color.White)))
	tdWriteFile(t, filepath.Join(c, "notes.md"), []byte("ignored"))
	tdWriteFile(t, filepath.Join(c, ClipLabelsFile), []byte("walk\r\n  stand \nwalk"))
	tdWriteFile(t, filepath.Join(dir, "README.md"), []byte("ignored"))

	set, err := LoadClips(dir, ClipOptions{Height: 4, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"run", "stand", "walk"}; !reflect.DeepEqual(set.Labels, want) {
		t.Fatalf("labels %q, want sorted %q", set.Labels, want)
	}
	if len(set.Clips) != 2 || set.Clips[0].Name != "a_clip" || set.Clips[1].Name != "b_clip" {
		t.Fatalf("clips %+v", set.Clips)
	}
	if set.Report.Clips != 2 || set.Report.Frames != 6 || len(set.Report.Skipped) != 0 {
		t.Fatalf("report %+v", set.Report)
	}
	tests := []struct {
		clip, frame int
		want        float32 // value of every pixel
		tol         float32
	}{
		{0, 0, 128.0 / 255, 2.0 / 255},       // JPEG gray, lossy
		{0, 1, 1, 0},                         // white GIF
		{0, 2, 0.299 * 255 / 255, 0.5 / 255}, // red → luma
		{1, 0, 10.0 / 255, 0},
		{1, 1, 20.0 / 255, 0},
		{1, 2, 30.0 / 255, 0},
	}
	for _, tc := range tests {
		f := set.Clips[tc.clip].Frames[tc.frame]
		if len(f) != 16 {
			t.Fatalf("clip %d frame %d has %d values, want 16", tc.clip, tc.frame, len(f))
		}
		for _, v := range f {
			if d := v - tc.want; d > tc.tol || d < -tc.tol {
				t.Fatalf("clip %d frame %d: value %v, want %v", tc.clip, tc.frame, v, tc.want)
			}
		}
	}
	if want := []int{2, 1, 2}; !reflect.DeepEqual(set.Clips[0].Labels, want) {
		t.Fatalf("a_clip labels %v, want %v", set.Clips[0].Labels, want)
	}
	if want := []int{0, 2, 0}; !reflect.DeepEqual(set.Clips[1].Labels, want) {
		t.Fatalf("b_clip labels %v, want %v", set.Clips[1].Labels, want)
	}

	// RGB: planes R, G, B; a given label order fixes ids.
	rgb, err := LoadClips(dir, ClipOptions{Height: 2, Width: 3, Color: RGB, LabelOrder: []string{"walk", "stand", "run", "jump"}})
	if err != nil {
		t.Fatal(err)
	}
	red := rgb.Clips[0].Frames[2]
	if rgb.Channels != 3 || len(red) != 3*2*3 || red[0] != 1 || red[6] != 0 || red[12] != 0 {
		t.Fatalf("RGB red frame %v (channels %d)", red, rgb.Channels)
	}
	if want := []int{0, 1, 0}; !reflect.DeepEqual(rgb.Clips[0].Labels, want) || len(rgb.Labels) != 4 {
		t.Fatalf("ordered labels %v / %q", rgb.Clips[0].Labels, rgb.Labels)
	}
}

func TestLoadClipsAnimatedGIF(t *testing.T) {
	dir := t.TempDir()
	// Frame 1 paints only the top-left 2×2 white over frame 0's dark gray;
	// the loaded frame must be the composited picture.
	dark := color.Gray{Y: 51}
	tdWriteFile(t, filepath.Join(dir, "wave.gif"), tdGIF(t,
		tdPaletted(0, 0, 4, 4, dark),
		tdPaletted(0, 0, 2, 2, color.White),
		tdPaletted(0, 0, 4, 4, color.White)))
	tdWriteFile(t, filepath.Join(dir, "wave.labels.txt"), []byte("still\nup\nup\n"))
	set, err := LoadClips(dir, ClipOptions{Height: 4, Width: 4, LabelOrder: DirectionNames})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Clips) != 1 || set.Clips[0].Name != "wave" || !reflect.DeepEqual(set.Clips[0].Labels, []int{0, 1, 1}) {
		t.Fatalf("got %+v", set.Clips)
	}
	f := set.Clips[0].Frames
	if f[0][0] != 0.2 || f[1][0] != 1 || f[1][3] != 0.2 || f[1][15] != 0.2 || f[2][15] != 1 {
		t.Fatalf("composited frames wrong: %v", f)
	}
}

// TestLoadClipsErrors builds one good clip and one bad clip per case: by
// default the load fails naming the bad clip (and line); with SkipBad the bad
// clip is skipped and counted.
func TestLoadClipsErrors(t *testing.T) {
	png2 := []string{"f0.png", "f1.png"}
	tests := []struct {
		name     string
		make     func(t *testing.T, dir string) // writes the bad clip "bad"
		opt      ClipOptions
		wantErrs []string
	}{
		{"undecodable frame", func(t *testing.T, dir string) {
			tdGrayClip(t, filepath.Join(dir, "bad"), png2, []uint8{1, 2}, 4, 4, "a\nb\n")
			tdWriteFile(t, filepath.Join(dir, "bad", "f1.png"), []byte("not a png"))
		}, ClipOptions{}, []string{`clip "bad"`, "f1.png", "decode"}},
		{"truncated frame", func(t *testing.T, dir string) {
			tdGrayClip(t, filepath.Join(dir, "bad"), png2, []uint8{1, 2}, 4, 4, "a\nb\n")
			data := tdPNG(t, tdSolid(4, 4, tdGray(9)))
			tdWriteFile(t, filepath.Join(dir, "bad", "f0.png"), data[:len(data)-20])
		}, ClipOptions{}, []string{`clip "bad"`, "f0.png", "decode"}},
		{"missing labels.txt", func(t *testing.T, dir string) {
			tdGrayClip(t, filepath.Join(dir, "bad"), png2, []uint8{1, 2}, 4, 4, "-")
		}, ClipOptions{}, []string{`clip "bad"`, "labels.txt", "missing"}},
		{"empty label line", func(t *testing.T, dir string) {
			tdGrayClip(t, filepath.Join(dir, "bad"), png2, []uint8{1, 2}, 4, 4, "a\n  \nb\n")
		}, ClipOptions{}, []string{`clip "bad"`, "labels.txt line 2", "empty label"}},
		{"empty labels.txt", func(t *testing.T, dir string) {
			tdGrayClip(t, filepath.Join(dir, "bad"), png2, []uint8{1, 2}, 4, 4, "")
		}, ClipOptions{}, []string{`clip "bad"`, "labels.txt", "no labels"}},
		{"more labels than frames", func(t *testing.T, dir string) {
			tdGrayClip(t, filepath.Join(dir, "bad"), png2, []uint8{1, 2}, 4, 4, "a\nb\na\n")
		}, ClipOptions{}, []string{`clip "bad"`, "labels.txt line 3", "3 labels but 2 frames"}},
		{"fewer labels than frames", func(t *testing.T, dir string) {
			tdGrayClip(t, filepath.Join(dir, "bad"), png2, []uint8{1, 2}, 4, 4, "a\n")
		}, ClipOptions{}, []string{`clip "bad"`, "labels.txt line 2", "1 labels but 2 frames"}},
		{"no frames", func(t *testing.T, dir string) {
			tdWriteFile(t, filepath.Join(dir, "bad", ClipLabelsFile), []byte("a\n"))
		}, ClipOptions{}, []string{`clip "bad"`, "no frame images"}},
		{"label outside given order", func(t *testing.T, dir string) {
			tdGrayClip(t, filepath.Join(dir, "bad"), png2, []uint8{1, 2}, 4, 4, "a\nz\n")
		}, ClipOptions{LabelOrder: []string{"a", "b"}}, []string{`clip "bad"`, "labels.txt line 2", `"z" is not in the label set`}},
		{"GIF without labels", func(t *testing.T, dir string) {
			tdWriteFile(t, filepath.Join(dir, "bad.gif"), tdGIF(t, tdPaletted(0, 0, 4, 4, color.White)))
		}, ClipOptions{}, []string{`clip "bad"`, "bad.labels.txt", "missing"}},
		{"GIF label count", func(t *testing.T, dir string) {
			tdWriteFile(t, filepath.Join(dir, "bad.gif"), tdGIF(t, tdPaletted(0, 0, 4, 4, color.White)))
			tdWriteFile(t, filepath.Join(dir, "bad.labels.txt"), []byte("a\nb\n"))
		}, ClipOptions{}, []string{`clip "bad"`, "bad.labels.txt line 2", "2 labels but 1 frames"}},
		{"corrupt GIF", func(t *testing.T, dir string) {
			tdWriteFile(t, filepath.Join(dir, "bad.gif"), []byte("GIF89a garbage"))
			tdWriteFile(t, filepath.Join(dir, "bad.labels.txt"), []byte("a\n"))
		}, ClipOptions{}, []string{`clip "bad"`, "bad.gif", "decode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tdGrayClip(t, filepath.Join(dir, "good"), png2, []uint8{1, 2}, 4, 4, "a\nb\n")
			tc.make(t, dir)
			_, err := LoadClips(dir, tc.opt)
			if err == nil {
				t.Fatal("load succeeded, want error")
			}
			for _, want := range tc.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			var ce *ClipError
			if !errors.As(err, &ce) || ce.Clip != "bad" {
				t.Errorf("error %v is not a *ClipError for clip bad", err)
			}

			opt := tc.opt
			opt.SkipBad = true
			set, err := LoadClips(dir, opt)
			if err != nil {
				t.Fatalf("SkipBad: %v", err)
			}
			if len(set.Clips) != 1 || set.Clips[0].Name != "good" || set.Report.Clips != 1 {
				t.Fatalf("SkipBad loaded %+v", set.Report)
			}
			if len(set.Report.Skipped) != 1 || set.Report.Skipped[0].Name != "bad" || !strings.Contains(set.Report.Skipped[0].Err.Error(), tc.wantErrs[len(tc.wantErrs)-1]) {
				t.Fatalf("SkipBad report %+v", set.Report.Skipped)
			}
		})
	}
}

// TestParseClipLabels checks labels.txt parsing: trailing blank lines are
// an editor's and accepted, a blank line before a label is an error naming
// it, and so are an over-long line and more labels than a clip may have.
func TestParseClipLabels(t *testing.T) {
	many := strings.Repeat("a\n", MaxClipFrames)
	for _, tc := range []struct {
		name     string
		in       string
		want     []string
		wantLine int    // line of the *labelLineError; 0 for none
		wantErr  string // "" = success
	}{
		{"plain", "a\nb\n", []string{"a", "b"}, 0, ""},
		{"no final newline", "a\nb", []string{"a", "b"}, 0, ""},
		{"one trailing blank line", "a\nb\n\n", []string{"a", "b"}, 0, ""},
		{"several trailing blank lines", "a\nb\n\n  \n\t\n", []string{"a", "b"}, 0, ""},
		{"CRLF with trailing blank", "a\r\nb\r\n\r\n", []string{"a", "b"}, 0, ""},
		{"padded, with BOM", "\ufeff  a \n b\n", []string{"a", "b"}, 0, ""},
		{"exactly MaxClipFrames", many, strings.Split(strings.TrimSuffix(many, "\n"), "\n"), 0, ""},
		{"blank line in the middle", "a\n\nb\n", nil, 2, "empty label"},
		{"blank lines in the middle", "a\n \n\nb\n\n", nil, 2, "empty label"},
		{"blank first line", "\na\n", nil, 1, "empty label"},
		{"line too long", "a\n" + strings.Repeat("x", MaxLineBytes+1) + "\n", nil, 2, "longer than the 64 KiB line limit"},
		{"too many labels", many + "a\n", nil, MaxClipFrames + 1, "more than 10000 labels"},
		{"empty", "", nil, 0, "no labels"},
		{"only blank lines", "\n \n", nil, 0, "no labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseClipLabels(strings.NewReader(tc.in))
			if tc.wantErr == "" {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %d labels, err %v; want %d", len(got), err, len(tc.want))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			var le *labelLineError
			line := 0 // no line
			if errors.As(err, &le) {
				line = le.line
			}
			if line != tc.wantLine {
				t.Errorf("error %v at line %d, want line %d", err, line, tc.wantLine)
			}
		})
	}
}

// TestLoadClipsTrailingBlankLabels loads a clip whose labels.txt ends in
// blank lines, as editors leave them.
func TestLoadClipsTrailingBlankLabels(t *testing.T) {
	dir := t.TempDir()
	tdGrayClip(t, filepath.Join(dir, "c"), []string{"f0.png", "f1.png"}, []uint8{1, 2}, 4, 4, "a\nb\n\n\n")
	set, err := LoadClips(dir, ClipOptions{Height: 4, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Clips) != 1 || !reflect.DeepEqual(set.Clips[0].Labels, []int{0, 1}) {
		t.Fatalf("clips %+v", set.Clips)
	}
}

// TestClipFrameLimit gives a clip folder one frame file more than the limit,
// lowered to 20 (empty files: the count is checked before any decoding).
func TestClipFrameLimit(t *testing.T) {
	defer func(n int) { maxClipFrames = n }(maxClipFrames)
	maxClipFrames = 20
	dir := t.TempDir()
	clip := filepath.Join(dir, "long")
	tdWriteFile(t, filepath.Join(clip, ClipLabelsFile), []byte("a\n"))
	for i := range maxClipFrames + 1 {
		tdWriteFile(t, filepath.Join(clip, fmt.Sprintf("f%02d.png", i)), nil)
	}
	want := "more than the 20 frames a clip may have"
	if _, err := LoadClips(dir, ClipOptions{}); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `clip "long"`) {
		t.Errorf("LoadClips: err = %v, want %q naming the clip", err, want)
	}
	if _, _, err := LoadClipFrames(clip, ClipOptions{}); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), clip) {
		t.Errorf("LoadClipFrames: err = %v, want %q naming %s", err, want, clip)
	}
}

func TestLoadClipsNoUsableClips(t *testing.T) {
	empty := t.TempDir()
	tdWriteFile(t, filepath.Join(empty, "README.md"), []byte("no clips here"))
	allBad := t.TempDir()
	tdGrayClip(t, filepath.Join(allBad, "x"), []string{"0.png"}, []uint8{1}, 2, 2, "-")
	tdGrayClip(t, filepath.Join(allBad, "y"), []string{"0.png"}, []uint8{1}, 2, 2, "a\nb\n")
	for _, tc := range []struct {
		name, dir string
		opt       ClipOptions
		wantErr   string
	}{
		{"empty folder", empty, ClipOptions{}, "0 skipped"},
		{"all skipped", allBad, ClipOptions{SkipBad: true}, "2 skipped"},
	} {
		_, err := LoadClips(tc.dir, tc.opt)
		if !errors.Is(err, ErrNoClips) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want ErrNoClips with %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestLoadClipsOptionErrors(t *testing.T) {
	dir := t.TempDir()
	tdGrayClip(t, filepath.Join(dir, "c"), []string{"0.png"}, []uint8{1}, 2, 2, "a\n")
	if err := os.Mkdir(filepath.Join(dir, "c.gif"), 0o755); err != nil { // a folder named like a GIF
		t.Fatal(err)
	}
	tdGrayClip(t, filepath.Join(dir, "c.gif"), []string{"0.png"}, []uint8{1}, 2, 2, "a\n")
	tdWriteFile(t, filepath.Join(dir, "d.gif"), tdGIF(t, tdPaletted(0, 0, 4, 4, color.White)))
	tdWriteFile(t, filepath.Join(dir, "d.labels.txt"), []byte("a\n"))
	tdGrayClip(t, filepath.Join(dir, "d"), []string{"0.png"}, []uint8{1}, 2, 2, "a\n")
	for _, tc := range []struct {
		name    string
		dir     string
		opt     ClipOptions
		wantErr string
	}{
		{"negative size", dir, ClipOptions{Height: -1}, "bad frame size"},
		{"huge size", dir, ClipOptions{Height: 1 << 20, Width: 1 << 20}, "bad frame size"},
		{"color mode", dir, ClipOptions{Color: 7}, "unknown color mode"},
		{"duplicate order", dir, ClipOptions{LabelOrder: []string{"a", "a"}}, "repeats"},
		{"empty order entry", dir, ClipOptions{LabelOrder: []string{"a", ""}}, "empty"},
		{"missing folder", filepath.Join(dir, "nope"), ClipOptions{}, "nope"},
		{"duplicate clip name", dir, ClipOptions{}, `clip "d": another clip`},
	} {
		if _, err := LoadClips(tc.dir, tc.opt); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestNaturalLess(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"frame_10.png", "frame_2.png", "frame_1.png"}, []string{"frame_1.png", "frame_2.png", "frame_10.png"}},
		{[]string{"f002.png", "f010.png", "f001.png"}, []string{"f001.png", "f002.png", "f010.png"}},
		{[]string{"b1", "a10", "a9"}, []string{"a9", "a10", "b1"}},
		{[]string{"x01", "x1", "x"}, []string{"x", "x01", "x1"}},
		{[]string{"img1_b", "img1_a", "img1"}, []string{"img1", "img1_a", "img1_b"}},
	} {
		got := append([]string(nil), tc.in...)
		sort.Slice(got, func(i, j int) bool { return naturalNameLess(got[i], got[j]) })
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("sorted %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExtractFrames(t *testing.T) {
	video := filepath.Join(t.TempDir(), "v.mp4")
	tdWriteFile(t, video, []byte("not really a video"))
	for _, tc := range []struct {
		name    string
		fps     float64
		wantErr string
	}{
		{"zero rate", 0, "frame rate"},
		{"negative rate", -2, "frame rate"},
	} {
		if _, err := ExtractFrames(context.Background(), video, tc.fps, ""); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	t.Run("missing ffmpeg", func(t *testing.T) {
		t.Setenv("PATH", "")
		_, err := ExtractFrames(context.Background(), video, 5, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "ffmpeg") || !strings.Contains(err.Error(), "not found on PATH") || !errors.Is(err, exec.ErrNotFound) {
			t.Fatalf("error %v should name the missing ffmpeg tool", err)
		}
	})
	// A stand-in ffmpeg (a shell script first on PATH) checks the command
	// line handling without a real ffmpeg: it copies one PNG to the output
	// pattern, or fails with a message.
	fake := func(t *testing.T, script string) {
		if runtime.GOOS == "windows" {
			t.Skip("shell-script stand-in needs a POSIX shell")
		}
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh")
		}
		cp, err := exec.LookPath("cp")
		if err != nil {
			t.Skip("no cp")
		}
		script = strings.ReplaceAll(script, "CP", cp)
		bin := t.TempDir()
		tdWriteFile(t, filepath.Join(bin, "frame.png"), tdPNG(t, tdSolid(3, 3, tdGray(200))))
		tdWriteFile(t, filepath.Join(bin, "ffmpeg"), []byte("#!"+sh+"\n"+script))
		if err := os.Chmod(filepath.Join(bin, "ffmpeg"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin)
	}
	t.Run("stand-in ffmpeg succeeds", func(t *testing.T) {
		fake(t, `for a; do last="$a"; done
case "$*" in *"-vf fps=2.5 -frames:v 10001 "*) ;; *) echo "bad args: $*" >&2; exit 3;; esac
exec CP "${0%/*}/frame.png" "${last%/*}/frame_000001.png"
`)
		root := t.TempDir()
		dir, err := ExtractFrames(context.Background(), video, 2.5, root)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(dir) != root || !strings.Contains(filepath.Base(dir), "frames-v-") {
			t.Fatalf("frames folder %s not under %s", dir, root)
		}
		tdWriteFile(t, filepath.Join(dir, ClipLabelsFile), []byte("x\n"))
		set, err := LoadClips(root, ClipOptions{Height: 3, Width: 3})
		if err != nil || len(set.Clips) != 1 || len(set.Clips[0].Frames) != 1 {
			t.Fatalf("extracted folder does not load as a clip: %v", err)
		}
	})
	t.Run("stand-in ffmpeg fails", func(t *testing.T) {
		fake(t, "echo 'Invalid data found when processing input' >&2; exit 1\n")
		root := t.TempDir()
		_, err := ExtractFrames(context.Background(), video, 5, root)
		if err == nil || !strings.Contains(err.Error(), "Invalid data found") || !strings.Contains(err.Error(), "v.mp4") {
			t.Fatalf("error %v should carry ffmpeg's message and the video name", err)
		}
		if left, _ := os.ReadDir(root); len(left) != 0 {
			t.Fatalf("temp folder not removed after failure: %v", left)
		}
	})
	t.Run("ffmpeg rejects non-video", func(t *testing.T) {
		if _, err := exec.LookPath("ffmpeg"); err != nil {
			t.Skip("ffmpeg not on PATH")
		}
		tmp := t.TempDir()
		if _, err := ExtractFrames(context.Background(), video, 5, tmp); err == nil {
			t.Fatal("want error for a file that is not a video")
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("temp folder not removed after failure: %v", left)
		}
	})
}

// TestLoadCommittedClips loads the tiny fixtures in testdata/clips (a PNG
// clip folder and an animated GIF) from disk.
func TestLoadCommittedClips(t *testing.T) {
	set, err := LoadClips(filepath.Join("testdata", "clips"), ClipOptions{Height: 8, Width: 8})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"left", "off", "on", "right", "still"}; !reflect.DeepEqual(set.Labels, want) {
		t.Fatalf("labels %q, want %q", set.Labels, want)
	}
	if len(set.Clips) != 2 || set.Clips[0].Name != "blink" || set.Clips[1].Name != "square_right" {
		t.Fatalf("clips %+v", set.Report)
	}
	names := func(c Clip) []string {
		var s []string
		for _, l := range c.Labels {
			s = append(s, set.Labels[l])
		}
		return s
	}
	if got := names(set.Clips[0]); !reflect.DeepEqual(got, []string{"off", "on", "off"}) {
		t.Fatalf("blink labels %q", got)
	}
	if f := set.Clips[0].Frames; f[0][0] != 0 || f[1][63] != 1 || f[2][27] != 0 {
		t.Fatal("blink frames wrong")
	}
	sq := set.Clips[1]
	if got := names(sq); !reflect.DeepEqual(got, []string{"still", "right", "right", "still", "left"}) {
		t.Fatalf("square labels %q", got)
	}
	// The square's left edge is at x = 0, 2, 4, 4, 2 in rows 3..4.
	for f, x := range []int{0, 2, 4, 4, 2} {
		for px := 0; px < 8; px++ {
			want := float32(0)
			if px == x || px == x+1 {
				want = 1
			}
			if v := sq.Frames[f][3*8+px]; v != want {
				t.Fatalf("square frame %d pixel (%d,3) = %v, want %v", f, px, v, want)
			}
		}
	}
}

func TestLoadClipFrames(t *testing.T) {
	dir := filepath.Join("testdata", "clips")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var checked int
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !(e.IsDir() || strings.HasSuffix(e.Name(), ".gif")) {
			continue
		}
		frames, names, err := LoadClipFrames(p, ClipOptions{Height: 8, Width: 8})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(frames) == 0 || len(frames) != len(names) || len(frames[0]) != 64 {
			t.Errorf("%s: %d frames, %d names, frame size %d", p, len(frames), len(names), len(frames[0]))
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("checked %d clips in %s, want a folder and a GIF", checked, dir)
	}
	if _, _, err := LoadClipFrames(filepath.Join(dir, "README.md"), ClipOptions{}); err == nil {
		t.Error("a text file was accepted as a clip")
	}
}

// TestVideoFileClips: a video file with NAME.labels.txt is a clip, its
// frames extracted by ffmpeg; without ffmpeg the error names the tool and
// the clip (or the clip is skipped and counted with SkipBad).
func TestVideoFileClips(t *testing.T) {
	dir := t.TempDir()
	video := filepath.Join(dir, "walk.mp4")
	labels := strings.Repeat("still\n", 10)
	if err := os.WriteFile(filepath.Join(dir, "walk.labels.txt"), []byte(labels), 0o644); err != nil {
		t.Fatal(err)
	}
	if ffmpeg, err := exec.LookPath("ffmpeg"); err == nil {
		cmd := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=10", "-t", "1", "-pix_fmt", "yuv420p", video)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("making a test video: %v: %s", err, out)
		}
		set, err := LoadClips(dir, ClipOptions{Height: 16, Width: 16, FPS: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Clips) != 1 || len(set.Clips[0].Frames) != 10 || set.Clips[0].Name != "walk" {
			t.Fatalf("video clip: %+v", set.Report)
		}
		frames, _, err := LoadClipFrames(video, ClipOptions{Height: 16, Width: 16, FPS: 5})
		if err != nil || len(frames) != 5 {
			t.Fatalf("LoadClipFrames at 5 fps: %d frames, %v", len(frames), err)
		}
	} else {
		os.WriteFile(video, []byte("not really a video"), 0o644)
	}
	t.Setenv("PATH", "")
	if _, err := LoadClips(dir, ClipOptions{}); err == nil || !strings.Contains(err.Error(), "ffmpeg") || !strings.Contains(err.Error(), "walk") {
		t.Errorf("without ffmpeg: %v, want an error naming ffmpeg and the clip", err)
	}
	tdGrayClip(t, filepath.Join(dir, "ok"), []string{"a.png", "b.png"}, []uint8{0, 255}, 4, 4, "still\nstill\n")
	set, err := LoadClips(dir, ClipOptions{SkipBad: true})
	if err != nil || len(set.Report.Skipped) != 1 || set.Report.Skipped[0].Name != "walk" {
		t.Errorf("SkipBad without ffmpeg: %v, %+v", err, set)
	}
	if _, _, err := LoadClipFrames(video, ClipOptions{}); err == nil || !strings.Contains(err.Error(), "ffmpeg") {
		t.Errorf("LoadClipFrames without ffmpeg: %v", err)
	}
}
