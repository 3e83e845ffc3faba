package pipeline

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nlpodyssey/safetensors"

	"github.com/seqtask/seqtask/internal/atomicfile"
	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/tasks"
)

// A checkpoint is one safetensors file: the weights under PyTorch's names
// (so `safetensors.torch.load_file` reads them as they are), the optimizer's
// state under "optim/<slot>/<param>", and in the header's metadata
// everything else a resumed run needs: step, RNG state, config, task
// metadata (vocabulary), best score and elapsed training time.
const (
	optimPrefix   = "optim/"
	metaStep      = "seqtask.step"
	metaOptSteps  = "seqtask.optimizer_steps"
	metaRNG       = "seqtask.rng"
	metaConfig    = "seqtask.config"
	metaTask      = "seqtask.task."
	metaBest      = "seqtask.best_score"
	metaBadEvals  = "seqtask.evals_without_improvement"
	metaElapsed   = "seqtask.elapsed_seconds"
	metaPrecision = "seqtask.precision"
)

// checkpoint is the state of a run at one step.
type checkpoint[T nn.Float] struct {
	Step     int
	RNG      []byte // the training RNG's state (rand.PCG.MarshalBinary)
	Config   []byte // the resolved YAML
	TaskMeta map[string]string
	Best     float64 // best validation score so far, lower is better (+Inf before the first evaluation)
	BadEvals int     // evaluations since Best improved
	Elapsed  time.Duration
	Params   nn.Params[T]
	Buffers  nn.Params[T] // untrained state such as batch-norm statistics
	Optim    nn.OptimizerState[T]
}

// tensor adapts a float slice to safetensors.View.
type tensor struct {
	dtype safetensors.DType
	shape []uint64
	data  []byte
}

func (t tensor) DType() safetensors.DType { return t.dtype }
func (t tensor) Shape() []uint64          { return t.shape }
func (t tensor) Data() []byte             { return t.data }
func (t tensor) DataLen() uint64          { return uint64(len(t.data)) }

func toTensor[T nn.Float](v []T, shape []int) tensor {
	t := tensor{shape: make([]uint64, len(shape))}
	for i, s := range shape {
		t.shape[i] = uint64(s)
	}
	switch x := any(v).(type) {
	case []float32:
		t.dtype, t.data = safetensors.F32, make([]byte, 4*len(x))
		for i, f := range x {
			binary.LittleEndian.PutUint32(t.data[4*i:], math.Float32bits(f))
		}
	case []float64:
		t.dtype, t.data = safetensors.F64, make([]byte, 8*len(x))
		for i, f := range x {
			binary.LittleEndian.PutUint64(t.data[8*i:], math.Float64bits(f))
		}
	}
	return t
}

