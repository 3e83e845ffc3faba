package datasets

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxLineBytes is the default limit of NewLineReader: 64 KiB, far above any
// sentence, caption, label or file name, so that a line longer than it is
// garbage (a binary file, a missing newline) rather than data.
const MaxLineBytes = 64 << 10

// LineReader reads a stream line by line with bounded memory: a line longer
// than the limit is consumed without being held, reported through TooLong
// and counted, and reading goes on with the next line. It is what
// bufio.Scanner is for lines, without the failure of the whole stream at the
// first long line (bufio.Scanner: token too long).
//
// A line ends at "\n" or at the end of the stream; the "\n", a "\r" before
// it (CRLF endings) and a UTF-8 byte-order mark at the start of the stream
// are not part of it. An empty stream has no lines; a final line without
// "\n" is a line.
//
//	lr := datasets.NewLineReader(r, 0)
//	for lr.Next() {
//		if lr.TooLong() {
//			log.Printf("line %d: longer than %d bytes, skipped", lr.LineNumber(), lr.Max())
//			continue
//		}
//		use(lr.Text())
//	}
//	if err := lr.Err(); err != nil { ... }
type LineReader struct {
	br      *bufio.Reader
	max     int
	buf     []byte
	num     int
	tooLong bool
	crlf    bool
	skipped int
	err     error
	done    bool
}

// NewLineReader returns a LineReader over r whose lines may hold at most
// maxLen bytes; maxLen <= 0 means MaxLineBytes.
func NewLineReader(r io.Reader, maxLen int) *LineReader {
	if maxLen <= 0 {
		maxLen = MaxLineBytes
	}
	return &LineReader{br: bufio.NewReaderSize(r, 1<<16), max: maxLen}
}

// Next advances to the next line, which Line, Text and TooLong then
// describe. It returns false at the end of the stream or at a read error,
// which Err reports. A line over the limit is returned too, with TooLong
// true and no content, so that the caller can report it in its place.
func (r *LineReader) Next() bool {
	if r.done {
		return false
	}
	r.buf, r.tooLong, r.crlf = r.buf[:0], false, false
	read := 0
	for {
		frag, err := r.br.ReadSlice('\n')
		read += len(frag)
		// Keep up to two bytes over the limit: the "\r\n" that may end it.
		if !r.tooLong && len(r.buf)+len(frag) <= r.max+2 {
			r.buf = append(r.buf, frag...)
		} else {
			r.tooLong = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			r.done = true
			if err != io.EOF {
				r.err = err
				r.num++ // the line the error interrupted, for messages
				return false
			}
			if read == 0 {
				return false
			}
		}
		break
	}
	r.num++
	r.buf = bytes.TrimSuffix(r.buf, []byte("\n"))
	if n := len(r.buf); n > 0 && r.buf[n-1] == '\r' {
		r.buf, r.crlf = r.buf[:n-1], true
	}
	if r.tooLong || len(r.buf) > r.max {
		r.tooLong, r.crlf, r.buf = true, false, r.buf[:0]
		r.skipped++
		return true
	}
	if r.num == 1 {
		r.buf = bytes.TrimPrefix(r.buf, []byte("\ufeff"))
	}
	return true
}

// Line returns the current line without its ending; nil for a line over the
// limit. The slice is valid only until the next call of Next.
func (r *LineReader) Line() []byte {
	if r.tooLong {
		return nil
	}
	return r.buf
}

// Text returns the current line as a string ("" for a line over the limit).
func (r *LineReader) Text() string { return string(r.Line()) }

// LineNumber is the 1-based number of the current line. After Next returns
// false it is the number of lines in the stream, or, after a read error,
// the number of the line the error interrupted.
func (r *LineReader) LineNumber() int { return r.num }

// TooLong reports whether the current line is longer than the limit, in
// which case its content was discarded.
func (r *LineReader) TooLong() bool { return r.tooLong }

// CRLF reports whether the current line ended in "\r\n" (false for a line
// over the limit).
func (r *LineReader) CRLF() bool { return r.crlf }

// Skipped is the number of lines so far that were over the limit.
func (r *LineReader) Skipped() int { return r.skipped }

// Max is the longest line in bytes, without its ending, that the reader
// returns.
func (r *LineReader) Max() int { return r.max }

// Err returns the first error other than io.EOF that the stream returned.
func (r *LineReader) Err() error { return r.err }
