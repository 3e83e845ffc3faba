package serve_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seqtask/seqtask/pipeline"
	"github.com/seqtask/seqtask/serve"
	"github.com/seqtask/seqtask/tasks"
)

// runs holds the tiny models TestMain trains, by task.
var runs = map[string]string{}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "seqtask-serve-test-*")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		for _, task := range []string{"charlm", "translation", "captioning", "video"} {
			run := filepath.Join(dir, task)
			opts := pipeline.Options{Config: filepath.Join("testdata", task+".yaml"), RunDir: run, Stdout: io.Discard, Stderr: io.Discard}
			if task == "video" {
				opts.Sets = []string{"data.path=" + filepath.Join(dir, "clips", "train"), "data.val_path=" + filepath.Join(dir, "clips", "val")}
				runs["clips"] = filepath.Join(dir, "clips", "val")
			}
			if err := pipeline.Run(context.Background(), opts); err != nil {
				fmt.Fprintf(os.Stderr, "training %s: %v\n", task, err)
				return 1
			}
			runs[task] = run
		}
		// A second char LM, from another seed: an ensemble's member.
		run := filepath.Join(dir, "charlm2")
		opts := pipeline.Options{Config: filepath.Join("testdata", "charlm.yaml"), RunDir: run, Sets: []string{"seed=2"}, Stdout: io.Discard, Stderr: io.Discard}
		if err := pipeline.Run(context.Background(), opts); err != nil {
			fmt.Fprintf(os.Stderr, "training charlm2: %v\n", err)
			return 1
		}
		runs["charlm2"] = run
		return m.Run()
	}()
	os.Exit(code)
}

// server starts a test server over the models of the named runs, each
// loaded once and served by opt.Replicas copies that share its weights, as
// runner -mode serve loads them (pipeline.LoadServed).
func server(t testing.TB, opt serve.Options, names ...string) *httptest.Server {
	t.Helper()
	return serverWith(t, opt, nil, names...)
}

