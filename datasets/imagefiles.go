package datasets

// Decoding image files within limits checked from their headers, before
// any pixel is decoded: a forged header (a PNG claiming 100000×100000, a GIF
// of a million frames) is an error, never gigabytes of memory.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"io"
	"os"

	"github.com/disintegration/imaging"
)

// MaxImageSide bounds the width and the height of an image file, whatever
// its pixel count (MaxImagePixels): a 1×40,000,000 strip is no picture.
const MaxImageSide = 1 << 15

// MaxClipFrames bounds the frames of one clip — frame files in a clip
// folder, frames of an animated GIF, lines of labels.txt — so that the
// frames held in memory stay bounded: 10,000 frames is 17 minutes at 10
// frames per second.
const MaxClipFrames = 10_000

// maxClipFrames is the MaxClipFrames in force, a variable so that a test can
// lower it instead of writing 10,001 files.
var maxClipFrames = MaxClipFrames

// maxGIFWork bounds an animated GIF's frame count times its logical
// screen's pixels: the pixels gif.DecodeAll may allocate and the work of
// compositing and resizing every frame. 2^28 is 65,536 frames of 64×64
// (MaxClipFrames applies first) or 129 of 1920×1080.
const maxGIFWork = 1 << 28

// checkImageSize checks the width and height an image header declares.
func checkImageSize(w, h int) error {
	switch {
	case w <= 0 || h <= 0:
		return fmt.Errorf("empty image (%dx%d)", w, h)
	case int64(w)*int64(h) > MaxImagePixels:
		return fmt.Errorf("%dx%d is larger than %d pixels", w, h, MaxImagePixels)
	case w > MaxImageSide || h > MaxImageSide:
		return fmt.Errorf("%dx%d has a side longer than %d pixels", w, h, MaxImageSide)
	}
	return nil
}

// decodeImageFile decodes the image file path (PNG, JPEG, the first frame
// of a GIF, or any other format registered with package image) after
// checking the size its header declares with checkImageSize. opts go to
// imaging.Decode. Errors name path only when opening fails; callers name
// the file otherwise.
func decodeImageFile(path string, opts ...imaging.DecodeOption) (image.Image, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeImage(f, opts...)
}

// DecodeImage decodes an image held in memory (an upload) as
// decodeImageFile does a file: its header's size is checked first.
func DecodeImage(b []byte) (image.Image, error) {
	return decodeImage(bytes.NewReader(b))
}

func decodeImage(r io.ReadSeeker, opts ...imaging.DecodeOption) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := checkImageSize(cfg.Width, cfg.Height); err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, err := imaging.Decode(bufio.NewReader(r), opts...)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return img, nil
}

// gifFile is an open animated GIF whose structure has been checked: its
// logical screen, frame count and frame sizes are known and within limits,
// and nothing has been decoded yet.
type gifFile struct {
	f      *os.File
	frames int
}

// openGIF opens the GIF file path and checks its structure with scanGIF.
func openGIF(path string) (*gifFile, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	frames, err := scanGIF(bufio.NewReader(f))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &gifFile{f: f, frames: frames}, nil
}

func (g *gifFile) Close() error { return g.f.Close() }

// decodeFrames decodes every frame and calls fn with the full composited
// picture shown at that point, as a viewer would draw it (frame offsets
// and disposal methods). fn must not keep img, which the next frame
// overwrites.
func (g *gifFile) decodeFrames(fn func(img image.Image)) error {
	all, err := gif.DecodeAll(bufio.NewReader(g.f))
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if len(all.Image) != g.frames {
		// The file changed since scanGIF read it.
		return fmt.Errorf("decode: %d frames, but %d when checked", len(all.Image), g.frames)
	}
	bounds := image.Rect(0, 0, all.Config.Width, all.Config.Height)
	canvas := image.NewRGBA(bounds)
	var saved *image.RGBA
	for i, fr := range all.Image {
		disposal := byte(0)
		if i < len(all.Disposal) {
			disposal = all.Disposal[i]
		}
		if disposal == gif.DisposalPrevious {
			if saved == nil {
				saved = image.NewRGBA(bounds)
			}
			copy(saved.Pix, canvas.Pix)
		}
		draw.Draw(canvas, fr.Bounds(), fr, fr.Bounds().Min, draw.Over)
		fn(canvas)
		switch disposal {
		case gif.DisposalBackground:
			draw.Draw(canvas, fr.Bounds(), image.Transparent, image.Point{}, draw.Src)
		case gif.DisposalPrevious:
			copy(canvas.Pix, saved.Pix)
		}
	}
	return nil
}

// GIF block introducers and extension labels (GIF89a specification).
const (
	gifExtension       = 0x21
	gifImageDescriptor = 0x2C
	gifTrailer         = 0x3B
	gifPlainText       = 0x01
	gifGraphicControl  = 0xF9
	gifComment         = 0xFE
	gifApplication     = 0xFF
)

