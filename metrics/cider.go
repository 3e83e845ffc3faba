package metrics

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// CIDErDOptions configures CIDErD. The zero value gives the coco-caption
// settings: n-grams up to order 4 and a length penalty with sigma 6.
type CIDErDOptions struct {
	// MaxOrder is the highest n-gram order; 0 means 4.
	MaxOrder int
	// Sigma is the standard deviation, in tokens, of the Gaussian length
	// penalty; 0 means 6.
	Sigma float64
}

// CIDErDScore is a corpus CIDEr-D score with the per-image scores it
// averages. Scores are on coco-caption's scale (x10), where a candidate
// identical to all its references typically scores around 10 and a
// candidate sharing no n-gram with them scores 0.
type CIDErDScore struct {
	// Score is the mean of PerImage.
	Score float64
	// PerImage[i] is the CIDEr-D of candidate i.
	PerImage []float64
}

// CIDErD computes CIDEr-D (Vedantam et al., 2015) as the coco-caption
// evaluation code does, so that captioning results are comparable with
// published numbers.
//
// candidates[i] is the generated caption of image i and references[i] its
// reference captions. Captions must already be tokenized (coco-caption runs
// the PTB tokenizer first); they are split on whitespace. Each n-gram of
// order 1..MaxOrder is weighted by TF-IDF, where the document frequency is
// the number of images whose references contain it and the IDF is
// log(len(images)) - log(max(1, df)); so n-grams found in every image's
// references weigh nothing, and the IDF is only meaningful over a corpus of
// many images (with a single image every weight, and so the score, is 0).
// For each order the score is the cosine similarity of candidate and
// reference vectors, with the candidate's weights clipped to the
// reference's, multiplied by exp(-delta²/(2·sigma²)); the orders are
// averaged, then the references, and the result is scaled by 10.
//
// As in coco-caption, the length difference delta is measured in bigrams
// (a caption of k ≥ 1 tokens has k-1), which equals the difference in
// tokens unless a caption has fewer than two tokens.
func CIDErD(candidates []string, references [][]string, opts CIDErDOptions) (CIDErDScore, error) {
	if len(candidates) == 0 {
		return CIDErDScore{}, errors.New("metrics: CIDEr-D: no candidates")
	}
	if len(references) != len(candidates) {
		return CIDErDScore{}, fmt.Errorf("metrics: CIDEr-D: %d candidates but references for %d images", len(candidates), len(references))
	}
	corpus, err := NewCIDErDCorpus(references, opts)
	if err != nil {
		return CIDErDScore{}, err
	}
	out := CIDErDScore{PerImage: make([]float64, len(candidates))}
	var total float64
	for i, c := range candidates {
		out.PerImage[i] = corpus.Score(i, c)
		total += out.PerImage[i]
	}
	out.Score = total / float64(len(candidates))
	return out, nil
}

// CIDErDCorpus scores candidates one at a time against a fixed corpus of
// references, its document frequencies counted once over the whole corpus.
// CIDErD builds one over the images it evaluates, as coco-caption does;
// self-critical training builds one over the training references, so that
// a sampled caption's reward does not depend on the batch it came in.
type CIDErDCorpus struct {
	d    ciderD
	refs [][]tfidf // per image, its references' vectors
}

// NewCIDErDCorpus counts the document frequencies of references (per
// image, its reference captions, already tokenized) and prepares their
// TF-IDF vectors; see CIDErD for the definition.
func NewCIDErDCorpus(references [][]string, opts CIDErDOptions) (*CIDErDCorpus, error) {
	order, sigma := opts.MaxOrder, opts.Sigma
	if order == 0 {
		order = 4
	}
	if sigma == 0 {
		sigma = 6
	}
	if order < 0 {
		return nil, fmt.Errorf("metrics: CIDEr-D: n-gram order %d is negative", opts.MaxOrder)
	}
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return nil, fmt.Errorf("metrics: CIDEr-D: sigma %v is not a positive number", opts.Sigma)
	}
	if len(references) == 0 {
		return nil, errors.New("metrics: CIDEr-D: no images")
	}
	refCounts := make([][][]map[string]int, len(references))
	df := make(map[string]int)
	for i, refs := range references {
		if len(refs) == 0 {
			return nil, fmt.Errorf("metrics: CIDEr-D: image %d has no references", i)
		}
		seen := make(map[string]bool)
		for _, r := range refs {
			c := ngramCounts(strings.Fields(r), order)
			refCounts[i] = append(refCounts[i], c)
			for _, m := range c {
				for g := range m {
					seen[g] = true
				}
			}
		}
		for g := range seen {
			df[g]++
		}
	}
	c := &CIDErDCorpus{d: ciderD{order: order, sigma: sigma, df: df, logN: math.Log(float64(len(references)))},
		refs: make([][]tfidf, len(references))}
	for i, counts := range refCounts {
		for _, rc := range counts {
			c.refs[i] = append(c.refs[i], c.d.vector(rc))
		}
	}
	return c, nil
}

