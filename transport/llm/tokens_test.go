package llm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEstimateTokens(t *testing.T) {
	tests := []struct {
		name         string
		req          Request
		prompt, want int
	}{
		{"empty", Request{}, 0, 0},
		{"four bytes are a token", Request{System: "abcd"}, 1, 1},
		{"rounded up", Request{System: "abcde"}, 2, 2},
		{"system, messages and schema count", Request{System: strings.Repeat("s", 40),
			Messages: []Message{{Role: "user", Content: strings.Repeat("u", 400)}, {Role: "assistant", Content: strings.Repeat("a", 160)}},
			Schema:   []byte(strings.Repeat("x", 200))}, 200, 200},
		{"plus the answer cap asked", Request{Messages: []Message{{Role: "user", Content: strings.Repeat("u", 400)}}, MaxTokens: 8192}, 100, 8292},
		{"multi-byte text counts its bytes", Request{System: "ééé"}, 2, 2},
		{"a negative cap counts nothing", Request{System: "abcd", MaxTokens: -5}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.prompt, PromptTokens(&tt.req))
			require.Equal(t, tt.want, EstimateTokens(&tt.req))
		})
	}
}
