// Package serve puts trained models behind an HTTP API and a web page:
// runner -mode serve -run DIR [-run DIR ...]. Each model's requests are
// gathered into batches (Batcher) run by the model's workers, one per copy
// of the model (Options.Replicas), through the task's own prediction path
// — the same one -mode predict uses — so that a served translation equals
// a predicted one. Limits bound every
// request (body size, inputs, lengths, pixels, frames, time); a full queue
// answers 503 with Retry-After; every refusal has a JSON body naming the
// field at fault; /metrics exposes Prometheus metrics.
//
// Routes: GET /healthz, GET /readyz, GET /v1/models,
// POST /v1/models/{name}/predict, POST /translator/translate (OpenNMT-py's
// REST shape), GET /metrics, GET / (the web page).
package serve

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seqtask/seqtask/tasks"
)

// Options configure a server; DefaultOptions gives every field.
type Options struct {
	MaxBatch int // inputs per batch
	// Replicas is how many copies of each model answer batches, each on
	// a worker of its own: more cores at work under load. The loader
	// builds them on the first copy's weights (pipeline.Loaded.Replica).
	Replicas int
	MaxWait  time.Duration // how long a batch's first input waits for others
	// Gather is how long a batch's first input may wait for others while
	// another copy of the model is busy (BatchOptions.Gather).
	Gather    time.Duration
	Queue     int           // inputs waiting per model; more are refused with 503
	MaxBody   int64         // bytes of a request body
	MaxInputs int           // sentences or images per request
	MaxLength int           // characters one generation may ask for
	Timeout   time.Duration // per request, queueing included
	// UploadBytes bounds the bytes uploads hold at once across requests:
	// images while decoded, clips while on disk (uploadBudget). An upload
	// waits for its share.
	UploadBytes int64
	// Grace is how long a shutdown waits for requests in flight.
	Grace time.Duration
	Log   io.Writer
}

// DefaultOptions are the server's defaults. MaxWait is 0: with every
// worker free a batch starts at once, as a wait only delays a lone request
// (2 ms halved one client's requests/s). Gather is 5 ms: without it, under
// load a worker freed while the others ran full batches started every
// request that had just come in as a batch of its own, two thirds of all
// batches held one input, and decoding one sentence costs nearly what
// decoding sixteen does; the batcher gathers only for models whose
// batches say so (translation, not captioning, whose batch of 32 photos
// costs 32 photos' work: bench/README.md, "Serving").
// Replicas is one per core: one worker uses about one core, as one batch's
// matrix products are mostly too small to split. UploadBytes (512 MiB)
// lets two of the largest images datasets reads (MaxImagePixels, 200 MB
// decoded) or two zips of frames at their limit be held at once, and many
// ordinary uploads.
func DefaultOptions() Options {
	return Options{MaxBatch: 32, Replicas: runtime.GOMAXPROCS(0), MaxWait: 0, Gather: 5 * time.Millisecond, Queue: 256, MaxBody: 16 << 20, MaxInputs: 64,
		MaxLength: 10000, Timeout: 30 * time.Second, UploadBytes: 512 << 20, Grace: 10 * time.Second, Log: io.Discard}
}

// Model is a trained model to serve: its name (the run folder's base
// name), the task (its typed prediction path: Translation, CharLM,
// Captioning or Video) and what /v1/models tells of it.
type Model struct {
	Name string
	Task any
	// Replicas are further copies of Task, loaded on their own from the
	// same checkpoint. Each copy has a worker of its own (models are not
	// safe for concurrent use), so that the model answers on several cores
	// at once.
	Replicas []any
	Info     Info
}

// copies returns m's task and its replicas as T (serve has checked that
// the replicas are of the task's type).
func copies[T any](m Model) []T {
	out := []T{m.Task.(T)}
	for _, r := range m.Replicas {
		out = append(out, r.(T))
	}
	return out
}

