package serve

import (
	"archive/zip"
	"bytes"
	"context"
	"image"
	"sync/atomic"

	"golang.org/x/sync/semaphore"

	"github.com/seqtask/seqtask/datasets"
)

// uploadBudget bounds the bytes that uploads hold at once across requests
// and models: images while they are decoded (4 bytes a pixel, as declared
// by their header) and clips while they wait on disk to be labelled (a
// zip's frames as unpacked). An upload is handled in its request's own
// goroutine, before any queue bounds the request, and a body of a few
// hundred kilobytes can be a PNG of 50 megapixels (200 MB once decoded) or
// a zip that unpacks to 256 MB: sixteen requests of four such PNGs took a
// server to 6.4 GB. Each upload waits, by its request's deadline, until
// its bytes fit in the budget.
type uploadBudget struct {
	bytes int64
	sem   *semaphore.Weighted
	held  atomic.Int64 // bytes held now, for /metrics
}

func newUploadBudget(bytes int64) *uploadBudget {
	return &uploadBudget{bytes: bytes, sem: semaphore.NewWeighted(bytes)}
}

// hold waits until n bytes fit (all of the budget, if n is larger) and
// returns the function that gives them back; ctx's error if the deadline
// passes first.
func (b *uploadBudget) hold(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 0), b.bytes)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	b.held.Add(n)
	return func() {
		b.held.Add(-n)
		b.sem.Release(n)
	}, nil
}

// decode decodes an uploaded image and hands it to use while holding its
// share of the budget, so that the decoded image is garbage once use
// returns. An image whose header cannot be read takes none, as decoding
// fails on the header.
func (b *uploadBudget) decode(ctx context.Context, data []byte, use func(image.Image) error) error {
	n := int64(0)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		n = 4 * int64(cfg.Width) * int64(cfg.Height)
	}
	release, err := b.hold(ctx, n)
	if err != nil {
		return err
	}
	defer release()
	img, err := datasets.DecodeImage(data)
	if err != nil {
		return err
	}
	return use(img)
}

// clipBytes is what an uploaded clip takes on disk: a zip's entries as its
// directory declares them (archive/zip refuses entries longer than
// declared; unzipFrames refuses more than maxUnzipped), anything else its
// own length.
func clipBytes(data []byte) int64 {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return int64(len(data))
	}
	var n uint64
	for _, f := range zr.File {
		n += min(f.UncompressedSize64, maxUnzipped)
	}
	return int64(min(n, maxUnzipped))
}
