package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxImages builds an IDX3 file body with the given header and pixel count.
func idxImages(magic, count, rows, cols uint32, pixels int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, [4]uint32{magic, count, rows, cols})
	for i := 0; i < pixels; i++ {
		b.WriteByte(byte(i))
	}
	return b.Bytes()
}

func idxLabels(magic, count uint32, labels ...byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, [2]uint32{magic, count})
	b.Write(labels)
	return b.Bytes()
}

func tdGzip(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tdWriteFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadIDXImages(t *testing.T) {
	good := idxImages(IDXImagesMagic, 2, 2, 3, 12)
	gzGood := tdGzip(t, good)
	corruptGz := append([]byte(nil), gzGood...)
	corruptGz[len(corruptGz)-6] ^= 0xff // damage the CRC32 trailer
	tests := []struct {
		name    string
		data    []byte
		wantErr string // "" = success
	}{
		{"plain", good, ""},
		{"gzipped", gzGood, ""},
		{"empty file", nil, "truncated header"},
		{"short header", good[:10], "truncated header"},
		{"bad magic", idxImages(IDXLabelsMagic, 2, 2, 3, 12), "bad magic"},
		{"zero rows", idxImages(IDXImagesMagic, 2, 0, 3, 0), "implausible image size"},
		{"truncated body", good[:len(good)-1], "truncated: body has 11 of 12 bytes"},
		{"truncated gzip", gzGood[:len(gzGood)/2], "unexpected EOF"},
		{"corrupt gzip", corruptGz, "checksum"},
		{"trailing data", append(append([]byte(nil), good...), 7), "trailing data"},
		{"huge header", idxImages(IDXImagesMagic, 1<<30, 28, 28, 0), "limit"},
		{"lying header", idxImages(IDXImagesMagic, 1000000, 28, 28, 5), "truncated: body has 5 of"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".idx3")
			tdWriteFile(t, path, tc.data)
			m, err := ReadIDXImages(path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if m.Count != 2 || m.Rows != 2 || m.Cols != 3 {
					t.Fatalf("got %d×%d×%d, want 2×2×3", m.Count, m.Rows, m.Cols)
				}
				if got := m.Image(1); !bytes.Equal(got, []byte{6, 7, 8, 9, 10, 11}) {
					t.Fatalf("Image(1) = %v", got)
				}
				if m.Image(2) != nil || m.Image(-1) != nil {
					t.Fatal("out-of-range Image should be nil")
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q, got success", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q should contain %q and the file name", err, tc.wantErr)
			}
		})
	}
}

func TestReadIDXLabels(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		want    []byte
		wantErr string
	}{
		{"ok", idxLabels(IDXLabelsMagic, 3, 1, 2, 3), []byte{1, 2, 3}, ""},
		{"ok gz", tdGzip(t, idxLabels(IDXLabelsMagic, 3, 1, 2, 3)), []byte{1, 2, 3}, ""},
		{"bad magic", idxLabels(IDXImagesMagic, 3, 1, 2, 3), nil, "bad magic"},
		{"short", idxLabels(IDXLabelsMagic, 3, 1, 2), nil, "truncated"},
		{"long", idxLabels(IDXLabelsMagic, 3, 1, 2, 3, 4), nil, "trailing data"},
		{"header only", idxLabels(IDXLabelsMagic, 0)[:5], nil, "truncated header"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			tdWriteFile(t, path, tc.data)
			got, err := ReadIDXLabels(path)
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Fatalf("got %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v should contain %q and the file name", err, tc.wantErr)
			}
		})
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	dir := t.TempDir()
	tdWriteFile(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), tdGzip(t, idxImages(IDXImagesMagic, 2, 2, 2, 8)))
	tdWriteFile(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), idxLabels(IDXLabelsMagic, 3, 1, 2, 3))
	tdWriteFile(t, filepath.Join(dir, "train-images-idx3-ubyte"), idxImages(IDXImagesMagic, 2, 2, 2, 8))
	tdWriteFile(t, filepath.Join(dir, "train-labels-idx1-ubyte"), idxLabels(IDXLabelsMagic, 2, 1, 12))
	for _, tc := range []struct{ split, wantErr string }{
		{"test", "has 2 images but"},
		{"train", "not a digit"},
		{"valid", "unknown split"},
	} {
		if _, err := LoadMNIST(dir, tc.split); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("LoadMNIST(%s) error %v, want %q", tc.split, err, tc.wantErr)
		}
	}
	if _, err := LoadMNIST(t.TempDir(), "train"); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz") {
		t.Errorf("missing files: error %v should name the file", err)
	}
}

// TestLoadShippedMNIST reads the test set shipped in data/mnist.
func TestLoadShippedMNIST(t *testing.T) {
	m, err := LoadMNIST(filepath.Join("..", "data", "mnist"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 10000 || m.Images.Rows != 28 || m.Images.Cols != 28 {
		t.Fatalf("got %d images of %d×%d, want 10000 of 28×28", m.Len(), m.Images.Rows, m.Images.Cols)
	}
	// The first test digit of MNIST is a 7.
	if m.Labels[0] != 7 {
		t.Fatalf("first label %d, want 7", m.Labels[0])
	}
}

func TestMNISTSlice(t *testing.T) {
	m := &MNIST{Images: &IDXImages{Count: 4, Rows: 1, Cols: 2, Pixels: []byte{0, 1, 2, 3, 4, 5, 6, 7}}, Labels: []uint8{0, 1, 2, 3}}
	s, err := m.Slice(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.Labels[0] != 1 || s.Images.Image(1)[1] != 5 {
		t.Errorf("Slice(1, 2) = %+v", s)
	}
	if all, _ := m.Slice(2, 0); all.Len() != 2 {
		t.Errorf("Slice(2, 0) has %d examples, want the remaining 2", all.Len())
	}
	for _, r := range [][2]int{{-1, 1}, {3, 2}, {4, 0}} {
		if _, err := m.Slice(r[0], r[1]); err == nil {
			t.Errorf("Slice(%d, %d) accepted", r[0], r[1])
		}
	}
}
