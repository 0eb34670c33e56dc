package anthropic

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

func TestCompleteReportsBudgets(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headers map[string]string
		want    *llm.RateLimit
	}{
		{"remaining and reset", map[string]string{"anthropic-ratelimit-requests-remaining": "0",
			"anthropic-ratelimit-requests-reset": "2026-01-01T12:00:07Z"}, &llm.RateLimit{RemainingRequests: 0, Reset: 7 * time.Second}},
		{"budget left", map[string]string{"anthropic-ratelimit-requests-remaining": "41",
			"anthropic-ratelimit-requests-reset": "2026-01-01T12:00:30Z"}, &llm.RateLimit{RemainingRequests: 41, Reset: 30 * time.Second}},
		{"tokens too", map[string]string{"anthropic-ratelimit-requests-remaining": "41",
			"anthropic-ratelimit-requests-reset": "2026-01-01T12:00:30Z", "anthropic-ratelimit-tokens-remaining": "0",
			"anthropic-ratelimit-tokens-reset": "2026-01-01T12:00:02Z"},
			&llm.RateLimit{RemainingRequests: 41, Reset: 30 * time.Second, Tokens: &llm.TokenLimit{Remaining: 0, Reset: 2 * time.Second}}},
		{"tokens only", map[string]string{"anthropic-ratelimit-tokens-remaining": "12000",
			"anthropic-ratelimit-tokens-reset": "2026-01-01T12:00:04Z"},
			&llm.RateLimit{RemainingRequests: -1, Tokens: &llm.TokenLimit{Remaining: 12000, Reset: 4 * time.Second}}},
		{"tokens without reset", map[string]string{"anthropic-ratelimit-tokens-remaining": "12000"}, nil},
		{"no headers", nil, nil},
		{"reset in the past", map[string]string{"anthropic-ratelimit-requests-remaining": "0",
			"anthropic-ratelimit-requests-reset": "2026-01-01T11:59:00Z"}, nil},
		{"bad count", map[string]string{"anthropic-ratelimit-requests-remaining": "many",
			"anthropic-ratelimit-requests-reset": "2026-01-01T12:00:07Z"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config) { c.NowFunc = func() time.Time { return now } })
			b.fake.Script(func(int, []byte) llmtest.AnthropicReply { return llmtest.AnthropicReply{Headers: tt.headers} })
			resp, err := b.client.Complete(context.Background(), personRequest())
			require.NoError(t, err)
			require.Equal(t, tt.want, resp.RateLimit)
		})
	}
}