// Images is the number of images in the corpus.
func (c *CIDErDCorpus) Images() int { return len(c.refs) }

// Score returns the CIDEr-D of candidate (tokenized, split on whitespace)
// against the references of image, which must be in [0, Images()). It is
// safe for concurrent use.
func (c *CIDErDCorpus) Score(image int, candidate string) float64 {
	hyp := c.d.vector(ngramCounts(strings.Fields(candidate), c.d.order))
	sum := make([]float64, c.d.order)
	for _, ref := range c.refs[image] {
		for n, v := range c.d.similarity(hyp, ref) {
			sum[n] += v
		}
	}
	var mean float64
	for _, v := range sum {
		mean += v
	}
	mean /= float64(c.d.order)
	return mean / float64(len(c.refs[image])) * 10
}

// ciderD holds the corpus-wide quantities of a CIDEr-D computation.
type ciderD struct {
	order int
	sigma float64
	df    map[string]int
	logN  float64 // log of the number of images
}

// tfidf is a caption's TF-IDF vector per n-gram order, with each order's
// Euclidean norm and the caption length used by the length penalty. Each
// order's weights are sorted by n-gram, so that sums run in one order and
// a score is the same bits from run to run (a resumed self-critical run
// must draw the same rewards as an uninterrupted one).
type tfidf struct {
	weights [][]gramWeight
	norms   []float64
	length  int
}

// gramWeight is one n-gram's TF-IDF weight.
type gramWeight struct {
	gram   string
	weight float64
}

// vector converts n-gram counts into TF-IDF weights.
func (d *ciderD) vector(counts []map[string]int) tfidf {
	v := tfidf{weights: make([][]gramWeight, d.order), norms: make([]float64, d.order)}
	for n, m := range counts {
		w := make([]gramWeight, 0, len(m))
		for _, g := range slices.Sorted(maps.Keys(m)) {
			tf := m[g]
			x := float64(tf) * (d.logN - math.Log(math.Max(1, float64(d.df[g]))))
			w = append(w, gramWeight{g, x})
			v.norms[n] += x * x
			if n == 1 {
				// coco-caption counts the length in bigrams.
				v.length += tf
			}
		}
		v.weights[n] = w
		v.norms[n] = math.Sqrt(v.norms[n])
	}
	return v
}

// similarity returns, per order, the clipped cosine similarity of hyp and
// ref times the Gaussian length penalty.
func (d *ciderD) similarity(hyp, ref tfidf) []float64 {
	delta := float64(hyp.length - ref.length)
	penalty := math.Exp(-(delta * delta) / (2 * d.sigma * d.sigma))
	val := make([]float64, d.order)
	for n := range val {
		// Both lists are sorted: walk them together over the shared n-grams.
		hs, rs := hyp.weights[n], ref.weights[n]
		for i, j := 0, 0; i < len(hs) && j < len(rs); {
			switch c := strings.Compare(hs[i].gram, rs[j].gram); {
			case c < 0:
				i++
			case c > 0:
				j++
			default:
				val[n] += math.Min(hs[i].weight, rs[j].weight) * rs[j].weight
				i++
				j++
			}
		}
		if hyp.norms[n] != 0 && ref.norms[n] != 0 {
			val[n] /= hyp.norms[n] * ref.norms[n]
		}
		val[n] *= penalty
	}
	return val
}
