// Command loadtest drives an HTTP endpoint with N concurrent clients for a
// fixed time, each sending requests in a closed loop (the next request as
// soon as the previous answer arrives), and reports requests/s, inputs/s,
// latency percentiles and every outcome by status code. It is the load
// test of seqtask's server (runner -mode serve; see bench/README.md,
// "Serving"), written with the standard library only.
//
//	go run ./bench/loadtest -url http://127.0.0.1:8080/v1/models/translation/predict \
//	    -json '{"inputs": [{{line}}]}' -lines sentences.txt -c 64 -d 30s
//	go run ./bench/loadtest -url http://127.0.0.1:8080/v1/models/captioning/predict \
//	    -image data/flickr8k-demo/images_64x64 -c 8 -d 30s -pid $(pgrep -n runner)
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const usage = `loadtest drives an HTTP endpoint with N concurrent clients for T seconds.

Usage:
  loadtest -url URL (-json TEMPLATE | -body FILE | -image PATH ...) [-c N] [-d T] [flags]

Each client sends a request, waits for the whole answer and sends the next
(a closed loop), until T has passed; requests in flight then finish and are
counted; after a 503 a client sends again at once unless -backoff or
-retry-after says to wait. The request is one of:
  -json TEMPLATE / -body FILE   a JSON body (Content-Type application/json);
                                every {{line}} in it is replaced by the next
                                line of -lines FILE as a JSON string, so
                                requests differ ('{"inputs": [{{line}}]}')
  -image PATH                   multipart/form-data with -per-request files in
                                form field -field (default "image"); PATH is
                                an image or a folder of them; repeatable;
                                successive requests take successive images

Inputs per request are counted from the body ("inputs" or "images" array of
a JSON body, the files of a multipart one) unless -inputs is given. A 2xx
answer counts as ok only if its JSON has "outputs" with one entry per input
(-check=false accepts any 2xx).

Outcomes: ok; bad_body (2xx without the expected outputs); transport (no
HTTP answer: refused, reset, timed out); 4xx; 503 (refused for load: the
server's queue is full or the request ran out of time; counted apart from
the other 5xx); 5xx (every 5xx but 503); other (1xx, 3xx). "errors" is all
but ok and 503. Latency percentiles (nearest rank) are of ok answers, and
of 503s separately. requests/s counts every answer, inputs/s the inputs of
ok answers.

With -pid PID (Linux) it also reports the CPU the server process used (in
cores, averaged over the run) and its VmRSS from /proc/PID/status, sampled
every -rss-every (-rss-log FILE keeps the samples). -out FILE appends the
results as a JSON line; -table FILE prints such lines as a Markdown table.
Every report carries the load average when the run began, the CPU the
whole machine and the load generator itself used (on a small machine it
competes with the server) and, with -pid, what the other processes used:
the machine's busy time from /proc/stat less the server's and its own.

Exit status: 0 when the run had no errors (503s allowed), 1 when it had
some (or, with -max-503 N, more than N 503s), 2 on a usage error.

Flags:
`

