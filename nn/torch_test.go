package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// torchFixtureDir is where TestTorchFixtures reads PyTorch's reference
// figures: $SEQTASK_TORCH_FIXTURES when set, so that other fixture sets can be
// dropped in, else the repo's copy.
func torchFixtureDir() string {
	if d := os.Getenv("SEQTASK_TORCH_FIXTURES"); d != "" {
		return d
	}
	return filepath.Join("testdata", "torch")
}

// flatten turns nested JSON arrays of numbers into one slice, row-major.
func flatten(v any) ([]float64, error) {
	switch x := v.(type) {
	case float64:
		return []float64{x}, nil
	case []any:
		var out []float64
		for _, e := range x {
			f, err := flatten(e)
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", v)
}

type fixture map[string]any

func (f fixture) floats(t *testing.T, key string) []float64 {
	t.Helper()
	v, ok := f[key]
	if !ok {
		t.Fatalf("fixture has no %q", key)
	}
	out, err := flatten(v)
	if err != nil {
		t.Fatalf("fixture %q: %v", key, err)
	}
	return out
}

func (f fixture) nested(t *testing.T, key string) fixture {
	t.Helper()
	m, ok := f[key].(map[string]any)
	if !ok {
		t.Fatalf("fixture has no object %q", key)
	}
	return fixture(m)
}

func (f fixture) int(t *testing.T, key string) int {
	t.Helper()
	v, ok := f[key].(float64)
	if !ok {
		t.Fatalf("fixture has no number %q", key)
	}
	return int(v)
}

// closeTo fails unless got and want agree elementwise to rel relative error
// (with an absolute floor of rel for entries near zero).
func closeTo(t *testing.T, what string, got []float64, want []float64, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		e := math.Abs(got[i]-want[i]) / math.Max(math.Abs(want[i]), 1)
		if math.IsNaN(got[i]) || e > rel {
			t.Errorf("%s[%d] = %.12g, want %.12g", what, i, got[i], want[i])
			return
		}
	}
}

func TestTorchFixtures(t *testing.T) {
	dir := torchFixtureDir()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.json fixtures in %s (%v)", dir, err)
	}
	sort.Strings(files)
	for _, path := range files {
		name := filepath.Base(path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f fixture
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		kind, _ := f["kind"].(string)
		op, _ := f["op"].(string)
		switch {
		case slices.Contains(Cells, Cell(kind)):
			t.Log(name + ": " + checkRecurrentFixture(t, name, f))
		case strings.HasPrefix(op, "conv2d"):
			t.Log(name + ": " + checkConvFixture(t, name, f))
		case strings.Contains(op, "cross-entropy"):
			t.Log(name + ": " + checkCrossEntropyFixture(t, name, f))
		default:
			t.Errorf("%s: unrecognised fixture (kind %q, op %q): teach TestTorchFixtures to check it", name, kind, op)
		}
	}
}

// checkRecurrentFixture runs the fixture's network in float64 (to 1e-9) and
// in float32 (to 1e-4, the precision training uses).
func checkRecurrentFixture(t *testing.T, name string, f fixture) string {
	checked := recurrentFixture[float64](t, name, f, 1e-9)
	recurrentFixture[float32](t, name+" (float32)", f, 1e-4)
	return checked + "; float32 to 1e-4"
}

func toT[T Float](v []float64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

func toF64[T Float](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func recurrentFixture[T Float](t *testing.T, name string, f fixture, rel float64) string {
	cfg := RecurrentConfig{
		Cell:   Cell(f["kind"].(string)),
		Input:  f.int(t, "input_size"),
		Hidden: f.int(t, "hidden_size"),
		Layers: f.int(t, "num_layers"),
	}
	cfg.Bidirectional, _ = f["bidirectional"].(bool)
	steps, batch := f.int(t, "seq_len"), f.int(t, "batch")
	r, err := NewRecurrent[T]("rnn", cfg, testRNG())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	params := f.nested(t, "params")
	for _, p := range r.Params() {
		short := strings.TrimPrefix(p.Name, "rnn.")
		v := params.floats(t, short)
		if len(v) != p.Size() {
			t.Fatalf("%s: %s has %d values, want %d", name, short, len(v), p.Size())
		}
		copy(p.Value, toT[T](v))
	}
	rows, hid := r.StateRows(batch), cfg.Hidden
	mat := func(key string, r, c int) Mat[T] { return Mat[T]{Rows: r, Cols: c, Data: toT[T](f.floats(t, key))} }
	x := mat("x", steps*batch, cfg.Input)
	h0 := mat("h0", rows, hid)
	withC := cfg.Cell.HasCellState()
	var c0, gcn Mat[T]
	if withC {
		c0, gcn = mat("c0", rows, hid), mat("grad_cn", rows, hid)
	}
	var c RecurrentCache[T]
	y, hn, cn := r.Forward(&c, x, steps, batch, h0, c0, false, nil)
	closeTo(t, name+" y", toF64(y.Data), f.floats(t, "y"), rel)
	closeTo(t, name+" hn", toF64(hn.Data), f.floats(t, "hn"), rel)
	checked := []string{"y", "hn"}
	if withC {
		closeTo(t, name+" cn", toF64(cn.Data), f.floats(t, "cn"), rel)
		checked = append(checked, "cn")
	}
	r.Params().ZeroGrad()
	dx, dh0, dc0 := r.Backward(&c, mat("grad_y", steps*batch, hid*cfg.Directions()), mat("grad_hn", rows, hid), gcn)
	grads := f.nested(t, "grads")
	for _, p := range r.Params() {
		short := strings.TrimPrefix(p.Name, "rnn.")
		closeTo(t, name+" grad "+short, toF64(p.Grad), grads.floats(t, short), rel)
		checked = append(checked, "d"+short)
	}
	closeTo(t, name+" grad x", toF64(dx.Data), grads.floats(t, "x"), rel)
	closeTo(t, name+" grad h0", toF64(dh0.Data), grads.floats(t, "h0"), rel)
	checked = append(checked, "dx", "dh0")
	if withC {
		closeTo(t, name+" grad c0", toF64(dc0.Data), grads.floats(t, "c0"), rel)
		checked = append(checked, "dc0")
	}
	return fmt.Sprintf("%s %d layer(s) bidirectional=%v T=%d B=%d: checked %s to %g relative",
		cfg.Cell, cfg.Layers, cfg.Bidirectional, steps, batch, strings.Join(checked, ", "), rel)
}

func checkCrossEntropyFixture(t *testing.T, name string, f fixture) string {
	logitsRaw, ok := f["logits"].([]any)
	if !ok || len(logitsRaw) == 0 {
		t.Fatalf("%s: no logits", name)
	}
	steps := len(logitsRaw)
	batch := len(logitsRaw[0].([]any))
	flat := f.floats(t, "logits")
	v := len(flat) / (steps * batch)
	tf := f.floats(t, "targets")
	targets := make([]int, len(tf))
	for i, x := range tf {
		targets[i] = int(x)
	}
	logits := Mat[float64]{Rows: steps * batch, Cols: v, Data: flat}
	d := NewMat[float64](steps*batch, v)
	sum, _, err := CrossEntropy(logits, targets, d, float64(batch))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want, _ := f["loss_value"].(float64)
	closeTo(t, name+" loss", []float64{sum / float64(batch)}, []float64{want}, 1e-9)
	closeTo(t, name+" grad logits", d.Data, f.nested(t, "grads").floats(t, "logits"), 1e-9)
	return fmt.Sprintf("masked cross-entropy T=%d B=%d V=%d: checked loss and dlogits to 1e-9 relative", steps, batch, v)
}

// checkConvFixture runs conv2d -> relu -> max_pool2d(2) on the fixture's
// NCHW batch and compares every output and gradient of
// sum(pooled*grad_pooled) with PyTorch's.
func checkConvFixture(t *testing.T, name string, f fixture) string {
	xRaw, ok := f["x"].([]any)
	if !ok || len(xRaw) == 0 {
		t.Fatalf("%s: no x", name)
	}
	img, ok := xRaw[0].([]any)
	if !ok || len(img) == 0 {
		t.Fatalf("%s: x is not [N][C][H][W]", name)
	}
	plane, ok := img[0].([]any)
	if !ok || len(plane) == 0 {
		t.Fatalf("%s: x is not [N][C][H][W]", name)
	}
	row, _ := plane[0].([]any)
	batch := len(xRaw)
	in := ImageShape{C: f.int(t, "in_channels"), H: len(plane), W: len(row)}
	cfg := Conv2DConfig{In: in, Out: f.int(t, "out_channels"), Kernel: f.int(t, "kernel"), Stride: f.int(t, "stride"), Padding: f.int(t, "padding")}
	conv, err := NewConv2D[float64]("conv", cfg, testRNG())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	params := f.nested(t, "params")
	for _, p := range conv.Params() {
		short := strings.TrimPrefix(p.Name, "conv.")
		v := params.floats(t, short)
		if len(v) != p.Size() {
			t.Fatalf("%s: %s has %d values, want %d", name, short, len(v), p.Size())
		}
		copy(p.Value, v)
	}
	pool, err := NewMaxPool2D[float64](conv.Out, 2, 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var (
		relu ReLU[float64]
		cc   Conv2DCache[float64]
		rc   ReLUCache[float64]
		pc   MaxPool2DCache[float64]
	)
	x := Mat[float64]{Rows: batch, Cols: in.Size(), Data: f.floats(t, "x")}
	if len(x.Data) != x.Rows*x.Cols {
		t.Fatalf("%s: x has %d values, want %d", name, len(x.Data), x.Rows*x.Cols)
	}
	const rel = 1e-9
	h := relu.Forward(&rc, conv.Forward(&cc, x))
	closeTo(t, name+" conv_relu", h.Data, f.floats(t, "conv_relu"), rel)
	y := pool.Forward(&pc, h)
	closeTo(t, name+" pooled", y.Data, f.floats(t, "pooled"), rel)
	gy := Mat[float64]{Rows: batch, Cols: pool.Out.Size(), Data: f.floats(t, "grad_pooled")}
	if len(gy.Data) != gy.Rows*gy.Cols {
		t.Fatalf("%s: grad_pooled has %d values, want %d", name, len(gy.Data), gy.Rows*gy.Cols)
	}
	var loss float64
	for i, v := range y.Data {
		loss += v * gy.Data[i]
	}
	want, _ := f["loss_value"].(float64)
	closeTo(t, name+" loss", []float64{loss}, []float64{want}, rel)
	conv.Params().ZeroGrad()
	dh := NewMat[float64](batch, conv.Out.Size())
	pool.Backward(&pc, gy, dh)
	relu.Backward(&rc, dh)
	dx := NewMat[float64](batch, in.Size())
	conv.Backward(&cc, dh, dx)
	grads := f.nested(t, "grads")
	closeTo(t, name+" grad weight", conv.Weight.Grad, grads.floats(t, "weight"), rel)
	closeTo(t, name+" grad bias", conv.Bias.Grad, grads.floats(t, "bias"), rel)
	closeTo(t, name+" grad x", dx.Data, grads.floats(t, "x"), rel)
	return fmt.Sprintf("conv2d %v->%d k%d s%d p%d, relu, max_pool2d(2), N=%d: checked conv_relu, pooled, loss, dweight, dbias, dx to %g relative",
		in, cfg.Out, cfg.Kernel, max(cfg.Stride, 1), cfg.Padding, batch, rel)
}