// batchFuncs makes a BatchFunc for each copy of m's task with newRun,
// which also gets the copy's index (to seed a random source of its own).
func batchFuncs[T any, K comparable, In, Out any](m Model, newRun func(copy T, index int) BatchFunc[K, In, Out]) []BatchFunc[K, In, Out] {
	var runs []BatchFunc[K, In, Out]
	for i, c := range copies[T](m) {
		runs = append(runs, newRun(c, i))
	}
	return runs
}

// Info is a model's entry in GET /v1/models; the task adds what it has.
type Info struct {
	Name        string         `json:"name"`
	Task        string         `json:"task"`
	Step        int            `json:"step"`
	Metric      string         `json:"metric,omitempty"`
	MetricValue *float64       `json:"metric_value,omitempty"` // the run's best validation figure; not given for an ensemble
	Checkpoint  string         `json:"checkpoint"`
	Ensemble    []string       `json:"ensemble,omitempty"` // further models' checkpoints it decodes with
	Vocabulary  map[string]int `json:"vocabulary,omitempty"`
	Decode      any            `json:"decode,omitempty"`
	Attention   bool           `json:"attention"`
	Labels      []string       `json:"labels,omitempty"`
}

// Loader loads the models to serve. The server answers /healthz while it
// runs and /readyz once it has returned.
type Loader func() ([]Model, error)

// Server serves models over HTTP.
type Server struct {
	opt     Options
	mux     *http.ServeMux
	metrics *metrics
	uploads *uploadBudget

	mu     sync.RWMutex
	models map[string]*served
	order  []string // model names in -run order
	ready  atomic.Bool
}

// served is a model with its request handler and its worker.
type served struct {
	Model
	predict   http.HandlerFunc
	worker    worker
	translate translateFunc // translation models: their worker, for OpenNMT-py's route too
}

// worker is a model's Batcher, whatever it batches.
type worker interface {
	Depth() int
	Close()
}

//go:embed web
var web embed.FS

// New returns a server that has no models yet (see Load).
func New(opt Options) *Server {
	s := &Server{opt: opt, mux: http.NewServeMux(), metrics: newMetrics(), uploads: newUploadBudget(opt.UploadBytes), models: map[string]*served{}}
	s.metrics.uploads(s.uploads)
	page, _ := fs.Sub(web, "web")
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /v1/models", s.instrumented("models", s.listModels))
	s.mux.HandleFunc("POST /v1/models/{name}/predict", s.instrumented("predict", s.predict))
	s.mux.HandleFunc("POST /translator/translate", s.instrumented("opennmt", s.opennmt))
	s.mux.Handle("GET /metrics", s.metrics.handler())
	files := http.FileServerFS(page)
	for _, p := range []string{"GET /{$}", "GET /app.js", "GET /app.css"} {
		s.mux.Handle(p, files)
	}
	return s
}

func (s *Server) instrumented(route string, h http.HandlerFunc) http.HandlerFunc {
	return s.metrics.instrument(route, s.serves, h)
}

// serves reports whether name is a model the server serves.
func (s *Server) serves(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.models[name]
	return ok
}

// ServeHTTP answers a request; an unknown path or a method the path does
// not take gets the JSON error every refusal has.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := s.mux.Handler(probe); p != "" && m != r.Method {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", allowed[0])
			writeError(w, &requestError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, allowed[0])})
			return
		}
		writeError(w, &requestError{Status: http.StatusNotFound, Message: "no route " + r.URL.Path})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Load runs load and serves its models; until it returns, the API answers
// 503 and /readyz says the server is loading.
func (s *Server) Load(load Loader) error {
	models, err := load()
	if err != nil {
		return err
	}
	for _, m := range models {
		if _, dup := s.models[m.Name]; dup {
			return fmt.Errorf("two models named %q: give run folders different names", m.Name)
		}
		sv, err := s.serve(m)
		if err != nil {
			return fmt.Errorf("model %s: %w", m.Name, err)
		}
		s.mu.Lock()
		s.models[m.Name] = sv
		s.order = append(s.order, m.Name)
		s.mu.Unlock()
	}
	s.ready.Store(true)
	return nil
}

