package serve

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are what GET /metrics exposes, in a registry of the server's
// own (not the process-wide default), so that tests can start several
// servers.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec   // by model, route and status code
	latency  *prometheus.HistogramVec // by model and route, seconds
	batches  *prometheus.HistogramVec // items per batch, by model
	inputs   *prometheus.CounterVec   // inputs predicted (sentences, images, clips, generations), by model
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seqtask_requests_total", Help: "HTTP requests answered, by model, route and status code.",
		}, []string{"model", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "seqtask_request_duration_seconds", Help: "Time to answer a request, by model and route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"model", "route"}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "seqtask_batch_size", Help: "Inputs per batch run by a model's worker (dynamic batching).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 8),
		}, []string{"model"}),
		inputs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seqtask_inputs_total", Help: "Inputs predicted, by model.",
		}, []string{"model"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.batches, m.inputs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// queueDepth exposes a model's queue length, read when scraped.
func (m *metrics) queueDepth(model string, depth func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "seqtask_queue_depth", Help: "Inputs waiting for the model's worker.", ConstLabels: prometheus.Labels{"model": model},
	}, func() float64 { return float64(depth()) }))
}

// uploads exposes the upload budget and the bytes held of it, read when
// scraped: held near the budget means uploads are waiting their turn.
func (m *metrics) uploads(b *uploadBudget) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "seqtask_upload_bytes_held", Help: "Bytes that uploads hold now: images being decoded, clips waiting on disk."},
			func() float64 { return float64(b.held.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "seqtask_upload_bytes_budget", Help: "Bytes uploads may hold at once (-upload-bytes)."},
			func() float64 { return float64(b.bytes) }))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets streamed responses (Server-Sent Events) through.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// instrument counts and times the requests of route, by model: the name
// in the path when serves says it is served, else "". A name a client made
// up is no label value: each would be a series of its own (a client could
// grow /metrics without bound), and one that is not UTF-8 would make the
// client library panic.
func (m *metrics) instrument(route string, serves func(name string) bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h(rec, r)
		model := r.PathValue("name")
		if !serves(model) {
			model = ""
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		m.requests.WithLabelValues(model, route, strconv.Itoa(rec.status)).Inc()
		m.latency.WithLabelValues(model, route).Observe(time.Since(began).Seconds())
	}
}
