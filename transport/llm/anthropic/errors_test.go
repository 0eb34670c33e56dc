package anthropic

import (
	"strings"
	"testing"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/stretchr/testify/require"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{name: "none", want: 0},
		{name: "seconds", headers: map[string]string{"retry-after": "12"}, want: 12 * time.Second},
		{name: "fractional seconds", headers: map[string]string{"retry-after": "0.5"}, want: 500 * time.Millisecond},
		{name: "milliseconds win", headers: map[string]string{"retry-after-ms": "250", "retry-after": "9"}, want: 250 * time.Millisecond},
		{name: "bad milliseconds fall back", headers: map[string]string{"retry-after-ms": "soon", "retry-after": "3"}, want: 3 * time.Second},
		{name: "HTTP date", headers: map[string]string{"retry-after": "Sun, 29 Nov 2026 12:00:30 GMT"}, want: 30 * time.Second},
		{name: "HTTP date in the past", headers: map[string]string{"retry-after": "Sun, 29 Nov 2026 11:00:00 GMT"}, want: 0},
		{name: "negative", headers: map[string]string{"retry-after": "-4"}, want: 0},
		{name: "garbage", headers: map[string]string{"retry-after": "later"}, want: 0},
		{name: "exhausted limit reset", headers: map[string]string{
			"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "2026-11-29T12:00:04Z",
			"anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": "2026-11-29T12:00:09Z",
			"anthropic-ratelimit-input-tokens-remaining": "500", "anthropic-ratelimit-input-tokens-reset": "2026-11-29T12:01:00Z",
		}, want: 9 * time.Second},
		{name: "retry-after beats limit reset", headers: map[string]string{"retry-after": "2",
			"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "2026-11-29T12:00:04Z"}, want: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := func(k string) string { return tt.headers[k] }
			require.Equal(t, tt.want, retryAfter(h, now))
		})
	}
}

func TestStatusErrorMessage(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "vendor body", body: `{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"r"}`,
			want: "Internal server error"},
		{name: "empty body", body: "", want: "HTTP 500 Internal Server Error"},
		{name: "long raw body is cut on a rune boundary", body: long,
			want: "HTTP 500 Internal Server Error: " + long[:200] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := statusError(500, func(string) string { return "" }, []byte(tt.body), time.Now())
			require.Equal(t, llm.KindServerError, e.Kind)
			require.Equal(t, tt.want, e.Message)
		})
	}
}
