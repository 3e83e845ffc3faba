package serve_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image"
	"image/gif"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/serve"
)

// FuzzPredict: whatever the model name, Content-Type and body, a predict
// request is answered — 200 with one output per input (or a stream of
// events), or a refusal whose JSON body carries a message — and never
// with a 5xx but 503: no request can crash the server or its models.
func FuzzPredict(f *testing.F) {
	for _, seed := range []struct{ model, contentType, body string }{
		{"translation", "application/json", `{"inputs": ["Go.", "Thanks."]}`},
		{"translation", "application/json", `{"inputs": ["Go."], "attention": true, "decode": {"strategy": "beam", "beam": 3, "n_best": 2}}`},
		{"translation", "application/json", `{"inputs": ["Go.", ""], "decode": {"max_len": -1, "strategy": "sample", "temperature": 0}}`},
		{"translation", "application/json", `{"inputs": [["Go."]], "decode": null}`},
		{"translation", "text/plain", "Go."},
		{"charlm", "application/json", `{"prime": "ROMEO:", "length": 20, "temperature": 0.8, "seed": 3}`},
		{"charlm", "application/json", `{"prime": "\u0000\u00e9\ud83d\ude00", "length": 5, "stream": true}`},
		{"charlm", "application/json", `{"length": 1e9, "temperature": -1}`},
		{"captioning", "application/json", `{"images": ["bm90IGFuIGltYWdl"], "decode": {"beam": 0}}`},
		{"captioning", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nnot a png\r\n--x--\r\n"},
		{"captioning", "multipart/form-data", "--x--"},
		{"video", "application/json", "{}"},
		{"", "application/json", "{}"},
	} {
		f.Add(seed.model, seed.contentType, []byte(seed.body))
	}
	opt := serve.DefaultOptions()
	opt.MaxWait = 0
	ts := server(f, opt, "charlm", "translation", "captioning")
	f.Fuzz(func(t *testing.T, model, contentType string, body []byte) {
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/v1/models/"+url.PathEscape(model)+"/predict", bytes.NewReader(body))
		if err != nil {
			t.Skip("not a request a client can send:", err)
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Skip("not a request a client can send:", err)
		}
		checkAnswer(t, resp, func(b []byte) bool {
			if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				return bytes.Contains(b, []byte("data:"))
			}
			var out struct{ Outputs []json.RawMessage }
			return json.Unmarshal(b, &out) == nil && len(out.Outputs) > 0
		})
	})
}

// checkAnswer fails t unless resp is a 200 whose body ok accepts, or a
// refusal (any status but a 5xx other than 503) with a JSON error message.
func checkAnswer(t *testing.T, resp *http.Response, ok func(body []byte) bool) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	var refusal struct{ Error struct{ Message string } }
	switch {
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable:
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	case resp.StatusCode == http.StatusOK && !ok(b):
		t.Fatalf("200 with an answer not in its shape: %q", b)
	case resp.StatusCode != http.StatusOK && (json.Unmarshal(b, &refusal) != nil || refusal.Error.Message == ""):
		t.Fatalf("status %d without a JSON error: %q", resp.StatusCode, b)
	}
}

// FuzzOpenNMT: OpenNMT-py's route answers any body with 200 and one
// translation per source, or a JSON refusal; never a 5xx but 503.
func FuzzOpenNMT(f *testing.F) {
	for _, body := range []string{
		`[{"src": "Go.", "id": 0}, {"src": "Thanks."}]`,
		`[{"src": "", "id": 0}]`,
		`[{"src": "Go.", "id": -1}]`,
		`[{"src": "Go.", "id": 1e30}]`,
		`[]`,
		`{"src": "Go."}`,
		`[{"src": null}]`,
	} {
		f.Add([]byte(body))
	}
	ts := server(f, serve.DefaultOptions(), "translation")
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := http.Post(ts.URL+"/translator/translate", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, resp, func(b []byte) bool {
			var out [][]struct{ Src, Tgt string }
			return json.Unmarshal(b, &out) == nil && len(out) == 1 && len(out[0]) > 0
		})
	})
}

// postForm posts data as the file name in form field field of a
// multipart/form-data body; a name the form cannot carry skips the input.
func postForm(t *testing.T, url, field, name string, data []byte) *http.Response {
	t.Helper()
	contentType, form, err := fileForm(field, name, data)
	if err != nil {
		t.Skip(err)
	}
	resp, err := http.Post(url, contentType, bytes.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// FuzzVideoClip: a clip upload of any bytes under any file name — a GIF,
// a zip of frames, or neither — is labelled (200 with one label per frame)
// or refused with a JSON error; never a 5xx but 503.
func FuzzVideoClip(f *testing.F) {
	frame := image.NewPaletted(image.Rect(0, 0, 8, 8), grayPalette())
	var anim bytes.Buffer
	gif.EncodeAll(&anim, &gif.GIF{Image: []*image.Paletted{frame, frame}, Delay: []int{10, 10}})
	var png8 bytes.Buffer
	png.Encode(&png8, frame)
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	for _, name := range []string{"frame_000.png", "frame_001.png"} {
		w, _ := zw.Create(name)
		w.Write(png8.Bytes())
	}
	zw.Close()
	f.Add("clip.gif", anim.Bytes())
	f.Add("clip.zip", zipped.Bytes())
	f.Add("clip.zip", []byte("PK\x03\x04 not a zip"))
	f.Add("clip.mp4", []byte("not a video"))
	ts := server(f, serve.DefaultOptions(), "video")
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		checkAnswer(t, postForm(t, ts.URL+"/v1/models/video/predict", "clip", name, data), func(b []byte) bool {
			var out struct {
				Outputs []struct{ Labels []string }
			}
			return json.Unmarshal(b, &out) == nil && len(out.Outputs) == 1 && len(out.Outputs[0].Labels) > 0
		})
	})
}

// FuzzCaptionImage: a photo upload of any bytes under any file name is
// captioned (200 with a caption) or refused with a JSON error; never a
// 5xx but 503.
func FuzzCaptionImage(f *testing.F) {
	photo, err := os.ReadFile(filepath.Join("..", "data", "flickr8k-demo", "images_64x64", "2090545563_a4e66ec76b.jpg"))
	if err != nil {
		f.Fatal(err)
	}
	var tiny bytes.Buffer
	png.Encode(&tiny, image.NewGray(image.Rect(0, 0, 3, 2)))
	f.Add("photo.jpg", photo)
	f.Add("tiny.png", tiny.Bytes())
	f.Add("huge.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x02\x00\x00\x00"))
	f.Add("x.gif", []byte("GIF89a"))
	ts := server(f, serve.DefaultOptions(), "captioning")
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		checkAnswer(t, postForm(t, ts.URL+"/v1/models/captioning/predict", "image", name, data), func(b []byte) bool {
			var out struct {
				Outputs []struct{ Text string }
			}
			return json.Unmarshal(b, &out) == nil && len(out.Outputs) == 1
		})
	})
}
