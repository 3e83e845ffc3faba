package datasets

// MNIST reader. MNIST is shipped (test set only) in data/mnist/ and is the
// source of the digits that the moving-digit clip generator animates, so the
// reader validates everything it is given: a wrong magic number, an
// implausible header, a truncated body or trailing bytes are reported as
// errors naming the file rather than producing misaligned images and labels.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Magic numbers of the two IDX file kinds MNIST uses (big-endian: two zero
// bytes, the element type 0x08 = unsigned byte, and the number of dimensions).
const (
	IDXImagesMagic = 0x00000803 // uint8, 3 dimensions: count × rows × cols
	IDXLabelsMagic = 0x00000801 // uint8, 1 dimension: count
)

// maxIDXBytes bounds the body a header may announce, so a corrupt header
// cannot make the reader allocate gigabytes. MNIST train images are 47 MB.
const maxIDXBytes = 1 << 30

// IDXImages holds the images of one IDX3 file as one flat row-major buffer:
// image i occupies Pixels[i*Rows*Cols : (i+1)*Rows*Cols], 0 = background.
type IDXImages struct {
	Count, Rows, Cols int
	Pixels            []byte
}

// Image returns the pixels of image i (a sub-slice, not a copy), or nil when
// i is out of range.
func (m *IDXImages) Image(i int) []byte {
	if m == nil || i < 0 || i >= m.Count {
		return nil
	}
	n := m.Rows * m.Cols
	return m.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// MNIST is one split of MNIST (or of any dataset in the same IDX layout, such
// as Fashion-MNIST): images and their class labels, with equal counts.
type MNIST struct {
	Images *IDXImages
	Labels []uint8
}

// Len returns the number of examples.
func (m *MNIST) Len() int { return len(m.Labels) }

// Slice returns examples [first, first+count) sharing m's storage; count 0
// means all from first on. It lets disjoint digit ranges of one split feed
// training and validation clips.
func (m *MNIST) Slice(first, count int) (*MNIST, error) {
	if count == 0 {
		count = m.Len() - first
	}
	if first < 0 || count < 1 || first+count > m.Len() {
		return nil, fmt.Errorf("mnist: digits [%d, %d) are outside the %d examples", first, first+count, m.Len())
	}
	n := m.Images.Rows * m.Images.Cols
	im := *m.Images
	im.Count, im.Pixels = count, m.Images.Pixels[first*n:(first+count)*n]
	return &MNIST{Images: &im, Labels: m.Labels[first : first+count]}, nil
}

// ReadIDXImages reads an IDX3 image file, gzipped (recognised by its magic
// bytes) or plain, as a stream of at most 1 GiB after decompression.
func ReadIDXImages(path string) (*IDXImages, error) {
	s, err := openStream(path)
	if err != nil {
		return nil, fmt.Errorf("mnist images: %w", err)
	}
	defer s.Close()
	m, err := DecodeIDXImages(s)
	if err != nil {
		return nil, fmt.Errorf("mnist images %s: %w", path, err)
	}
	return m, nil
}

// ReadIDXLabels reads an IDX1 label file, gzipped or plain, like
// ReadIDXImages.
func ReadIDXLabels(path string) ([]uint8, error) {
	s, err := openStream(path)
	if err != nil {
		return nil, fmt.Errorf("mnist labels: %w", err)
	}
	defer s.Close()
	l, err := DecodeIDXLabels(s)
	if err != nil {
		return nil, fmt.Errorf("mnist labels %s: %w", path, err)
	}
	return l, nil
}

// DecodeIDXImages decodes an uncompressed IDX3 image stream. The stream must
// hold exactly the announced number of pixels: fewer is "truncated", more is
// "trailing data".
func DecodeIDXImages(r io.Reader) (*IDXImages, error) {
	var hdr [4]uint32
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return nil, fmt.Errorf("truncated header (want 16 bytes): %w", eofUnexpected(err))
	}
	if hdr[0] != IDXImagesMagic {
		return nil, fmt.Errorf("bad magic 0x%08x, want 0x%08x (IDX3 uint8 images)", hdr[0], IDXImagesMagic)
	}
	count, rows, cols := int64(hdr[1]), int64(hdr[2]), int64(hdr[3])
	if rows == 0 || cols == 0 || rows > 1<<14 || cols > 1<<14 {
		return nil, fmt.Errorf("implausible image size %d×%d", rows, cols)
	}
	size := count * rows * cols
	if size > maxIDXBytes {
		return nil, fmt.Errorf("header announces %d images of %d×%d (%d bytes), more than the %d-byte limit", count, rows, cols, size, maxIDXBytes)
	}
	pix, err := readIDXBody(r, size)
	if err != nil {
		return nil, fmt.Errorf("header announces %d images of %d×%d: %w", count, rows, cols, err)
	}
	return &IDXImages{Count: int(count), Rows: int(rows), Cols: int(cols), Pixels: pix}, nil
}

