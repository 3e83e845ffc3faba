package serve

import (
	"bytes"
	"context"
	"image"

	"golang.org/x/sync/semaphore"

	"github.com/seqtask/seqtask/datasets"
)

// decodeGate bounds the pixels of uploaded images being decoded at once,
// across requests and models. An upload is decoded in its request's own
// goroutine, before any queue bounds the request, and a body of a few
// hundred kilobytes can be a PNG of 50 megapixels (200 MB once decoded):
// sixteen requests of four such images took a server to 6.4 GB. Each
// image waits, by its request's deadline, until the pixels its header
// declares fit in the budget.
type decodeGate struct {
	budget int64
	sem    *semaphore.Weighted
}

func newDecodeGate(pixels int64) *decodeGate {
	return &decodeGate{budget: pixels, sem: semaphore.NewWeighted(pixels)}
}

// decode decodes an uploaded image and hands it to use while holding its
// share of the budget, so that the decoded image is garbage once use
// returns. An image larger than the whole budget waits for all of it; one
// whose header cannot be read takes none, as decoding fails on the
// header. It returns ctx's error if the deadline passes while it waits.
func (g *decodeGate) decode(ctx context.Context, data []byte, use func(image.Image) error) error {
	weight := int64(0)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		weight = min(max(int64(cfg.Width)*int64(cfg.Height), 0), g.budget)
	}
	if err := g.sem.Acquire(ctx, weight); err != nil {
		return err
	}
	defer g.sem.Release(weight)
	img, err := datasets.DecodeImage(data)
	if err != nil {
		return err
	}
	return use(img)
}
