package datasets

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadText(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"ok.txt", []byte("hello\n"), ""},
		{"empty.txt", []byte(" \n\n"), "empty.txt: the text is empty"},
		{"bad.txt", []byte("ok\nok\n\xff\xfe"), "bad.txt:3: invalid UTF-8"},
	} {
		_, err := ReadText(write(tc.name, tc.content))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	if _, err := ReadText(filepath.Join(dir, "missing.txt")); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: %v", err)
	}
}

func TestCharVocab(t *testing.T) {
	v := CharVocab("hello")
	if want := []string{"e", "h", "l", "o"}; !reflect.DeepEqual(v.Tokens(), want) {
		t.Fatalf("CharVocab(hello) = %q, want %q", v.Tokens(), want)
	}
	ids, err := EncodeChars(v, "hello")
	if err != nil || !reflect.DeepEqual(ids, []int{1, 0, 2, 2, 3}) {
		t.Fatalf("EncodeChars = %v, %v", ids, err)
	}
	if _, err := EncodeChars(v, "hex"); err == nil || !strings.Contains(err.Error(), `'x'`) {
		t.Errorf("unknown character: %v", err)
	}
}
