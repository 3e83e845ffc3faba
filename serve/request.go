package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/tasks"
)

// mediaType returns the request's content type without parameters.
func mediaType(r *http.Request) string {
	t, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return t
}

// unsupported is the 415 for a request body of the wrong type.
func unsupported(r *http.Request, want ...string) *requestError {
	return &requestError{Status: http.StatusUnsupportedMediaType, Field: "Content-Type",
		Message: fmt.Sprintf("content type %q: send %s", r.Header.Get("Content-Type"), strings.Join(want, " or "))}
}

// decodeJSON reads the request body into v strictly: an unknown field, a
// value of the wrong type, trailing data or a body over the limit is a
// refusal naming what is wrong.
func decodeJSON(r *http.Request, v any) error {
	if mediaType(r) != "application/json" {
		return unsupported(r, "application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "trailing data after the JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a refusal.
func jsonError(err error) error {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		return &requestError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("body over the limit of %d bytes", tooBig.Limit)}
	case errors.As(err, &typeErr):
		return badRequest(typeErr.Field, "want %s, got a JSON %s", typeErr.Type, typeErr.Value)
	case errors.As(err, &syntax):
		return badRequest("", "malformed JSON at byte %d: %v", syntax.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(field, "unknown field %q", field)
	case errors.Is(err, io.EOF):
		return badRequest("", "empty body: send a JSON object")
	}
	return badRequest("", "malformed JSON: %v", err)
}

// answer maps a prediction's error to its refusal: a bad input is a 400
// naming its field, a full queue or a request out of time a 503; anything
// else is the server's own failure.
func answer(ctx context.Context, err error) error {
	var ie *tasks.InputError
	switch {
	case errors.As(err, &ie):
		return badRequest(ie.Field, "%v", ie.Err)
	case errors.Is(err, decoding.ErrInvalidArgument):
		return badRequest("decode", "%v", err)
	case errors.Is(err, ErrQueueFull):
		return &requestError{Status: http.StatusServiceUnavailable, Message: "the model's queue is full; retry shortly", RetryAfter: 1}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &requestError{Status: http.StatusServiceUnavailable, Message: "the request ran out of time waiting its turn; retry shortly", RetryAfter: 1}
	case errors.Is(err, errClosed):
		return &requestError{Status: http.StatusServiceUnavailable, Message: "the server is shutting down"}
	}
	return err
}

// checkCount refuses a request of no inputs or more than max.
func checkCount(field string, n, max int) error {
	switch {
	case n == 0:
		return badRequest(field, "give at least one input")
	case n > max:
		return badRequest(field, "%d inputs, more than the %d a request may hold", n, max)
	}
	return nil
}

// isDeadline reports whether r's context ended by the server's own
// per-request deadline (answered with 503) rather than by the client
// leaving (answered with nothing).
func isDeadline(r *http.Request) bool { return errors.Is(r.Context().Err(), context.DeadlineExceeded) }
