package encoders

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/fastblas"
	"github.com/seqtask/seqtask/nn"
)

// The kmeans kind: single-layer unsupervised features (Coates, Lee and Ng,
// "An analysis of single-layer networks in unsupervised feature learning",
// AISTATS 2011). Every patch of an image is normalised for contrast and
// ZCA-whitened, and compared with K centroids that k-means found among
// training patches; a patch's features are the triangle activations
// max(0, mean_k d_k − d_k) of its distances d_k to the centroids. They are
// fitted, not trained: Fit computes the whitening and the centroids from
// training images before the first step, Buffers keep them, and a task
// trains only what reads them. On captioning's word-prediction task they
// beat the CNN pre-trained from scratch (bench/kmeans_probe.py).

// KMeansConfig describes the features: Patch×Patch patches every Stride
// pixels, Centroids of them, averaged into a Grid×Grid grid of regions
// (what attention reads); the summary is the four quadrants' averages.
type KMeansConfig struct {
	In        nn.ImageShape
	Centroids int
	Patch     int
	Stride    int
	Grid      int
}

// KMeansConfigOf is the config of k-means features of images of shape in
// (encoder.kmeans), a key left 0 taking its default.
func KMeansConfigOf(e config.KMeans, in nn.ImageShape) KMeansConfig {
	or := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	return KMeansConfig{In: in, Centroids: or(e.Centroids, defaultCentroids), Patch: or(e.Patch, defaultPatch),
		Stride: or(e.Stride, defaultKMeansStride), Grid: or(e.Grid, defaultGrid)}
}

// Positions are how many patches fit down and across an image.
func (c KMeansConfig) Positions() (h, w int) {
	return (c.In.H-c.Patch)/c.Stride + 1, (c.In.W-c.Patch)/c.Stride + 1
}

// PatchSize is the number of values in a patch.
func (c KMeansConfig) PatchSize() int { return c.In.C * c.Patch * c.Patch }

// SummaryWidth is the length of an image's summary vector.
func (c KMeansConfig) SummaryWidth() int { return 4 * c.Centroids }

// The defaults of the kmeans kind's keys, Coates and Ng's choices; a
// stride of 2 lays 62×62 patches over a 128×128 photo, about eight per
// side of a grid region.
const (
	defaultCentroids    = 256
	defaultPatch        = 6
	defaultKMeansStride = 2
	defaultGrid         = 8
)

// Fitting: patches drawn from at most fitImages training images, FitPatches
// in all; kmeansIterations of Lloyd's algorithm. Regularisers: a patch's
// variance gets contrastShare of the mean patch variance added before its
// contrast is normalised (Coates and Ng's 10 on the 0–255 scale is 0.9% of
// the Flickr8k photos' mean), and each eigenvalue whitenEpsilon before
// whitening (Coates and Ng's 0.1 for contrast-normalised patches).
const (
	fitImages        = 4000
	FitPatches       = 200_000
	statImages       = 1000
	kmeansIterations = 15
	contrastShare    = 0.01
	whitenEpsilon    = 0.1
	stdFloor         = 0.01 // of the features' mean standard deviation, added to each
)

// KMeans maps images [N][C*H*W] to a grid of region features and a summary.
type KMeans[T nn.Float] struct {
	cfg  KMeansConfig
	posH int // patch positions down and across
	posW int
	dim  int // values per patch, C*Patch*Patch

	// Buffers: what Fit computes.
	contrastEps *nn.Param[T] // [1]
	patchMean   *nn.Param[T] // [dim]: of the contrast-normalised patches
	whiten      *nn.Param[T] // [dim][dim]: ZCA, symmetric
	centroids   *nn.Param[T] // [K][dim], in the whitened space
	featMean    *nn.Param[T] // [K]: of the grid features over training images
	featStd     *nn.Param[T] // [K]

	scratch   []kmeansScratch[T] // one per worker
	centNorms []float64          // the centroids' squared norms, for this Forward
	grid      nn.Mat[T]          // the last Forward's grid [N*G*G][K]
	quads     nn.Mat[T]          // its quadrants [N][4K]
}

// kmeansScratch is one worker's buffers for one image.
type kmeansScratch[T nn.Float] struct {
	patches, white, dots nn.Mat[T]
	dist                 []T
}

