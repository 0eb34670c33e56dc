package llmtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSpecFindsViolations proves the fakes' spec check can fail: a valid exchange of each
// vendor passes, and each deliberately wrong request or response (a missing required field, a
// wrong type, an unknown enum value, an undocumented content type, status, path or header
// value) is reported with a violation naming what is wrong.
func TestSpecFindsViolations(t *testing.T) {
	t.Parallel()
	const (
		oaReq  = `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5}`
		oaResp = `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,` +
			`"message":{"role":"assistant","content":"hi","refusal":null},"finish_reason":"stop","logprobs":null}]}`
		oaErr  = `{"error":{"message":"slow down","type":"requests","param":null,"code":null}}`
		anReq  = `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
		anResp = `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi"}],` +
			`"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`
		anErr = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	)
	tests := []struct {
		name   string
		spec   *spec
		path   string // "" is the operation's path
		header map[string]string
		// request is the request body; the response is checked instead when status is set.
		request string
		status  int
		body    string
		// wantViolation is a fragment of the expected violation; "" when the exchange is valid.
		wantViolation string
	}{
		{name: "openai valid request", spec: openAISpec, request: oaReq},
		{name: "openai request missing messages", spec: openAISpec, request: `{"model":"m"}`,
			wantViolation: "missing property 'messages'"},
		{name: "openai request wrong type", spec: openAISpec, request: strings.Replace(oaReq, `5}`, `"5"}`, 1),
			wantViolation: "$.max_completion_tokens"},
		{name: "openai request unknown role", spec: openAISpec, request: strings.Replace(oaReq, `"user"`, `"robot"`, 1),
			wantViolation: "$.messages[0].role"},
		{name: "openai request unknown field", spec: openAISpec, request: strings.TrimSuffix(oaReq, `}`) + `,"temprature":1}`,
			wantViolation: "temprature"},
		{name: "openai request not JSON", spec: openAISpec, request: `{"model":`, wantViolation: "not JSON"},
		{name: "openai request missing body", spec: openAISpec, request: " ", wantViolation: "body: missing"},
		{name: "openai request text/plain", spec: openAISpec, header: map[string]string{"Content-Type": "text/plain"},
			request: oaReq, wantViolation: `content type "text/plain" is not documented`},
		{name: "openai wrong path", spec: openAISpec, path: "/v1/completions", request: oaReq,
			wantViolation: "'/v1/completions' not found"},
		{name: "openai valid response", spec: openAISpec, status: 200, body: oaResp},
		{name: "openai response missing id", spec: openAISpec, status: 200, body: strings.Replace(oaResp, `"id":"c1",`, "", 1),
			wantViolation: "missing property 'id'"},
		{name: "openai response wrong type", spec: openAISpec, status: 200, body: strings.Replace(oaResp, `"created":1`, `"created":"1"`, 1),
			wantViolation: "$.created"},
		{name: "openai response unknown finish_reason", spec: openAISpec, status: 200,
			body: strings.Replace(oaResp, `"stop"`, `"exploded"`, 1), wantViolation: "$.choices[0].finish_reason"},
		{name: "openai response not JSON", spec: openAISpec, status: 200, body: `<html>`, wantViolation: "not JSON"},
		{name: "openai response empty", spec: openAISpec, status: 408, body: ""}, // a response body is optional
		{name: "openai response text/html", spec: openAISpec, status: 200, header: map[string]string{"Content-Type": "text/html"},
			body: oaResp, wantViolation: `content type "text/html" is not documented`},
		{name: "openai valid 429", spec: openAISpec, status: 429, header: map[string]string{"Retry-After": "7"}, body: oaErr},
		{name: "openai 429 retry-after below its minimum", spec: openAISpec, status: 429,
			header: map[string]string{"Retry-After": "0"}, body: oaErr, wantViolation: "header Retry-After"},
		{name: "openai 429 retry-after not a number", spec: openAISpec, status: 429,
			header: map[string]string{"Retry-After": "soon"}, body: oaErr, wantViolation: "header Retry-After"},
		{name: "openai 500 via default", spec: openAISpec, status: 500, body: strings.Replace(oaErr, `"param":null,`, "", 1),
			wantViolation: "missing property 'param'"},
		{name: "anthropic valid request", spec: anthropicSpec, request: anReq},
		{name: "anthropic request missing max_tokens", spec: anthropicSpec, request: strings.Replace(anReq, `"max_tokens":10,`, "", 1),
			wantViolation: "missing property 'max_tokens'"},
		{name: "anthropic request wrong type", spec: anthropicSpec, request: strings.Replace(anReq, `10`, `"10"`, 1),
			wantViolation: "$.max_tokens"},
		{name: "anthropic request unknown role", spec: anthropicSpec, request: strings.Replace(anReq, `"user"`, `"system"`, 1),
			wantViolation: "$.messages[0].role"},
		{name: "anthropic valid response", spec: anthropicSpec, status: 200, body: anResp},
		{name: "anthropic response missing usage", spec: anthropicSpec, status: 200,
			body: strings.Replace(anResp, `,"usage":{"input_tokens":1,"output_tokens":1}`, "", 1), wantViolation: "missing property 'usage'"},
		{name: "anthropic response unknown stop_reason", spec: anthropicSpec, status: 200,
			body: strings.Replace(anResp, `"end_turn"`, `"exploded"`, 1), wantViolation: "$.stop_reason"},
		{name: "anthropic response unknown block type", spec: anthropicSpec, status: 200,
			body: strings.Replace(anResp, `"type":"text"`, `"type":"video"`, 1), wantViolation: "$.content[0]"},
		{name: "anthropic valid 529 via 5XX", spec: anthropicSpec, status: 529, body: anErr},
		{name: "anthropic 529 unknown error type", spec: anthropicSpec, status: 529,
			body: strings.Replace(anErr, `overloaded_error`, `sleepy_error`, 1), wantViolation: "$.error"},
		{name: "anthropic undocumented status", spec: anthropicSpec, status: 302, body: anResp,
			wantViolation: "status 302 is not documented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op, err := tt.spec.load()
			require.NoError(t, err)
			path := tt.path
			if path == "" {
				path = op.path
			}
			r, err := http.NewRequest(http.MethodPost, "http://fake"+path, strings.NewReader(tt.request))
			require.NoError(t, err)
			r.Header.Set("Content-Type", "application/json")
			header := http.Header{"Content-Type": {"application/json"}}
			for k, v := range tt.header {
				r.Header.Set(k, v)
				header.Set(k, v)
			}
			var got []string
			if tt.status == 0 {
				got = tt.spec.checkRequest(r, []byte(tt.request))
			} else {
				got = tt.spec.checkResponse(r, tt.status, header, []byte(tt.body))
			}
			if tt.wantViolation == "" {
				require.Empty(t, got)
				return
			}
			require.NotEmpty(t, got)
			require.Contains(t, strings.Join(got, "\n"), tt.wantViolation)
		})
	}
}

