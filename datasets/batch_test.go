package datasets

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomExamples makes n examples with source lengths 1..maxLen and target
// lengths near the source length, ids >= 4 so they never look like specials.
func randomExamples(n, maxLen int, seed uint64) []Example {
	r := rand.New(rand.NewPCG(seed, 0))
	ex := make([]Example, n)
	for i := range ex {
		s := 1 + r.IntN(maxLen)
		src := make([]int, s)
		for j := range src {
			src[j] = 4 + r.IntN(50)
		}
		tl := max(1, s+r.IntN(5)-2)
		tgt := []int{1}
		for j := 0; j < tl; j++ {
			tgt = append(tgt, 4+r.IntN(50))
		}
		tgt = append(tgt, 2)
		ex[i] = Example{Src: src, Tgt: tgt, Line: i + 1}
	}
	return ex
}

func TestBatchesEveryExampleOncePadded(t *testing.T) {
	ex := randomExamples(1003, 30, 1)
	for _, opt := range []BatchOptions{{BatchSize: 32}, {BatchSize: 32, PoolBatches: 1}, {BatchSize: 7, PoolBatches: 3}, {BatchSize: 2000}} {
		batches, err := Batches(ex, opt, rand.New(rand.NewPCG(9, 9)))
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, len(ex))
		short := 0
		for _, b := range batches {
			if b.Size() < opt.BatchSize {
				short++
			}
			if b.Size() > opt.BatchSize || b.Size() == 0 {
				t.Fatalf("%+v: batch of %d", opt, b.Size())
			}
			srcMask, tgtMask := b.SrcMask(), b.TgtMask()
			for n, i := range b.Index {
				seen[i]++
				e := ex[i]
				if b.SrcLen[n] != len(e.Src) || b.TgtLen[n] != len(e.Tgt) {
					t.Fatalf("lengths of example %d: %d,%d want %d,%d", i, b.SrcLen[n], b.TgtLen[n], len(e.Src), len(e.Tgt))
				}
				if len(b.Src[n]) != len(b.Src[0]) || len(b.Tgt[n]) != len(b.Tgt[0]) {
					t.Fatal("rows of one batch differ in width")
				}
				if !reflect.DeepEqual(b.Src[n][:len(e.Src)], e.Src) || !reflect.DeepEqual(b.Tgt[n][:len(e.Tgt)], e.Tgt) {
					t.Fatalf("example %d content changed", i)
				}
				for s, id := range b.Src[n] {
					if (s >= len(e.Src)) != (id == PadID) || srcMask[n][s] != (s < len(e.Src)) {
						t.Fatalf("source padding or mask wrong at example %d position %d", i, s)
					}
				}
				for s, id := range b.Tgt[n] {
					if (s >= len(e.Tgt)) != (id == PadID) || tgtMask[n][s] != (s < len(e.Tgt)) {
						t.Fatalf("target padding or mask wrong at example %d position %d", i, s)
					}
				}
			}
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("%+v: example %d appears %d times", opt, i, c)
			}
		}
		if short > 1 {
			t.Errorf("%+v: %d short batches, want at most 1", opt, short)
		}
	}
}

func TestBatchesDeterministic(t *testing.T) {
	ex := randomExamples(500, 20, 2)
	opt := BatchOptions{BatchSize: 16, PoolBatches: 4}
	a, _ := Batches(ex, opt, rand.New(rand.NewPCG(5, 6)))
	b, _ := Batches(ex, opt, rand.New(rand.NewPCG(5, 6)))
	c, _ := Batches(ex, opt, rand.New(rand.NewPCG(7, 8)))
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed gave different epochs")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds gave the same epoch")
	}
	// Without a generator the order is the input order, pooled and sorted.
	d, _ := Batches(ex[:4], BatchOptions{BatchSize: 2, PoolBatches: 1}, nil)
	if !reflect.DeepEqual(d[0].Index, []int{0, 1}) || !reflect.DeepEqual(d[1].Index, []int{2, 3}) {
		t.Errorf("nil rng order = %v %v", d[0].Index, d[1].Index)
	}
}