// NewKMeans makes unfitted features (Fit fits them) with buffers named
// prefix.centroids and so on.
func NewKMeans[T nn.Float](prefix string, cfg KMeansConfig) (*KMeans[T], error) {
	if cfg.Centroids < 1 || cfg.Patch < 1 || cfg.Stride < 1 || cfg.Grid < 2 {
		return nil, fmt.Errorf("kmeans: centroids %d, patch %d, stride %d, grid %d: want centroids, patch and stride ≥ 1, grid ≥ 2",
			cfg.Centroids, cfg.Patch, cfg.Stride, cfg.Grid)
	}
	if cfg.Patch > cfg.In.H || cfg.Patch > cfg.In.W {
		return nil, fmt.Errorf("kmeans: %d×%d patches do not fit in %v images", cfg.Patch, cfg.Patch, cfg.In)
	}
	k := &KMeans[T]{cfg: cfg, dim: cfg.PatchSize()}
	k.posH, k.posW = cfg.Positions()
	if k.posH < cfg.Grid || k.posW < cfg.Grid {
		return nil, fmt.Errorf("kmeans: %d×%d patch positions cannot fill a %d×%d grid; use a smaller stride or grid", k.posH, k.posW, cfg.Grid, cfg.Grid)
	}
	K := cfg.Centroids
	k.contrastEps = nn.NewParam[T](prefix+".contrast_eps", 1)
	k.patchMean = nn.NewParam[T](prefix+".patch_mean", k.dim)
	k.whiten = nn.NewParam[T](prefix+".whiten", k.dim, k.dim)
	k.centroids = nn.NewParam[T](prefix+".centroids", K, k.dim)
	k.featMean = nn.NewParam[T](prefix+".feature_mean", K)
	k.featStd = nn.NewParam[T](prefix+".feature_std", K)
	return k, nil
}

// Buffers lists what Fit computes.
func (k *KMeans[T]) Buffers() nn.Params[T] {
	return nn.Params[T]{k.contrastEps, k.patchMean, k.whiten, k.centroids, k.featMean, k.featStd}
}

// Fitted reports whether Fit has whitened or the buffers were loaded from
// a checkpoint: a fitted whitening has a positive diagonal.
func (k *KMeans[T]) Fitted() bool { return k.whiten.Value[0] > 0 }

// SummaryWidth is the length of an image's summary vector.
func (k *KMeans[T]) SummaryWidth() int { return k.cfg.SummaryWidth() }

// Describe lists the stages for a model summary.
func (k *KMeans[T]) Describe() []string {
	c, G := k.cfg, k.cfg.Grid
	out := []string{
		fmt.Sprintf("patches    %d×%d every %d pixels: %d×%d of %d values, contrast-normalised and ZCA-whitened", c.Patch, c.Patch, c.Stride, k.posH, k.posW, k.dim),
		fmt.Sprintf("k-means    %d centroids fitted to training patches; triangle activations", c.Centroids),
		fmt.Sprintf("grid       averaged into %d×%d = %d regions of %d features, standardised (what attention reads)", G, G, G*G, c.Centroids),
	}
	return append(out, fmt.Sprintf("summary    the four quadrants' averages, %d features", 4*c.Centroids))
}

// errNotFitted refuses features that were never fitted.
var errNotFitted = errors.New("encoder: the k-means features are not fitted (a model fits them from its training images before its first step)")

// Forward computes the grid [N*G*G][K] (row n*G*G + s) and the summary
// [N][SummaryWidth] of images x [N][C*H*W]. Both are valid until the next
// Forward.
func (k *KMeans[T]) Forward(x nn.Mat[T]) (grid, summary nn.Mat[T], err error) {
	if !k.Fitted() {
		return grid, summary, errNotFitted
	}
	if x.Cols != k.cfg.In.Size() {
		return grid, summary, fmt.Errorf("encoder: images of %d values, want %v = %d", x.Cols, k.cfg.In, k.cfg.In.Size())
	}
	K, S := k.cfg.Centroids, k.cfg.Grid*k.cfg.Grid
	k.centNorms = k.centNorms[:0]
	for j := range K {
		k.centNorms = append(k.centNorms, sqNorm(k.centroids.Mat().Row(j)))
	}
	k.grid = nn.NewMatLike(k.grid, x.Rows*S, K)
	k.eachImage(x.Rows, func(s *kmeansScratch[T], n int) {
		k.regions(s, x.Row(n), nn.Mat[T]{Rows: S, Cols: K, Data: k.grid.Data[n*S*K : (n+1)*S*K]})
	})
	k.quads = nn.NewMatLike(k.quads, x.Rows, 4*K)
	for n := range x.Rows {
		k.quadrants(k.quads.Row(n), k.grid.Data[n*S*K:(n+1)*S*K])
	}
	return k.grid, k.quads, nil
}