// DecodeIDXLabels decodes an uncompressed IDX1 label stream.
func DecodeIDXLabels(r io.Reader) ([]uint8, error) {
	var hdr [2]uint32
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return nil, fmt.Errorf("truncated header (want 8 bytes): %w", eofUnexpected(err))
	}
	if hdr[0] != IDXLabelsMagic {
		return nil, fmt.Errorf("bad magic 0x%08x, want 0x%08x (IDX1 uint8 labels)", hdr[0], IDXLabelsMagic)
	}
	count := int64(hdr[1])
	if count > maxIDXBytes {
		return nil, fmt.Errorf("header announces %d labels, more than the %d limit", count, maxIDXBytes)
	}
	labels, err := readIDXBody(r, count)
	if err != nil {
		return nil, fmt.Errorf("header announces %d labels: %w", count, err)
	}
	return labels, nil
}

// readIDXBody reads exactly n bytes and then checks that the stream ends, which
// also makes gzip verify its checksum. It grows the buffer as data arrives,
// so a lying header on a short file does not allocate the announced size.
func readIDXBody(r io.Reader, n int64) ([]byte, error) {
	var buf bytes.Buffer
	got, err := io.Copy(&buf, io.LimitReader(r, n))
	if err != nil {
		return nil, fmt.Errorf("read body after %d of %d bytes: %w", got, n, err)
	}
	if got < n {
		return nil, fmt.Errorf("truncated: body has %d of %d bytes", got, n)
	}
	var one [1]byte
	k, err := io.ReadFull(r, one[:])
	if k > 0 {
		return nil, fmt.Errorf("trailing data after the %d announced bytes", n)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("after body: %w", err)
	}
	return buf.Bytes(), nil
}

// MNISTFiles returns the image and label file paths of a split in an MNIST
// folder. split is "train" or "t10k" ("test" is accepted for "t10k"). The
// gzipped name is preferred; the plain name is used when only it exists.
func MNISTFiles(dir, split string) (images, labels string, err error) {
	prefix := split
	switch split {
	case "train", "t10k":
	case "test":
		prefix = "t10k"
	default:
		return "", "", fmt.Errorf("mnist: unknown split %q (want train, t10k or test)", split)
	}
	pick := func(base string) string {
		gz := filepath.Join(dir, base+".gz")
		if _, err := os.Stat(gz); err == nil {
			return gz
		}
		plain := filepath.Join(dir, base)
		if _, err := os.Stat(plain); err == nil {
			return plain
		}
		return gz // reported as missing by the reader
	}
	return pick(prefix + "-images-idx3-ubyte"), pick(prefix + "-labels-idx1-ubyte"), nil
}

// LoadMNIST reads one split ("train", "t10k" or "test") from an MNIST folder
// such as data/mnist (test set only) or a folder holding all four files, and
// checks that images and labels agree in count and labels are 0..9.
func LoadMNIST(dir, split string) (*MNIST, error) {
	imgPath, lblPath, err := MNISTFiles(dir, split)
	if err != nil {
		return nil, err
	}
	images, err := ReadIDXImages(imgPath)
	if err != nil {
		return nil, err
	}
	labels, err := ReadIDXLabels(lblPath)
	if err != nil {
		return nil, err
	}
	if images.Count != len(labels) {
		return nil, fmt.Errorf("mnist %s: %s has %d images but %s has %d labels", split, imgPath, images.Count, lblPath, len(labels))
	}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("mnist labels %s: label %d of item %d is not a digit 0..9", lblPath, l, i)
		}
	}
	return &MNIST{Images: images, Labels: labels}, nil
}
