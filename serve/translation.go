package serve

import (
	"fmt"
	"math/rand/v2"
	"net/http"

	"github.com/seqtask/seqtask/tasks"
)

// translator is a translation model's prediction path (tasks.Translation).
type translator interface {
	Source(sentence string) (tasks.Source, error)
	TranslateSources(srcs []tasks.Source, opt tasks.DecodeOptions, withAttention bool, rng *rand.Rand) ([]tasks.Translated, error)
	DecodeDefaults() tasks.DecodeOptions
}

// decodeKey is what sentences sharing a batch must share.
type decodeKey struct {
	opt       tasks.DecodeOptions
	attention bool
}

// translateRequest is the body of a translation model's predict.
type translateRequest struct {
	Inputs    []string            `json:"inputs"`
	Decode    tasks.DecodeRequest `json:"decode"`
	Attention bool                `json:"attention"`
}

// translateFunc translates sentences through a model's worker; a sentence
// the model refuses is a 400 naming field(i), its place in the request.
type translateFunc func(r *http.Request, inputs []string, field func(i int) string, opt tasks.DecodeOptions, attention bool) ([]tasks.Translated, error)

// translation serves a translation model: its sentences, from any number
// of concurrent requests (the predict route and OpenNMT-py's), are
// translated in batches of one decoding setting.
func (s *Server) translation(m Model, t translator) (http.HandlerFunc, translateFunc, worker) {
	b := NewBatcher(s.batchOptions(m.Name), batchFuncs(m, func(t translator, i int) BatchFunc[decodeKey, tasks.Source, tasks.Translated] {
		rng := rand.New(rand.NewPCG(uint64(i), 0x7e4))
		return func(k decodeKey, in []tasks.Source) ([]tasks.Translated, error) {
			opt := k.opt
			opt.Workers = 1 // the server's copies of the model keep the cores busy
			return t.TranslateSources(in, opt, k.attention, rng)
		}
	})...)
	translate := func(r *http.Request, inputs []string, field func(int) string, opt tasks.DecodeOptions, attention bool) ([]tasks.Translated, error) {
		// A bad sentence fails its own request, not the batch the request
		// would share with others.
		srcs := make([]tasks.Source, len(inputs))
		for i, in := range inputs {
			var err error
			if srcs[i], err = t.Source(in); err != nil {
				return nil, badRequest(field(i), "%v", err)
			}
		}
		out, err := b.Submit(r.Context(), decodeKey{opt, attention}, srcs)
		if err != nil {
			return nil, answer(r.Context(), err)
		}
		s.metrics.inputs.WithLabelValues(m.Name).Add(float64(len(out)))
		return out, nil
	}
	handle := func(w http.ResponseWriter, r *http.Request) error {
		var req translateRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		if err := checkCount("inputs", len(req.Inputs), s.opt.MaxInputs); err != nil {
			return err
		}
		opt, err := t.DecodeDefaults().With(req.Decode)
		if err != nil {
			return answer(r.Context(), err)
		}
		out, err := translate(r, req.Inputs, func(i int) string { return fmt.Sprintf("inputs[%d]", i) }, opt, req.Attention)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"outputs": out})
		return nil
	}
	return refusing(handle), translate, b
}

// refusing answers a handler's error as its refusal.
func refusing(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			if r.Context().Err() != nil && !isDeadline(r) {
				return // the client is gone: nobody reads an answer
			}
			writeError(w, err)
		}
	}
}

// batchOptions are the server's batching options for a model, reporting
// batch sizes and queue depth to the metrics.
func (s *Server) batchOptions(model string) BatchOptions {
	h := s.metrics.batches.WithLabelValues(model)
	return BatchOptions{MaxBatch: s.opt.MaxBatch, MaxWait: s.opt.MaxWait, Gather: s.opt.Gather, Queue: s.opt.Queue, Observe: func(n int) { h.Observe(float64(n)) }}
}