// eachImage runs fn for images 0..n-1, shared among the cores, each with
// its worker's scratch.
func (k *KMeans[T]) eachImage(n int, fn func(s *kmeansScratch[T], i int)) {
	workers := max(1, min(fastblas.Workers(), n))
	if len(k.scratch) < workers {
		k.scratch = make([]kmeansScratch[T], workers)
	}
	fastblas.Parallel(workers, func(w int) {
		for i := w; i < n; i += workers {
			fn(&k.scratch[w], i)
		}
	})
}

// regions writes one image's standardised grid features into grid [G*G][K].
func (k *KMeans[T]) regions(s *kmeansScratch[T], img []T, grid nn.Mat[T]) {
	L, K := k.posH*k.posW, k.cfg.Centroids
	s.patches = nn.NewMatLike(s.patches, L, k.dim)
	for py := range k.posH {
		for px := range k.posW {
			k.patchAt(s.patches.Row(py*k.posW+px), img, py*k.cfg.Stride, px*k.cfg.Stride)
		}
	}
	s.white = k.whitened(s.patches, s.white)
	s.dots = nn.NewMatLike(s.dots, L, K)
	s.dist = k.triangles(s.white, s.dots, s.dist)
	grid.Zero()
	G := k.cfg.Grid
	for gy := range G {
		ylo, yhi := cellBounds(gy, G, k.posH)
		for gx := range G {
			xlo, xhi := cellBounds(gx, G, k.posW)
			cell := grid.Row(gy*G + gx)
			for py := ylo; py < yhi; py++ {
				for px := xlo; px < xhi; px++ {
					for j, v := range s.dots.Row(py*k.posW + px) {
						cell[j] += v
					}
				}
			}
			inv := 1 / T((yhi-ylo)*(xhi-xlo))
			for j := range cell {
				cell[j] = (cell[j]*inv - k.featMean.Value[j]) / k.featStd.Value[j]
			}
		}
	}
}

// cellBounds is the span of positions [lo, hi) of cell i of n over size
// positions, as adaptive average pooling lays them (neighbouring cells
// share a position when n does not divide size).
func cellBounds(i, n, size int) (lo, hi int) {
	return i * size / n, ((i+1)*size + n - 1) / n
}

// quadrants writes the averages of the grid's four quadrants (a grid of
// odd side gives its middle row and column to both halves).
func (k *KMeans[T]) quadrants(dst, grid []T) {
	G, K := k.cfg.Grid, k.cfg.Centroids
	clear(dst)
	for q := range 4 {
		ylo, yhi := cellBounds(q/2, 2, G)
		xlo, xhi := cellBounds(q%2, 2, G)
		out := dst[q*K : (q+1)*K]
		for gy := ylo; gy < yhi; gy++ {
			for gx := xlo; gx < xhi; gx++ {
				for j, v := range grid[(gy*G+gx)*K : (gy*G+gx+1)*K] {
					out[j] += v
				}
			}
		}
		inv := 1 / T((yhi-ylo)*(xhi-xlo))
		for j := range out {
			out[j] *= inv
		}
	}
}

// patchAt copies the patch at (y, x) of img (CHW) into dst, channel by
// channel, row by row.
func (k *KMeans[T]) patchAt(dst, img []T, y, x int) {
	p, H, W := k.cfg.Patch, k.cfg.In.H, k.cfg.In.W
	for c := range k.cfg.In.C {
		for dy := range p {
			row := img[c*H*W+(y+dy)*W+x:]
			copy(dst[(c*p+dy)*p:(c*p+dy+1)*p], row[:p])
		}
	}
}

// normaliseContrast subtracts each patch's mean and divides by its
// standard deviation, regularised by eps.
func normaliseContrast[T nn.Float](patches nn.Mat[T], eps float64) {
	for i := range patches.Rows {
		row := patches.Row(i)
		mean, variance := meanVariance(row)
		scale := 1 / math.Sqrt(variance+eps)
		for j, v := range row {
			row[j] = T((float64(v) - mean) * scale)
		}
	}
}

// whitened normalises raw patches for contrast in place and returns them
// centred and whitened, in dst's storage.
func (k *KMeans[T]) whitened(patches, dst nn.Mat[T]) nn.Mat[T] {
	normaliseContrast(patches, float64(k.contrastEps.Value[0]))
	return k.centreAndWhiten(patches, dst)
}

// centreAndWhiten subtracts the patch mean from contrast-normalised
// patches in place and returns them whitened, in dst's storage.
func (k *KMeans[T]) centreAndWhiten(patches, dst nn.Mat[T]) nn.Mat[T] {
	for i := range patches.Rows {
		row := patches.Row(i)
		for j, m := range k.patchMean.Value {
			row[j] -= m
		}
	}
	dst = nn.NewMatLike(dst, patches.Rows, k.dim)
	nn.Gemm(false, false, 1, patches, k.whiten.Mat(), 0, dst)
	return dst
}

