package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/seqtask/seqtask/pipeline"
	"github.com/seqtask/seqtask/serve"
)

// chromium is the browser TestBrowser drives: Debian's package chromium.
const chromium = "/usr/bin/chromium"

// TestBrowser drives the web page in headless Chromium through its own
// controls, against a server of the four tiny models: it translates two
// sentences (outputs and attention tables), generates with streaming (the
// text grows from the prime to the requested length), captions an
// uploaded photo (caption and attention canvases), labels an uploaded GIF
// (a row per frame), and shows refusals in the status line. What the page
// shows is compared with what the API answers to the same request. Without
// Chromium the test skips, unless SEQTASK_REQUIRE_BROWSER=1 (CI) makes
// that a failure.
func TestBrowser(t *testing.T) {
	requireBrowser(t)
	ts := server(t, serve.DefaultOptions(), "translation", "charlm", "captioning", "video")
	p := newPage(t)
	p.do(chromedp.Navigate(ts.URL))
	p.until(`document.querySelectorAll("#model option").length === 4`)
	if got := p.strings(`[...document.querySelectorAll("#model option")].map((o) => o.value)`); !slices.Equal(got, []string{"translation", "charlm", "captioning", "video"}) {
		t.Fatalf("model menu %q", got)
	}

	t.Run("translation", func(t *testing.T) {
		p.enter(t)
		p.pick("translation")
		p.fill("tr-input", "Go.\nThanks.")
		p.do(chromedp.Click(chromedp.ID("tr-go")))
		p.waitStatus("2 sentence(s)")
		_, api, _ := postJSON(t, ts.URL+"/v1/models/translation/predict", map[string]any{"inputs": []string{"Go.", "Thanks."}, "attention": true,
			"decode": map[string]any{"strategy": "greedy", "beam": 5, "max_len": 50}})
		outs := api["outputs"].([]any)
		shown := p.strings(`[...document.querySelectorAll("#result p.output")].map((p) => p.textContent)`)
		if len(shown) != len(outs) {
			t.Fatalf("the page shows %d translations, the API gives %d", len(shown), len(outs))
		}
		var tables []struct {
			Source []string   `json:"source"`
			Output []string   `json:"output"`
			Cells  [][]string `json:"cells"`
		}
		p.eval(`[...document.querySelectorAll("#result table.att")].map((t) => ({
			source: [...t.querySelectorAll("thead th")].slice(1).map((th) => th.textContent),
			output: [...t.querySelectorAll("tbody th")].map((th) => th.textContent),
			cells: [...t.querySelectorAll("tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.style.backgroundColor)),
		}))`, &tables)
		if len(tables) != len(outs) {
			t.Fatalf("%d attention tables for %d sentences", len(tables), len(outs))
		}
		for i, o := range outs {
			o := o.(map[string]any)
			if shown[i] != o["text"] {
				t.Errorf("sentence %d: the page shows %q, the API gives %q", i, shown[i], o["text"])
			}
			att := o["attention"].(map[string]any)
			source, output := toStrings(att["source"]), toStrings(att["output"])
			tb := tables[i]
			if !slices.Equal(tb.Source, source) || !slices.Equal(tb.Output, output) || len(tb.Cells) != len(output) {
				t.Errorf("sentence %d: attention table %q × %q (%d rows), want %q × %q", i, tb.Output, tb.Source, len(tb.Cells), output, source)
			}
			for r, row := range tb.Cells {
				if len(row) != len(source) || slices.Contains(row, "") {
					t.Errorf("sentence %d, row %d: cells %q, want %d coloured cells", i, r, row, len(source))
				}
			}
		}
	})

	t.Run("charlm streaming", func(t *testing.T) {
		p.enter(t)
		p.pick("charlm")
		const prime, length, seed = "ROMEO:", 250, 3
		p.fill("lm-prime", prime)
		p.fill("lm-length", fmt.Sprint(length))
		p.fill("lm-seed", fmt.Sprint(seed))
		var checked bool
		p.eval(`document.getElementById("lm-stream").checked`, &checked)
		if !checked {
			p.do(chromedp.Click(chromedp.ID("lm-stream")))
		}
		// Record what the output and the status line show at every change:
		// the text must grow from the prime to the requested length, on the
		// streaming path.
		p.eval(`(() => {
			window.seen = { lengths: [], status: [] };
			new MutationObserver(() => {
				const out = document.getElementById("lm-output");
				if (out) window.seen.lengths.push([...out.textContent].length);
				const s = document.getElementById("status").textContent;
				if (window.seen.status.at(-1) !== s) window.seen.status.push(s);
			}).observe(document.querySelector("main"), { childList: true, subtree: true, characterData: true });
			return true;
		})()`, nil)
		p.do(chromedp.Click(chromedp.ID("lm-go")))
		p.waitStatus("done")
		_, api, _ := postJSON(t, ts.URL+"/v1/models/charlm/predict", map[string]any{"prime": prime, "length": length, "temperature": 0.8, "seed": seed})
		want := prime + api["outputs"].([]any)[0].(map[string]any)["text"].(string)
		var got string
		p.eval(`document.getElementById("lm-output").textContent`, &got)
		if got != want || len([]rune(got)) != len(prime)+length {
			t.Errorf("the page shows %q (%d characters); the API gives %q (%d)", got, len([]rune(got)), want, len([]rune(want)))
		}
		var seen struct {
			Lengths []int    `json:"lengths"`
			Status  []string `json:"status"`
		}
		p.eval(`window.seen`, &seen)
		if len(seen.Lengths) < 2 || seen.Lengths[0] != len(prime) || seen.Lengths[len(seen.Lengths)-1] != len(prime)+length || !slices.IsSorted(seen.Lengths) {
			t.Errorf("the output's lengths as it changed: %v; want growth from %d to %d", seen.Lengths, len(prime), len(prime)+length)
		}
		if status := slices.DeleteFunc(seen.Status, func(s string) bool { return s == "" }); !slices.Equal(status, []string{"streaming…", "done"}) {
			t.Errorf("status line %q, want the streaming path (streaming…, done)", seen.Status)
		}
		t.Logf("streamed text grew in %d steps", len(slices.Compact(seen.Lengths))-1)
	})

	t.Run("charlm refusals", func(t *testing.T) {
		p.enter(t)
		p.pick("charlm")
		p.fill("lm-prime", "")
		p.do(chromedp.Click(chromedp.ID("lm-go")))
		p.waitError("400: empty: give at least one character (prime)")
		p.fill("lm-prime", "ROMEO:")
		p.fill("lm-length", "20000")
		p.do(chromedp.Click(chromedp.ID("lm-stream")), chromedp.Click(chromedp.ID("lm-go")))
		p.waitError("400: 20000 is outside 1..10000 (length)")
		if n := p.count("#result p.output"); n != 0 {
			t.Errorf("a refused generation leaves %d outputs on the page", n)
		}
	})

	t.Run("captioning", func(t *testing.T) {
		p.enter(t)
		p.pick("captioning")
		p.do(chromedp.Click(chromedp.ID("cap-go")))
		p.waitError("choose one or more photos first")
		photo, err := filepath.Abs(filepath.Join("..", "data", "flickr8k-demo", "images_64x64", "2090545563_a4e66ec76b.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		p.do(chromedp.SetUploadFiles(chromedp.ID("cap-file"), []string{photo}), chromedp.Click(chromedp.ID("cap-go")))
		p.waitStatus("1 photo(s)")
		data, err := os.ReadFile(photo)
		if err != nil {
			t.Fatal(err)
		}
		o := postFile(t, ts.URL+"/v1/models/captioning/predict", "image", filepath.Base(photo), data, "attention", "true")
		words := toStrings(o["attention"].(map[string]any)["output"])
		var shown string
		p.eval(`document.querySelector("#result figure p.output").textContent`, &shown)
		if shown == "" || shown != o["text"] {
			t.Errorf("the page shows the caption %q, the API gives %q", shown, o["text"])
		}
		if n := p.count("#result figure canvas"); n != len(words) || n == 0 {
			t.Fatalf("%d attention canvases for the words %q", n, words)
		}
		// Each canvas is the photo, darkened away from where the decoder
		// looked: drawn once the thumbnail has decoded.
		p.until(`document.querySelector("#result img.thumb").naturalWidth === 64 &&
			[...document.querySelectorAll("#result figure canvas")].every((c) =>
				c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0))`)
	})

	t.Run("video", func(t *testing.T) {
		p.enter(t)
		p.pick("video")
		clip, frames := clipGIF(t)
		p.do(chromedp.SetUploadFiles(chromedp.ID("vid-file"), []string{clip}), chromedp.Click(chromedp.ID("vid-go")))
		p.waitStatus(fmt.Sprintf("%d frames", frames))
		data, err := os.ReadFile(clip)
		if err != nil {
			t.Fatal(err)
		}
		want := toStrings(postFile(t, ts.URL+"/v1/models/video/predict", "clip", "clip.gif", data)["labels"])
		rows := p.strings(`[...document.querySelectorAll("#result table.frames tbody tr")].map((tr) => tr.cells[1].textContent)`)
		if len(rows) != frames || !slices.Equal(rows, want) {
			t.Errorf("the page labels %d frames %q; the clip has %d and the API gives %q", len(rows), rows, frames, want)
		}
	})

	p.t = t
	p.checkErrors()
}

// TestBrowserWhileLoading: the page opened while the server still loads
// its models (runner -mode serve listens first) says so, and offers the
// models once they are in.
func TestBrowserWhileLoading(t *testing.T) {
	requireBrowser(t)
	s := serve.New(serve.DefaultOptions())
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	p := newPage(t)
	p.do(chromedp.Navigate(ts.URL))
	p.waitStatus("loading models…")
	err := s.Load(func() ([]serve.Model, error) {
		l, err := pipeline.LoadRun(runs["charlm"], nil, io.Discard)
		if err != nil {
			return nil, err
		}
		m := serve.Model{Name: "charlm", Task: l.Task, Info: serve.Info{Name: "charlm", Task: l.Config.Task, Step: l.Step}}
		serve.Describe(&m)
		return []serve.Model{m}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.until(`document.querySelectorAll("#model option").length === 1`)
	p.pick("charlm")
	p.checkErrors()
}

// requireBrowser skips t without Chromium, or fails it when
// SEQTASK_REQUIRE_BROWSER=1 (as CI sets it) asks for the browser tests.
func requireBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("SEQTASK_REQUIRE_BROWSER") == "1" {
			t.Fatalf("SEQTASK_REQUIRE_BROWSER=1 but there is no browser: %v (apt-get install chromium)", err)
		}
		t.Skipf("no %s: install Debian's chromium to run the browser tests (SEQTASK_REQUIRE_BROWSER=1 makes this a failure)", chromium)
	}
}

// page is a browser tab on the server's page, failing the current test
// (t, switched by each subtest) when an action fails.
type page struct {
	t   *testing.T
	ctx context.Context
	log *syncBuffer // the browser's own output

	mu     sync.Mutex
	errors []string // uncaught exceptions and console errors of the page
}

func newPage(t *testing.T) *page {
	log := &syncBuffer{}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(log),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	p := &page{t: t, ctx: ctx, log: log}
	// Subscribing starts the browser; the events of the navigation to come
	// are buffered.
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			p.addError(fmt.Sprintf("uncaught at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					if a.Description != "" {
						args = append(args, a.Description)
					} else {
						args = append(args, string(a.Value))
					}
				}
				p.addError("console.error: " + strings.Join(args, " "))
			}
		}
	}()
	t.Cleanup(func() {
		if t.Failed() { // without D-Bus's complaints, which are many and harmless
			lines := strings.Split(log.String(), "\n")
			t.Logf("browser output:\n%s", strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, "dbus") }), "\n"))
		}
	})
	return p
}