type config struct {
	url        string
	clients    int
	duration   time.Duration
	warmup     time.Duration
	timeout    time.Duration
	wait       time.Duration
	jsonTmpl   string
	bodyFile   string
	linesFile  string
	images     []string
	field      string
	perRequest int
	inputs     int
	check      bool
	backoff    time.Duration
	retryAfter bool
	label      string
	note       string
	out        string
	max503     int
	pid        int
	rssEvery   time.Duration
	rssLog     string
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var c config
	var images stringList
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.url, "url", "", "`URL` to POST to (required)")
	fs.IntVar(&c.clients, "c", 1, "concurrent `clients`")
	fs.DurationVar(&c.duration, "d", 30*time.Second, "how long to measure")
	fs.DurationVar(&c.warmup, "warmup", 0, "run this long before measuring (its requests are not counted)")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "per-request timeout (a request over it is a transport error)")
	fs.DurationVar(&c.wait, "wait", 0, "first wait up to this long for GET /readyz on the URL's host to answer 200")
	fs.StringVar(&c.jsonTmpl, "json", "", "JSON body `template` ({{line}} takes the next line of -lines)")
	fs.StringVar(&c.bodyFile, "body", "", "`file` holding the JSON body template")
	fs.StringVar(&c.linesFile, "lines", "", "`file` of lines for {{line}}, used in turn")
	fs.Var(&images, "image", "image file or folder of images for multipart requests (repeatable)")
	fs.StringVar(&c.field, "field", "image", "multipart form field of the images")
	fs.IntVar(&c.perRequest, "per-request", 1, "images per multipart request")
	fs.IntVar(&c.inputs, "inputs", 0, "inputs per request, when counting them from the body is wrong")
	fs.BoolVar(&c.check, "check", true, `require a 2xx answer's JSON to hold "outputs", one per input`)
	fs.DurationVar(&c.backoff, "backoff", 0, "after a 503, a client waits this long before its next request (0: at once)")
	fs.BoolVar(&c.retryAfter, "retry-after", false, "after a 503, a client waits as its Retry-After header says (whole seconds), else -backoff")
	fs.StringVar(&c.label, "label", "", "name of the run in the -out record")
	fs.StringVar(&c.note, "note", "", "free text kept in the -out record")
	fs.IntVar(&c.pid, "pid", 0, "the server's process `id`: report its CPU use and VmRSS (Linux /proc)")
	fs.DurationVar(&c.rssEvery, "rss-every", 5*time.Second, "with -pid: sample VmRSS this often")
	fs.StringVar(&c.rssLog, "rss-log", "", "with -pid: write the VmRSS samples to `file` (seconds, KiB)")
	table := fs.String("table", "", "print the runs recorded in `file` (by -out) as a Markdown table, and exit")
	fs.StringVar(&c.out, "out", "", "append the results to `file` as one JSON line")
	fs.IntVar(&c.max503, "max-503", -1, "exit 1 if more than this many 503s (-1: any number)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c.images = images
	if *table != "" {
		if err := printTable(*table, stdout); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return 1
		}
		return 0
	}
	if err := c.validate(fs.NArg()); err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 2
	}
	reqs, err := c.requests()
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return 2
	}
	client := &http.Client{Timeout: c.timeout, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: c.clients, MaxIdleConnsPerHost: c.clients, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true,
	}}
	if c.wait > 0 {
		if err := waitReady(client, c.url, c.wait); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return 1
		}
	}
	before := loadAvg()
	var w *watcher
	stop := make(chan struct{})
	if c.pid > 0 {
		var log io.Writer
		if c.rssLog != "" {
			f, err := os.Create(c.rssLog)
			if err != nil {
				fmt.Fprintf(stderr, "loadtest: %v\n", err)
				return 1
			}
			defer f.Close()
			log = f
		}
		w = watch(c.pid, c.rssEvery, log, stop)
	}
	wall0, cpu0 := time.Now(), selfCPU()
	busy0, busyErr := machineBusy()
	stats, elapsed := load(client, c, reqs)
	wall, cpu := time.Since(wall0), selfCPU()-cpu0
	busy1, _ := machineBusy()
	rep := makeReport(c, stats, elapsed)
	rep.LoadBefore = before
	rep.LoadGenCores = cpu.Seconds() / wall.Seconds()
	if busyErr == nil {
		rep.MachineCores = (busy1 - busy0).Seconds() / wall.Seconds()
	}
	if w != nil {
		close(stop)
		<-w.done
		if w.err != nil {
			fmt.Fprintf(stderr, "loadtest: -pid %d: %v\n", c.pid, w.err)
		} else {
			rep.ServerCores = (w.cpu1 - w.cpu0).Seconds() / wall.Seconds()
			rep.RSSFirstMiB, rep.RSSLastMiB, rep.RSSPeakMiB = mib(w.first), mib(w.last), mib(w.peak)
			rep.RSSSamples = w.samples
			if busyErr == nil {
				rep.OtherCores = max(rep.MachineCores-rep.ServerCores-rep.LoadGenCores, 0)
			}
		}
	}
	rep.print(stdout)
	if c.out != "" {
		if err := rep.appendJSON(c.out); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return 1
		}
	}
	if rep.Errors > 0 || (c.max503 >= 0 && rep.Unavailable > c.max503) {
		return 1
	}
	return 0
}

func (c *config) validate(nargs int) error {
	sources := 0
	for _, set := range []bool{c.jsonTmpl != "", c.bodyFile != "", len(c.images) > 0} {
		if set {
			sources++
		}
	}
	switch {
	case nargs > 0:
		return errors.New("unexpected arguments (every option is a flag; see -help)")
	case c.url == "":
		return errors.New("-url is required (see -help)")
	case sources != 1:
		return errors.New("give exactly one of -json, -body and -image")
	case c.clients < 1:
		return errors.New("-c must be at least 1")
	case c.duration <= 0:
		return errors.New("-d must be positive")
	case c.perRequest < 1:
		return errors.New("-per-request must be at least 1")
	case c.rssEvery <= 0:
		return errors.New("-rss-every must be positive")
	}
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want http://host:port/path", c.url)
	}
	return nil
}