// triangles turns the products dots = white·centroidsᵀ [L][K] into the
// triangle activations in place (with centNorms set); dist is scratch,
// returned for reuse.
func (k *KMeans[T]) triangles(white, dots nn.Mat[T], dist []T) []T {
	cents := k.centroids.Mat()
	nn.Gemm(false, true, 1, white, cents, 0, dots)
	K, norms := k.cfg.Centroids, k.centNorms
	if cap(dist) < K {
		dist = make([]T, K)
	}
	dist = dist[:K]
	for i := range white.Rows {
		u := sqNorm(white.Row(i))
		row := dots.Row(i)
		var mean float64
		for j, d := range row {
			dj := math.Sqrt(max(0, u-2*float64(d)+norms[j]))
			dist[j] = T(dj)
			mean += dj
		}
		mean /= float64(K)
		for j, d := range dist {
			row[j] = T(max(0, mean-float64(d)))
		}
	}
	return dist
}

func sqNorm[T nn.Float](v []T) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

// Fit computes the features from n training images, image i written into
// dst by load: the contrast regulariser, the patch mean and whitening and
// the centroids from FitPatches random patches of at most fitImages of
// them, then the standardisation of the grid features over statImages.
// rng draws the images, the patches and the first centroids.
func (k *KMeans[T]) Fit(n int, load func(i int, dst []T) error, rng *rand.Rand) error {
	if n < 1 {
		return errors.New("encoder: no training images to fit the k-means features to")
	}
	imgs := rng.Perm(n)[:min(n, fitImages)]
	per := (FitPatches + len(imgs) - 1) / len(imgs)
	patches := nn.NewMat[T](len(imgs)*per, k.dim)
	img := make([]T, k.cfg.In.Size())
	for i, idx := range imgs {
		if err := load(idx, img); err != nil {
			return err
		}
		for j := range per {
			y, x := rng.IntN(k.cfg.In.H-k.cfg.Patch+1), rng.IntN(k.cfg.In.W-k.cfg.Patch+1)
			k.patchAt(patches.Row(i*per+j), img, y, x)
		}
	}
	var variance float64
	for i := range patches.Rows {
		_, v := meanVariance(patches.Row(i))
		variance += v
	}
	k.contrastEps.Value[0] = T(contrastShare * variance / float64(patches.Rows))
	normaliseContrast(patches, float64(k.contrastEps.Value[0]))
	if err := k.fitWhitening(patches); err != nil {
		return err
	}
	white := k.centreAndWhiten(patches, nn.Mat[T]{})
	k.fitCentroids(white, rng)
	return k.fitStandardisation(imgs[:min(len(imgs), statImages)], load)
}

// meanVariance returns the mean and the (biased) variance of v.
func meanVariance[T nn.Float](v []T) (mean, variance float64) {
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		variance += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, variance / float64(len(v))
}

