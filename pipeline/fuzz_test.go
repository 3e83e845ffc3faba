package pipeline

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/seqtask/seqtask/nn"
)

// fuzzModel is the model FuzzCheckpoint loads into: two parameters and a
// buffer, trained one Adam step so that its checkpoint holds every kind of
// tensor and metadata a real one does.
func fuzzModel() (nn.Params[float32], nn.Params[float32], nn.Optimizer[float32]) {
	params := nn.Params[float32]{nn.NewParam[float32]("layer.weight", 2, 3), nn.NewParam[float32]("layer.bias", 3)}
	buffers := nn.Params[float32]{nn.NewParam[float32]("norm.running_mean", 3)}
	opt, _ := nn.NewOptimizer(nn.OptimizerConfig{Kind: "adam"}, params)
	return params, buffers, opt
}

// FuzzCheckpoint loads arbitrary bytes as a checkpoint. Whatever the file
// holds, load returns an error or a checkpoint whose tensors are finite and
// whose numbers are in range, and the optimizer either takes its state or
// says why not: never a panic, never a silent partial load.
func FuzzCheckpoint(f *testing.F) {
	params, buffers, opt := fuzzModel()
	for i, p := range params {
		for j := range p.Value {
			p.Value[j], p.Grad[j] = float32(i+j)/7, 0.5
		}
	}
	opt.Step(params, 0.1)
	ck := checkpoint[float32]{Params: params, Buffers: buffers, Config: []byte("task: charlm\n"), Best: 1.5, Step: 3,
		TaskMeta: map[string]string{"vocab": `["a","b"]`}, RNG: []byte{1, 2, 3}, Optim: opt.State()}
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := ck.save(path); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}\x00\x00\x80\x7f"))
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		params, buffers, opt := fuzzModel()
		c := checkpoint[float32]{Params: params, Buffers: buffers}
		st, meta, err := parseSafetensors(b, "c.safetensors")
		if err != nil {
			return
		}
		if err := c.decode(st, meta, "c.safetensors"); err != nil {
			return
		}
		for _, p := range append(params, buffers...) {
			for _, v := range p.Value {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("loaded a non-finite %s", p.Name)
				}
			}
		}
		if c.Step < 0 || c.Optim.Steps < 0 || c.BadEvals < 0 || c.Elapsed < 0 || math.IsNaN(c.Best) || len(c.RNG) == 0 {
			t.Fatalf("loaded out-of-range metadata: %+v", c)
		}
		_ = opt.SetState(params, c.Optim) // an error is fine; a panic is not
	})
}
