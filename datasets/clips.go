package datasets

// The clip layout: the one on-disk format for frame-labelled video, used for
// generated moving-digit clips and for real clips alike.
//
//	DATA/
//	  walk_01/            a clip folder
//	    frame_000.png     frames, any of .png .jpg .jpeg .gif, any size,
//	    frame_001.png     in natural name order (frame_2 before frame_10)
//	    labels.txt        one label name per line, one line per frame
//	  wave.gif            an animated GIF is one clip ...
//	  wave.labels.txt     ... with its labels beside it
//
// Everything else in DATA (other files, hidden entries) is ignored. Frames
// are resized to the configured size, converted to grayscale or RGB and
// normalised to float32 in [0,1]. Misalignment between frames and labels is
// never silent: it is an error naming the clip (and the line), or with
// SkipBad a skipped clip listed in the report.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // frame formats
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/disintegration/imaging"
)

// ClipLabelsFile is the name of the per-frame label file in a clip folder.
const ClipLabelsFile = "labels.txt"

// gifLabelsSuffix names the label file of an animated GIF clip NAME.gif.
const gifLabelsSuffix = ".labels.txt"

// ColorMode selects the channels of loaded frames.
type ColorMode int

const (
	Grayscale ColorMode = iota // 1 channel, luma 0.299R+0.587G+0.114B
	RGB                        // 3 channels, planes R, G, B
)

// Channels returns 1 for Grayscale and 3 for RGB.
func (m ColorMode) Channels() int {
	if m == RGB {
		return 3
	}
	return 1
}

// ClipOptions controls LoadClips.
type ClipOptions struct {
	Height, Width int       // frame size after resizing; 0 means 64
	Color         ColorMode // Grayscale (default) or RGB
	// LabelOrder, when non-nil, fixes the label set and ids (for instance
	// DirectionNames, or the labels saved in a checkpoint); a label outside
	// it is an error. When nil, the label set is every label seen, sorted.
	LabelOrder []string
	// FPS is the frame rate at which frames are extracted from video files
	// (with ffmpeg); 0 means 10.
	FPS float64
	// SkipBad skips a clip that fails (undecodable frame, missing or bad
	// labels, count mismatch) and records it in the report, instead of
	// failing the whole load.
	SkipBad bool
}

// Clip is one loaded clip. Frames[t] holds frame t as C×H×W float32 values in
// [0,1], channel-major; Labels[t] is its label id in ClipSet.Labels.
type Clip struct {
	Name   string
	Frames [][]float32
	Labels []int
}

// SkippedClip is a clip left out under SkipBad, with the reason.
type SkippedClip struct {
	Name string
	Err  error
}

// ClipReport summarises a load.
type ClipReport struct {
	Clips   int           // clips loaded
	Frames  int           // frames loaded, over all clips
	Skipped []SkippedClip // clips skipped under SkipBad, in name order
}

// ClipSet is a loaded data folder. Labels is the label set (keep it in a
// checkpoint so ids stay meaningful); every frame has Channels×Height×Width
// values.
type ClipSet struct {
	Clips                   []Clip
	Labels                  []string
	Channels, Height, Width int
	Report                  ClipReport
}

// ClipError is the error for one bad clip. File is the frame or label file
// at fault (if any) and Line the 1-based line of labels.txt (if any).
type ClipError struct {
	Clip string
	File string
	Line int
	Err  error
}

func (e *ClipError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clip %q", e.Clip)
	if e.File != "" {
		fmt.Fprintf(&b, ": %s", e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, " line %d", e.Line)
		}
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ClipError) Unwrap() error { return e.Err }

// ErrNoClips is returned (wrapped) when a data folder yields no usable clip.
var ErrNoClips = errors.New("no usable clips")

// rawClip is a clip with frames decoded and labels still as names.
type rawClip struct {
	name      string
	labelFile string // labels.txt or NAME.labels.txt, for errors
	frames    [][]float32
	labels    []string
}