// serverWith is server with each model decoding together with the models
// of the ensemble's runs (runner -mode serve -ensemble).
func serverWith(t testing.TB, opt serve.Options, ensemble []string, names ...string) *httptest.Server {
	t.Helper()
	s := serve.New(opt)
	err := s.Load(func() ([]serve.Model, error) {
		var models []serve.Model
		for _, n := range names {
			m, err := pipeline.LoadServed(runs[n], pipeline.Options{Ensemble: ensemble, Serve: opt, Stderr: io.Discard})
			if err != nil {
				return nil, err
			}
			models = append(models, m)
		}
		return models, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

func post(t *testing.T, url, contentType string, body []byte) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: response %d is not a JSON object: %q", url, resp.StatusCode, b)
	}
	return resp.StatusCode, out, resp.Header
}

func postJSON(t *testing.T, url string, v any) (int, map[string]any, http.Header) {
	t.Helper()
	b, _ := json.Marshal(v)
	return post(t, url, "application/json", b)
}

// TestRefusals: every bad request gets its status and a JSON error naming
// the field at fault.
func TestRefusals(t *testing.T) {
	opt := serve.DefaultOptions()
	opt.MaxBody = 4096
	ts := server(t, opt, "charlm", "translation", "captioning", "video")
	big := `{"inputs": ["` + strings.Repeat("a ", 3000) + `"]}`
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		field, message                  string
	}{
		{"unknown model", "POST", "/v1/models/nope/predict", "application/json", `{}`, 404, "name", "no model"},
		{"model name not UTF-8", "POST", "/v1/models/%83%D1/predict", "application/json", `{}`, 404, "name", "no model"},
		{"unknown path", "GET", "/v2/models", "", "", 404, "", "no route"},
		{"wrong method", "GET", "/v1/models/translation/predict", "", "", 405, "", "use POST"},
		{"wrong method on models", "POST", "/v1/models", "application/json", "{}", 405, "", "use GET"},
		{"not JSON", "POST", "/v1/models/translation/predict", "text/plain", "hello", 415, "Content-Type", "application/json"},
		{"malformed JSON", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": [`, 400, "", "malformed JSON"},
		{"wrong type", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": "Go."}`, 400, "inputs", "want []string"},
		{"unknown field", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": ["Go."], "beam": 3}`, 400, "beam", "unknown field"},
		{"no inputs", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": []}`, 400, "inputs", "at least one"},
		{"too many inputs", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": [` + strings.Repeat(`"Go.",`, 64) + `"Go."]}`, 400, "inputs", "more than the 64"},
		{"empty sentence", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": ["Go.", "  "]}`, 400, "inputs[1]", "empty"},
		{"beam out of range", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": ["Go."], "decode": {"strategy": "beam", "beam": 0}}`, 400, "decode.beam", "outside"},
		{"n-best over the beam", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": ["Go."], "decode": {"strategy": "beam", "beam": 2, "n_best": 3}}`, 400, "decode.n_best", "more than the beam"},
		{"unknown strategy", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": ["Go."], "decode": {"strategy": "psychic"}}`, 400, "decode.strategy", "not one of"},
		{"unknown precision", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": ["Go."], "decode": {"precision": "int8"}}`, 400, "decode.precision", "not one of"},
		{"decode length over the cap", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": ["Go."], "decode": {"max_len": 5000}}`, 400, "decode.max_len", "outside"},
		{"body over the limit", "POST", "/v1/models/translation/predict", "application/json", big, 413, "", "over the limit"},
		{"prime outside the vocabulary", "POST", "/v1/models/charlm/predict", "application/json", `{"prime": "€"}`, 400, "prime", "not in the vocabulary"},
		{"generation too long", "POST", "/v1/models/charlm/predict", "application/json", `{"length": 1000000}`, 400, "length", "outside"},
		{"zero temperature", "POST", "/v1/models/charlm/predict", "application/json", `{"temperature": 0}`, 400, "temperature", "outside"},
		{"image not base64", "POST", "/v1/models/captioning/predict", "application/json", `{"images": ["***"]}`, 400, "images[0]", "not base64"},
		{"image not an image", "POST", "/v1/models/captioning/predict", "application/json", `{"images": ["aGVsbG8="]}`, 400, "images[0]", "decode"},
		{"attention without attention", "POST", "/v1/models/translation/predict", "application/json", `{"inputs": ["Go."], "attention": true, "decode": {"strategy": "greedy"}}`, 0, "", ""},
		{"clip as JSON", "POST", "/v1/models/video/predict", "application/json", `{}`, 415, "Content-Type", "multipart/form-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if tc.status == 0 { // accepted: the tiny translation model attends
				if resp.StatusCode != 200 {
					t.Errorf("status %d, want 200", resp.StatusCode)
				}
				return
			}
			var body struct {
				Error struct{ Message, Field string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("status %d with a body that is not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tc.status || body.Error.Field != tc.field || !strings.Contains(body.Error.Message, tc.message) {
				t.Errorf("status %d, error %+v; want %d, field %q, message containing %q", resp.StatusCode, body.Error, tc.status, tc.field, tc.message)
			}
		})
	}
	// A model name a client made up is counted, but under no label of its
	// own: /metrics does not grow with the names clients try.
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if bytes.Contains(metrics, []byte(`model="nope"`)) || !bytes.Contains(metrics, []byte(`seqtask_requests_total{code="404",model="",route="predict"} 2`)) {
		t.Errorf("/metrics labels requests for unknown models by their names, or does not count them under model=\"\":\n%s", metrics)
	}
}

// oneUploadAtATime is the default options with an upload budget of one
// byte: every upload holds all of it, so one whose share were not given
// back would stall every later request.
func oneUploadAtATime() serve.Options {
	opt := serve.DefaultOptions()
	opt.UploadBytes = 1
	return opt
}

// TestServedEqualsPredicted: what the server answers is what the task's
// own prediction path gives (the path -mode predict takes), for
// translation and captioning; n-best lists and attention maps come when
// asked.
func TestServedEqualsPredicted(t *testing.T) {
	ts := server(t, oneUploadAtATime(), "translation", "captioning")
	l, err := pipeline.LoadRun(runs["translation"], nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tr := l.Task.(*tasks.Translation[float32])
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Models []serve.Info }
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || len(list.Models) != 2 || list.Models[0].Name != "translation" || list.Models[0].Metric != l.Metric ||
		list.Models[0].MetricValue == nil || *list.Models[0].MetricValue != l.Score || list.Models[0].Step != l.Step {
		t.Errorf("/v1/models: %+v (%v), want translation at step %d with %s %g", list, err, l.Step, l.Metric, l.Score)
	}
	sentences := []string{"Go.", "Thanks.", "I'm weak.", "Too late."}
	want, err := tr.Translate(sentences, tr.DecodeDefaults(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, got, _ := postJSON(t, ts.URL+"/v1/models/translation/predict", map[string]any{"inputs": sentences})
	if code != 200 {
		t.Fatalf("status %d: %v", code, got)
	}
	outs := got["outputs"].([]any)
	for i, o := range outs {
		if text := o.(map[string]any)["text"]; text != want[i].Text {
			t.Errorf("sentence %d: served %q, predicted %q", i, text, want[i].Text)
		}
	}
	code, got, _ = postJSON(t, ts.URL+"/v1/models/translation/predict", map[string]any{"inputs": sentences[:1], "attention": true,
		"decode": map[string]any{"strategy": "beam", "beam": 3, "n_best": 3}})
	o := got["outputs"].([]any)[0].(map[string]any)
	att, _ := o["attention"].(map[string]any)
	if code != 200 || len(o["n_best"].([]any)) != 3 || att == nil || len(att["weights"].([]any)) != len(att["output"].([]any)) {
		t.Errorf("beam with n-best and attention: %d %v", code, got)
	}

	c, err := pipeline.LoadRun(runs["captioning"], nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cap := c.Task.(*tasks.Captioning[float32])
	photo := filepath.Join("..", "data", "flickr8k-demo", "images_64x64", "2090545563_a4e66ec76b.jpg")
	var predicted bytes.Buffer
	if err := cap.Predict(tasks.Input{Path: photo}, &predicted, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(photo)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("image", filepath.Base(photo))
	fw.Write(data)
	mw.WriteField("attention", "true")
	mw.Close()
	code, got, _ = post(t, ts.URL+"/v1/models/captioning/predict", mw.FormDataContentType(), form.Bytes())
	if code != 200 {
		t.Fatalf("caption: %d %v", code, got)
	}
	o = got["outputs"].([]any)[0].(map[string]any)
	if o["text"] != strings.TrimSpace(predicted.String()) || o["attention"] == nil {
		t.Errorf("served caption %v, predicted %q", o, predicted.String())
	}
}

// TestBatchedEqualsUnbatched: concurrent requests share batches (the
// batch-size histogram shows batches above 1), run on two copies of the
// model at once, and each gets exactly what it gets alone.
func TestBatchedEqualsUnbatched(t *testing.T) {
	opt := serve.DefaultOptions()
	opt.MaxWait = 30 * time.Millisecond
	opt.Replicas = 2 // and on either copy of the model, at once
	ts := server(t, opt, "translation")
	sentences := []string{"Go.", "Thanks.", "Go away.", "Show me.", "Cuff him.", "I phoned.", "I'm weak.", "Too late."}
	alone := make([]string, len(sentences))
	for i, s := range sentences {
		_, got, _ := postJSON(t, ts.URL+"/v1/models/translation/predict", map[string]any{"inputs": []string{s}})
		alone[i] = got["outputs"].([]any)[0].(map[string]any)["text"].(string)
	}
	// Among them, requests with an empty sentence: refused on their own,
	// under their own index, while the requests they come with are
	// answered.
	var wg sync.WaitGroup
	together := make([]string, 4*len(sentences))
	for i := range together {
		wg.Add(2)
		go func() {
			defer wg.Done()
			code, got, _ := postJSON(t, ts.URL+"/v1/models/translation/predict", map[string]any{"inputs": []string{sentences[i%len(sentences)]}})
			if code != http.StatusOK {
				t.Errorf("request %d: status %d %v", i, code, got)
				return
			}
			together[i] = got["outputs"].([]any)[0].(map[string]any)["text"].(string)
		}()
		go func() {
			defer wg.Done()
			code, got, _ := postJSON(t, ts.URL+"/v1/models/translation/predict", map[string]any{"inputs": []string{"Go.", " "}})
			if e, _ := got["error"].(map[string]any); code != http.StatusBadRequest || e["field"] != "inputs[1]" {
				t.Errorf("request with an empty sentence: status %d %v, want 400 naming inputs[1]", code, got)
			}
		}()
	}
	wg.Wait()
	for i, s := range together {
		if s != alone[i%len(sentences)] {
			t.Errorf("request %d: batched %q, alone %q", i, s, alone[i%len(sentences)])
		}
	}
	// An attention map covers its own sentence's words, whatever longer
	// sentence its batch held.
	for i := range sentences {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, got, _ := postJSON(t, ts.URL+"/v1/models/translation/predict", map[string]any{"inputs": []string{sentences[i]}, "attention": true})
			if code != http.StatusOK {
				t.Errorf("sentence %d with attention: status %d %v", i, code, got)
				return
			}
			var out struct {
				Outputs []tasks.Translated
			}
			if err := remarshal(got, &out); err != nil || len(out.Outputs) != 1 || out.Outputs[0].Attention == nil {
				t.Errorf("sentence %d with attention: %v (%v)", i, got, err)
				return
			}
			att := out.Outputs[0].Attention
			if len(att.Weights) == 0 || len(att.Weights) != len(att.Output) {
				t.Errorf("sentence %d: %d attention rows for %d output tokens", i, len(att.Weights), len(att.Output))
			}
			for r, row := range att.Weights {
				if len(row) != len(att.Source) {
					t.Errorf("sentence %d (%d source tokens): attention row %d has %d weights", i, len(att.Source), r, len(row))
				}
			}
		}()
	}
	wg.Wait()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	var count, sum float64
	sc := bufio.NewScanner(bytes.NewReader(metrics))
	for sc.Scan() {
		fmt.Sscanf(sc.Text(), `seqtask_batch_size_count{model="translation"} %g`, &count)
		fmt.Sscanf(sc.Text(), `seqtask_batch_size_sum{model="translation"} %g`, &sum)
	}
	if count == 0 || sum/count < 1.5 {
		t.Errorf("%g batches for %g inputs: concurrent requests were not batched", count, sum)
	}
	for _, want := range []string{`seqtask_requests_total{code="200",model="translation",route="predict"}`, "seqtask_request_duration_seconds_bucket", `seqtask_queue_depth{model="translation"}`, "seqtask_upload_bytes_held 0", "seqtask_upload_bytes_budget 5.36870912e+08"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// remarshal decodes the JSON value v, as a client reads it, into dst.
func remarshal(v any, dst any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// TestStreaming: a streamed generation arrives as Server-Sent Events whose
// text is the unstreamed generation's with the same seed.
func TestStreaming(t *testing.T) {
	ts := server(t, serve.DefaultOptions(), "charlm")
	req := map[string]any{"prime": "ROMEO:", "length": 200, "temperature": 0.9, "seed": 7}
	_, whole, _ := postJSON(t, ts.URL+"/v1/models/charlm/predict", req)
	want := whole["outputs"].([]any)[0].(map[string]any)["text"].(string)
	req["stream"] = true
	b, _ := json.Marshal(req)
	resp, err := http.Post(ts.URL+"/v1/models/charlm/predict", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var text strings.Builder
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "event: done" {
			done = true
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			var ev struct{ Text string }
			json.Unmarshal([]byte(d), &ev)
			text.WriteString(ev.Text)
		}
	}
	if !done || text.String() != want || len([]rune(want)) != 200 {
		t.Errorf("streamed %q (done %v), unstreamed %q", text.String(), done, want)
	}
}

// TestQueueFullAndCancel: while the worker is busy, requests beyond the
// queue get 503 with Retry-After at once; a client that leaves cancels its
// generation.
func TestQueueFullAndCancel(t *testing.T) {
	opt := serve.DefaultOptions()
	opt.Queue, opt.MaxLength = 1, 1000000
	opt.Replicas = 1 // one worker, which the long generation keeps busy
	ts := server(t, opt, "charlm")
	ctx, cancel := context.WithCancel(context.Background())
	long, _ := json.Marshal(map[string]any{"length": 1000000, "stream": true})
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/models/charlm/predict", bytes.NewReader(long))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 64)
	if _, err := io.ReadAtLeast(resp.Body, first, 16); err != nil { // the long generation is running
		t.Fatal(err)
	}
	waiting := make(chan int, 1)
	go func() { // fills the queue behind the running generation
		code, _, _ := postJSON(t, ts.URL+"/v1/models/charlm/predict", map[string]any{"length": 5})
		waiting <- code
	}()
	time.Sleep(100 * time.Millisecond)
	code, body, hdr := postJSON(t, ts.URL+"/v1/models/charlm/predict", map[string]any{"length": 5})
	if code != 503 || hdr.Get("Retry-After") == "" || body["error"] == nil {
		t.Errorf("request beyond the queue: %d %v (Retry-After %q), want 503 with Retry-After", code, body, hdr.Get("Retry-After"))
	}
	cancel() // the long generation's client leaves: the worker must move on
	resp.Body.Close()
	select {
	case code := <-waiting:
		if code != 200 {
			t.Errorf("the queued request got %d after the long one was cancelled", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the queued request still waits: the cancelled generation kept the worker")
	}
}

// TestVideoClips: a GIF and a zip of frames are labelled frame by frame.
func TestVideoClips(t *testing.T) {
	ts := server(t, oneUploadAtATime(), "video")
	frames, _ := filepath.Glob(filepath.Join(runs["clips"], "*", "frame_*.png"))
	frames = slices.DeleteFunc(frames, func(f string) bool { return filepath.Dir(f) != filepath.Dir(frames[0]) })
	slices.Sort(frames)
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	anim := &gif.GIF{}
	for _, f := range frames {
		b, _ := os.ReadFile(f)
		w, _ := zw.Create(filepath.Base(f))
		w.Write(b)
		img, _ := png.Decode(bytes.NewReader(b))
		pal := image.NewPaletted(img.Bounds(), grayPalette())
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				pal.Set(x, y, img.At(x, y))
			}
		}
		anim.Image, anim.Delay = append(anim.Image, pal), append(anim.Delay, 10)
	}
	zw.Close()
	var gifBytes bytes.Buffer
	gif.EncodeAll(&gifBytes, anim)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"clip.zip", zipped.Bytes()}, {"clip.gif", gifBytes.Bytes()}} {
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		fw, _ := mw.CreateFormFile("clip", tc.name)
		fw.Write(tc.data)
		mw.Close()
		code, got, _ := post(t, ts.URL+"/v1/models/video/predict", mw.FormDataContentType(), form.Bytes())
		if code != 200 {
			t.Fatalf("%s: %d %v", tc.name, code, got)
		}
		o := got["outputs"].([]any)[0].(map[string]any)
		if len(o["labels"].([]any)) != len(frames) || len(o["probabilities"].([]any)) != len(frames) {
			t.Errorf("%s: %d labels for %d frames", tc.name, len(o["labels"].([]any)), len(frames))
		}
	}
}

func grayPalette() []color.Color {
	p := make([]color.Color, 256)
	for i := range p {
		p[i] = color.Gray{Y: uint8(i)}
	}
	return p
}

// TestOpenNMTShape: OpenNMT-py's REST request and answer shapes.
func TestOpenNMTShape(t *testing.T) {
	ts := server(t, serve.DefaultOptions(), "charlm", "translation")
	b, _ := json.Marshal([]map[string]any{{"src": "Go.", "id": 0}, {"src": "Thanks."}})
	resp, err := http.Post(ts.URL+"/translator/translate", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got [][]struct {
		Src, Tgt  string
		NBest     int     `json:"n_best"`
		PredScore float64 `json:"pred_score"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d: %v", resp.StatusCode, err)
	}
	if len(got) != 1 || len(got[0]) != 2 || got[0][1].Src != "Thanks." || got[0][0].Tgt == "" || got[0][0].NBest != 1 {
		t.Errorf("answer %+v", got)
	}
	code, body, _ := postJSON(t, ts.URL+"/translator/translate", []map[string]any{{"src": "Go.", "id": 3}})
	if code != 404 || !strings.Contains(fmt.Sprint(body), "no translation model 3") {
		t.Errorf("unknown id: %d %v", code, body)
	}
	code, body, _ = postJSON(t, ts.URL+"/translator/translate", []map[string]any{{"src": "Go."}, {"src": "Thanks."}, {"src": " "}})
	if e, _ := body["error"].(map[string]any); code != 400 || e["field"] != "[2].src" {
		t.Errorf("empty sentence: %d %v, want 400 naming [2].src", code, body)
	}
}

// TestGracefulShutdown: on cancellation the server stops taking requests,
// answers the one in flight, and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := serve.New(serve.DefaultOptions())
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- s.Serve(ctx, ln, func() ([]serve.Model, error) {
			l, err := pipeline.LoadRun(runs["charlm"], nil, io.Discard)
			if err != nil {
				return nil, err
			}
			return []serve.Model{{Name: "charlm", Task: l.Task, Info: serve.Info{Name: "charlm", Task: "charlm"}}}, nil
		})
	}()
	url := "http://" + ln.Addr().String()
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	inFlight := make(chan int, 1)
	go func() {
		code, _, _ := postJSON(t, url+"/v1/models/charlm/predict", map[string]any{"length": 10000, "temperature": 1})
		inFlight <- code
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if code := <-inFlight; code != 200 {
		t.Errorf("the request in flight got %d during shutdown", code)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

// TestServedEnsemble: a char LM served with another as its ensemble
// (runner -mode serve -run A -ensemble B) samples what the two sample
// together in prediction, on both copies of the model at once, and not
// what it samples alone; /v1/models names the member.
func TestServedEnsemble(t *testing.T) {
	opt := serve.DefaultOptions()
	opt.Replicas = 2
	ts := serverWith(t, opt, []string{runs["charlm2"]}, "charlm")
	alone, err := pipeline.LoadRun(runs["charlm"], nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	together, err := pipeline.LoadRun(runs["charlm"], nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	member, err := pipeline.LoadRun(runs["charlm2"], nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := together.Task.(tasks.Ensembler[float32]).Ensemble([]tasks.Task[float32]{member.Task}); err != nil {
		t.Fatal(err)
	}
	sample := func(l *pipeline.Loaded, seed uint64) string {
		var b strings.Builder
		err := l.Task.(*tasks.CharLM[float32]).Generate("ROMEO:", 100, 0.9, rand.New(rand.NewPCG(seed, 0x5a3)), func(c string) error {
			b.WriteString(c)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	var wg sync.WaitGroup
	served := make([]string, 4)
	for i := range served {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, out, _ := postJSON(t, ts.URL+"/v1/models/charlm/predict", map[string]any{"prime": "ROMEO:", "length": 100, "temperature": 0.9, "seed": i + 1})
			if outs, ok := out["outputs"].([]any); ok && len(outs) == 1 {
				served[i], _ = outs[0].(map[string]any)["text"].(string)
			}
		}()
	}
	wg.Wait()
	differs := false
	for i, got := range served {
		if want := sample(together, uint64(i+1)); got != want {
			t.Errorf("seed %d: served %q, the ensemble predicts %q", i+1, got, want)
		}
		differs = differs || got != sample(alone, uint64(i+1))
	}
	if !differs {
		t.Error("the served ensemble samples what the model alone samples: the member is not used")
	}
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Models []serve.Info }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Models) != 1 || !slices.Equal(list.Models[0].Ensemble, []string{member.Checkpoint}) {
		t.Errorf("/v1/models: %+v (%v), want charlm with the member %s", list, err, member.Checkpoint)
	} else if v := list.Models[0].MetricValue; v != nil {
		t.Errorf("/v1/models gives the ensemble the metric value %g of its first model", *v)
	}
}
