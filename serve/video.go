package serve

import (
	"archive/zip"
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/tasks"
)

// labeller is a video model's prediction path (tasks.Video).
type labeller interface {
	Label(path string) (tasks.Labelled, error)
}

// video serves a video model: one clip per request, in multipart/form-data
// field "clip" — an animated GIF, a video file (decoded by ffmpeg, when it
// is installed) or a zip of frame images — labelled frame by frame on the
// model's workers through the path -mode predict takes.
func (s *Server) video(m Model) (http.HandlerFunc, worker) {
	opt := s.batchOptions(m.Name)
	opt.MaxBatch = 1 // clips differ in length
	b := NewBatcher(opt, batchFuncs(m, func(l labeller, _ int) BatchFunc[struct{}, string, tasks.Labelled] {
		return func(_ struct{}, in []string) ([]tasks.Labelled, error) {
			out, err := l.Label(in[0])
			return []tasks.Labelled{out}, err
		}
	})...)
	handle := func(w http.ResponseWriter, r *http.Request) error {
		if mediaType(r) != "multipart/form-data" {
			return unsupported(r, "multipart/form-data with a \"clip\" file")
		}
		var release func() // the clip's share of the upload budget, given back once it is removed
		defer func() {
			if release != nil {
				release()
			}
		}()
		dir, err := os.MkdirTemp("", "seqtask-clip-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path := ""
		err = eachPart(r, func(p *multipart.Part, data []byte) error {
			if p.FormName() != "clip" {
				return badRequest(p.FormName(), "unknown form field %q (want clip)", p.FormName())
			}
			if path != "" {
				return badRequest("clip", "one clip per request")
			}
			if release, err = s.uploads.hold(r.Context(), clipBytes(data)); err != nil {
				return err
			}
			path, err = saveClip(dir, p.FileName(), data)
			return err
		})
		if r.Context().Err() != nil {
			return answer(r.Context(), r.Context().Err())
		}
		if err != nil {
			return err
		}
		if path == "" {
			return badRequest("clip", "missing: send the clip as a \"clip\" file")
		}
		out, err := b.Submit(r.Context(), struct{}{}, []string{path})
		if err != nil {
			return answer(r.Context(), err)
		}
		s.metrics.inputs.WithLabelValues(m.Name).Inc()
		writeJSON(w, http.StatusOK, map[string]any{"outputs": out})
		return nil
	}
	return refusing(handle), b
}

// saveClip writes an uploaded clip into dir as the clip reader expects it
// and returns its path: a zip's frame images extracted into a folder, a
// GIF or video file as a file of its kind.
func saveClip(dir, name string, data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return unzipFrames(filepath.Join(dir, "frames"), data)
	case bytes.HasPrefix(data, []byte("GIF8")):
		name = "clip.gif"
	case datasets.IsVideoFile(name):
		name = "clip" + strings.ToLower(filepath.Ext(name))
	default:
		return "", badRequest("clip", "%q is not an animated GIF, a zip of frames or a video file (by its name's extension)", name)
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, data, 0o600)
}

// unzipFrames extracts a zip's frame images into dir, flat, refusing more
// than datasets.MaxClipFrames entries or uncompressed data beyond
// maxUnzipped (a zip bomb).
func unzipFrames(dir string, data []byte) (string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", badRequest("clip", "not a readable zip: %v", err)
	}
	if len(zr.File) > datasets.MaxClipFrames {
		return "", badRequest("clip", "%d files in the zip, more than the %d frames a clip may have", len(zr.File), datasets.MaxClipFrames)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	var total int64
	for _, f := range zr.File {
		name := filepath.Base(f.Name)
		if f.FileInfo().IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return "", badRequest("clip", "zip entry %s: %v", f.Name, err)
		}
		out, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			rc.Close()
			return "", badRequest("clip", "zip entry %s: %v", f.Name, err)
		}
		n, err := io.Copy(out, io.LimitReader(rc, maxUnzipped-total+1))
		rc.Close()
		out.Close()
		total += n
		if total > maxUnzipped {
			return "", badRequest("clip", "the zip unpacks to more than %d bytes", maxUnzipped)
		}
		if err != nil {
			return "", badRequest("clip", "zip entry %s: %v", f.Name, err)
		}
	}
	return dir, nil
}

// maxUnzipped bounds what a zip of frames may unpack to.
const maxUnzipped = 256 << 20
