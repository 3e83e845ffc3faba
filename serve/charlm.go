package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/seqtask/seqtask/config"
)

// generator is a language model's prediction path (tasks.CharLM).
type generator interface {
	Generate(prime string, length int, temperature float64, rng *rand.Rand, emit func(string) error) error
	SampleDefaults() config.Sample
}

// generateRequest is the body of a char LM's predict; a field left out
// takes the model's eval.sample value (seed: 1).
type generateRequest struct {
	Prime       *string  `json:"prime"`
	Length      *int     `json:"length"`
	Temperature *float64 `json:"temperature"`
	Seed        *uint64  `json:"seed"`
	Stream      bool     `json:"stream"`
}

// generation is one generation the worker runs: its settings and where its
// text goes, a chunk per character.
type generation struct {
	ctx         context.Context
	prime       string
	length      int
	temperature float64
	seed        uint64
	text        chan string // buffered for every chunk, so the worker never waits on a slow client
}

// charlm serves a language model. Generations run one at a time on each
// of the model's workers (each is a batch-1 sampling loop, which is what
// the model does fastest; the request's seed, not the worker, decides the
// text); with "stream": true the text reaches the client as it is drawn,
// as Server-Sent Events.
func (s *Server) charlm(m Model, g generator) (http.HandlerFunc, worker) {
	opt := s.batchOptions(m.Name)
	opt.MaxBatch = 1
	b := NewBatcher(opt, batchFuncs(m, func(g generator, _ int) BatchFunc[struct{}, generation, struct{}] {
		return func(_ struct{}, in []generation) ([]struct{}, error) {
			job := in[0]
			defer close(job.text)
			err := g.Generate(job.prime, job.length, job.temperature, rand.New(rand.NewPCG(job.seed, 0x5a3)), func(c string) error {
				if err := job.ctx.Err(); err != nil {
					return err // the client has gone: stop drawing
				}
				job.text <- c
				return nil
			})
			return []struct{}{{}}, err
		}
	})...)
	handle := func(w http.ResponseWriter, r *http.Request) error {
		var req generateRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		d := g.SampleDefaults()
		job := generation{ctx: r.Context(), prime: d.Prime, length: d.Length, temperature: d.Temperature, seed: 1}
		if req.Prime != nil {
			job.prime = *req.Prime
		}
		if req.Length != nil {
			job.length = *req.Length
		}
		if req.Temperature != nil {
			job.temperature = *req.Temperature
		}
		if req.Seed != nil {
			job.seed = *req.Seed
		}
		switch {
		case job.length < 1 || job.length > s.opt.MaxLength:
			return badRequest("length", "%d is outside 1..%d", job.length, s.opt.MaxLength)
		case !(job.temperature > 0 && job.temperature <= 100):
			return badRequest("temperature", "%g is outside (0, 100]", job.temperature)
		case len(job.prime) > s.opt.MaxLength:
			return badRequest("prime", "longer than %d bytes", s.opt.MaxLength)
		}
		job.text = make(chan string, job.length)
		done := make(chan error, 1)
		go func() {
			_, err := b.Submit(r.Context(), struct{}{}, []generation{job})
			done <- err
		}()
		if req.Stream {
			return s.stream(w, r, m.Name, job.text, done)
		}
		var text strings.Builder
		if err := follow(job.text, done, func(c string) { text.WriteString(c) }); err != nil {
			return answer(r.Context(), err)
		}
		s.metrics.inputs.WithLabelValues(m.Name).Inc()
		writeJSON(w, http.StatusOK, map[string]any{"outputs": []map[string]string{{"text": text.String()}}})
		return nil
	}
	return refusing(handle), b
}

// follow calls fn with each chunk of a generation until it ends, and
// returns its error. A generation refused before it ran (a full queue)
// never closes text; one that ran closes it before done reports.
func follow(text <-chan string, done <-chan error, fn func(string)) error {
	for {
		select {
		case c, ok := <-text:
			if !ok {
				return <-done
			}
			fn(c)
		case err := <-done:
			if err != nil {
				return err
			}
			for c := range text {
				fn(c)
			}
			return nil
		}
	}
}

// stream sends the text as Server-Sent Events: "data: {"text": ...}"
// events (the chunks drawn since the last one, so a fast model does not
// flush per character), then "event: done" — or "event: error" with the
// JSON error body when generation fails after the stream has begun. A
// refusal before the first chunk (a full queue, a prime the model cannot
// read) is an ordinary JSON error response.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, model string, text <-chan string, done <-chan error) error {
	flusher, _ := w.(http.Flusher)
	send := func(event string, v any) {
		b, _ := json.Marshal(v)
		if event != "" {
			fmt.Fprintf(w, "event: %s\n", event)
		}
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	started := false
	var pending strings.Builder
	err := follow(text, done, func(c string) {
		if !started {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		pending.WriteString(c)
		if len(text) == 0 {
			send("", map[string]string{"text": pending.String()})
			pending.Reset()
		}
	})
	if pending.Len() > 0 {
		send("", map[string]string{"text": pending.String()})
	}
	switch {
	case err != nil && !started:
		return answer(r.Context(), err)
	case err != nil:
		if r.Context().Err() != nil && !isDeadline(r) {
			return nil // the client has gone
		}
		body := map[string]any{"message": err.Error()}
		if re, ok := answer(r.Context(), err).(*requestError); ok {
			body = map[string]any{"message": re.Message, "field": re.Field}
		}
		send("error", map[string]any{"error": body})
		return nil
	case !started: // an empty generation
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
	}
	s.metrics.inputs.WithLabelValues(model).Inc()
	send("done", map[string]any{})
	return nil
}
