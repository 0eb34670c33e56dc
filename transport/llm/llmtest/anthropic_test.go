package llmtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const anthropicTestKey = "sk-ant-fake"

// anthropicPost sends body to the fake with headers and returns the status and decoded body.
func anthropicPost(t *testing.T, url, path string, headers map[string]string, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &out), "body %s", raw)
	return resp.StatusCode, out
}

func TestAnthropicServerChecks(t *testing.T) {
	okHeaders := map[string]string{"x-api-key": anthropicTestKey, "anthropic-version": "2023-06-01", "content-type": "application/json"}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range okHeaders {
			h[a] = b
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	okBody := `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name       string
		path       string
		headers    map[string]string
		body       string
		wantStatus int
		wantType   string // error.type, "" for success
		wantMsg    string
		// wantViolation is a fragment of the expected spec violation; "" when the exchange is
		// valid per the Anthropic description (the fake's own checks go further).
		wantViolation string
	}{
		{name: "ok", headers: okHeaders, body: okBody, wantStatus: 200},
		{name: "bearer ok", headers: map[string]string{"authorization": "Bearer " + anthropicTestKey,
			"anthropic-version": "2026-10-21", "content-type": "application/json"}, body: okBody, wantStatus: 200},
		{name: "wrong key", headers: with("x-api-key", "nope"), body: okBody, wantStatus: 401, wantType: "authentication_error"},
		{name: "no key", headers: with("x-api-key", ""), body: okBody, wantStatus: 401, wantType: "authentication_error"},
		{name: "no version", headers: with("anthropic-version", ""), body: okBody, wantStatus: 400,
			wantType: "invalid_request_error", wantMsg: "anthropic-version"},
		{name: "bad version", headers: with("anthropic-version", "2024-01-01"), body: okBody, wantStatus: 400, wantType: "invalid_request_error"},
		{name: "wrong path", path: "/v1/complete", headers: okHeaders, body: okBody, wantStatus: 404, wantType: "not_found_error",
			wantViolation: "'/v1/complete' not found"},
		{name: "unknown field", headers: okHeaders, body: `{"model":"m","max_tokens":10,"temprature":0,"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400, wantType: "invalid_request_error", wantMsg: "temprature: Extra inputs are not permitted",
			wantViolation: "additional properties 'temprature' not allowed"},
		{name: "max_tokens as a string", headers: okHeaders, body: `{"model":"m","max_tokens":"10","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400, wantType: "invalid_request_error", wantMsg: "max_tokens", wantViolation: "max_tokens"},
		{name: "no max_tokens", headers: okHeaders, body: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400, wantMsg: "max_tokens: Field required", wantViolation: "missing property 'max_tokens'"},
		{name: "system role", headers: okHeaders, body: `{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"hi"}]}`,
			wantStatus: 400, wantMsg: "messages.0.role", wantViolation: "messages[0].role"},
		{name: "no messages", headers: okHeaders, body: `{"model":"m","max_tokens":1,"messages":[]}`, wantStatus: 400, wantMsg: "messages"},
		{name: "tool schema not object", headers: okHeaders, body: `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}],` +
			`"tools":[{"name":"t","input_schema":{"type":"array"}}]}`, wantStatus: 400, wantMsg: "tools.0.input_schema.type",
			wantViolation: "tools[0].input_schema.type"},
		{name: "forced unknown tool", headers: okHeaders, body: `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}],` +
			`"tools":[{"name":"t","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"u"}}`, wantStatus: 400, wantMsg: "tool_choice.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewAnthropicServer(t, anthropicTestKey)
			path := tt.path
			if path == "" {
				path = "/v1/messages"
			}
			status, out := anthropicPost(t, s.URL, path, tt.headers, tt.body)
			require.Equal(t, tt.wantStatus, status)
			require.Len(t, s.Requests(), 1)
			v := s.TakeViolations()
			if tt.wantViolation == "" {
				require.Empty(t, v)
			} else {
				require.NotEmpty(t, v)
				require.Contains(t, strings.Join(v, "\n"), tt.wantViolation)
			}
			if tt.wantStatus == 200 {
				require.Equal(t, "message", out["type"])
				require.Equal(t, "end_turn", out["stop_reason"])
				return
			}
			require.Equal(t, "error", out["type"])
			e := out["error"].(map[string]any)
			if tt.wantType != "" {
				require.Equal(t, tt.wantType, e["type"])
			}
			require.Contains(t, e["message"], tt.wantMsg)
		})
	}
}

func TestAnthropicServerForcedToolAnswer(t *testing.T) {
	s := NewAnthropicServer(t, "")
	schema := `{"type":"object","properties":{` +
		`"name":{"type":"object","properties":{"en":{"type":"string"},"fr":{"type":["string","null"]}},"required":["en","fr"]},` +
		`"age":{"type":"integer"},"score":{"type":"number"},"ok":{"type":"boolean"},` +
		`"tags":{"type":"array","items":{"type":"string"}},"status":{"type":"string","enum":["match","mismatch"]},` +
		`"nothing":{"type":"null"}}}`
	body := `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}],` +
		`"tools":[{"name":"record_answer","input_schema":` + schema + `}],"tool_choice":{"type":"tool","name":"record_answer"}}`
	status, out := anthropicPost(t, s.URL, "/v1/messages", map[string]string{"anthropic-version": "2023-06-01", "content-type": "application/json"}, body)
	require.Equal(t, 200, status)
	require.Equal(t, "tool_use", out["stop_reason"])
	content := out["content"].([]any)
	require.Len(t, content, 1)
	block := content[0].(map[string]any)
	require.Equal(t, "tool_use", block["type"])
	require.Equal(t, "record_answer", block["name"])
	require.Equal(t, map[string]any{
		"name": map[string]any{"en": "x", "fr": "x"}, "age": 1.0, "score": 1.5, "ok": true,
		"tags": []any{"x"}, "status": "match", "nothing": nil,
	}, block["input"])
	usage := out["usage"].(map[string]any)
	for _, k := range []string{"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"} {
		require.Contains(t, usage, k)
	}
	require.Positive(t, usage["input_tokens"])
}

func TestAnthropicServerScriptAndStall(t *testing.T) {
	s := NewAnthropicServer(t, "")
	s.Script(func(n int, body []byte) AnthropicReply {
		if n == 1 {
			return AnthropicReply{Status: 429, Headers: map[string]string{"retry-after": "3"},
				Body: AnthropicErrorBody("rate_limit_error", "slow down")}
		}
		return AnthropicReply{Stall: true}
	})
	headers := map[string]string{"anthropic-version": "2023-06-01", "content-type": "application/json"}
	body := `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	status, out := anthropicPost(t, s.URL, "/v1/messages", headers, body)
	require.Equal(t, 429, status)
	require.Equal(t, "rate_limit_error", out["error"].(map[string]any)["type"])

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/messages", strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err)
	select {
	case <-s.Disconnected():
	case <-time.After(2 * time.Second):
		t.Fatal("the fake did not record the disconnect")
	}
	require.Len(t, s.Requests(), 2)
}