// LoadClips loads every clip in the data folder dir (see the layout above).
func LoadClips(dir string, opt ClipOptions) (*ClipSet, error) {
	h, w := opt.Height, opt.Width
	if h == 0 {
		h = 64
	}
	if w == 0 {
		w = 64
	}
	if h < 0 || w < 0 || int64(h)*int64(w) > MaxImagePixels {
		return nil, fmt.Errorf("load clips %s: bad frame size %d×%d", dir, h, w)
	}
	if opt.Color != Grayscale && opt.Color != RGB {
		return nil, fmt.Errorf("load clips %s: unknown color mode %d", dir, opt.Color)
	}
	var order map[string]int
	if opt.LabelOrder != nil {
		order = make(map[string]int, len(opt.LabelOrder))
		for i, l := range opt.LabelOrder {
			if strings.TrimSpace(l) == "" || strings.TrimSpace(l) != l {
				return nil, fmt.Errorf("load clips %s: LabelOrder[%d] = %q is empty or padded", dir, i, l)
			}
			if _, dup := order[l]; dup {
				return nil, fmt.Errorf("load clips %s: LabelOrder repeats %q", dir, l)
			}
			order[l] = i
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load clips: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Slice(names, func(i, j int) bool { return naturalNameLess(names[i], names[j]) })

	set := &ClipSet{Channels: opt.Color.Channels(), Height: h, Width: w}
	var raws []rawClip
	seen := map[string]bool{}
	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path) // follows symlinks to clip folders
		if err != nil {
			return nil, fmt.Errorf("load clips %s: %w", dir, err)
		}
		var rc rawClip
		clipName := name
		switch {
		case fi.IsDir():
			rc, err = loadClipDir(path, name, h, w, opt.Color)
		case strings.EqualFold(filepath.Ext(name), ".gif"):
			clipName = strings.TrimSuffix(name, filepath.Ext(name))
			rc, err = loadGIFClip(path, filepath.Join(dir, clipName+gifLabelsSuffix), clipName, h, w, opt.Color)
		case IsVideoFile(name):
			clipName = strings.TrimSuffix(name, filepath.Ext(name))
			rc, err = loadVideoClip(path, filepath.Join(dir, clipName+gifLabelsSuffix), clipName, h, w, opt)
		default:
			continue
		}
		if err == nil && seen[clipName] {
			err = &ClipError{Clip: clipName, Err: fmt.Errorf("another clip in %s has the same name (a folder and a GIF?)", dir)}
		}
		if err == nil && order != nil {
			for t, l := range rc.labels {
				if _, ok := order[l]; !ok {
					err = &ClipError{Clip: rc.name, File: rc.labelFile, Line: t + 1, Err: fmt.Errorf("label %q is not in the label set %q", l, opt.LabelOrder)}
					break
				}
			}
		}
		if err != nil {
			if !opt.SkipBad {
				return nil, fmt.Errorf("load clips %s: %w", dir, err)
			}
			set.Report.Skipped = append(set.Report.Skipped, SkippedClip{Name: clipName, Err: err})
			continue
		}
		seen[clipName] = true
		raws = append(raws, rc)
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("load clips %s: %w (%d skipped)", dir, ErrNoClips, len(set.Report.Skipped))
	}

	if order == nil {
		order = map[string]int{}
		for _, rc := range raws {
			for _, l := range rc.labels {
				order[l] = 0
			}
		}
		for l := range order {
			set.Labels = append(set.Labels, l)
		}
		sort.Strings(set.Labels)
		for i, l := range set.Labels {
			order[l] = i
		}
	} else {
		set.Labels = append([]string(nil), opt.LabelOrder...)
	}
	for _, rc := range raws {
		ids := make([]int, len(rc.labels))
		for t, l := range rc.labels {
			ids[t] = order[l]
		}
		set.Clips = append(set.Clips, Clip{Name: rc.name, Frames: rc.frames, Labels: ids})
		set.Report.Frames += len(rc.frames)
	}
	set.Report.Clips = len(set.Clips)
	return set, nil
}

// isClipFrameFile reports whether name has a frame image extension.
func isClipFrameFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".gif":
		return true
	}
	return false
}

