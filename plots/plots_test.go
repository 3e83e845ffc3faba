package plots

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("%s is only %v", path, b)
	}
}

func TestLossCurveAndConfusion(t *testing.T) {
	dir := t.TempDir()
	loss := filepath.Join(dir, "loss.png")
	if err := LossCurve(loss, "test", []Point{{1, 3}, {2, 2}}, []Point{{2, 2.5}}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, loss)
	for _, baseline := range []float64{math.NaN(), 9} {
		metric := filepath.Join(dir, "bleu4.png")
		if err := MetricCurve(metric, "test", "bleu4", []Point{{100, 5}, {200, 11}, {300, 12}}, baseline); err != nil {
			t.Fatal(err)
		}
		checkPNG(t, metric)
	}
	if err := MetricCurve(filepath.Join(dir, "none.png"), "test", "bleu4", nil, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.png")); err == nil {
		t.Error("a curve without points was drawn")
	}
	conf := filepath.Join(dir, "confusion.png")
	if err := Confusion(conf, "test", []string{"a", "b", "c"}, [][]int{{5, 1, 0}, {0, 3, 0}, {0, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, conf)
	if err := Confusion(conf, "bad", []string{"a", "b"}, [][]int{{1, 2}}); err == nil {
		t.Error("a 1-row matrix for 2 labels was accepted")
	}
	att := filepath.Join(dir, "attention.png")
	if err := Attention(att, "the cat", []string{"the", "cat"}, []string{"le", "chat", "<eos>"}, [][]float64{{0.9, 0.1}, {0.2, 0.8}, {0.5, 0.5}}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, att)
	if err := Attention(att, "bad", []string{"a", "b"}, []string{"x"}, [][]float64{{1}}); err == nil {
		t.Error("a weight row shorter than the source was accepted")
	}
}