// enter makes t the test that the page's failures fail; with
// SEQTASK_BROWSER_SHOTS=DIR, a screenshot of the page goes to DIR/NAME.png
// when t ends.
func (p *page) enter(t *testing.T) {
	p.t = t
	dir := os.Getenv("SEQTASK_BROWSER_SHOTS")
	if dir == "" {
		return
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(p.ctx, timeout)
		defer cancel()
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".png"), shot, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	})
}

func (p *page) addError(s string) {
	p.mu.Lock()
	p.errors = append(p.errors, s)
	p.mu.Unlock()
}

// checkErrors fails the test if the page threw or logged an error.
func (p *page) checkErrors() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errors {
		p.t.Errorf("the page: %s", e)
	}
}

// timeout bounds every step; a step that waits for the page waits at most
// this long.
const timeout = time.Minute

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v%s", err, p.state())
	}
}

// eval evaluates a JavaScript expression into v (nil: ignore the value).
func (p *page) eval(expr string, v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err == nil && v != nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		p.t.Fatalf("evaluating %s: %v%s", expr, err, p.state())
	}
}

func (p *page) strings(expr string) []string {
	p.t.Helper()
	var s []string
	p.eval(expr, &s)
	return s
}

func (p *page) count(selector string) int {
	p.t.Helper()
	var n int
	p.eval(fmt.Sprintf("document.querySelectorAll(%q).length", selector), &n)
	return n
}

