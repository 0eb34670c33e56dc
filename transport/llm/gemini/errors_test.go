package gemini

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "12", 12 * time.Second},
		{"decimal seconds", "0.25", 250 * time.Millisecond},
		{"spaces", " 3 ", 3 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"past http date", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, parseRetryAfter(tt.in, now))
		})
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		details []errorDetail
		want    time.Duration
	}{
		{"none", nil, 0},
		{"retry info", []errorDetail{{Type: "type.googleapis.com/google.rpc.QuotaFailure"}, {Type: "type.googleapis.com/google.rpc.RetryInfo", RetryDelay: "37s"}}, 37 * time.Second},
		{"fractional", []errorDetail{{Type: "type.googleapis.com/google.rpc.RetryInfo", RetryDelay: "0.800s"}}, 800 * time.Millisecond},
		{"unparsable", []errorDetail{{Type: "type.googleapis.com/google.rpc.RetryInfo", RetryDelay: "soon"}}, 0},
		{"delay on another type", []errorDetail{{Type: "type.googleapis.com/google.rpc.Help", RetryDelay: "5s"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, retryDelay(tt.details))
		})
	}
}

func TestStatusErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"google status", 400, `{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}`, "INVALID_ARGUMENT: bad"},
		{"empty body", 500, ``, "Internal Server Error"},
		{"plain text", 502, `upstream reset`, "upstream reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := statusError(tt.status, []byte(tt.body), "", time.Now())
			require.Equal(t, tt.want, e.Message)
			require.Equal(t, tt.status, e.Status)
		})
	}
	long := statusError(500, make([]byte, 5000), "", time.Now())
	require.LessOrEqual(t, len(long.Message), maxMessageBytes+len("…"))
	require.Equal(t, llm.KindServerError, long.Kind)
}