// fromTensor decodes an F32 or F64 tensor into dst, converting precision
// as needed; a size or type mismatch is an error naming the tensor.
func fromTensor[T nn.Float](name string, tv safetensors.TensorView, dst []T) error {
	b := tv.Data()
	switch tv.DType() {
	case safetensors.F32:
		if len(b) != 4*len(dst) {
			return fmt.Errorf("tensor %s has %d values, want %d", name, len(b)/4, len(dst))
		}
		for i := range dst {
			dst[i] = T(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case safetensors.F64:
		if len(b) != 8*len(dst) {
			return fmt.Errorf("tensor %s has %d values, want %d", name, len(b)/8, len(dst))
		}
		for i := range dst {
			dst[i] = T(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	default:
		return fmt.Errorf("tensor %s has type %v; want F32 or F64", name, tv.DType())
	}
	return nil
}

// writeSafetensors writes tensors and metadata to path atomically
// (package atomicfile): a crash leaves either the old file or the new one,
// never half of one.
func writeSafetensors(path string, tensors map[string]tensor, meta map[string]string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return safetensors.SerializeToWriter(tensors, meta, w)
	})
}

// readSafetensors returns a file's tensors and its header metadata. The
// file must be a regular file: reading /dev/zero or a FIFO would never end.
func readSafetensors(path string) (safetensors.SafeTensors, map[string]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return safetensors.SafeTensors{}, nil, err
	}
	if !fi.Mode().IsRegular() {
		return safetensors.SafeTensors{}, nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return safetensors.SafeTensors{}, nil, err
	}
	return parseSafetensors(b, path)
}

// parseSafetensors is readSafetensors for a file's bytes; path labels
// errors.
func parseSafetensors(b []byte, path string) (safetensors.SafeTensors, map[string]string, error) {
	st, err := safetensors.Deserialize(b)
	if err != nil {
		return st, nil, fmt.Errorf("%s: not a valid safetensors file: %w", path, err)
	}
	_, header, _ := safetensors.ReadMetadata(b) // Deserialize read it without error
	return st, header.Metadata(), nil
}

func (c *checkpoint[T]) save(path string) error {
	tensors := make(map[string]tensor, 3*len(c.Params))
	for _, p := range append(append(nn.Params[T]{}, c.Params...), c.Buffers...) {
		tensors[p.Name] = toTensor(p.Value, p.Shape)
	}
	for k, v := range c.Optim.Tensors {
		tensors[optimPrefix+k] = toTensor(v, []int{len(v)})
	}
	var zero T
	meta := map[string]string{
		"format":      "pt",
		metaStep:      strconv.Itoa(c.Step),
		metaOptSteps:  strconv.Itoa(c.Optim.Steps),
		metaRNG:       hex.EncodeToString(c.RNG),
		metaConfig:    string(c.Config),
		metaBest:      strconv.FormatFloat(c.Best, 'g', -1, 64),
		metaBadEvals:  strconv.Itoa(c.BadEvals),
		metaElapsed:   strconv.FormatFloat(c.Elapsed.Seconds(), 'f', 3, 64),
		metaPrecision: fmt.Sprintf("%T", zero),
	}
	for k, v := range c.TaskMeta {
		meta[metaTask+k] = v
	}
	return writeSafetensors(path, tensors, meta)
}

// readCheckpointMeta returns a checkpoint's metadata (config, task meta)
// without touching its tensors, so the task can be built before loading.
// A file without a stored config is not a checkpoint (an export, say).
func readCheckpointMeta(path string) (map[string]string, error) {
	_, meta, err := readSafetensors(path)
	if err != nil {
		return nil, err
	}
	if meta[metaConfig] == "" {
		return nil, fmt.Errorf("%s: not a seqtask checkpoint: its metadata holds no %s (an exported weights file cannot be resumed or evaluated; use it with train.init_from)", path, metaConfig)
	}
	return meta, nil
}

// taskMeta extracts the task's own entries from checkpoint metadata.
func taskMeta(meta map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range meta {
		if rest, ok := strings.CutPrefix(k, metaTask); ok {
			out[rest] = v
		}
	}
	return out
}

// load fills c.Params and c.Buffers (which must be built already) and the
// rest of c from the checkpoint at path, after checking all of it: every
// tensor's type, rank and shape against the model, every value finite, the
// optimizer state's shapes, and the metadata's numbers. A problem is an
// error naming the file and the tensor or metadata key.
func (c *checkpoint[T]) load(path string) error {
	st, meta, err := readSafetensors(path)
	if err != nil {
		return err
	}
	return c.decode(st, meta, path)
}

// decode is load for a file already parsed.
func (c *checkpoint[T]) decode(st safetensors.SafeTensors, meta map[string]string, path string) error {
	var err error
	model := append(append(nn.Params[T]{}, c.Params...), c.Buffers...)
	known := make(map[string]bool, len(model))
	for _, p := range model {
		known[p.Name] = true
	}
	c.Optim.Tensors = map[string][]T{}
	for _, name := range st.Names() {
		tv, _ := st.Tensor(name)
		key, isOptim := strings.CutPrefix(name, optimPrefix)
		switch {
		case isOptim:
			if len(tv.Shape()) != 1 {
				return fmt.Errorf("%s: tensor %q has shape %v; optimizer state is one vector per slot", path, name, tv.Shape())
			}
			v := make([]T, tv.Shape()[0])
			if err := fromTensor(name, tv, v); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			c.Optim.Tensors[key] = v
		case !known[name]:
			return fmt.Errorf("%s: tensor %q is not part of this model (was the file written for another config?)", path, name)
		}
	}
	if err := loadParams(st, model, path); err != nil {
		return err
	}
	ints := []struct {
		key string
		dst *int
	}{{metaStep, &c.Step}, {metaOptSteps, &c.Optim.Steps}, {metaBadEvals, &c.BadEvals}}
	for _, k := range ints {
		n, err := strconv.Atoi(meta[k.key])
		if err != nil || n < 0 {
			return fmt.Errorf("%s: metadata %s is %q, want a whole number ≥ 0", path, k.key, meta[k.key])
		}
		*k.dst = n
	}
	if c.Best, err = strconv.ParseFloat(meta[metaBest], 64); err != nil || math.IsNaN(c.Best) {
		return fmt.Errorf("%s: metadata %s is %q, want a number", path, metaBest, meta[metaBest])
	}
	secs, err := strconv.ParseFloat(meta[metaElapsed], 64)
	if err != nil || secs < 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
		return fmt.Errorf("%s: metadata %s is %q, want seconds ≥ 0", path, metaElapsed, meta[metaElapsed])
	}
	c.Elapsed = time.Duration(secs * float64(time.Second))
	if c.RNG, err = hex.DecodeString(meta[metaRNG]); err != nil || len(c.RNG) == 0 {
		return fmt.Errorf("%s: metadata %s is not the hex of a generator state", path, metaRNG)
	}
	if p := meta[metaPrecision]; p != "float32" && p != "float64" {
		return fmt.Errorf("%s: metadata %s is %q, want float32 or float64", path, metaPrecision, p)
	}
	c.Config = []byte(meta[metaConfig])
	c.TaskMeta = taskMeta(meta)
	return nil
}

