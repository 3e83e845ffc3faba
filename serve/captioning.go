package serve

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strconv"

	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/tasks"
)

// captioner is a captioning model's prediction path (tasks.Captioning).
type captioner interface {
	Caption(images []*datasets.ImageTensor, opt tasks.DecodeOptions, withAttention bool, rng *rand.Rand) ([]tasks.Captioned, error)
	ImageTensor(img image.Image) (*datasets.ImageTensor, error)
	DecodeDefaults() tasks.DecodeOptions
}

// captionRequest is the JSON body of a captioning model's predict: the
// images as base64 (of any format package image reads).
type captionRequest struct {
	Images    []string            `json:"images"`
	Decode    tasks.DecodeRequest `json:"decode"`
	Attention bool                `json:"attention"`
}

// captioning serves a captioning model: images from multipart/form-data
// ("image" parts, optional "decode" JSON and "attention" fields) or JSON,
// each checked from its header before it is decoded, captioned in batches
// of one decoding setting.
func (s *Server) captioning(m Model, c captioner) (http.HandlerFunc, worker) {
	b := NewBatcher(s.batchOptions(m.Name), batchFuncs(m, func(c captioner, i int) BatchFunc[decodeKey, *datasets.ImageTensor, tasks.Captioned] {
		rng := rand.New(rand.NewPCG(uint64(i), 0xca9))
		return func(k decodeKey, in []*datasets.ImageTensor) ([]tasks.Captioned, error) {
			return c.Caption(in, k.opt, k.attention, rng)
		}
	})...)
	handle := func(w http.ResponseWriter, r *http.Request) error {
		var req captionRequest
		var raw [][]byte
		switch mediaType(r) {
		case "multipart/form-data":
			var err error
			if raw, req, err = s.captionForm(r); err != nil {
				return err
			}
		case "application/json":
			if err := decodeJSON(r, &req); err != nil {
				return err
			}
			for i, s := range req.Images {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return badRequest(fmt.Sprintf("images[%d]", i), "not base64: %v", err)
				}
				raw = append(raw, b)
			}
		default:
			return unsupported(r, "multipart/form-data", "application/json")
		}
		if err := checkCount("images", len(raw), s.opt.MaxInputs); err != nil {
			return err
		}
		tensors := make([]*datasets.ImageTensor, len(raw))
		for i, data := range raw {
			err := s.uploads.decode(r.Context(), data, func(img image.Image) (err error) {
				tensors[i], err = c.ImageTensor(img)
				return err
			})
			if r.Context().Err() != nil {
				return answer(r.Context(), r.Context().Err())
			}
			if err != nil {
				return badRequest(fmt.Sprintf("images[%d]", i), "%v", unwrapInput(err))
			}
		}
		opt, err := c.DecodeDefaults().With(req.Decode)
		if err != nil {
			return answer(r.Context(), err)
		}
		out, err := b.Submit(r.Context(), decodeKey{opt, req.Attention}, tensors)
		if err != nil {
			return answer(r.Context(), err)
		}
		s.metrics.inputs.WithLabelValues(m.Name).Add(float64(len(out)))
		writeJSON(w, http.StatusOK, map[string]any{"outputs": out})
		return nil
	}
	return refusing(handle), b
}

// captionForm reads a multipart request: "image" file parts, and the
// optional "decode" (JSON) and "attention" (true/false) fields.
func (s *Server) captionForm(r *http.Request) ([][]byte, captionRequest, error) {
	var req captionRequest
	var images [][]byte
	err := eachPart(r, func(p *multipart.Part, data []byte) error {
		switch p.FormName() {
		case "image":
			if len(images) == s.opt.MaxInputs {
				return badRequest("image", "more than the %d images a request may hold", s.opt.MaxInputs)
			}
			images = append(images, data)
		case "decode":
			if err := json.Unmarshal(data, &req.Decode); err != nil {
				return badRequest("decode", "%v", err)
			}
		case "attention":
			v, err := strconv.ParseBool(string(data))
			if err != nil {
				return badRequest("attention", "want true or false, got %q", data)
			}
			req.Attention = v
		default:
			return badRequest(p.FormName(), "unknown form field %q (want image, decode, attention)", p.FormName())
		}
		return nil
	})
	return images, req, err
}

// eachPart reads every part of a multipart body (bounded by the body's
// limit) and calls fn with it and its content.
func eachPart(r *http.Request, fn func(p *multipart.Part, data []byte) error) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return badRequest("", "malformed multipart body: %v", err)
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return multipartError(err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return multipartError(err)
		}
		if err := fn(p, data); err != nil {
			return err
		}
	}
}

func multipartError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &requestError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body over the limit of %d bytes", tooBig.Limit)}
	}
	return badRequest("", "malformed multipart body: %v", err)
}

// unwrapInput is the message of an input error without its field, which
// the caller names.
func unwrapInput(err error) error {
	var ie *tasks.InputError
	if errors.As(err, &ie) {
		return ie.Err
	}
	return err
}
