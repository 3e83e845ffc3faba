package datasets

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

func TestSplitKey(t *testing.T) {
	want := SplitKey("Who is he?")
	for _, s := range []string{"who  is he ?", "Who is he\u202f?", " WHO IS HE? "} {
		if got := SplitKey(s); got != want {
			t.Errorf("SplitKey(%q) = %q, want %q", s, got, want)
		}
	}
	if want != "who is he ?" {
		t.Errorf("SplitKey = %q", want)
	}
}

// The side of a sentence is fixed by the hash: these golden values must not
// change, or splits recorded with a seed would silently move.
func TestIsDevStable(t *testing.T) {
	got := []float64{splitUnit("go .", 0), splitUnit("go .", 1), splitUnit("who is he ?", 42)}
	want := []float64{0.8485428561350046, 0.8795358874452859, 0.28723924546114543}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("splitUnit #%d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestSplitPairsGroupsSources(t *testing.T) {
	var pairs []Pair
	srcs := []string{"Go.", "Run!", "Who is he?", "I see.", "Help!", "Stop!", "Wait!", "Hello!", "I won!", "Got it?"}
	for i := 0; i < 400; i++ {
		// Every source appears many times, with varied spelling of the same sentence.
		s := srcs[i%len(srcs)]
		if i%3 == 0 {
			s = " " + s + " "
		}
		pairs = append(pairs, Pair{Src: s, Tgt: "t", Line: i + 1})
	}
	opt := SplitOptions{DevFraction: 0.5, Seed: 7}
	train, dev, err := SplitPairs(pairs, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(train) == 0 || len(dev) == 0 {
		t.Fatalf("train %d, dev %d: want both sides used", len(train), len(dev))
	}
	if len(train)+len(dev) != len(pairs) {
		t.Fatalf("split lost pairs: %d + %d != %d", len(train), len(dev), len(pairs))
	}
	side := map[string]bool{}
	for _, p := range train {
		side[SplitKey(p.Src)] = false
	}
	for _, p := range dev {
		k := SplitKey(p.Src)
		if inTrain, seen := side[k]; seen && !inTrain {
			t.Errorf("source %q is on both sides", k)
		}
		side[k] = true
	}
	// Stable across runs.
	train2, dev2, _ := SplitPairs(pairs, opt)
	if !reflect.DeepEqual(train, train2) || !reflect.DeepEqual(dev, dev2) {
		t.Error("the same split differs between runs")
	}
	// Order is kept within each side.
	for i := 1; i < len(train); i++ {
		if train[i].Line < train[i-1].Line {
			t.Fatal("train order not kept")
		}
	}
	// Bad fractions are errors.
	for _, f := range []float64{-0.1, 1.5, math.NaN()} {
		if _, _, err := SplitPairs(pairs, SplitOptions{DevFraction: f}); err == nil {
			t.Errorf("fraction %v accepted", f)
		}
	}
	// Fractions 0 and 1 put everything on one side.
	if tr, dv, _ := SplitPairs(pairs, SplitOptions{DevFraction: 0}); len(dv) != 0 || len(tr) != len(pairs) {
		t.Error("fraction 0 put pairs in dev")
	}
	if tr, dv, _ := SplitPairs(pairs, SplitOptions{DevFraction: 1}); len(tr) != 0 || len(dv) != len(pairs) {
		t.Error("fraction 1 left pairs in train")
	}
}

func TestSplitFraction(t *testing.T) {
	// 20,000 synthetic distinct keys: the dev share is binomial, sd ≈ 0.0021.
	n, dev := 20000, 0
	for i := 0; i < n; i++ {
		if IsDev(SplitKey("sentence number "+strconv.Itoa(i)), 0.1, 3) {
			dev++
		}
	}
	if f := float64(dev) / float64(n); math.Abs(f-0.1) > 0.01 {
		t.Errorf("dev fraction %.4f, want 0.1 ± 0.01", f)
	}
	// Different seeds give different splits.
	same := 0
	for i := 0; i < 1000; i++ {
		k := strconv.Itoa(i)
		if IsDev(k, 0.5, 1) == IsDev(k, 0.5, 2) {
			same++
		}
	}
	if same > 600 || same < 400 {
		t.Errorf("seeds 1 and 2 agree on %d of 1000 keys; want about 500", same)
	}
}

func TestSplitShipped(t *testing.T) {
	p := loadShipped(t)
	train, dev, err := SplitPairs(p.Pairs, SplitOptions{DevFraction: 0.05, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	trainKeys, devKeys := map[string]bool{}, map[string]bool{}
	for _, q := range train {
		trainKeys[SplitKey(q.Src)] = true
	}
	for _, q := range dev {
		k := SplitKey(q.Src)
		devKeys[k] = true
		if trainKeys[k] {
			t.Fatalf("source %q (line %d) is in train and dev", q.Src, q.Line)
		}
	}
	f := float64(len(devKeys)) / float64(len(devKeys)+len(trainKeys))
	t.Logf("train %d pairs / %d sources, dev %d pairs / %d sources (%.4f of sources)", len(train), len(trainKeys), len(dev), len(devKeys), f)
	if math.Abs(f-0.05) > 0.005 {
		t.Errorf("dev share of sources %.4f, want 0.05 ± 0.005", f)
	}
}

func TestEvenlySpaced(t *testing.T) {
	items := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	tests := []struct {
		k    int
		want []int
	}{
		{0, []int{}},
		{1, []int{0}},
		{2, []int{0, 5}},
		{3, []int{0, 3, 6}},
		{4, []int{0, 2, 5, 7}},
		{10, items},
		{11, items},
	}
	for _, tt := range tests {
		if got := EvenlySpaced(items, tt.k); !slices.Equal(got, tt.want) {
			t.Errorf("EvenlySpaced(0..9, %d) = %v, want %v", tt.k, got, tt.want)
		}
	}
}
