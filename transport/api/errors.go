package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// statusOf is the one mapping from the domain's error kinds to HTTP statuses.
func statusOf(k enricher.Kind) int {
	switch k {
	case enricher.KindInvalid:
		return fasthttp.StatusBadRequest
	case enricher.KindUnauthenticated:
		return fasthttp.StatusUnauthorized
	case enricher.KindForbidden:
		return fasthttp.StatusForbidden
	case enricher.KindNotFound:
		return fasthttp.StatusNotFound
	case enricher.KindConflict:
		return fasthttp.StatusConflict
	case enricher.KindTooLarge:
		return fasthttp.StatusRequestEntityTooLarge
	case enricher.KindTooMany:
		return fasthttp.StatusTooManyRequests
	case enricher.KindUnavailable:
		return fasthttp.StatusServiceUnavailable
	case enricher.KindTimeout:
		return fasthttp.StatusGatewayTimeout
	case enricher.KindInsufficientStorage:
		return fasthttp.StatusInsufficientStorage
	default:
		return fasthttp.StatusInternalServerError
	}
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Detail string   `json:"detail"`
	Errors []string `json:"errors,omitempty"`
	JobID  string   `json:"job_id,omitempty"`
}

// retryAfterError lets an error carry the Retry-After value (seconds) of a 429 or 503.
type retryAfterError interface{ RetryAfterSeconds() int }

// jobError is an error that befell a request after its job was stored (a blocking start
// refused at shutdown): the answer names the job in job_id, so the client can follow it.
type jobError struct {
	err   error
	jobID string
}

func (e *jobError) Error() string { return e.err.Error() }
func (e *jobError) Unwrap() error { return e.err }

// writeError answers err as {"detail": ...}. Internal errors show only the request id; their
// cause goes to the log.
func writeError(ctx *fasthttp.RequestCtx, log *slog.Logger, err error) {
	kind := enricher.ErrorKind(err)
	status := statusOf(kind)
	body := errorBody{}
	var de *enricher.Error
	if kind == enricher.KindInternal || !errors.As(err, &de) {
		status = fasthttp.StatusInternalServerError
		rid := requestID(ctx)
		body.Detail = "internal error (request " + rid + ")"
		log.Error("request failed", "request_id", rid, "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
	} else {
		body.Detail, body.Errors = de.Message, de.Problems
		if body.Detail == "" {
			body.Detail = fasthttp.StatusMessage(status)
		}
		if kind == enricher.KindUnavailable {
			log.Warn("request refused", "request_id", requestID(ctx), "err", err)
		}
	}
	var je *jobError
	if errors.As(err, &je) {
		body.JobID = je.jobID
	}
	if status == fasthttp.StatusTooManyRequests || status == fasthttp.StatusServiceUnavailable {
		secs := 5
		var ra retryAfterError
		if errors.As(err, &ra) && ra.RetryAfterSeconds() > 0 {
			secs = ra.RetryAfterSeconds()
		}
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(ctx, status, body)
}

// writeJSON answers status with v encoded as JSON.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = fasthttp.StatusInternalServerError
		b = []byte(`{"detail":"internal error (response encoding)"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
