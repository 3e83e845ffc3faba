package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"one p99", ms(7), 99, 7 * time.Millisecond},
		{"two p50 is the lower", ms(1, 2), 50, time.Millisecond},
		{"two p51 is the upper", ms(1, 2), 51, 2 * time.Millisecond},
		{"odd median", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"even median", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"1..100 p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100 p95", ms(hundred...), 95, 95 * time.Millisecond},
		{"1..100 p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100 p100", ms(hundred...), 100, 100 * time.Millisecond},
		{"ten p95 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 95, 10 * time.Millisecond},
		{"ten p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"tiny p is the min", ms(3, 4, 5), 0.001, 3 * time.Millisecond},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(%v, %v) = %v, want %v", tc.name, tc.sorted, tc.p, got, tc.want)
		}
	}
}

func TestSummariseSortsACopy(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	got := summarise(d)
	want := Latency{P50: 3, P95: 5, P99: 5, Max: 5, Mean: 3}
	if got != want {
		t.Errorf("summarise = %+v, want %+v", got, want)
	}
	if d[0] != 5 {
		t.Errorf("summarise reordered its input: %v", d)
	}
}

func TestClassify(t *testing.T) {
	refused := errors.New("connection refused")
	for _, tc := range []struct {
		status int
		err    error
		bodyOK bool
		want   Class
	}{
		{200, nil, true, OK},
		{204, nil, true, OK},
		{200, nil, false, BadBody},
		{0, refused, true, Transport},
		{200, refused, true, Transport}, // an error wins over any status
		{400, nil, true, Client4xx},
		{404, nil, true, Client4xx},
		{413, nil, true, Client4xx},
		{429, nil, true, Client4xx},
		{503, nil, true, Unavailable},
		{500, nil, true, Server5xx},
		{502, nil, true, Server5xx},
		{504, nil, true, Server5xx},
		{302, nil, true, Other},
		{100, nil, true, Other},
	} {
		if got := classify(tc.status, tc.err, tc.bodyOK); got != tc.want {
			t.Errorf("classify(%d, %v, %v) = %v, want %v", tc.status, tc.err, tc.bodyOK, got, tc.want)
		}
	}
}

func TestStatsCounting(t *testing.T) {
	// Two clients' samples, merged: every class counted once, status codes
	// by code (transport errors have none), inputs only of ok answers,
	// latencies of ok answers and of 503s apart.
	a, b := newStats(), newStats()
	for _, s := range []Sample{
		{Status: 200, Class: OK, Latency: 10 * time.Millisecond, Inputs: 2},
		{Status: 200, Class: OK, Latency: 30 * time.Millisecond, Inputs: 2},
		{Status: 503, Class: Unavailable, Latency: time.Millisecond, Inputs: 2},
		{Class: Transport, Err: errors.New("EOF"), Inputs: 2},
	} {
		a.Add(s)
	}
	for _, s := range []Sample{
		{Status: 200, Class: OK, Latency: 20 * time.Millisecond, Inputs: 1},
		{Status: 200, Class: BadBody, Latency: 5 * time.Millisecond, Inputs: 1},
		{Status: 400, Class: Client4xx, Inputs: 1},
		{Status: 500, Class: Server5xx, Inputs: 1},
		{Status: 503, Class: Unavailable, Latency: 2 * time.Millisecond, Inputs: 1},
		{Class: Transport, Err: errors.New("EOF"), Inputs: 1},
	} {
		b.Add(s)
	}
	a.Merge(b)
	want := [numClasses]int{OK: 3, BadBody: 1, Transport: 2, Client4xx: 1, Unavailable: 2, Server5xx: 1}
	if a.Count != want {
		t.Errorf("counts %v, want %v", a.Count, want)
	}
	if got := a.Requests(); got != 10 {
		t.Errorf("requests %d, want 10", got)
	}
	if got := a.ErrorCount(); got != 5 { // bad body, 2 transport, 4xx, 5xx; not the 503s
		t.Errorf("errors %d, want 5", got)
	}
	if got := statusList(a.ByStatus); got != "200: 4, 400: 1, 500: 1, 503: 2" {
		t.Errorf("status %q", got)
	}
	if a.Inputs != 5 {
		t.Errorf("inputs %d, want 5 (of ok answers only)", a.Inputs)
	}
	if got := summarise(a.OKLatency); got.P50 != 20*time.Millisecond || got.Max != 30*time.Millisecond {
		t.Errorf("ok latency %+v, want p50 20ms, max 30ms", got)
	}
	if len(a.RefusedLatency) != 2 {
		t.Errorf("503 latencies %v, want 2", a.RefusedLatency)
	}
	if a.Errors["EOF"] != 2 {
		t.Errorf("transport error texts %v", a.Errors)
	}
}

