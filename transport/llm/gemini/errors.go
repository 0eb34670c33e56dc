package gemini

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// maxMessageBytes caps the vendor message copied into an *llm.Error.
const maxMessageBytes = 1000

// statusError maps a non-2xx response to an *llm.Error:
//   - 429: rate_limited with RetryAfter from RetryInfo.retryDelay, else the retry-after header;
//     quota_exhausted when the message speaks of quota or billing and no retry hint was given;
//   - 503 (UNAVAILABLE) and 529: overloaded; 504 and other 5xx: server_error;
//   - 401, 403 (PERMISSION_DENIED, UNAUTHENTICATED): auth_failed; 404 (NOT_FOUND): model_not_found;
//   - 400 with token-limit wording: context_length_exceeded; other 4xx: bad_request.
//
// Message is the vendor's error message (or the status text when the body has none).
// retryAfterHeader is the raw retry-after header; now is the time used for an HTTP-date value.
func statusError(status int, body []byte, retryAfterHeader string, now time.Time) *llm.Error {
	var eb errorBody
	_ = json.Unmarshal(body, &eb)
	msg := strings.TrimSpace(eb.Error.Message)
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if len(msg) > maxMessageBytes {
		msg = msg[:maxMessageBytes] + "…"
	}
	if eb.Error.Status != "" {
		msg = eb.Error.Status + ": " + msg
	}
	e := &llm.Error{Status: status, Message: msg}
	lower := strings.ToLower(eb.Error.Message)
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind = llm.KindRateLimited
		e.RetryAfter = retryDelay(eb.Error.Details)
		if e.RetryAfter == 0 {
			e.RetryAfter = parseRetryAfter(retryAfterHeader, now)
		}
		if e.RetryAfter == 0 && (strings.Contains(lower, "quota") || strings.Contains(lower, "billing")) {
			e.Kind = llm.KindQuotaExhausted
		}
	case status == http.StatusServiceUnavailable || status == 529:
		e.Kind = llm.KindOverloaded
		e.RetryAfter = parseRetryAfter(retryAfterHeader, now)
	case status >= 500:
		e.Kind = llm.KindServerError
		e.RetryAfter = parseRetryAfter(retryAfterHeader, now)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = llm.KindAuth
	case status == http.StatusNotFound:
		e.Kind = llm.KindModelNotFound
	case status == http.StatusBadRequest && contextLengthWording(lower):
		e.Kind = llm.KindContextLength
	default:
		e.Kind = llm.KindBadRequest
	}
	return e
}

// contextLengthWording reports whether a lower-cased 400 message says the prompt is too long,
// e.g. "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
func contextLengthWording(lower string) bool {
	for _, w := range []string{"token count", "exceeds the maximum number of tokens", "too many tokens",
		"context length", "context window", "input is too long", "prompt is too long"} {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// retryDelay returns the retryDelay of the google.rpc.RetryInfo detail ("13s", "0.5s"), 0 when
// there is none or it does not parse.
func retryDelay(details []errorDetail) time.Duration {
	for _, d := range details {
		if !strings.HasSuffix(d.Type, "google.rpc.RetryInfo") || d.RetryDelay == "" {
			continue
		}
		if v, err := time.ParseDuration(d.RetryDelay); err == nil && v > 0 {
			return v
		}
	}
	return 0
}

// parseRetryAfter reads a retry-after header: delta seconds (integer or decimal) or an HTTP
// date, relative to now. It returns 0 when the value is missing, invalid or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 1e6 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// answerError is the *llm.Error of a 200 response that carries no usable answer. A refusal (the
// prompt or the answer blocked for safety, recitation, prohibited content ...) is bad_request:
// sending the same prompt again gets the same verdict. An empty answer for any other reason
// (MAX_TOKENS with no text, OTHER, no candidates) is server_error, which the retry policy retries.
func answerError(kind llm.ErrorKind, format string, args ...any) *llm.Error {
	return &llm.Error{Kind: kind, Status: http.StatusOK, Message: fmt.Sprintf(format, args...)}
}
