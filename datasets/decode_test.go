package datasets

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image/color"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestTensorOfUploadEqualsLoad: an image given as bytes (a server's upload)
// becomes the very tensor Load makes of the same file, and CopyPixels lays
// it out for a colour or a gray model.
func TestTensorOfUploadEqualsLoad(t *testing.T) {
	dir := t.TempDir()
	path := writePNG(t, dir, "a.png", 40, 30, func(x, y int) color.NRGBA {
		return color.NRGBA{R: uint8(6 * x), G: uint8(8 * y), B: uint8(x * y), A: 255}
	})
	l, err := NewImageLoader(ImageConfig{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	want, err := l.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Tensor(img)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Data, want.Data) || got.H != want.H {
		t.Error("the tensor of the decoded bytes differs from Load's")
	}
	rgb := make([]float64, 3*16*16)
	CopyPixels(rgb, got, 3)
	gray := make([]float32, 16*16)
	CopyPixels(gray, got, 1)
	if rgb[5] != float64(got.Data[5]) || gray[5] != (got.Data[5]+got.Data[256+5]+got.Data[512+5])/3 {
		t.Error("CopyPixels misplaces the channels")
	}
}

// TestDecodeImageChecksTheHeader: bytes claiming a huge image are refused
// from the header, before any pixel is decoded; garbage is an error.
func TestDecodeImageChecksTheHeader(t *testing.T) {
	var ihdr bytes.Buffer
	binary.Write(&ihdr, binary.BigEndian, uint32(100000))
	binary.Write(&ihdr, binary.BigEndian, uint32(100000))
	ihdr.Write([]byte{8, 6, 0, 0, 0})
	chunk := append([]byte("IHDR"), ihdr.Bytes()...)
	var png bytes.Buffer
	png.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&png, binary.BigEndian, uint32(ihdr.Len()))
	png.Write(chunk)
	binary.Write(&png, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	if _, err := DecodeImage(png.Bytes()); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a PNG header of 100000x100000: %v", err)
	}
	if _, err := DecodeImage([]byte("not an image")); err == nil {
		t.Error("garbage decoded")
	}
}
