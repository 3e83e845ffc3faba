package tasks

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/encoders"
	"github.com/seqtask/seqtask/nn"
)

// featureCache holds a frozen encoder's outputs per image view (with
// encoder.freeze): the summary and, with attention, the grid of positions.
// The decoder then trains on them at twice the steps per second of
// training end to end.
type featureCache[T nn.Float] struct {
	rows    map[string]int   // image path → row of its plain view
	mirror  map[string]int   // training image path → row of its mirror view (with data.augment.flip)
	extra   map[string][]int // training image path → rows of its augmented views (data.augment.views)
	summary nn.Mat[T]        // [views][Summary]
	memory  nn.Mat[T]        // [views*S][Memory]; empty without attention
	S       int
	out     encoders.Output[T] // gather's buffers
}

// maxCachedViews bounds data.augment.views.
const maxCachedViews = 32

// buildCache computes the frozen encoder's outputs once, in evaluation
// mode: for every training image, its mirror (with data.augment.flip) and
// data.augment.views augmented views of it, and for every dev image. The
// augmented views are drawn from a generator seeded by the config's seed
// alone, so that a resumed run caches the same views.
func (m *Captioning[T]) buildCache() error {
	if m.cache != nil {
		return nil
	}
	began := time.Now()
	c := &featureCache[T]{rows: map[string]int{}, mirror: map[string]int{}, extra: map[string][]int{}}
	type view struct {
		path            string
		mirror, augment bool
	}
	var views []view
	for _, set := range []*datasets.CaptionSet{m.train, m.dev} {
		for _, p := range set.Paths() {
			views = append(views, view{path: p})
		}
	}
	if m.cfg.Data.Augment.Flip {
		for _, p := range m.train.Paths() {
			views = append(views, view{path: p, mirror: true})
		}
	}
	for range m.cfg.Data.Augment.Views {
		for _, p := range m.train.Paths() {
			views = append(views, view{path: p, augment: true})
		}
	}
	augment := rand.New(rand.NewPCG(m.cfg.Seed, 0xca5ed))
	w := m.model.enc.Widths()
	attends := m.model.dec.Attends()
	c.summary = nn.NewMat[T](len(views), w.Summary)
	batch := max(m.cfg.Train.Batch, 64)
	for lo := 0; lo < len(views); lo += batch {
		part := views[lo:min(lo+batch, len(views))]
		tensors := make([]*datasets.ImageTensor, len(part))
		for i, v := range part {
			var t *datasets.ImageTensor
			var err error
			if v.augment {
				t, err = m.loader.LoadTrain(v.path, augment)
			} else {
				t, err = m.loader.Load(v.path)
			}
			if err != nil {
				return fmt.Errorf("caching features: %w", err)
			}
			switch {
			case v.augment:
				c.extra[v.path] = append(c.extra[v.path], lo+i)
			case v.mirror:
				t = t.Mirror()
				c.mirror[v.path] = lo + i
			default:
				c.rows[v.path] = lo + i
			}
			tensors[i] = t
		}
		out, err := m.model.enc.Forward(m.imageBatch(tensors), false, nil)
		if err != nil {
			return fmt.Errorf("caching features: %w", err)
		}
		c.summary.RowBlock(lo, lo+len(part)).CopyFrom(out.Summary)
		if attends {
			if c.memory.Empty() {
				c.S = out.S
				c.memory = nn.NewMat[T](len(views)*c.S, w.Memory)
			}
			c.memory.RowBlock(lo*c.S, (lo+len(part))*c.S).CopyFrom(out.Memory)
		}
	}
	m.cache = c
	bytes := 8
	if _, single := any(T(0)).(float32); single {
		bytes = 4
	}
	fmt.Fprintf(m.log, "captioning: encoder frozen; cached its features of %d image views in %v (%.0f MiB)\n",
		len(views), time.Since(began).Round(time.Millisecond), float64((len(c.summary.Data)+len(c.memory.Data))*bytes)/(1<<20))
	return nil
}

// sampleCached draws train.batch training images, one of each image's
// captions and one of its cached views (plain; mirror with
// data.augment.flip; augmented with data.augment.views), returning their
// rows in the feature cache, the images' indices and the captions.
func (m *Captioning[T]) sampleCached(rng *rand.Rand) (rows, imgs []int, seqs [][]int) {
	n := m.cfg.Train.Batch
	rows, imgs, seqs = make([]int, n), make([]int, n), make([][]int, n)
	for i := range seqs {
		img := rng.IntN(len(m.train.Images))
		imgs[i] = img
		caps := m.trainIDs[img]
		seqs[i] = caps[rng.IntN(len(caps))]
		p := m.train.Path(img)
		rows[i] = m.cache.rows[p]
		flip := m.cfg.Data.Augment.Flip
		extra := m.cache.extra[p]
		if len(extra) == 0 { // the draw of runs made before augmented views
			if flip && rng.IntN(2) == 1 {
				rows[i] = m.cache.mirror[p]
			}
			continue
		}
		plain := 1
		if flip {
			plain = 2
		}
		switch v := rng.IntN(plain + len(extra)); {
		case v >= plain:
			rows[i] = extra[v-plain]
		case v == 1:
			rows[i] = m.cache.mirror[p]
		}
	}
	return rows, imgs, seqs
}

// gather returns the cached outputs of rows as one batch, in buffers
// reused from call to call.
func (c *featureCache[T]) gather(rows []int) encoders.Output[T] {
	o := &c.out
	o.Summary = nn.NewMatLike(o.Summary, len(rows), c.summary.Cols)
	for i, r := range rows {
		copy(o.Summary.Row(i), c.summary.Row(r))
	}
	if !c.memory.Empty() {
		o.Memory = nn.NewMatLike(o.Memory, len(rows)*c.S, c.memory.Cols)
		for i, r := range rows {
			o.Memory.RowBlock(i*c.S, (i+1)*c.S).CopyFrom(c.memory.RowBlock(r*c.S, (r+1)*c.S))
		}
		o.S = c.S
	}
	return *o
}

// outputs returns the cached outputs of the plain views of paths, if the
// cache exists and holds them all.
func (c *featureCache[T]) outputs(paths []string) (encoders.Output[T], bool) {
	if c == nil {
		return encoders.Output[T]{}, false
	}
	rows := make([]int, len(paths))
	for i, p := range paths {
		r, ok := c.rows[p]
		if !ok {
			return encoders.Output[T]{}, false
		}
		rows[i] = r
	}
	return c.gather(rows), true
}