// request is one prepared request body.
type request struct {
	body        []byte
	contentType string
	inputs      int
}

// requests prepares the bodies the clients send in turn.
func (c *config) requests() ([]request, error) {
	if len(c.images) > 0 {
		return c.multipartRequests()
	}
	tmpl := c.jsonTmpl
	if c.bodyFile != "" {
		b, err := os.ReadFile(c.bodyFile)
		if err != nil {
			return nil, err
		}
		tmpl = string(b)
	}
	slots := strings.Count(tmpl, "{{line}}")
	var lines []string
	switch {
	case slots > 0 && c.linesFile == "":
		return nil, errors.New("the template has {{line}}: give -lines FILE")
	case slots > 0:
		var err error
		if lines, err = readLines(c.linesFile); err != nil {
			return nil, err
		}
	}
	n := 1
	if slots > 0 {
		n = len(lines)
	}
	reqs := make([]request, n)
	for i := range reqs {
		body := tmpl
		for k := 0; k < slots; k++ {
			q, _ := json.Marshal(lines[(i+k)%len(lines)])
			body = strings.Replace(body, "{{line}}", string(q), 1)
		}
		inputs, err := countJSONInputs([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("request body %q: %v", truncate(body, 80), err)
		}
		if c.inputs > 0 {
			inputs = c.inputs
		}
		reqs[i] = request{body: []byte(body), contentType: "application/json", inputs: inputs}
	}
	return reqs, nil
}

// countJSONInputs is the length of the body's "inputs" or "images" array,
// else 1; the body must be valid JSON.
func countJSONInputs(body []byte) (int, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, fmt.Errorf("not JSON: %v", err)
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"inputs", "images"} {
			if a, ok := m[k].([]any); ok {
				return len(a), nil
			}
		}
	}
	return 1, nil
}

