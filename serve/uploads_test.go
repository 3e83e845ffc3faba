package serve

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestUploadBudgetWaitsForItsShare: an image decodes once the bytes its
// header declares (4 a pixel) fit beside those already held, and gives
// up when its request's deadline passes first.
func TestUploadBudgetWaitsForItsShare(t *testing.T) {
	b := newUploadBudget(4 * 100 * 100)
	small, large, huge := pngOf(t, 60, 60), pngOf(t, 80, 80), pngOf(t, 200, 200)
	other, err := b.hold(context.Background(), 4*5000) // another upload in flight
	if err != nil {
		t.Fatal(err)
	}
	decode := func(data []byte, wait time.Duration) (image.Rectangle, error) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		var bounds image.Rectangle
		err := b.decode(ctx, data, func(img image.Image) error {
			bounds = img.Bounds()
			return nil
		})
		return bounds, err
	}
	if r, err := decode(small, time.Second); err != nil || r.Dx() != 60 {
		t.Errorf("3,600 pixels beside 5,000 of 10,000: %v, %v; want it decoded", r, err)
	}
	if _, err := decode(large, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("6,400 pixels beside 5,000 of 10,000: %v; want it to wait until the deadline", err)
	}
	if _, err := decode([]byte("not an image"), 50*time.Millisecond); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unreadable header: %v; want the decoding error at once", err)
	}
	if got := b.held.Load(); got != 4*5000 {
		t.Errorf("%d bytes held after the decodes; want the other upload's 20,000", got)
	}
	other()
	if got := b.held.Load(); got != 0 {
		t.Errorf("%d bytes held once all are given back; want 0", got)
	}
	if r, err := decode(large, time.Second); err != nil || r.Dx() != 80 {
		t.Errorf("6,400 pixels alone: %v, %v; want it decoded", r, err)
	}
	if r, err := decode(huge, time.Second); err != nil || r.Dx() != 200 {
		t.Errorf("40,000 pixels, over the whole budget, alone: %v, %v; want it decoded", r, err)
	}
}

// TestUploadBudgetBoundsConcurrentImages: however many requests decode
// at once, the pixels held decoded never exceed the budget.
func TestUploadBudgetBoundsConcurrentImages(t *testing.T) {
	b := newUploadBudget(4 * 100 * 100)
	data := pngOf(t, 80, 50) // 4,000 pixels: two fit, three do not
	var held, most atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			err := b.decode(context.Background(), data, func(img image.Image) error {
				n := held.Add(int64(img.Bounds().Dx() * img.Bounds().Dy()))
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(5 * time.Millisecond)
				held.Add(-4000)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > 10000 || m < 4000 {
		t.Errorf("at most %d pixels held at once; want 4,000–10,000 with a budget of 10,000", m)
	}
}

// TestClipBytes: a zip of frames counts as it unpacks (its directory's
// sizes, at most maxUnzipped), any other clip as sent.
func TestClipBytes(t *testing.T) {
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	for _, name := range []string{"f1.png", "f2.png"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(make([]byte, 1<<20)) // zeros: a megabyte each that deflates to about a kilobyte
	}
	zw.Close()
	for _, tc := range []struct {
		name string
		data []byte
		want int64
	}{
		{"zip of two 1 MiB frames", z.Bytes(), 2 << 20},
		{"GIF", []byte("GIF89a......"), 12},
		{"truncated zip", z.Bytes()[:100], 100},
	} {
		if got := clipBytes(tc.data); got != tc.want {
			t.Errorf("%s (%d bytes sent): %d bytes; want %d", tc.name, len(tc.data), got, tc.want)
		}
	}
}
