package openai

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headers map[string]string
		typ     string
		want    time.Duration
	}{
		{name: "none", want: 0},
		{name: "seconds", headers: map[string]string{"retry-after": "7"}, want: 7 * time.Second},
		{name: "fractional seconds", headers: map[string]string{"retry-after": "0.5"}, want: 500 * time.Millisecond},
		{name: "http date", headers: map[string]string{"retry-after": "Sun, 29 Nov 2026 05:00:30 GMT"}, want: 30 * time.Second},
		{name: "http date in the past", headers: map[string]string{"retry-after": "Sun, 29 Nov 2026 04:00:00 GMT"}, want: 0},
		{name: "garbage", headers: map[string]string{"retry-after": "soon"}, want: 0},
		{name: "ms wins", headers: map[string]string{"retry-after-ms": "250", "retry-after": "3"}, want: 250 * time.Millisecond},
		{name: "reset requests exhausted", headers: map[string]string{"x-ratelimit-reset-requests": "1s",
			"x-ratelimit-reset-tokens": "6m0s", "x-ratelimit-remaining-requests": "0"}, want: time.Second},
		{name: "reset chosen by error type", typ: "tokens",
			headers: map[string]string{"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "20ms"}, want: 20 * time.Millisecond},
		{name: "reset unknown bucket takes the longer", headers: map[string]string{"x-ratelimit-reset-requests": "1s",
			"x-ratelimit-reset-tokens": "1m30s"}, want: 90 * time.Second},
		{name: "reset bare seconds", headers: map[string]string{"x-ratelimit-reset-tokens": "2"}, want: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := func(name string) string { return tt.headers[name] }
			require.Equal(t, tt.want, retryAfter(h, tt.typ, now))
		})
	}
}

func TestStatusErrorRetryHintOnlyWhenRetryable(t *testing.T) {
	t.Parallel()
	h := func(name string) string { return map[string]string{"retry-after": "5"}[name] }
	tests := []struct {
		status int
		body   string
		kind   llm.ErrorKind
		retry  time.Duration
	}{
		{429, `{"error":{"message":"quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`, llm.KindQuotaExhausted, 0},
		{400, `{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`, llm.KindBadRequest, 0},
		{408, ``, llm.KindTimeout, 5 * time.Second},
		{422, `{"error":{"message":"Prompt is too long for the context window","type":"x","param":null,"code":null}}`, llm.KindContextLength, 0},
		{500, `{"error":{"message":"x","type":"server_error","param":null,"code":null}}`, llm.KindServerError, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			e := statusError(tt.status, []byte(tt.body), h, time.Time{})
			require.Equal(t, tt.kind, e.Kind)
			require.Equal(t, tt.retry, e.RetryAfter)
			require.NotEmpty(t, e.Message)
		})
	}
}
