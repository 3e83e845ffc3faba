package serve_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image"
	"image/gif"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
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
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		switch {
		case resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable:
			t.Fatalf("status %d for %q %q: %s", resp.StatusCode, contentType, body, b)
		case resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
			if !bytes.Contains(b, []byte("data:")) {
				t.Fatalf("an event stream without events for %q: %q", body, b)
			}
		case resp.StatusCode == http.StatusOK:
			var out struct{ Outputs []json.RawMessage }
			if err := json.Unmarshal(b, &out); err != nil || len(out.Outputs) == 0 {
				t.Fatalf("200 without outputs for %q %q: %q (%v)", contentType, body, b, err)
			}
		default:
			var refusal struct{ Error struct{ Message string } }
			if err := json.Unmarshal(b, &refusal); err != nil || refusal.Error.Message == "" {
				t.Fatalf("status %d without a JSON error for %q %q: %q (%v)", resp.StatusCode, contentType, body, b, err)
			}
		}
	})
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
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		switch {
		case resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable:
			t.Fatalf("status %d for %q: %s", resp.StatusCode, body, b)
		case resp.StatusCode == http.StatusOK:
			var out [][]struct{ Src, Tgt string }
			if err := json.Unmarshal(b, &out); err != nil || len(out) != 1 || len(out[0]) == 0 {
				t.Fatalf("200 not in OpenNMT-py's shape for %q: %q (%v)", body, b, err)
			}
		default:
			var refusal struct{ Error struct{ Message string } }
			if err := json.Unmarshal(b, &refusal); err != nil || refusal.Error.Message == "" {
				t.Fatalf("status %d without a JSON error for %q: %q (%v)", resp.StatusCode, body, b, err)
			}
		}
	})
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
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		fw, err := mw.CreateFormFile("clip", name)
		if err != nil {
			t.Skip(err)
		}
		fw.Write(data)
		mw.Close()
		resp, err := http.Post(ts.URL+"/v1/models/video/predict", mw.FormDataContentType(), &form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		switch {
		case resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable:
			t.Fatalf("status %d for %q (%d bytes): %s", resp.StatusCode, name, len(data), b)
		case resp.StatusCode == http.StatusOK:
			var out struct {
				Outputs []struct{ Labels []string }
			}
			if err := json.Unmarshal(b, &out); err != nil || len(out.Outputs) != 1 || len(out.Outputs[0].Labels) == 0 {
				t.Fatalf("200 without labels for %q: %q (%v)", name, b, err)
			}
		default:
			var refusal struct{ Error struct{ Message string } }
			if err := json.Unmarshal(b, &refusal); err != nil || refusal.Error.Message == "" {
				t.Fatalf("status %d without a JSON error for %q: %q (%v)", resp.StatusCode, name, b, err)
			}
		}
	})
}
