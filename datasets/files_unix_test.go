//go:build unix

package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadersRefuseNonRegularFiles gives every file reader a directory, a
// named pipe and /dev/zero where a file is expected: each must return at
// once (a pipe without writer would block, /dev/zero never ends) with an
// error naming the path and wrapping ErrNotRegular.
func TestReadersRefuseNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	mkfifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		return p
	}
	mkdir := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	loader := newLoader(t, ImageConfig{Size: 4})
	readers := []struct {
		name string
		read func(path string) error
	}{
		{"OpenFile", func(p string) error { f, err := OpenFile(p); closeIf(f); return err }},
		{"ReadFile", func(p string) error { _, err := ReadFile(p, 1<<20); return err }},
		{"ReadText", func(p string) error { _, err := ReadText(p); return err }},
		{"ReadPairs", func(p string) error { _, err := ReadPairs(p, PairOptions{}); return err }},
		{"ReadFlickr8kTokens", func(p string) error { _, err := ReadFlickr8kTokens(p, dir); return err }},
		{"ReadImageList", func(p string) error { _, err := ReadImageList(p); return err }},
		{"ReadCOCOCaptions", func(p string) error { _, err := ReadCOCOCaptions(p, dir); return err }},
		{"ReadIDXImages", func(p string) error { _, err := ReadIDXImages(p); return err }},
		{"ReadIDXLabels", func(p string) error { _, err := ReadIDXLabels(p); return err }},
		{"ImageLoader.Load", func(p string) error { _, err := loader.Load(p); return err }},
		{"ImageLoader.LoadCache", func(p string) error { _, err := loader.LoadCache(p); return err }},
		{"LoadClipFrames", func(p string) error { _, _, err := LoadClipFrames(p, ClipOptions{}); return err }},
	}
	targets := map[string]string{
		"named pipe": mkfifo("pipe"),
		"directory":  mkdir("folder"),
		"/dev/zero":  "/dev/zero",
	}
	for _, rd := range readers {
		for kind, path := range targets {
			if rd.name == "LoadClipFrames" && kind == "directory" {
				continue // a clip folder is what it reads
			}
			t.Run(rd.name+"/"+kind, func(t *testing.T) {
				err := withTimeout(t, func() error { return rd.read(path) })
				if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want ErrNotRegular naming %s", err, path)
				}
			})
		}
	}

	// Inside a clip folder: a labels.txt and a frame that are pipes, and a
	// GIF clip that is one. Under SkipBad each is skipped with that reason
	// and the good clip loads.
	clips := t.TempDir()
	tdGrayClip(t, filepath.Join(clips, "c0"), []string{"f0.png"}, []uint8{1}, 2, 2, "a\n")
	tdGrayClip(t, filepath.Join(clips, "c1"), []string{"f0.png"}, []uint8{1}, 2, 2, "-")
	tdGrayClip(t, filepath.Join(clips, "c2"), nil, nil, 2, 2, "a\n")
	tdWriteFile(t, filepath.Join(clips, "c3.labels.txt"), []byte("a\n"))
	for _, p := range []string{filepath.Join("c1", ClipLabelsFile), filepath.Join("c2", "f0.png"), "c3.gif"} {
		if err := syscall.Mkfifo(filepath.Join(clips, p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var set *ClipSet
	err := withTimeout(t, func() error {
		var err error
		set, err = LoadClips(clips, ClipOptions{SkipBad: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Clips) != 1 || len(set.Report.Skipped) != 3 {
		t.Fatalf("loaded %d clips, skipped %+v; want 1 and 3", len(set.Clips), set.Report.Skipped)
	}
	for i, want := range []string{ClipLabelsFile, "f0.png", "c3.gif"} {
		if sk := set.Report.Skipped[i]; !errors.Is(sk.Err, ErrNotRegular) || !strings.Contains(sk.Err.Error(), want) {
			t.Errorf("skipped %s: %v, want ErrNotRegular naming %s", sk.Name, sk.Err, want)
		}
	}
}

func closeIf(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// withTimeout runs read and fails the test if it has not returned within 10
// seconds (a reader blocked on a pipe).
func withTimeout(t *testing.T, read func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the reader blocked for 10 s")
		return nil
	}
}