// loadClipDir loads one clip folder.
func loadClipDir(path, name string, h, w int, mode ColorMode) (rawClip, error) {
	rc := rawClip{name: name, labelFile: ClipLabelsFile}
	entries, err := os.ReadDir(path)
	if err != nil {
		return rc, &ClipError{Clip: name, Err: err}
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && isClipFrameFile(e.Name()) {
			files = append(files, e.Name())
		}
	}
	sort.Slice(files, func(i, j int) bool { return naturalNameLess(files[i], files[j]) })
	labelPath := filepath.Join(path, ClipLabelsFile)
	labels, err := readClipLabels(labelPath)
	if err != nil {
		return rc, asClipError(err, name, ClipLabelsFile)
	}
	if len(files) == 0 {
		return rc, &ClipError{Clip: name, Err: errors.New("no frame images (.png, .jpg, .jpeg, .gif)")}
	}
	if len(files) > maxClipFrames {
		return rc, &ClipError{Clip: name, Err: fmt.Errorf("more than the %d frames a clip may have", maxClipFrames)}
	}
	if err := checkLabelCount(len(labels), len(files)); err != nil {
		return rc, asClipError(err, name, ClipLabelsFile)
	}
	rc.labels = labels
	for _, f := range files {
		img, err := decodeClipFrame(filepath.Join(path, f))
		if err != nil {
			return rc, &ClipError{Clip: name, File: f, Err: err}
		}
		rc.frames = append(rc.frames, clipFrameFloats(img, h, w, mode))
	}
	return rc, nil
}

// loadGIFClip loads an animated GIF as one clip, compositing frames as a
// viewer would (offsets and disposal methods).
func loadGIFClip(path, labelPath, name string, h, w int, mode ColorMode) (rawClip, error) {
	labelFile := filepath.Base(labelPath)
	rc := rawClip{name: name, labelFile: labelFile}
	labels, err := readClipLabels(labelPath)
	if err != nil {
		return rc, asClipError(err, name, labelFile)
	}
	g, err := openGIF(path)
	if err != nil {
		return rc, &ClipError{Clip: name, File: filepath.Base(path), Err: err}
	}
	defer g.Close()
	if err := checkLabelCount(len(labels), g.frames); err != nil {
		return rc, asClipError(err, name, labelFile)
	}
	rc.labels = labels
	err = g.decodeFrames(func(img image.Image) {
		rc.frames = append(rc.frames, clipFrameFloats(img, h, w, mode))
	})
	if err != nil {
		return rc, &ClipError{Clip: name, File: filepath.Base(path), Err: err}
	}
	return rc, nil
}

// labelLineError is a label-file problem at a line, before the clip is known.
type labelLineError struct {
	line int
	err  error
}

func (e *labelLineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

// asClipError turns an error from the label reader into a ClipError.
func asClipError(err error, clip, file string) error {
	var le *labelLineError
	if errors.As(err, &le) {
		return &ClipError{Clip: clip, File: file, Line: le.line, Err: le.err}
	}
	return &ClipError{Clip: clip, File: file, Err: err}
}

// readClipLabels reads the label file path with parseClipLabels; a missing
// file is an error that says what the file should hold.
func readClipLabels(path string) ([]string, error) {
	f, err := OpenFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("missing (one label name per line, one line per frame)")
		}
		return nil, err
	}
	defer f.Close()
	return parseClipLabels(f)
}

// parseClipLabels reads one label per line, surrounding space trimmed. Blank
// lines at the end are ignored (an editor's trailing newlines); a blank line
// before a label, a line longer than MaxLineBytes and more than
// MaxClipFrames labels are errors naming the line (*labelLineError), as is
// a file without labels.
func parseClipLabels(r io.Reader) ([]string, error) {
	var labels []string
	blank := 0 // the first of the blank lines since the last label, or 0
	lr := NewLineReader(r, MaxLineBytes)
	for lr.Next() {
		line := lr.LineNumber()
		if lr.TooLong() {
			return nil, &labelLineError{line, fmt.Errorf("longer than the %s line limit", formatBytes(int64(lr.Max())))}
		}
		l := strings.TrimSpace(lr.Text())
		if l == "" {
			if blank == 0 {
				blank = line
			}
			continue
		}
		if blank > 0 {
			return nil, &labelLineError{blank, errors.New("empty label (blank lines may only end the file)")}
		}
		if len(labels) == maxClipFrames {
			return nil, &labelLineError{line, fmt.Errorf("more than %d labels, the most frames a clip may have", maxClipFrames)}
		}
		labels = append(labels, l)
	}
	if err := lr.Err(); err != nil {
		return nil, &labelLineError{lr.LineNumber(), err}
	}
	if len(labels) == 0 {
		return nil, errors.New("no labels")
	}
	return labels, nil
}