// TestSpecResolvesStatuses checks the OpenAPI order for a response status: the exact code,
// then its range, then "default"; and that without "default" an unlisted status is a violation.
func TestSpecResolvesStatuses(t *testing.T) {
	t.Parallel()
	obj := func(field string) map[string]any {
		return map[string]any{"description": field, "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"type": "object", "required": []any{field}}}}}
	}
	doc := map[string]any{"openapi": "3.0.3", "servers": []any{map[string]any{"url": "https://x.invalid/api/"}},
		"paths": map[string]any{"/op": map[string]any{"post": map[string]any{"responses": map[string]any{
			"200": obj("exact"), "2XX": obj("range"), "default": obj("fallback")}}}}}
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	op, err := compileOperation("T", raw)
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, "http://fake/api/op", nil)
	require.NoError(t, err)
	header := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		status int
		want   string // the property the status's schema requires
	}{{200, "exact"}, {201, "range"}, {299, "range"}, {404, "fallback"}, {500, "fallback"}}
	for _, tt := range tests {
		require.Empty(t, op.checkResponse(r, tt.status, header, []byte(`{"`+tt.want+`":1}`)), tt.status)
		require.Contains(t, strings.Join(op.checkResponse(r, tt.status, header, []byte(`{}`)), "\n"),
			"missing property '"+tt.want+"'", tt.status)
	}

	delete(doc["paths"].(map[string]any)["/op"].(map[string]any)["post"].(map[string]any)["responses"].(map[string]any), "default")
	raw, err = json.Marshal(doc)
	require.NoError(t, err)
	op, err = compileOperation("T", raw)
	require.NoError(t, err)
	require.Contains(t, strings.Join(op.checkResponse(r, 404, header, []byte(`{}`)), "\n"), "status 404 is not documented")
}

// TestTranslate30 checks the OpenAPI 3.0 keywords become their JSON Schema equivalents.
func TestTranslate30(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"openapi": "3.0.3", "paths": map[string]any{"/op": map[string]any{"post": map[string]any{
		"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"type": "object", "required": []any{"a", "n"}, "properties": map[string]any{
				"a": map[string]any{"type": "string", "nullable": true, "enum": []any{"x"}, "example": map[string]any{"nullable": true}},
				"n": map[string]any{"type": "integer", "minimum": 0, "exclusiveMinimum": true},
			}}}}},
		"responses": map[string]any{"default": map[string]any{"description": "any"}}}}}}
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	raw, err = trimSpec(raw, "/op", "post", func(_, _ map[string]any) {})
	require.NoError(t, err)
	op, err := compileOperation("T", raw)
	require.NoError(t, err)
	r, err := http.NewRequest(http.MethodPost, "http://fake/op", nil)
	require.NoError(t, err)
	r.Header.Set("Content-Type", "application/json")
	for body, want := range map[string]string{
		`{"a":null,"n":1}`: "",
		`{"a":"x","n":1}`:  "",
		`{"a":"y","n":1}`:  "$.a",
		`{"a":"x","n":0}`:  "$.n",
	} {
		got := op.checkRequest(r, []byte(body))
		if want == "" {
			require.Empty(t, got, body)
			continue
		}
		require.Contains(t, strings.Join(got, "\n"), want, body)
	}
}
