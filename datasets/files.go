package datasets

// Opening input files safely. Every reader in this package opens its files
// through OpenFile, ReadFile or openStream, so that the same guarantees hold
// everywhere: only regular files are read (a device such as /dev/zero never
// ends, a named pipe blocks, a directory is a mistake), a whole-file read
// has a size limit, and a gzip stream may expand only to a bounded size.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the errors for a path that exists but is not a
// regular file (or a symbolic link to one).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the errors for an input over its size limit: a
// file too large to read whole, or a compressed stream that expands beyond
// its limit (a decompression bomb).
var ErrTooLarge = errors.New("too large")

// maxStreamBytes bounds the bytes a streamed input (a pairs file, an IDX
// file) may hold after gzip decompression, and a plain one alike: 1 GiB,
// twenty times the largest file seqtask documents. It is a variable so that
// tests can lower it and feed a real gzip bomb cheaply.
var maxStreamBytes int64 = 1 << 30

// OpenFile opens path for reading after checking that it is a regular file
// or a symbolic link to one. A directory, a device, a named pipe (FIFO) or
// a socket is refused with an error naming the path and wrapping
// ErrNotRegular, instead of blocking, reading forever or failing obscurely.
func OpenFile(path string) (*os.File, error) {
	// Stat first: opening a FIFO for reading blocks until a writer comes.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// The path may have been replaced between Stat and Open.
	if fi, err = f.Stat(); err == nil {
		err = checkRegular(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// statRegular returns the error OpenFile would give for path, for files
// that another program (ffmpeg) reads.
func statRegular(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return checkRegular(path, fi)
}

// checkRegular returns nil for a regular file and otherwise an error naming
// path and what it is.
func checkRegular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "not a plain file"
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	}
	return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: it is %s", ErrNotRegular, kind)}
}

// ReadFile reads the whole regular file path (see OpenFile), refusing one
// larger than limit bytes with an error naming the path and the limit and
// wrapping ErrTooLarge, so that no file makes a reader hold more than it
// was meant to.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %w: %d bytes, over the %s limit", path, ErrTooLarge, fi.Size(), formatBytes(limit))
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	// The size may be stale (a file still being written, or a /proc file
	// reporting 0), so the limit is enforced on what is read too.
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s: %w: more than the %s limit", path, ErrTooLarge, formatBytes(limit))
	}
	return buf.Bytes(), nil
}

// stream is an opened input file read as a stream: the file's bytes, or
// their gzip decompression when the file starts with the gzip magic bytes.
type stream struct {
	io.Reader
	f       *os.File
	gzipped bool
}

func (s *stream) Close() error { return s.f.Close() }

// openStream opens the regular file path (see OpenFile) for streaming
// through decompress with at most maxStreamBytes bytes.
func openStream(path string) (*stream, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	r, gz, err := decompress(f, maxStreamBytes)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &stream{Reader: r, f: f, gzipped: gz}, nil
}

// decompress returns a reader over r's content, gunzipped when r starts with
// the gzip magic bytes 1f 8b (whatever the file is called), and whether it
// was. The reader fails with an error naming the limit and wrapping
// ErrTooLarge once the content exceeds limit bytes: a gzip bomb is an error
// after limit bytes, not gigabytes of memory or hours of reading. Errors do
// not name the input; callers add it.
func decompress(r io.Reader, limit int64) (io.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return &cappedReader{r: br, left: limit, err: fmt.Errorf("%w: more than the %s limit", ErrTooLarge, formatBytes(limit))}, false, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, true, fmt.Errorf("gzip header: %w", err)
	}
	return &cappedReader{r: zr, left: limit, err: fmt.Errorf("%w: decompresses to more than the %s limit", ErrTooLarge, formatBytes(limit))}, true, nil
}

// cappedReader passes through at most left more bytes of r and returns err
// instead of the first byte beyond them.
type cappedReader struct {
	r    io.Reader
	left int64
	err  error
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, c.err
	}
	// Ask for one byte more than allowed: getting it is the overflow.
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n - 1, c.err
	}
	return n, err
}

// formatBytes writes a limit the way people read it: 64 KiB, 1 GiB, or a
// byte count when it is not a whole number of KiB.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}

// eofUnexpected turns io.EOF into io.ErrUnexpectedEOF: a structure that
// stops early is truncated.
func eofUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