// checkLabelCount compares label and frame counts, naming the first line without
// a frame or the first frame without a line.
func checkLabelCount(labels, frames int) error {
	switch {
	case labels > frames:
		return &labelLineError{frames + 1, fmt.Errorf("%d labels but %d frames: labels from this line on have no frame", labels, frames)}
	case labels < frames:
		return &labelLineError{labels + 1, fmt.Errorf("%d labels but %d frames: frame %d onwards has no label line", labels, frames, labels+1)}
	}
	return nil
}

// decodeClipFrame decodes one frame image (the first frame of a GIF),
// applying JPEG EXIF orientation, after checking its declared size.
func decodeClipFrame(path string) (image.Image, error) {
	return decodeImageFile(path, imaging.AutoOrientation(true))
}

// clipFrameFloats composites img over black (transparent pixels are black),
// resizes it to w×h and returns C×H×W floats in [0,1].
func clipFrameFloats(img image.Image, h, w int, mode ColorMode) []float32 {
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Over)
	var res *image.NRGBA
	if b.Dx() == w && b.Dy() == h {
		res = imaging.Clone(src)
	} else {
		res = imaging.Resize(src, w, h, imaging.Linear)
	}
	n := h * w
	out := make([]float32, mode.Channels()*n)
	for y := 0; y < h; y++ {
		row := res.Pix[y*res.Stride : y*res.Stride+4*w]
		for x := 0; x < w; x++ {
			r, g, bl := float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2])
			i := y*w + x
			if mode == RGB {
				out[i], out[n+i], out[2*n+i] = r/255, g/255, bl/255
				continue
			}
			if r == g && g == bl {
				out[i] = r / 255 // exact for gray images
			} else {
				out[i] = min(1, (0.299*r+0.587*g+0.114*bl)/255)
			}
		}
	}
	return out
}

// naturalNameLess orders names with digit runs compared by value, so frame_2
// sorts before frame_10; zero-padded names keep their plain order. Ties
// fall back to byte order.
func naturalNameLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if clipIsDigit(ca) && clipIsDigit(cb) {
			si, sj := i, j
			for i < len(a) && clipIsDigit(a[i]) {
				i++
			}
			for j < len(b) && clipIsDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			continue
		}
		if ca != cb {
			return ca < cb
		}
		i++
		j++
	}
	if len(a)-i != len(b)-j {
		return len(a)-i < len(b)-j
	}
	return a < b
}

func clipIsDigit(c byte) bool { return '0' <= c && c <= '9' }

// ExtractFrames extracts frames from a video file with ffmpeg at fps frames
// per second into a new folder under tmpRoot (os.TempDir() when empty), as
// frame_000001.png, … and returns that folder; the caller adds labels.txt
// (one line per frame) to make it a clip and removes the folder when done.
// At most MaxClipFrames+1 frames are extracted: enough for the loader to
// tell that the video is too long for a clip, without filling the disk.
// When ffmpeg is not on PATH the error says so (and wraps exec.ErrNotFound).
func ExtractFrames(ctx context.Context, video string, fps float64, tmpRoot string) (string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !(fps > 0) || fps > 1000 {
		return "", fmt.Errorf("extract frames from %s: frame rate %v must be in (0, 1000]", video, fps)
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", fmt.Errorf("extract frames from %s: the ffmpeg tool is required but was not found on PATH (install ffmpeg, or extract the frames into a clip folder yourself): %w", video, err)
	}
	if err := statRegular(video); err != nil {
		return "", fmt.Errorf("extract frames: %w", err)
	}
	base := strings.TrimSuffix(filepath.Base(video), filepath.Ext(video))
	dir, err := os.MkdirTemp(tmpRoot, "frames-"+clipSafeName(base)+"-")
	if err != nil {
		return "", fmt.Errorf("extract frames from %s: %w", video, err)
	}
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-i", video, "-vf", "fps="+strconv.FormatFloat(fps, 'f', -1, 64), "-frames:v", strconv.Itoa(maxClipFrames+1),
		filepath.Join(dir, "frame_%06d.png"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("extract frames from %s: ffmpeg: %w: %s", video, err, strings.TrimSpace(stderr.String()))
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		os.RemoveAll(dir)
		return "", fmt.Errorf("extract frames from %s: ffmpeg produced no frames", video)
	}
	return dir, nil
}