func TestCountJSONInputs(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"inputs": ["a", "b", "c"]}`, 3},
		{`{"images": ["AAAA"]}`, 1},
		{`{"prime": "ROMEO:"}`, 1},
		{`[{"src": "x", "id": 0}]`, 1},
	} {
		if got, err := countJSONInputs([]byte(tc.body)); err != nil || got != tc.want {
			t.Errorf("countJSONInputs(%s) = %d, %v; want %d", tc.body, got, err, tc.want)
		}
	}
	if _, err := countJSONInputs([]byte(`{"inputs": [`)); err == nil {
		t.Error("a malformed template was accepted")
	}
}

// TestLoad runs the load loop against a test server that answers 200, 503
// and 500 in turn, and checks what the report counts.
func TestLoad(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.Write([]byte(`{"outputs": [{"text": "x"}]}`))
		case 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
		case 2:
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	var out, errOut strings.Builder
	code := run([]string{"-url", srv.URL, "-json", `{"inputs": [{{line}}]}`, "-lines", "testdata/lines.txt",
		"-c", "3", "-d", "300ms"}, &out, &errOut)
	if code != 1 {
		t.Errorf("exit %d, want 1 (the 500s are errors); stderr %s", code, errOut.String())
	}
	for _, want := range []string{"clients    3", "200: ", "500: ", "503: ", "5xx (not 503) "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if n.Load() < 3 {
		t.Errorf("only %d requests", n.Load())
	}

	// -out records the run; -table prints the records.
	rec := filepath.Join(t.TempDir(), "runs.jsonl")
	out.Reset()
	run([]string{"-url", srv.URL, "-json", `{"inputs": ["a"]}`, "-c", "2", "-d", "100ms", "-label", "mixed",
		"-pid", fmt.Sprint(os.Getpid()), "-rss-every", "20ms", "-out", rec}, &out, &errOut)
	if !strings.Contains(out.String(), "VmRSS") {
		t.Errorf("-pid: no VmRSS in the report:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"-table", rec}, &out, &errOut); code != 0 {
		t.Fatalf("-table: exit %d: %s", code, errOut.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[2], "| mixed | 2 |") {
		t.Errorf("-table printed:\n%s", out.String())
	}
}

func TestProcParsing(t *testing.T) {
	status := "Name:\trunner\nVmPeak:\t  900000 kB\nVmRSS:\t  123456 kB\nRssAnon:\t 1000 kB\n"
	if got, err := parseVmRSS(status); err != nil || got != 123456 {
		t.Errorf("parseVmRSS = %d, %v; want 123456", got, err)
	}
	if _, err := parseVmRSS("Name:\tx\n"); err == nil {
		t.Error("a status without VmRSS was read")
	}
	for _, tc := range []struct {
		stat string
		want time.Duration
	}{
		// utime 250 and stime 50 ticks of 1/100 s: 3 s.
		{"42 (runner) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0", 3 * time.Second},
		// A command name with spaces and a ')' does not shift the fields.
		{"7 (a) b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", 30 * time.Millisecond},
	} {
		if got, err := parseStatCPU(tc.stat); err != nil || got != tc.want {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v", tc.stat, got, err, tc.want)
		}
	}
	// 100+0+50 busy ticks of user, nice, system, 10+5+0 of irq, softirq,
	// steal; idle and iowait are not busy: 1.65 s.
	if got, err := parseProcStat("cpu  100 0 50 9999 77 10 5 0 0 0\ncpu0 1 2 3\n"); err != nil || got != 1650*time.Millisecond {
		t.Errorf("parseProcStat = %v, %v; want 1.65s", got, err)
	}
	if _, err := parseProcStat("intr 1 2 3\n"); err == nil {
		t.Error("parseProcStat read a /proc/stat without its cpu line")
	}
	for _, bad := range []string{"", "42 runner S 1", "42 (runner) S 1 2 3"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
}

// TestRetryAfter: with -retry-after a refused client waits as the server
// says (here past the end of the run), without it it sends again at once.
func TestRetryAfter(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(503)
	}))
	defer srv.Close()
	var out, errOut strings.Builder
	args := []string{"-url", srv.URL, "-json", `{"inputs": ["a"]}`, "-c", "2", "-d", "300ms"}
	start := time.Now()
	if code := run(append(args, "-retry-after"), &out, &errOut); code != 0 {
		t.Errorf("exit %d, want 0 (503s are not errors): %s", code, errOut.String())
	}
	if got := n.Load(); got != 2 {
		t.Errorf("-retry-after: %d requests, want 2 (one per client)", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("-retry-after: the run took %v: a pause outlasted the run", d)
	}
	n.Store(0)
	if code := run(append(args, "-max-503", "10"), &out, &errOut); code != 1 {
		t.Errorf("-max-503 10: exit %d, want 1", code)
	}
	if got := n.Load(); got <= 10 {
		t.Errorf("without -retry-after: only %d requests", got)
	}
}
