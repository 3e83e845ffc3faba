package datasets

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// tooLong stands for a line over the limit in the expectations below.
const tooLong = "<too long>"

// readAllLines reads r to the end, returning each line (tooLong for one over
// the limit), whether it ended in CRLF, and the reader for its counters.
func readAllLines(r io.Reader, max int) ([]string, []bool, *LineReader) {
	lr := NewLineReader(r, max)
	var lines []string
	var crlf []bool
	for lr.Next() {
		if lr.TooLong() {
			if lr.Line() != nil || lr.Text() != "" || lr.CRLF() {
				lines = append(lines, "<too long line with content>")
				continue
			}
			lines = append(lines, tooLong)
		} else {
			lines = append(lines, lr.Text())
		}
		crlf = append(crlf, lr.CRLF())
	}
	return lines, crlf, lr
}

func TestLineReader(t *testing.T) {
	big := strings.Repeat("b", 150_000) // spans several buffer fills
	for _, tc := range []struct {
		name    string
		in      string
		max     int
		want    []string
		crlf    []bool
		skipped int
	}{
		{"empty", "", 5, nil, nil, 0},
		{"one line, no newline", "abc", 5, []string{"abc"}, []bool{false}, 0},
		{"one line", "abc\n", 5, []string{"abc"}, []bool{false}, 0},
		{"blank lines kept", "a\n\n\nb\n", 5, []string{"a", "", "", "b"}, []bool{false, false, false, false}, 0},
		{"only a newline", "\n", 5, []string{""}, []bool{false}, 0},
		{"CRLF", "a\r\nb\nc\r", 5, []string{"a", "b", "c"}, []bool{true, false, true}, 0},
		{"lone CR inside a line", "a\rb\n", 5, []string{"a\rb"}, []bool{false}, 0},
		{"BOM on line 1 only", "\ufeffab\n\ufeffcd\n", 5, []string{"ab", "\ufeffcd"}, []bool{false, false}, 0},
		{"exactly the limit", "12345\n12345\r\n12345", 5, []string{"12345", "12345", "12345"}, []bool{false, true, false}, 0},
		{"one over the limit", "123456\nok\n123456\r\nok\n123456", 5, []string{tooLong, "ok", tooLong, "ok", tooLong}, []bool{false, false, false, false, false}, 3},
		{"long line within a large limit", big + "\nok\n", 200_000, []string{big, "ok"}, []bool{false, false}, 0},
		{"long line over the default limit", big + "\nok", 0, []string{tooLong, "ok"}, []bool{false, false}, 1},
		{"NUL bytes are content", "a\x00b\n", 5, []string{"a\x00b"}, []bool{false}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readers := map[string]io.Reader{
				"plain":    strings.NewReader(tc.in),
				"one byte": iotest.OneByteReader(strings.NewReader(tc.in)),
				"data+EOF": iotest.DataErrReader(strings.NewReader(tc.in)),
			}
			for kind, r := range readers {
				got, crlf, lr := readAllLines(r, tc.max)
				if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(crlf, tc.crlf) {
					t.Errorf("%s: lines %q crlf %v, want %q %v", kind, clipLines(got), crlf, clipLines(tc.want), tc.crlf)
				}
				if lr.Skipped() != tc.skipped || lr.LineNumber() != len(tc.want) || lr.Err() != nil {
					t.Errorf("%s: skipped %d, line number %d, err %v; want %d, %d, nil", kind, lr.Skipped(), lr.LineNumber(), lr.Err(), tc.skipped, len(tc.want))
				}
				if lr.Next() {
					t.Errorf("%s: Next after the end returned true", kind)
				}
			}
		})
	}
}

// clipLines shortens long expected or got lines for messages.
func clipLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 20 {
			l = l[:20] + "..."
		}
		out[i] = l
	}
	return out
}

func TestLineReaderDefaultMax(t *testing.T) {
	if got := NewLineReader(strings.NewReader(""), 0).Max(); got != MaxLineBytes {
		t.Errorf("Max() = %d, want MaxLineBytes", got)
	}
	if got := NewLineReader(strings.NewReader(""), 7).Max(); got != 7 {
		t.Errorf("Max() = %d, want 7", got)
	}
}

// TestLineReaderError checks that a read error ends the lines, is reported
// by Err, and that LineNumber names the line it interrupted.
func TestLineReaderError(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, tc := range []struct {
		name     string
		in       string
		want     []string
		wantLine int
	}{
		{"between lines", "a\nb\n", []string{"a", "b"}, 3},
		{"inside a line", "a\nb", []string{"a"}, 2},
		{"at the start", "", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := io.MultiReader(strings.NewReader(tc.in), iotest.ErrReader(boom))
			got, _, lr := readAllLines(r, 5)
			if !reflect.DeepEqual(got, tc.want) || !errors.Is(lr.Err(), boom) || lr.LineNumber() != tc.wantLine {
				t.Errorf("lines %q, err %v, line %d; want %q, %v, %d", got, lr.Err(), lr.LineNumber(), tc.want, boom, tc.wantLine)
			}
			if lr.Next() {
				t.Error("Next after an error returned true")
			}
		})
	}
}

// TestLineReaderBoundedMemory reads a 64 MiB line with a 1 KiB limit: the
// reader must not hold it.
func TestLineReaderBoundedMemory(t *testing.T) {
	huge := io.MultiReader(io.LimitReader(zeros{}, 64<<20), strings.NewReader("\nafter\n"))
	lr := NewLineReader(huge, 1<<10)
	var lines []string
	for lr.Next() {
		lines = append(lines, lr.Text())
		if c := cap(lr.buf); c > 4<<10 {
			t.Fatalf("buffer grew to %d bytes for a 1 KiB limit", c)
		}
	}
	if !reflect.DeepEqual(lines, []string{"", "after"}) || lr.Skipped() != 1 {
		t.Errorf("lines %q, skipped %d", lines, lr.Skipped())
	}
}

// zeros is an endless stream of zero bytes, like /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
