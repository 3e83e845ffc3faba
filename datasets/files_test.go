package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	tdWriteFile(t, file, bytes.Repeat([]byte("x"), 100))
	for _, tc := range []struct {
		name    string
		path    string
		limit   int64
		wantErr []string // substrings; nil means success
		is      error
	}{
		{"within the limit", file, 100, nil, nil},
		{"over the limit", file, 99, []string{file, "too large", "100 bytes", "99-byte limit"}, ErrTooLarge},
		{"limit in KiB", file, 0, []string{file, "too large"}, ErrTooLarge},
		{"a directory", dir, 1 << 20, []string{dir, "not a regular file", "a directory"}, ErrNotRegular},
		{"missing", filepath.Join(dir, "nope"), 1 << 20, []string{"nope"}, os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadFile(tc.path, tc.limit)
			if tc.wantErr == nil {
				if err != nil || len(b) != 100 {
					t.Fatalf("got %d bytes, err %v", len(b), err)
				}
				return
			}
			if err == nil || !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want one wrapping %v", err, tc.is)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{1 << 30: "1 GiB", 256 << 20: "256 MiB", 64 << 10: "64 KiB", 1000: "1000-byte", 3 << 30: "3 GiB", 1<<20 + 1: "1048577-byte"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCappedReader checks the limit at its edge: exactly limit bytes read
// fine, one more is the error, for plain and gzipped content.
func TestCappedReader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		gzipped bool
		wantErr bool
	}{
		{"plain at the limit", 1000, false, false},
		{"plain over the limit", 1001, false, true},
		{"gzip at the limit", 1000, true, false},
		{"gzip over the limit", 1001, true, true},
		{"empty", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("y"), tc.size)
			in := data
			if tc.gzipped {
				in = tdGzip(t, data)
			}
			r, gz, err := decompress(bytes.NewReader(in), 1000)
			if err != nil || gz != tc.gzipped {
				t.Fatalf("decompress: gzipped %v, err %v", gz, err)
			}
			got, err := io.ReadAll(r)
			if tc.wantErr {
				if !errors.Is(err, ErrTooLarge) || len(got) != 1000 || !strings.Contains(err.Error(), "1000-byte limit") {
					t.Fatalf("read %d bytes, err %v; want 1000 and ErrTooLarge naming the limit", len(got), err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, err %v", len(got), err)
			}
		})
	}
}

// gzipBomb returns header followed by n zero bytes, gzipped: 200 MB of zeros
// compress to about 200 KB.
func gzipBomb(t *testing.T, header []byte, n int64) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(header)
	if _, err := io.Copy(w, io.LimitReader(zeros{}, n)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// lowerStreamLimit sets maxStreamBytes for one test.
func lowerStreamLimit(t *testing.T, n int64) {
	old := maxStreamBytes
	maxStreamBytes = n
	t.Cleanup(func() { maxStreamBytes = old })
}

// TestGzipBombs feeds real gzip bombs (200 MB of zeros in a few hundred KB)
// to every reader of gzipped input with the decompression limit lowered to
// 1 MiB: each must fail with an error naming the file and the limit, having
// allocated a few megabytes, not hundreds.
func TestGzipBombs(t *testing.T) {
	const bombSize = 200 << 20
	dir := t.TempDir()
	var idxHeader bytes.Buffer
	binary.Write(&idxHeader, binary.BigEndian, [4]uint32{IDXImagesMagic, 200_000, 32, 32}) // announces 195 MiB
	var lblHeader bytes.Buffer
	binary.Write(&lblHeader, binary.BigEndian, [2]uint32{IDXLabelsMagic, 200_000_000})
	for _, tc := range []struct {
		name   string
		header []byte
		read   func(path string) error
	}{
		{"pairs.tsv.gz", nil, func(p string) error { _, err := ReadPairs(p, PairOptions{}); return err }},
		{"pairs-lines.tsv.gz", []byte("a\tb\n"), func(p string) error { _, err := ReadPairs(p, PairOptions{}); return err }},
		{"images-idx3-ubyte.gz", idxHeader.Bytes(), func(p string) error { _, err := ReadIDXImages(p); return err }},
		{"labels-idx1-ubyte.gz", lblHeader.Bytes(), func(p string) error { _, err := ReadIDXLabels(p); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bomb := gzipBomb(t, tc.header, bombSize)
			if len(bomb) > 1<<20 {
				t.Fatalf("the bomb is %d bytes compressed, want under 1 MiB", len(bomb))
			}
			path := filepath.Join(dir, tc.name)
			tdWriteFile(t, path, bomb)
			lowerStreamLimit(t, 1<<20)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := tc.read(path)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "1 MiB limit") {
				t.Fatalf("err = %v, want ErrTooLarge naming %s and the 1 MiB limit", err, path)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("reading the bomb allocated %d MiB", alloc>>20)
			}
		})
	}
}

// TestPlainInputLimit checks that the stream limit applies to plain files
// too.
func TestPlainInputLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.tsv")
	tdWriteFile(t, path, bytes.Repeat([]byte("Go.\tVa !\n"), 1000))
	lowerStreamLimit(t, 1<<10)
	if _, err := ReadPairs(path, PairOptions{}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrTooLarge naming %s", err, path)
	}
}

// TestWholeFileLimits gives the readers that read a file whole one a byte
// over their limit (a sparse file, so nothing is written): each refuses it
// from its size, naming the file and the limit.
func TestWholeFileLimits(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		limit int64
		read  func(path string) error
		want  string
	}{
		{"text.txt", MaxTextBytes, func(p string) error { _, err := ReadText(p); return err }, "256 MiB limit"},
		{"captions.json", MaxCaptionFileBytes, func(p string) error { _, err := ReadCOCOCaptions(p, dir); return err }, "256 MiB limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			tdWriteFile(t, path, nil)
			if err := os.Truncate(path, tc.limit+1); err != nil {
				t.Fatal(err)
			}
			err := tc.read(path)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrTooLarge naming %s and %q", err, path, tc.want)
			}
		})
	}
}