// loadParams copies every parameter from st; a missing tensor, a shape
// mismatch or a non-finite value is an error naming it, since a partial or
// poisoned load would train or predict with garbage without saying so.
// Tensors of st that params do not name are left alone (train.init_from may
// take the part of a model that fits).
func loadParams[T nn.Float](st safetensors.SafeTensors, params nn.Params[T], path string) error {
	for _, p := range params {
		tv, ok := st.Tensor(p.Name)
		if !ok {
			return fmt.Errorf("%s: no tensor %q (the model expects it; was the file written for another config?)", path, p.Name)
		}
		if got := tv.Shape(); !sameShape(got, p.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, the model expects %v", path, p.Name, got, p.Shape)
		}
		if err := fromTensor(p.Name, tv, p.Value); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i, v := range p.Value {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("%s: tensor %q: value %d is %v", path, p.Name, i, f)
			}
		}
	}
	return nil
}

func sameShape(a []uint64, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != uint64(b[i]) {
			return false
		}
	}
	return true
}

// weightsOf lists what a model has learned and a weights file holds: its
// parameters, then its buffers (batch norm's running statistics).
func weightsOf[T nn.Float](task tasks.Task[T]) nn.Params[T] {
	return append(append(nn.Params[T]{}, task.Params()...), task.Buffers()...)
}

// exportWeights writes the weights — parameters and buffers such as batch
// norm's running statistics, as a PyTorch state_dict holds them — under
// PyTorch's names, without the optimizer's state.
func exportWeights[T nn.Float](path string, params nn.Params[T]) error {
	tensors := make(map[string]tensor, len(params))
	for _, p := range params {
		tensors[p.Name] = toTensor(p.Value, p.Shape)
	}
	return writeSafetensors(path, tensors, map[string]string{"format": "pt"})
}

// importWeights loads weights written by exportWeights or by PyTorch's
// safetensors.torch.save_file with matching names.
func importWeights[T nn.Float](path string, params nn.Params[T]) error {
	st, _, err := readSafetensors(path)
	if err != nil {
		return err
	}
	return loadParams(st, params, path)
}