// clipSafeName keeps letters, digits, '-' and '_' for use in a folder name.
func clipSafeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(clipIsDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// videoExtensions are the file types read through ffmpeg.
var videoExtensions = []string{".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg"}

// IsVideoFile reports whether name has the extension of a video file that
// clips are extracted from with ffmpeg.
func IsVideoFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, v := range videoExtensions {
		if ext == v {
			return true
		}
	}
	return false
}

// defaultVideoFPS is the extraction rate when ClipOptions.FPS is 0.
const defaultVideoFPS = 10

// loadVideoClip extracts a video's frames with ffmpeg at opt.FPS into a
// temporary clip folder, labels them from labelPath (NAME.labels.txt, one
// label per extracted frame) and loads it like any clip folder.
func loadVideoClip(path, labelPath, name string, h, w int, opt ClipOptions) (rawClip, error) {
	labelFile := filepath.Base(labelPath)
	labels, err := readClipLabels(labelPath)
	if err != nil {
		return rawClip{name: name, labelFile: labelFile}, asClipError(err, name, labelFile)
	}
	frames, err := extractVideo(path, opt.FPS)
	if err != nil {
		return rawClip{name: name}, &ClipError{Clip: name, File: filepath.Base(path), Err: err}
	}
	defer os.RemoveAll(frames)
	if err := os.WriteFile(filepath.Join(frames, ClipLabelsFile), []byte(strings.Join(labels, "\n")+"\n"), 0o644); err != nil {
		return rawClip{name: name}, &ClipError{Clip: name, Err: err}
	}
	rc, err := loadClipDir(frames, name, h, w, opt.Color)
	rc.labelFile = labelFile
	return rc, err
}

func extractVideo(path string, fps float64) (string, error) {
	if fps == 0 {
		fps = defaultVideoFPS
	}
	return ExtractFrames(context.Background(), path, fps, "")
}

// LoadClipFrames reads the frames of one clip for prediction — a clip
// folder (frames in name order), an animated GIF, or a video file, whose
// frames ffmpeg extracts at opt.FPS — with no labels required. It returns the frames [T][C*H*W] and the frame names (file
// names, or "frame N" for a GIF) to print beside each prediction.
func LoadClipFrames(path string, opt ClipOptions) ([][]float32, []string, error) {
	h, w := opt.Height, opt.Width
	if h == 0 {
		h = 64
	}
	if w == 0 {
		w = 64
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	var frames [][]float32
	var names []string
	source := path // what errors about the whole clip name
	if !fi.IsDir() && IsVideoFile(path) {
		dir, err := extractVideo(path, opt.FPS)
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(dir)
		path = dir
	} else if !fi.IsDir() {
		g, err := openGIF(path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w (want a clip folder, an animated GIF or a video file)", path, err)
		}
		defer g.Close()
		err = g.decodeFrames(func(img image.Image) {
			names = append(names, fmt.Sprintf("frame %d", len(frames)))
			frames = append(frames, clipFrameFloats(img, h, w, opt.Color))
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return frames, names, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && isClipFrameFile(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("%s: no frame images (.png, .jpg, .jpeg, .gif)", source)
	}
	if len(names) > maxClipFrames {
		return nil, nil, fmt.Errorf("%s: more than the %d frames a clip may have", source, maxClipFrames)
	}
	sort.Slice(names, func(i, j int) bool { return naturalNameLess(names[i], names[j]) })
	for _, n := range names {
		img, err := decodeClipFrame(filepath.Join(path, n))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Join(path, n), err)
		}
		frames = append(frames, clipFrameFloats(img, h, w, opt.Color))
	}
	return frames, names, nil
}