func TestBucketingReducesPadding(t *testing.T) {
	ex := randomExamples(4000, 40, 3)
	padding := func(opt BatchOptions) int {
		batches, err := Batches(ex, opt, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		pad := 0
		for _, b := range batches {
			pad += b.PadCount()
		}
		return pad
	}
	random := padding(BatchOptions{BatchSize: 32, PoolBatches: 1})
	bucketed := padding(BatchOptions{BatchSize: 32, PoolBatches: 50})
	t.Logf("padding: random batches %d, bucketed %d", random, bucketed)
	if bucketed*3 > random {
		t.Errorf("bucketing padding %d is not well below random batching %d", bucketed, random)
	}
}

func TestBatchHelpers(t *testing.T) {
	ex := []Example{
		{Src: []int{5, 6, 7}, Tgt: []int{1, 8, 2}},
		{Src: []int{9}, Tgt: []int{1, 10, 11, 12, 2}},
	}
	bs, err := Batches(ex, BatchOptions{BatchSize: 2, PoolBatches: 1}, nil)
	if err != nil || len(bs) != 1 {
		t.Fatal(bs, err)
	}
	b := bs[0]
	if !reflect.DeepEqual(b.Src, [][]int{{5, 6, 7}, {9, 0, 0}}) || !reflect.DeepEqual(b.SrcLen, []int{3, 1}) {
		t.Errorf("Src = %v %v", b.Src, b.SrcLen)
	}
	if !reflect.DeepEqual(b.Tgt, [][]int{{1, 8, 2, 0, 0}, {1, 10, 11, 12, 2}}) || !reflect.DeepEqual(b.TgtLen, []int{3, 5}) {
		t.Errorf("Tgt = %v %v", b.Tgt, b.TgtLen)
	}
	if got := TimeMajor(b.Src); !reflect.DeepEqual(got, [][]int{{5, 9}, {6, 0}, {7, 0}}) {
		t.Errorf("TimeMajor = %v", got)
	}
	in, out := b.DecoderIO()
	if !reflect.DeepEqual(in, [][]int{{1, 8, 2, 0}, {1, 10, 11, 12}}) || !reflect.DeepEqual(out, [][]int{{8, 2, 0, 0}, {10, 11, 12, 2}}) {
		t.Errorf("DecoderIO = %v, %v", in, out)
	}
	if b.PadCount() != 4 {
		t.Errorf("PadCount = %d, want 4", b.PadCount())
	}
	if !reflect.DeepEqual(b.SrcMask(), [][]bool{{true, true, true}, {true, false, false}}) {
		t.Errorf("SrcMask = %v", b.SrcMask())
	}
	// Bad input is an error, not a panic.
	if _, err := Batches(ex, BatchOptions{}, nil); err == nil {
		t.Error("batch size 0 accepted")
	}
	if _, err := Batches([]Example{{Src: nil, Tgt: []int{1, 2}, Line: 7}}, BatchOptions{BatchSize: 1}, nil); err == nil {
		t.Error("empty source accepted")
	}
	if bs, err := Batches(nil, BatchOptions{BatchSize: 4}, nil); err != nil || len(bs) != 0 {
		t.Errorf("no examples: %v %v", bs, err)
	}
}

// The whole pipeline on the shipped file: read, split, tokenise, filter,
// build vocabularies from train, encode, batch.
func TestPipelineShipped(t *testing.T) {
	p := loadShipped(t)
	train, dev, err := SplitPairs(p.Pairs, SplitOptions{DevFraction: 0.05, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	en, fr := TokenizeOptions{Lang: "en", Lower: true}, TokenizeOptions{Lang: "fr", Lower: true}
	trainTok, st := FilterByLength(TokenizePairs(train, en, fr), 10, 12)
	t.Logf("train filter: %s", st)
	devTok, _ := FilterByLength(TokenizePairs(dev, en, fr), 10, 12)
	srcV, tgtV := BuildPairVocabs(trainTok, VocabOptions{MinFreq: 2, MaxSize: 20000})
	t.Logf("vocab: english %d, french %d", srcV.Len(), tgtV.Len())
	trainEx, err := EncodePairs(trainTok, srcV, tgtV)
	if err != nil {
		t.Fatal(err)
	}
	devEx, err := EncodePairs(devTok, srcV, tgtV)
	if err != nil {
		t.Fatal(err)
	}
	batches, err := Batches(trainEx, BatchOptions{BatchSize: 64}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	n, pad, cells := 0, 0, 0
	for _, b := range batches {
		n += b.Size()
		pad += b.PadCount()
		cells += b.Size() * (len(b.Src[0]) + len(b.Tgt[0]))
	}
	t.Logf("%d train examples in %d batches, padding %.1f%%; %d dev examples", n, len(batches), 100*float64(pad)/float64(cells), len(devEx))
	if n != len(trainEx) || st.Kept < 100000 {
		t.Errorf("batched %d of %d examples; kept %d", n, len(trainEx), st.Kept)
	}
}
