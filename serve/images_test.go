package serve

import (
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

// TestDecodeGateWaitsForItsShare: an upload decodes once the pixels its
// header declares fit beside those already being decoded, and gives up
// when its request's deadline passes first.
func TestDecodeGateWaitsForItsShare(t *testing.T) {
	g := newDecodeGate(100 * 100)
	small, large, huge := pngOf(t, 60, 60), pngOf(t, 80, 80), pngOf(t, 200, 200)
	if err := g.sem.Acquire(context.Background(), 5000); err != nil { // another upload in flight
		t.Fatal(err)
	}
	decode := func(data []byte, wait time.Duration) (image.Rectangle, error) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		var bounds image.Rectangle
		err := g.decode(ctx, data, func(img image.Image) error {
			bounds = img.Bounds()
			return nil
		})
		return bounds, err
	}
	if b, err := decode(small, time.Second); err != nil || b.Dx() != 60 {
		t.Errorf("3,600 pixels beside 5,000 of 10,000: %v, %v; want it decoded", b, err)
	}
	if _, err := decode(large, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("6,400 pixels beside 5,000 of 10,000: %v; want it to wait until the deadline", err)
	}
	if _, err := decode([]byte("not an image"), 50*time.Millisecond); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unreadable header: %v; want the decoding error at once", err)
	}
	g.sem.Release(5000)
	if b, err := decode(large, time.Second); err != nil || b.Dx() != 80 {
		t.Errorf("6,400 pixels alone: %v, %v; want it decoded", b, err)
	}
	if b, err := decode(huge, time.Second); err != nil || b.Dx() != 200 {
		t.Errorf("40,000 pixels, over the whole budget, alone: %v, %v; want it decoded", b, err)
	}
}

// TestDecodeGateBoundsConcurrentUploads: however many requests decode at
// once, the pixels held decoded never exceed the budget.
func TestDecodeGateBoundsConcurrentUploads(t *testing.T) {
	g := newDecodeGate(100 * 100)
	data := pngOf(t, 80, 50) // 4,000 pixels: two fit, three do not
	var held, most atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			err := g.decode(context.Background(), data, func(img image.Image) error {
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