// scanGIF walks the blocks of a GIF without decompressing any frame,
// consuming them exactly as image/gif's decoder does, and returns the number
// of frames. It checks the logical screen with checkImageSize and refuses
// more than MaxClipFrames frames or more than maxGIFWork frame-screen
// pixels, so that gif.DecodeAll, run afterwards, allocates a bounded amount.
// Errors say where the structure went wrong.
func scanGIF(r *bufio.Reader) (int, error) {
	var hdr [13]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("decode: GIF header: %w", eofUnexpected(err))
	}
	if v := string(hdr[:6]); v != "GIF87a" && v != "GIF89a" {
		return 0, fmt.Errorf("decode: not a GIF (starts with %q)", v)
	}
	w := int(hdr[6]) | int(hdr[7])<<8
	h := int(hdr[8]) | int(hdr[9])<<8
	if err := checkImageSize(w, h); err != nil {
		return 0, fmt.Errorf("decode: GIF screen %w", err)
	}
	if err := skipGIFColorTable(r, hdr[10]); err != nil {
		return 0, fmt.Errorf("decode: GIF global color table: %w", err)
	}
	frames := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("decode: GIF after frame %d: %w", frames, eofUnexpected(err))
		}
		switch c {
		case gifExtension:
			if err := skipGIFExtension(r); err != nil {
				return 0, fmt.Errorf("decode: GIF extension after frame %d: %w", frames, err)
			}
		case gifImageDescriptor:
			var d [9]byte
			if _, err := io.ReadFull(r, d[:]); err != nil {
				return 0, fmt.Errorf("decode: GIF frame %d: %w", frames, eofUnexpected(err))
			}
			left, top := int(d[0])|int(d[1])<<8, int(d[2])|int(d[3])<<8
			fw, fh := int(d[4])|int(d[5])<<8, int(d[6])|int(d[7])<<8
			if left+fw > w || top+fh > h {
				return 0, fmt.Errorf("decode: GIF frame %d (%dx%d at %d,%d) exceeds the %dx%d screen", frames, fw, fh, left, top, w, h)
			}
			frames++
			if frames > maxClipFrames {
				return 0, fmt.Errorf("decode: GIF has more than %d frames", maxClipFrames)
			}
			if int64(frames)*int64(w)*int64(h) > maxGIFWork {
				return 0, fmt.Errorf("decode: GIF has more than %d frames of %dx%d (at most %d pixels in all)", frames-1, w, h, maxGIFWork)
			}
			if err := skipGIFColorTable(r, d[8]); err != nil {
				return 0, fmt.Errorf("decode: GIF frame %d color table: %w", frames-1, err)
			}
			if _, err := r.ReadByte(); err != nil { // LZW minimum code size
				return 0, fmt.Errorf("decode: GIF frame %d: %w", frames-1, eofUnexpected(err))
			}
			if err := skipGIFSubBlocks(r); err != nil {
				return 0, fmt.Errorf("decode: GIF frame %d data: %w", frames-1, err)
			}
		case gifTrailer:
			if frames == 0 {
				return 0, errors.New("decode: GIF has no frames")
			}
			return frames, nil
		default:
			return 0, fmt.Errorf("decode: GIF unknown block type 0x%02x after frame %d", c, frames)
		}
	}
}

// skipGIFColorTable skips the color table that fields (of the screen or an
// image descriptor) announces, if any.
func skipGIFColorTable(r *bufio.Reader, fields byte) error {
	if fields&0x80 == 0 {
		return nil
	}
	_, err := r.Discard(3 << (1 + fields&7))
	return eofUnexpected(err)
}

// skipGIFExtension skips an extension block after its 0x21 introducer.
func skipGIFExtension(r *bufio.Reader) error {
	label, err := r.ReadByte()
	if err != nil {
		return eofUnexpected(err)
	}
	switch label {
	case gifGraphicControl:
		// A fixed block of 4 bytes and its terminator, as image/gif reads it.
		var b [6]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return eofUnexpected(err)
		}
		if b[0] != 4 || b[5] != 0 {
			return errors.New("malformed graphic control extension")
		}
		return nil
	case gifPlainText:
		if _, err := r.Discard(13); err != nil {
			return eofUnexpected(err)
		}
	case gifApplication:
		n, err := r.ReadByte()
		if err != nil {
			return eofUnexpected(err)
		}
		if _, err := r.Discard(int(n)); err != nil {
			return eofUnexpected(err)
		}
	case gifComment:
	default:
		return fmt.Errorf("unknown extension 0x%02x", label)
	}
	return skipGIFSubBlocks(r)
}

// skipGIFSubBlocks skips data sub-blocks up to and including the empty one
// that ends them.
func skipGIFSubBlocks(r *bufio.Reader) error {
	for {
		n, err := r.ReadByte()
		if err != nil {
			return eofUnexpected(err)
		}
		if n == 0 {
			return nil
		}
		if _, err := r.Discard(int(n)); err != nil {
			return eofUnexpected(err)
		}
	}
}