// serve makes m's handler and workers for its task.
func (s *Server) serve(m Model) (*served, error) {
	sv := &served{Model: m}
	for i, r := range m.Replicas {
		if reflect.TypeOf(r) != reflect.TypeOf(m.Task) {
			return nil, fmt.Errorf("replica %d is a %T, not a %T like the model", i+1, r, m.Task)
		}
	}
	switch t := m.Task.(type) {
	case translator:
		sv.predict, sv.translate, sv.worker = s.translation(m, t)
	case generator:
		sv.predict, sv.worker = s.charlm(m, t)
	case captioner:
		sv.predict, sv.worker = s.captioning(m, t)
	case labeller:
		sv.predict, sv.worker = s.video(m)
	default:
		return nil, fmt.Errorf("the %s task cannot be served", m.Info.Task)
	}
	s.metrics.queueDepth(m.Name, sv.worker.Depth)
	return sv, nil
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		writeError(w, &requestError{Status: http.StatusServiceUnavailable, Message: "loading models", RetryAfter: 1})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// notReady refuses API requests while the models load.
func (s *Server) notReady(w http.ResponseWriter) bool {
	if s.ready.Load() {
		return false
	}
	writeError(w, &requestError{Status: http.StatusServiceUnavailable, Message: "loading models", RetryAfter: 1})
	return true
}

func (s *Server) listModels(w http.ResponseWriter, _ *http.Request) {
	if s.notReady(w) {
		return
	}
	s.mu.RLock()
	list := make([]Info, 0, len(s.order))
	for _, name := range s.order {
		list = append(list, s.models[name].Info)
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"models": list})
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	if s.notReady(w) {
		return
	}
	s.mu.RLock()
	m, ok := s.models[r.PathValue("name")]
	s.mu.RUnlock()
	if !ok {
		writeError(w, &requestError{Status: http.StatusNotFound, Field: "name", Message: fmt.Sprintf("no model %q (GET /v1/models lists them)", r.PathValue("name"))})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBody)
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.Timeout)
	defer cancel()
	m.predict(w, r.WithContext(ctx))
}

// translators returns the served models whose task is a translator, in -run
// order (OpenNMT-py's route picks among them by index).
func (s *Server) translators() []*served {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*served
	for _, name := range s.order {
		if _, ok := s.models[name].Task.(translator); ok {
			out = append(out, s.models[name])
		}
	}
	return out
}

// Serve answers requests on ln until ctx ends, then stops taking new
// ones, lets those in flight finish within the grace period, stops the
// models' workers and returns nil. load runs once the listener is up.
func (s *Server) Serve(ctx context.Context, ln net.Listener, load Loader) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	errs := make(chan error, 2)
	go func() { errs <- srv.Serve(ln) }()
	go func() {
		if err := s.Load(load); err != nil {
			errs <- err
		}
	}()
	select {
	case err := <-errs:
		srv.Close()
		s.closeModels()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	fmt.Fprintf(s.opt.Log, "serve: shutting down (in-flight requests have %v)\n", s.opt.Grace)
	shut, cancel := context.WithTimeout(context.Background(), s.opt.Grace)
	defer cancel()
	err := srv.Shutdown(shut)
	s.closeModels()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func (s *Server) closeModels() {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.models[n].worker.Close()
	}
}

// Describe fills what m's task tells of itself into m.Info: vocabulary
// sizes, decoding defaults, whether it has attention, its labels.
func Describe(m *Model) {
	if v, ok := m.Task.(interface{ Vocabularies() map[string]int }); ok {
		m.Info.Vocabulary = v.Vocabularies()
	}
	switch t := m.Task.(type) {
	case interface{ DecodeDefaults() tasks.DecodeOptions }:
		m.Info.Decode = t.DecodeDefaults()
	case generator:
		d := t.SampleDefaults()
		m.Info.Decode = map[string]any{"prime": d.Prime, "length": d.Length, "temperature": d.Temperature}
	}
	if a, ok := m.Task.(interface{ Attends() bool }); ok {
		m.Info.Attention = a.Attends()
	}
	if l, ok := m.Task.(interface{ Labels() []string }); ok {
		m.Info.Labels = l.Labels()
	}
}
