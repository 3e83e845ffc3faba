package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// requestError is a request the server refuses: its status and the JSON
// body every refusal has, {"error": {"message": ..., "field": ...}}, with
// field naming the part of the request at fault when there is one.
type requestError struct {
	Status     int
	Message    string
	Field      string
	RetryAfter int // seconds, for 503
}

func (e *requestError) Error() string { return e.Message }

// badRequest is a 400 naming field.
func badRequest(field, format string, args ...any) *requestError {
	return &requestError{Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // the client may have gone; nothing to do about it
}

// writeError answers err: a requestError as it says, anything else as a
// 500 whose message does not leak internals beyond the error text.
func writeError(w http.ResponseWriter, err error) {
	var re *requestError
	if !errors.As(err, &re) {
		re = &requestError{Status: http.StatusInternalServerError, Message: err.Error()}
	}
	if re.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(re.RetryAfter))
	}
	body := map[string]any{"message": re.Message}
	if re.Field != "" {
		body["field"] = re.Field
	}
	writeJSON(w, re.Status, map[string]any{"error": body})
}