// fitWhitening sets the patch mean and the ZCA whitening V·diag(1/√(λ+ε))·Vᵀ
// of the covariance of contrast-normalised patches.
func (k *KMeans[T]) fitWhitening(patches nn.Mat[T]) error {
	D, N := k.dim, patches.Rows
	mean := make([]float64, D)
	for i := range N {
		for j, v := range patches.Row(i) {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(N)
		k.patchMean.Value[j] = T(mean[j])
	}
	cov := mat.NewSymDense(D, nil)
	const chunk = 8192
	centred := mat.NewDense(min(chunk, N), D, nil)
	for lo := 0; lo < N; lo += chunk {
		part := centred.Slice(0, min(chunk, N-lo), 0, D).(*mat.Dense)
		for i := range part.RawMatrix().Rows {
			for j, v := range patches.Row(lo + i) {
				part.Set(i, j, float64(v)-mean[j])
			}
		}
		cov.SymRankK(cov, 1/float64(N-1), part.T())
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return errors.New("encoder: k-means whitening: the patches' covariance did not factorise")
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	vals := eig.Values(nil)
	scaled := mat.DenseCopyOf(&vecs)
	for j, l := range vals {
		s := 1 / math.Sqrt(max(l, 0)+whitenEpsilon)
		for i := range D {
			scaled.Set(i, j, scaled.At(i, j)*s)
		}
	}
	var zca mat.Dense
	zca.Mul(scaled, vecs.T())
	for i := range D {
		for j := range D {
			k.whiten.Value[i*D+j] = T(zca.At(i, j))
		}
	}
	return nil
}

// fitCentroids runs Lloyd's algorithm on whitened patches from K distinct
// random patches; a centroid left without patches keeps its place.
func (k *KMeans[T]) fitCentroids(white nn.Mat[T], rng *rand.Rand) {
	K, D := k.cfg.Centroids, k.dim
	cents := k.centroids.Mat()
	for j, i := range rng.Perm(white.Rows)[:min(K, white.Rows)] {
		copy(cents.Row(j), white.Row(i))
	}
	const chunk = 8192
	dots := nn.NewMat[T](min(chunk, white.Rows), K)
	sums := make([]float64, K*D)
	counts := make([]int, K)
	norms := make([]float64, K)
	for range kmeansIterations {
		clear(sums)
		clear(counts)
		for j := range K {
			norms[j] = sqNorm(cents.Row(j))
		}
		for lo := 0; lo < white.Rows; lo += chunk {
			part := white.RowBlock(lo, min(lo+chunk, white.Rows))
			d := dots.RowBlock(0, part.Rows)
			nn.Gemm(false, true, 1, part, cents, 0, d)
			for i := range part.Rows {
				best, bestD := 0, math.Inf(1)
				for j, dot := range d.Row(i) {
					if dist := norms[j] - 2*float64(dot); dist < bestD {
						best, bestD = j, dist
					}
				}
				counts[best]++
				for c, v := range part.Row(i) {
					sums[best*D+c] += float64(v)
				}
			}
		}
		for j := range K {
			if counts[j] == 0 {
				continue
			}
			for c := range D {
				cents.Row(j)[c] = T(sums[j*D+c] / float64(counts[j]))
			}
		}
	}
}

// fitStandardisation sets each feature's mean and standard deviation over
// the grid regions of the images imgs.
func (k *KMeans[T]) fitStandardisation(imgs []int, load func(i int, dst []T) error) error {
	K, S := k.cfg.Centroids, k.cfg.Grid*k.cfg.Grid
	for j := range K {
		k.featMean.Value[j], k.featStd.Value[j] = 0, 1
	}
	sum, sq := make([]float64, K), make([]float64, K)
	const batch = 64
	x := nn.NewMat[T](min(batch, len(imgs)), k.cfg.In.Size())
	for lo := 0; lo < len(imgs); lo += batch {
		part := imgs[lo:min(lo+batch, len(imgs))]
		xb := x.RowBlock(0, len(part))
		for i, idx := range part {
			if err := load(idx, xb.Row(i)); err != nil {
				return err
			}
		}
		grid, _, err := k.Forward(xb)
		if err != nil {
			return err
		}
		for r := range grid.Rows {
			for j, v := range grid.Row(r) {
				sum[j] += float64(v)
				sq[j] += float64(v) * float64(v)
			}
		}
	}
	n := float64(len(imgs) * S)
	std := make([]float64, K)
	var avg float64
	for j := range K {
		mean := sum[j] / n
		k.featMean.Value[j] = T(mean)
		std[j] = math.Sqrt(max(0, sq[j]/n-mean*mean))
		avg += std[j] / float64(K)
	}
	// A centroid that training patches seldom come near varies little; its
	// rare activations on new images are not to be blown up.
	for j, s := range std {
		k.featStd.Value[j] = T(s + stdFloor*avg + 1e-12)
	}
	return nil
}

// kmeansEncoder is the kmeans kind over one image per item: the grid as
// Memory, the quadrants as Summary. It has nothing to train.
type kmeansEncoder[T nn.Float] struct {
	*KMeans[T]
}

func newKMeansEncoder[T nn.Float](s Spec, _ *rand.Rand) (Encoder[T], error) {
	k, err := NewKMeans[T](s.Prefix, KMeansConfigOf(s.Section.KMeans, s.Image))
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	return &kmeansEncoder[T]{KMeans: k}, nil
}

func (k *kmeansEncoder[T]) Params() nn.Params[T] { return nil }

func (k *kmeansEncoder[T]) Widths() Widths {
	return Widths{Summary: k.SummaryWidth(), Memory: k.cfg.Centroids}
}

func (k *kmeansEncoder[T]) Forward(in Batch[T], _ bool, _ *rand.Rand) (Output[T], error) {
	grid, summary, err := k.KMeans.Forward(in.Images)
	if err != nil {
		return Output[T]{}, err
	}
	return Output[T]{Summary: summary, Memory: grid, S: k.cfg.Grid * k.cfg.Grid}, nil
}

func (k *kmeansEncoder[T]) Backward(Output[T]) {}