// until waits for a JavaScript condition to hold.
func (p *page) until(cond string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(timeout))); err != nil {
		p.t.Fatalf("waiting for %s: %v%s", cond, err, p.state())
	}
}

// fill types text into a field as a person would: selects what it holds
// and types over it (an empty text deletes it).
func (p *page) fill(id, text string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.focus(); e.select(); return true; })()`, id), nil)
	keys := text
	if text == "" {
		keys = kb.Backspace
	}
	p.do(chromedp.SendKeys(chromedp.ID(id), keys))
	var got string
	p.eval(fmt.Sprintf(`document.getElementById(%q).value`, id), &got)
	if got != text {
		p.t.Fatalf("typed %q into #%s, which holds %q", text, id, got)
	}
}

// pick chooses a model in the menu and checks that its task's controls,
// and only those, are shown.
func (p *page) pick(name string) {
	p.t.Helper()
	p.do(chromedp.SetValue(chromedp.ID("model"), name), chromedp.WaitVisible(chromedp.ID(name)))
	if shown := p.strings(`[...document.querySelectorAll("section.task")].filter((s) => !s.hidden).map((s) => s.id)`); !slices.Equal(shown, []string{name}) {
		p.t.Fatalf("picking %s shows the sections %q", name, shown)
	}
	var info string
	p.eval(`document.getElementById("model-info").textContent`, &info)
	if !strings.HasPrefix(info, name+" · step ") {
		p.t.Errorf("model info %q", info)
	}
}

// waitStatus waits until the status line says want, failing at once if it
// shows an error instead.
func (p *page) waitStatus(want string) {
	p.t.Helper()
	p.until(fmt.Sprintf(`document.getElementById("status").textContent === %q || document.getElementById("status").className === "error"`, want))
	var got, class string
	p.eval(`document.getElementById("status").textContent`, &got)
	p.eval(`document.getElementById("status").className`, &class)
	if got != want || class == "error" {
		p.t.Fatalf("status line %q (%s), want %q", got, class, want)
	}
}

// waitError waits until the status line shows an error, and checks it.
func (p *page) waitError(want string) {
	p.t.Helper()
	p.until(`document.getElementById("status").className === "error"`)
	var got string
	p.eval(`document.getElementById("status").textContent`, &got)
	if got != want {
		p.t.Errorf("error in the status line %q, want %q", got, want)
	}
}

// state describes the page for a failure: its status line and result.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`"status line: " + JSON.stringify(document.getElementById("status").textContent) + "\nresult: " + document.getElementById("result").innerHTML.slice(0, 2000)`))
	if err != nil {
		return ""
	}
	return "\n" + s
}

// clipGIF writes one of the validation clips TestMain generated as an
// animated GIF, as TestVideoClips does, and returns its path and frames.
func clipGIF(t *testing.T) (string, int) {
	t.Helper()
	frames, _ := filepath.Glob(filepath.Join(runs["clips"], "*", "frame_*.png"))
	if len(frames) == 0 {
		t.Fatal("no generated clips")
	}
	frames = slices.DeleteFunc(frames, func(f string) bool { return filepath.Dir(f) != filepath.Dir(frames[0]) })
	slices.Sort(frames)
	anim := &gif.GIF{}
	for _, f := range frames {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		pal := image.NewPaletted(img.Bounds(), grayPalette())
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				pal.Set(x, y, img.At(x, y))
			}
		}
		anim.Image, anim.Delay = append(anim.Image, pal), append(anim.Delay, 10)
	}
	path := filepath.Join(t.TempDir(), "clip.gif")
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, len(frames)
}

// fileForm is multipart form data holding one file (and fields, name then
// value), and its Content-Type; an error when the form cannot carry the
// file's name.
func fileForm(field, name string, data []byte, fields ...string) (contentType string, body []byte, err error) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile(field, name)
	if err != nil {
		return "", nil, err
	}
	fw.Write(data)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return mw.FormDataContentType(), form.Bytes(), nil
}

// postFile posts one file (and fields, name then value) as multipart form
// data and returns the first output of the answer.
func postFile(t *testing.T, url, field, name string, data []byte, fields ...string) map[string]any {
	t.Helper()
	contentType, form, err := fileForm(field, name, data, fields...)
	if err != nil {
		t.Fatal(err)
	}
	code, got, _ := post(t, url, contentType, form)
	if code != 200 {
		t.Fatalf("%s: %d %v", url, code, got)
	}
	return got["outputs"].([]any)[0].(map[string]any)
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// syncBuffer is a buffer written by the browser's output goroutine and read
// by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
