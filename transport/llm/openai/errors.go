package openai

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// maxMessageLen caps the vendor message kept in an *llm.Error.
const maxMessageLen = 500

// vendorError is what an error body says.
type vendorError struct {
	message, typ, code string
}

// parseErrorBody reads the OpenAI, Ollama and vLLM error shapes; unknown bodies give their
// (trimmed) text as the message.
func parseErrorBody(body []byte) vendorError {
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return vendorError{message: strings.TrimSpace(string(body))}
	}
	if len(env.Error) > 0 && env.Error[0] == '{' {
		var d errorDetail
		if json.Unmarshal(env.Error, &d) == nil {
			return vendorError{message: d.Message, typ: d.Type, code: codeString(d.Code)}
		}
	}
	var text string
	if json.Unmarshal(env.Error, &text) == nil && text != "" {
		return vendorError{message: text}
	}
	if env.Message != "" {
		return vendorError{message: env.Message, typ: env.Type, code: codeString(env.Code)}
	}
	return vendorError{message: strings.TrimSpace(string(body))}
}

// codeString returns a string or number code as text.
func codeString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// header reads one response header.
type header func(name string) string

// statusError maps an HTTP error response to an *llm.Error (see the package doc for the
// table). now is the time the response arrived, for HTTP-date Retry-After values.
func statusError(status int, body []byte, h header, now time.Time) *llm.Error {
	v := parseErrorBody(body)
	msg := v.message
	if msg == "" {
		msg = http.StatusText(status)
	}
	if len(msg) > maxMessageLen {
		msg = msg[:maxMessageLen] + "..."
	}
	e := &llm.Error{Status: status, Message: msg}
	switch {
	case v.code == "insufficient_quota" || v.typ == "insufficient_quota" || status == http.StatusPaymentRequired:
		e.Kind = llm.KindQuotaExhausted
	case v.code == "context_length_exceeded" || (status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge) && contextLengthWording(msg):
		e.Kind = llm.KindContextLength
	case status == http.StatusTooManyRequests:
		e.Kind = llm.KindRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = llm.KindAuth
	case status == http.StatusNotFound || v.code == "model_not_found":
		e.Kind = llm.KindModelNotFound
	case status == http.StatusRequestTimeout:
		e.Kind = llm.KindTimeout
	case status == http.StatusServiceUnavailable || status == 529:
		e.Kind = llm.KindOverloaded
	case status >= 500:
		e.Kind = llm.KindServerError
	default:
		e.Kind = llm.KindBadRequest
	}
	if e.Kind.Retryable() {
		e.RetryAfter = retryAfter(h, v.typ, now)
	}
	return e
}

// contextLengthWording reports whether a 400 message is about the context window.
func contextLengthWording(msg string) bool {
	m := strings.ToLower(msg)
	for _, w := range []string{"context length", "context_length", "context window", "maximum context",
		"too many tokens", "prompt is too long", "exceeds the model's"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// retryAfter returns the vendor's wait hint: retry-after-ms, then retry-after (seconds or an
// HTTP date), then x-ratelimit-reset-{requests,tokens} (Go durations such as "6m0s"); for
// the reset headers, the bucket that is exhausted (remaining 0, else the error type names
// it) wins, and the longer of the two when that is unknown. 0 when there is no usable hint.
func retryAfter(h header, typ string, now time.Time) time.Duration {
	if v := strings.TrimSpace(h("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := strings.TrimSpace(h("retry-after")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			if s > 0 {
				return time.Duration(s * float64(time.Second))
			}
		} else if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
		}
	}
	req := resetDuration(h("x-ratelimit-reset-requests"))
	tok := resetDuration(h("x-ratelimit-reset-tokens"))
	reqOut := strings.TrimSpace(h("x-ratelimit-remaining-requests")) == "0"
	tokOut := strings.TrimSpace(h("x-ratelimit-remaining-tokens")) == "0"
	switch {
	case reqOut && tokOut:
		return max(req, tok)
	case reqOut || typ == "requests":
		if req > 0 {
			return req
		}
	case tokOut || typ == "tokens":
		if tok > 0 {
			return tok
		}
	}
	return max(req, tok)
}

// resetDuration parses an x-ratelimit-reset-* value: a Go duration ("1s", "6m0s", "20ms")
// or a bare number of seconds. Bad values give 0.
func resetDuration(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	return 0
}