func (c *config) multipartRequests() ([]request, error) {
	var files []string
	for _, p := range c.images {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".jpg", ".jpeg", ".png", ".gif":
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	if len(files) == 0 {
		return nil, errors.New("-image: no image files (.jpg, .jpeg, .png, .gif)")
	}
	data := make([][]byte, len(files))
	for i, f := range files {
		var err error
		if data[i], err = os.ReadFile(f); err != nil {
			return nil, err
		}
	}
	reqs := make([]request, len(files))
	for i := range reqs {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k := 0; k < c.perRequest; k++ {
			j := (i + k) % len(files)
			w, err := mw.CreateFormFile(c.field, filepath.Base(files[j]))
			if err != nil {
				return nil, err
			}
			w.Write(data[j])
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
		inputs := c.perRequest
		if c.inputs > 0 {
			inputs = c.inputs
		}
		reqs[i] = request{body: buf.Bytes(), contentType: mw.FormDataContentType(), inputs: inputs}
	}
	return reqs, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no lines", path)
	}
	return lines, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// waitReady polls GET /readyz on target's host until it answers 200.
func waitReady(client *http.Client, target string, patience time.Duration) error {
	u, _ := url.Parse(target)
	ready := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/readyz"}).String()
	deadline := time.Now().Add(patience)
	for {
		resp, err := client.Get(ready)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v", ready, patience)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// load runs the clients: each sends requests in turn until the warm-up and
// the measured time have passed, counting those that started after the
// warm-up. It returns the merged samples and the measured time (from the
// end of the warm-up until the last counted request finished).
func load(client *http.Client, c config, reqs []request) (*Stats, time.Duration) {
	start := time.Now()
	measureFrom := start.Add(c.warmup)
	stop := measureFrom.Add(c.duration)
	per := make([]*Stats, c.clients)
	ends := make([]time.Time, c.clients)
	var wg sync.WaitGroup
	for i := range c.clients {
		per[i] = newStats()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Clients start at different places in the request list.
			next := i * max(len(reqs)/c.clients, 1)
			for {
				t0 := time.Now()
				if !t0.Before(stop) {
					return
				}
				s := send(client, c, reqs[next%len(reqs)])
				next++
				if !t0.Before(measureFrom) {
					per[i].Add(s)
					ends[i] = time.Now()
				}
				if s.Class == Unavailable {
					pause := c.backoff
					if c.retryAfter && s.RetryAfter > 0 {
						pause = s.RetryAfter
					}
					time.Sleep(min(pause, time.Until(stop)))
				}
			}
		}()
	}
	wg.Wait()
	total := newStats()
	last := stop
	for i, s := range per {
		total.Merge(s)
		if ends[i].After(last) {
			last = ends[i]
		}
	}
	return total, last.Sub(measureFrom)
}

// send makes one request and reads its whole answer.
func send(client *http.Client, c config, r request) Sample {
	t0 := time.Now()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.url, bytes.NewReader(r.body))
	if err != nil {
		return Sample{Class: Transport, Err: err}
	}
	req.Header.Set("Content-Type", r.contentType)
	resp, err := client.Do(req)
	if err != nil {
		return Sample{Class: Transport, Err: err, Latency: time.Since(t0), Inputs: r.inputs}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	lat := time.Since(t0)
	if err != nil {
		return Sample{Class: Transport, Err: err, Latency: lat, Inputs: r.inputs}
	}
	ok := true
	if c.check && resp.StatusCode/100 == 2 {
		ok = hasOutputs(body, r.inputs)
	}
	x := Sample{Status: resp.StatusCode, Class: classify(resp.StatusCode, nil, ok), Latency: lat, Inputs: r.inputs}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		x.RetryAfter = time.Duration(secs) * time.Second
	}
	return x
}

// hasOutputs reports whether body is a JSON object whose "outputs" holds n
// entries.
func hasOutputs(body []byte, n int) bool {
	var v struct {
		Outputs []json.RawMessage `json:"outputs"`
	}
	return json.Unmarshal(body, &v) == nil && len(v.Outputs) == n
}

// report is a run's results, printed and (with -out) appended as JSON.
type report struct {
	Label       string         `json:"label,omitempty"`
	URL         string         `json:"url"`
	Clients     int            `json:"clients"`
	Seconds     float64        `json:"seconds"`
	Requests    int            `json:"requests"`
	RequestsPS  float64        `json:"requests_per_s"`
	OK          int            `json:"ok"`
	OKPS        float64        `json:"ok_per_s"`
	Inputs      int            `json:"inputs"`
	InputsPS    float64        `json:"inputs_per_s"`
	P50ms       float64        `json:"p50_ms"`
	P95ms       float64        `json:"p95_ms"`
	P99ms       float64        `json:"p99_ms"`
	Maxms       float64        `json:"max_ms"`
	Meanms      float64        `json:"mean_ms"`
	Refused50ms float64        `json:"p50_503_ms"`
	Refused99ms float64        `json:"p99_503_ms"`
	Status      map[string]int `json:"status"`
	Transport   int            `json:"transport_errors"`
	BadBody     int            `json:"bad_body"`
	Client4xx   int            `json:"4xx"`
	Server5xx   int            `json:"5xx_not_503"`
	Unavailable int            `json:"503"`
	OtherStatus int            `json:"other"`
	Errors      int            `json:"errors"`
	ErrorTexts  map[string]int `json:"transport_error_texts,omitempty"`
	// The machine: load average when the run began; the CPU (in cores,
	// averaged over the run, warm-up included) the whole machine, the load
	// generator and, with -pid, the server used, and what was left for
	// everything else; the server's VmRSS (first, last, largest sample).
	LoadBefore   string  `json:"loadavg_before,omitempty"`
	MachineCores float64 `json:"machine_cores"`
	OtherCores   float64 `json:"other_cores,omitempty"`
	LoadGenCores float64 `json:"loadgen_cores"`
	ServerCores  float64 `json:"server_cores,omitempty"`
	RSSFirstMiB  float64 `json:"rss_first_mib,omitempty"`
	RSSLastMiB   float64 `json:"rss_last_mib,omitempty"`
	RSSPeakMiB   float64 `json:"rss_peak_mib,omitempty"`
	RSSSamples   int     `json:"rss_samples,omitempty"`
	Note         string  `json:"note,omitempty"`
	Time         string  `json:"time"`
}

func makeReport(c config, s *Stats, elapsed time.Duration) report {
	sec := elapsed.Seconds()
	ok, refused := summarise(s.OKLatency), summarise(s.RefusedLatency)
	status := map[string]int{}
	for k, v := range s.ByStatus {
		status[fmt.Sprint(k)] = v
	}
	r := report{Label: c.label, URL: c.url, Clients: c.clients, Seconds: sec,
		Requests: s.Requests(), OK: s.Count[OK], Inputs: s.Inputs,
		P50ms: ms(ok.P50), P95ms: ms(ok.P95), P99ms: ms(ok.P99), Maxms: ms(ok.Max), Meanms: ms(ok.Mean),
		Refused50ms: ms(refused.P50), Refused99ms: ms(refused.P99), Status: status,
		Transport: s.Count[Transport], BadBody: s.Count[BadBody], Client4xx: s.Count[Client4xx],
		Server5xx: s.Count[Server5xx], Unavailable: s.Count[Unavailable], OtherStatus: s.Count[Other],
		Errors: s.ErrorCount(), Note: c.note, Time: time.Now().UTC().Format(time.RFC3339)}
	if len(s.Errors) > 0 {
		r.ErrorTexts = s.Errors
	}
	if sec > 0 {
		r.RequestsPS = float64(r.Requests) / sec
		r.OKPS = float64(r.OK) / sec
		r.InputsPS = float64(r.Inputs) / sec
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mib(kib int) float64 { return float64(kib) / 1024 }

func (r report) print(w io.Writer) {
	if r.Label != "" {
		fmt.Fprintf(w, "run        %s\n", r.Label)
	}
	fmt.Fprintf(w, "url        %s\n", r.URL)
	fmt.Fprintf(w, "clients    %d for %.1f s\n", r.Clients, r.Seconds)
	fmt.Fprintf(w, "requests   %d (%.1f/s); ok %d (%.1f/s); inputs answered %d (%.1f/s)\n",
		r.Requests, r.RequestsPS, r.OK, r.OKPS, r.Inputs, r.InputsPS)
	fmt.Fprintf(w, "latency    ok: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms, mean %.1f ms\n",
		r.P50ms, r.P95ms, r.P99ms, r.Maxms, r.Meanms)
	if r.Unavailable > 0 {
		fmt.Fprintf(w, "           503: p50 %.1f ms, p99 %.1f ms\n", r.Refused50ms, r.Refused99ms)
	}
	codes := map[int]int{}
	for k, v := range r.Status {
		var c int
		fmt.Sscan(k, &c)
		codes[c] = v
	}
	fmt.Fprintf(w, "status     %s\n", statusList(codes))
	fmt.Fprintf(w, "errors     %d: transport %d, bad body %d, 4xx %d, 5xx (not 503) %d, other %d; 503 (refused for load) %d\n",
		r.Errors, r.Transport, r.BadBody, r.Client4xx, r.Server5xx, r.OtherStatus, r.Unavailable)
	fmt.Fprintf(w, "machine    load average before %s; CPU busy %.2f cores: load generator %.2f", r.LoadBefore, r.MachineCores, r.LoadGenCores)
	if r.RSSSamples > 0 {
		fmt.Fprintf(w, ", server %.2f, other processes %.2f; server VmRSS %.1f → %.1f MiB (peak %.1f, %d samples)",
			r.ServerCores, r.OtherCores, r.RSSFirstMiB, r.RSSLastMiB, r.RSSPeakMiB, r.RSSSamples)
	}
	fmt.Fprintln(w)
	texts := make([]string, 0, len(r.ErrorTexts))
	for t := range r.ErrorTexts {
		texts = append(texts, t)
	}
	sort.Strings(texts)
	for _, t := range texts {
		fmt.Fprintf(w, "           %d× %s\n", r.ErrorTexts[t], t)
	}
}

func (r report) appendJSON(path string) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printTable writes the runs recorded in path (one JSON report a line) as
// a Markdown table.
func printTable(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintln(w, "| run | clients | requests/s | inputs/s | p50 ms | p95 ms | p99 ms | ok | 503 | errors | server cores | load gen cores | other cores | server RSS peak MiB |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var r report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("%s:%d: %v", path, n, err)
		}
		rss, cores, other := "", "", ""
		if r.RSSSamples > 0 {
			rss, cores, other = fmt.Sprintf("%.0f", r.RSSPeakMiB), fmt.Sprintf("%.2f", r.ServerCores), fmt.Sprintf("%.2f", r.OtherCores)
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d | %s | %.2f | %s | %s |\n",
			r.Label, r.Clients, r.RequestsPS, r.InputsPS, r.P50ms, r.P95ms, r.P99ms, r.OK, r.Unavailable, r.Errors,
			cores, r.LoadGenCores, other, rss)
	}
	return sc.Err()
}
