package main

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"time"
)

// Class is what became of one request.
type Class int

const (
	OK          Class = iota // 2xx with a well-formed body
	BadBody                  // 2xx whose body is not the answer asked for
	Transport                // no HTTP response: refused, reset, timed out
	Client4xx                // any 4xx
	Unavailable              // 503: the server refused for load (queue full, out of time)
	Server5xx                // any 5xx but 503
	Other                    // 1xx or 3xx: never expected
	numClasses
)

var classNames = [numClasses]string{"ok", "bad_body", "transport", "4xx", "503", "5xx", "other"}

func (c Class) String() string { return classNames[c] }

// classify says what a request's outcome was: err is the transport's error
// (then status is ignored), bodyOK whether a 2xx answer had the expected
// shape.
func classify(status int, err error, bodyOK bool) Class {
	switch {
	case err != nil:
		return Transport
	case status >= 200 && status < 300:
		if !bodyOK {
			return BadBody
		}
		return OK
	case status == 503:
		return Unavailable
	case status >= 400 && status < 500:
		return Client4xx
	case status >= 500 && status < 600:
		return Server5xx
	}
	return Other
}

// Sample is one finished request.
type Sample struct {
	Status  int // 0 for a transport error
	Class   Class
	Latency time.Duration
	Inputs  int // inputs the request carried
	Err     error
	// RetryAfter is a 503's Retry-After header (whole seconds), 0 if none.
	RetryAfter time.Duration
}

// Stats gathers samples; one per client, merged at the end.
type Stats struct {
	Count    [numClasses]int
	ByStatus map[int]int
	Inputs   int // inputs of OK requests
	// Latencies by class: OK answers and 503 refusals are reported apart.
	OKLatency, RefusedLatency []time.Duration
	Errors                    map[string]int // transport error texts, for diagnosis
}

func newStats() *Stats { return &Stats{ByStatus: map[int]int{}, Errors: map[string]int{}} }

// Add counts one sample.
func (s *Stats) Add(x Sample) {
	s.Count[x.Class]++
	if x.Class != Transport {
		s.ByStatus[x.Status]++
	}
	switch x.Class {
	case OK:
		s.Inputs += x.Inputs
		s.OKLatency = append(s.OKLatency, x.Latency)
	case Unavailable:
		s.RefusedLatency = append(s.RefusedLatency, x.Latency)
	case Transport:
		if x.Err != nil && len(s.Errors) < 20 {
			s.Errors[errorText(x.Err)]++
		}
	}
}

// errorText is err's message without the request's method and URL, so
// that equal failures count together.
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// Merge adds o's counts and latencies to s.
func (s *Stats) Merge(o *Stats) {
	for c := range s.Count {
		s.Count[c] += o.Count[c]
	}
	for k, v := range o.ByStatus {
		s.ByStatus[k] += v
	}
	for k, v := range o.Errors {
		s.Errors[k] += v
	}
	s.Inputs += o.Inputs
	s.OKLatency = append(s.OKLatency, o.OKLatency...)
	s.RefusedLatency = append(s.RefusedLatency, o.RefusedLatency...)
}

// Requests is the number of finished requests, whatever their outcome.
func (s *Stats) Requests() int {
	n := 0
	for _, c := range s.Count {
		n += c
	}
	return n
}

// Errors counts the requests that are neither answered nor refused for
// load: transport errors, bad bodies, 4xx, 5xx other than 503, others.
func (s *Stats) ErrorCount() int {
	return s.Count[BadBody] + s.Count[Transport] + s.Count[Client4xx] + s.Count[Server5xx] + s.Count[Other]
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted
// durations: the smallest value at least p% of them are at or below. It is
// 0 for no durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Latency summarises durations.
type Latency struct {
	P50, P95, P99, Max, Mean time.Duration
}

func summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return Latency{P50: percentile(s, 50), P95: percentile(s, 95), P99: percentile(s, 99), Max: s[len(s)-1],
		Mean: sum / time.Duration(len(s))}
}

// statusList is "200: 10, 503: 4", codes in order.
func statusList(m map[int]int) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	out := ""
	for i, c := range codes {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%d: %d", c, m[c])
	}
	if out == "" {
		return "none"
	}
	return out
}
