package serve

import (
	"fmt"
	"net/http"
)

// OpenNMT-py's REST server (onmt/bin/server.py) takes a list of
// {"src": sentence, "id": model id} and answers [[{"src", "tgt", "n_best",
// "pred_score"}, ...]]. This route speaks that shape, so that clients
// written for OpenNMT-py work unchanged; the id is the index of a
// translation model among the served ones, in -run order (0 when absent).

type opennmtRequest struct {
	Src string `json:"src"`
	ID  *int   `json:"id"`
}

type opennmtResult struct {
	Src       string  `json:"src"`
	Tgt       string  `json:"tgt"`
	NBest     int     `json:"n_best"`
	PredScore float64 `json:"pred_score"`
}

func (s *Server) opennmt(w http.ResponseWriter, r *http.Request) {
	if s.notReady(w) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBody)
	refusing(func(w http.ResponseWriter, r *http.Request) error {
		var reqs []opennmtRequest
		if err := decodeJSON(r, &reqs); err != nil {
			return err
		}
		if err := checkCount("src", len(reqs), s.opt.MaxInputs); err != nil {
			return err
		}
		models := s.translators()
		if len(models) == 0 {
			return &requestError{Status: http.StatusNotFound, Message: "no translation model is served"}
		}
		// One call per model, so that its sentences share batches.
		byModel := map[int][]int{}
		for i, q := range reqs {
			id := 0
			if q.ID != nil {
				id = *q.ID
			}
			if id < 0 || id >= len(models) {
				return &requestError{Status: http.StatusNotFound, Field: fmt.Sprintf("[%d].id", i),
					Message: fmt.Sprintf("no translation model %d: the served ones are 0..%d", id, len(models)-1)}
			}
			byModel[id] = append(byModel[id], i)
		}
		out := make([]opennmtResult, len(reqs))
		for id, idx := range byModel {
			m := models[id]
			srcs := make([]string, len(idx))
			for j, i := range idx {
				srcs[j] = reqs[i].Src
			}
			res, err := m.translate(r, srcs, func(j int) string { return fmt.Sprintf("[%d].src", idx[j]) }, m.Task.(translator).DecodeDefaults(), false)
			if err != nil {
				return err
			}
			for j, i := range idx {
				out[i] = opennmtResult{Src: reqs[i].Src, Tgt: res[j].Text, NBest: 1, PredScore: res[j].Score}
			}
		}
		writeJSON(w, http.StatusOK, [][]opennmtResult{out})
		return nil
	})(w, r)
}
