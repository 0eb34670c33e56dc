package anthropic

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/entity-enricher/enricher/transport/llm"
)

// contextLengthWords mark a 400 invalid_request_error about the prompt not fitting the model's
// context window ("prompt is too long: 210000 tokens > 200000 maximum").
var contextLengthWords = []string{"prompt is too long", "context window", "context length", "too many input tokens"}

// quotaWords mark an answer about money rather than rate: an empty credit balance or a spend
// limit. Such calls fail until a human acts, so they are quota_exhausted (never retried).
var quotaWords = []string{"credit balance", "billing", "spend limit", "spending limit", "purchase credits", "quota"}

// maxRawMessage caps the part of an unparseable error body quoted in a message.
const maxRawMessage = 200

// statusError maps a non-2xx response to an *llm.Error:
//
//	overloaded_error, 529, 503                      → overloaded
//	429 (rate_limit_error)                          → rate_limited, RetryAfter from the headers;
//	                                                  quota_exhausted for spend-limit bodies
//	402 billing_error, or a 4xx billing/credit one  → quota_exhausted
//	401, 403                                        → auth_failed
//	404                                             → model_not_found
//	408                                             → timeout
//	400 with context-length wording                 → context_length_exceeded
//	other 4xx (413 request_too_large, 400 ...)      → bad_request
//	other 5xx (500 api_error, 504 timeout_error)    → server_error
//
// Message is error.message from the body, or the status text and the start of the body when it
// is not the vendor's error shape. header looks up a response header; now dates HTTP-date
// Retry-After values.
func statusError(status int, header func(string) string, body []byte, now time.Time) *llm.Error {
	var er errorResponse
	msg := ""
	if json.Unmarshal(body, &er) == nil && er.Error.Message != "" {
		msg = er.Error.Message
	} else {
		msg = rawMessage(status, body)
	}
	e := &llm.Error{Status: status, Message: msg}
	lower := strings.ToLower(msg)
	switch {
	case er.Error.Type == "overloaded_error" || status == 529 || status == http.StatusServiceUnavailable:
		e.Kind = llm.KindOverloaded
		e.RetryAfter = retryAfter(header, now)
	case status == http.StatusPaymentRequired || er.Error.Type == "billing_error" ||
		er.Error.Details.ErrorCode == "enforced_spend_limit_reached" ||
		status < 500 && containsAny(lower, quotaWords):
		e.Kind = llm.KindQuotaExhausted
	case status == http.StatusTooManyRequests || er.Error.Type == "rate_limit_error":
		e.Kind = llm.KindRateLimited
		e.RetryAfter = retryAfter(header, now)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = llm.KindAuth
	case status == http.StatusNotFound:
		e.Kind = llm.KindModelNotFound
	case status == http.StatusRequestTimeout:
		e.Kind = llm.KindTimeout
	case status == http.StatusBadRequest && containsAny(lower, contextLengthWords):
		e.Kind = llm.KindContextLength
	case status >= 400 && status < 500:
		e.Kind = llm.KindBadRequest
	default:
		e.Kind = llm.KindServerError
	}
	return e
}

// rawMessage describes a response whose body is not the vendor's error shape.
func rawMessage(status int, body []byte) string {
	msg := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	s := strings.TrimSpace(string(body))
	if s == "" {
		return msg
	}
	if len(s) > maxRawMessage {
		s = s[:maxRawMessage]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return msg + ": " + s
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// retryAfter returns the server's wait hint, 0 when there is none. It reads, in order,
// retry-after-ms (milliseconds), retry-after (seconds, possibly fractional, or an HTTP date
// relative to now), then the anthropic-ratelimit-*-reset timestamps (RFC 3339) of the limits
// whose -remaining is 0, taking the latest.
func retryAfter(header func(string) string, now time.Time) time.Duration {
	if v := strings.TrimSpace(header("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && !math.IsInf(ms, 0) {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := strings.TrimSpace(header("retry-after")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			if s > 0 && s < math.MaxInt32 {
				return time.Duration(s * float64(time.Second))
			}
			return 0
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
			return 0
		}
	}
	var latest time.Duration
	for _, limit := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
		prefix := "anthropic-ratelimit-" + limit
		if strings.TrimSpace(header(prefix+"-remaining")) != "0" {
			continue
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(header(prefix+"-reset")))
		if err != nil {
			continue
		}
		if d := t.Sub(now); d > latest {
			latest = d
		}
	}
	return latest
}
