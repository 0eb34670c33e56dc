package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

const testKey = "test-key-123"

// smallSchema is a JSON Schema as the answer-spec builder writes it (sorted keys).
const smallSchema = `{"additionalProperties":false,"properties":{"name":{"type":"string"},"age":{"type":["integer","null"]}},"required":["name","age"],"type":"object"}`

func newTestClient(t *testing.T, srv *llmtest.GeminiServer, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: srv.URL + "/", APIKey: testKey}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

func smallRequest() *llm.Request {
	return &llm.Request{
		Model:  "gemini-2.5-pro",
		System: "Extract a person.",
		Messages: []llm.Message{
			{Role: "user", Content: "Alice is 30"},
			{Role: "assistant", Content: "{}"},
			{Role: "user", Content: "Again."},
		},
		Schema:    json.RawMessage(smallSchema),
		MaxTokens: 512,
		Hints:     &llm.Hints{CallKind: "enrichment", ModelKey: "secret-hint"},
	}
}

func TestCompleteGoldenRequest(t *testing.T) {
	t.Parallel()
	const head = `{"contents":[{"role":"user","parts":[{"text":"Alice is 30"}]},{"role":"model","parts":[{"text":"{}"}]},{"role":"user","parts":[{"text":"Again."}]}],"systemInstruction":{"role":"user","parts":[{"text":"Extract a person."}]},"generationConfig":{"temperature":0,"maxOutputTokens":512,"responseMimeType":"application/json",`
	tests := []struct {
		name  string
		field string
		want  string
	}{
		{"json schema verbatim", "", head + `"responseJsonSchema":` + smallSchema + `}}`},
		{"openapi subset", SchemaFieldOpenAPI, head + `"responseSchema":{"properties":{"age":{"nullable":true,"type":"INTEGER"},"name":{"type":"STRING"}},"propertyOrdering":["name","age"],"required":["name","age"],"type":"OBJECT"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewGeminiServer(t)
			srv.APIKey = testKey
			c := newTestClient(t, srv, func(cfg *Config) { cfg.SchemaField = tt.field })
			resp, err := c.Complete(context.Background(), smallRequest())
			require.NoError(t, err)
			require.JSONEq(t, `{"name":"x","age":1}`, resp.Text)
			require.Equal(t, "STOP", resp.StopReason)
			require.Positive(t, resp.Usage.InputTokens)
			require.Positive(t, resp.Usage.OutputTokens)

			reqs := srv.Requests()
			require.Len(t, reqs, 1)
			got := reqs[0]
			require.Equal(t, tt.want, string(got.Body))
			require.Equal(t, http.MethodPost, got.Method)
			require.Equal(t, "/v1beta/models/gemini-2.5-pro:generateContent", got.Path)
			require.Empty(t, got.Query, "the key must never be in the URL")
			require.Equal(t, testKey, got.Header.Get("x-goog-api-key"))
			require.Equal(t, "application/json", got.Header.Get("Content-Type"))
			require.NotContains(t, string(got.Body), "secret-hint")
		})
	}
}

func TestCompleteParsesAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		wantText string
		wantStop string
		wantUse  llm.Usage
		wantKind llm.ErrorKind
		wantMsg  string
	}{
		{
			name: "thoughts skipped, parts joined, cached and thinking tokens",
			body: `{"candidates":[{"content":{"parts":[{"text":"thinking...","thought":true},{"text":"{\"a\":"},{"text":"1}"}],"role":"model"},"finishReason":"STOP","index":0}],
				"usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":60,"candidatesTokenCount":9,"thoughtsTokenCount":19,"totalTokenCount":128}}`,
			wantText: `{"a":1}`, wantStop: "STOP",
			wantUse: llm.Usage{InputTokens: 40, OutputTokens: 28, CacheReadTokens: 60},
		},
		{
			name:     "truncated text is returned with its stop reason",
			body:     `{"candidates":[{"content":{"parts":[{"text":"{\"a\":"}]},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3}}`,
			wantText: `{"a":`, wantStop: "MAX_TOKENS", wantUse: llm.Usage{InputTokens: 5, OutputTokens: 3},
		},
		{name: "safety refusal", body: `{"candidates":[{"finishReason":"SAFETY","index":0}]}`, wantKind: llm.KindBadRequest, wantMsg: "SAFETY"},
		{name: "recitation refusal", body: `{"candidates":[{"content":{"parts":[{"text":"{}"}]},"finishReason":"RECITATION"}]}`, wantKind: llm.KindBadRequest, wantMsg: "RECITATION"},
		{name: "prohibited content", body: `{"candidates":[{"finishReason":"PROHIBITED_CONTENT"}]}`, wantKind: llm.KindBadRequest, wantMsg: "PROHIBITED_CONTENT"},
		{name: "prompt blocked", body: `{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":7}}`, wantKind: llm.KindBadRequest, wantMsg: "prompt blocked"},
		{name: "thinking spent the budget", body: `{"candidates":[{"content":{"role":"model"},"finishReason":"MAX_TOKENS"}]}`, wantKind: llm.KindServerError, wantMsg: "empty answer"},
		{name: "only thoughts", body: `{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true}]},"finishReason":"STOP"}]}`, wantKind: llm.KindServerError, wantMsg: "empty answer"},
		{name: "no candidates", body: `{"usageMetadata":{"promptTokenCount":7}}`, wantKind: llm.KindServerError, wantMsg: "no candidates"},
		{name: "not JSON", body: `<html>`, wantKind: llm.KindServerError, wantMsg: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewGeminiServer(t)
			srv.Script(func(int, []byte) llmtest.GeminiReply { return llmtest.GeminiReply{Status: 200, Body: tt.body} })
			resp, err := newTestClient(t, srv, nil).Complete(context.Background(), smallRequest())
			if tt.wantKind != "" {
				var e *llm.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, tt.wantKind, e.Kind)
				require.Contains(t, e.Message, tt.wantMsg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantText, resp.Text)
			require.Equal(t, tt.wantStop, resp.StopReason)
			require.Equal(t, tt.wantUse, resp.Usage)
		})
	}
}

func TestCompleteErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		headers   map[string]string
		body      string
		wantKind  llm.ErrorKind
		wantAfter time.Duration
		wantMsg   string
	}{
		{"429 with RetryInfo", 429, nil, llmtest.GeminiErrorBody(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.", "13s"), llm.KindRateLimited, 13 * time.Second, "current quota"},
		{"429 fractional RetryInfo wins over header", 429, map[string]string{"Retry-After": "30"}, llmtest.GeminiErrorBody(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", "1.5s"), llm.KindRateLimited, 1500 * time.Millisecond, "RESOURCE_EXHAUSTED"},
		{"429 retry-after header", 429, map[string]string{"Retry-After": "7"}, llmtest.GeminiErrorBody(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", ""), llm.KindRateLimited, 7 * time.Second, "exhausted"},
		{"429 quota without retry hint", 429, nil, llmtest.GeminiErrorBody(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.", ""), llm.KindQuotaExhausted, 0, "quota"},
		{"429 plain", 429, nil, llmtest.GeminiErrorBody(429, "RESOURCE_EXHAUSTED", "Too many requests", ""), llm.KindRateLimited, 0, "Too many"},
		{"503 overloaded", 503, nil, llmtest.GeminiErrorBody(503, "UNAVAILABLE", "The model is overloaded. Please try again later.", ""), llm.KindOverloaded, 0, "overloaded"},
		{"529", 529, nil, `{}`, llm.KindOverloaded, 0, ""},
		{"500", 500, nil, llmtest.GeminiErrorBody(500, "INTERNAL", "An internal error has occurred.", ""), llm.KindServerError, 0, "internal error"},
		{"504", 504, nil, llmtest.GeminiErrorBody(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", ""), llm.KindServerError, 0, "Deadline"},
		{"502 html", 502, nil, `<html>bad gateway</html>`, llm.KindServerError, 0, "bad gateway"},
		{"400 context length", 400, nil, llmtest.GeminiErrorBody(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", ""), llm.KindContextLength, 0, "input token count"},
		{"400 bad schema", 400, nil, llmtest.GeminiErrorBody(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", ""), llm.KindBadRequest, 0, "INVALID_ARGUMENT: Invalid JSON"},
		{"401", 401, nil, llmtest.GeminiErrorBody(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", ""), llm.KindAuth, 0, "credentials"},
		{"403", 403, nil, llmtest.GeminiErrorBody(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers", ""), llm.KindAuth, 0, "PERMISSION_DENIED"},
		{"404", 404, nil, llmtest.GeminiErrorBody(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta", ""), llm.KindModelNotFound, 0, "not found"},
		{"409 other 4xx", 409, nil, `{"error":{"code":409,"message":"conflict","status":"ABORTED"}}`, llm.KindBadRequest, 0, "ABORTED: conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewGeminiServer(t)
			srv.Script(func(int, []byte) llmtest.GeminiReply {
				return llmtest.GeminiReply{Status: tt.status, Headers: tt.headers, Body: tt.body}
			})
			_, err := newTestClient(t, srv, nil).Complete(context.Background(), smallRequest())
			var e *llm.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.wantKind, e.Kind)
			require.Equal(t, tt.status, e.Status)
			require.Equal(t, tt.wantAfter, e.RetryAfter)
			require.Contains(t, e.Message, tt.wantMsg)
			require.NotContains(t, err.Error(), testKey)
		})
	}
}

func TestFakeRejectsWhatTheAPIRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mod      func(*Config)
		req      func(*llm.Request)
		wantKind llm.ErrorKind
	}{
		{"unknown model path still answers", nil, func(r *llm.Request) { r.Model = "gemini-x" }, ""},
		{"wrong key", func(c *Config) { c.APIKey = "other" }, nil, llm.KindBadRequest},
		{"no schema is free-form", nil, func(r *llm.Request) { r.Schema = nil }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewGeminiServer(t)
			srv.APIKey = testKey
			req := smallRequest()
			if tt.req != nil {
				tt.req(req)
			}
			_, err := newTestClient(t, srv, tt.mod).Complete(context.Background(), req)
			if tt.wantKind == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tt.wantKind, llm.KindOf(err))
		})
	}
}

func TestCompleteRejectsBadRequestsLocally(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*llm.Request)
		want string
	}{
		{"system role in messages", func(r *llm.Request) { r.Messages[0].Role = "system" }, `role "system"`},
		{"no messages", func(r *llm.Request) { r.Messages = nil }, "no messages"},
		{"invalid schema JSON", func(r *llm.Request) { r.Schema = json.RawMessage(`{"type":`) }, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewGeminiServer(t)
			req := smallRequest()
			tt.mod(req)
			_, err := newTestClient(t, srv, nil).Complete(context.Background(), req)
			var e *llm.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, llm.KindBadRequest, e.Kind)
			require.Contains(t, e.Message, tt.want)
			require.Empty(t, srv.Requests())
		})
	}
}

func TestCompleteReusesConnection(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewGeminiServer(t)
	c := newTestClient(t, srv, nil)
	for range 3 {
		_, err := c.Complete(context.Background(), smallRequest())
		require.NoError(t, err)
	}
	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, reqs[0].RemoteAddr, reqs[2].RemoteAddr)
}

func TestCompleteCancelClosesConnection(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewGeminiServer(t)
	srv.Script(func(int, []byte) llmtest.GeminiReply { return llmtest.GeminiReply{Stall: true} })
	c := newTestClient(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Complete(ctx, smallRequest())
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, llm.KindCancelled, llm.KindOf(err))
	require.True(t, errors.Is(err, context.Canceled))
	select {
	case <-srv.Disconnected():
	case <-time.After(time.Second):
		t.Fatal("the fake did not see the connection close")
	}
	require.Equal(t, 1, srv.Disconnects())

	// The client still works after a cancelled call.
	srv.Script(nil)
	_, err = c.Complete(context.Background(), smallRequest())
	require.NoError(t, err)
}

func TestCompleteTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mod     func(*Config)
		ctxWait time.Duration
		wantMsg string
	}{
		{"call timeout", func(c *Config) { c.Timeout = 200 * time.Millisecond }, 0, "in time"},
		{"first byte timeout", func(c *Config) { c.FirstByteTimeout = 150 * time.Millisecond }, 0, "first"},
		{"ctx deadline", nil, 200 * time.Millisecond, "in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.NewGeminiServer(t)
			srv.Script(func(int, []byte) llmtest.GeminiReply { return llmtest.GeminiReply{Stall: true} })
			ctx := context.Background()
			if tt.ctxWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxWait)
				defer cancel()
			}
			start := time.Now()
			_, err := newTestClient(t, srv, tt.mod).Complete(ctx, smallRequest())
			require.Less(t, time.Since(start), 2*time.Second)
			var e *llm.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, llm.KindTimeout, e.Kind)
			require.Contains(t, e.Message, tt.wantMsg)
			select {
			case <-srv.Disconnected():
			case <-time.After(time.Second):
				t.Fatal("the fake did not see the connection close")
			}
		})
	}
}

func TestCompleteResponseSizeCap(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewGeminiServer(t)
	big := `{"candidates":[{"content":{"parts":[{"text":"` + strings.Repeat("x", 8192) + `"}]},"finishReason":"STOP"}]}`
	srv.Script(func(int, []byte) llmtest.GeminiReply { return llmtest.GeminiReply{Status: 200, Body: big} })
	c := newTestClient(t, srv, func(cfg *Config) { cfg.MaxResponseBytes = 4096 })
	_, err := c.Complete(context.Background(), smallRequest())
	var e *llm.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, llm.KindServerError, e.Kind)
	require.Contains(t, e.Message, "larger than 4096")

	c = newTestClient(t, srv, func(cfg *Config) { cfg.MaxResponseBytes = 16384 })
	resp, err := c.Complete(context.Background(), smallRequest())
	require.NoError(t, err)
	require.Len(t, resp.Text, 8192)
}

func TestCompleteNetworkError(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewGeminiServer(t)
	url := srv.URL
	srv.Close()
	c, err := New(Config{BaseURL: url, APIKey: testKey})
	require.NoError(t, err)
	_, err = c.Complete(context.Background(), smallRequest())
	var e *llm.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, llm.KindServerError, e.Kind)
	require.Zero(t, e.Status)
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{APIKey: "k"}, ""},
		{"no key", Config{}, "APIKey"},
		{"relative base URL", Config{APIKey: "k", BaseURL: "localhost:80"}, "BaseURL"},
		{"unknown schema field", Config{APIKey: "k", SchemaField: "schema"}, "SchemaField"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, DefaultBaseURL, c.cfg.BaseURL)
			require.Equal(t, DefaultTimeout, c.cfg.Timeout)
			require.Equal(t, SchemaFieldJSON, c.cfg.SchemaField)
		})
	}
}

func TestCompleteCancelClosesOnlyItsConnection(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewGeminiServer(t)
	srv.Script(func(_ int, body []byte) llmtest.GeminiReply {
		if strings.Contains(string(body), "stall me") {
			return llmtest.GeminiReply{Stall: true}
		}
		time.Sleep(300 * time.Millisecond)
		return llmtest.GeminiReply{}
	})
	c := newTestClient(t, srv, nil)
	slow := make(chan error, 1)
	go func() {
		_, err := c.Complete(context.Background(), smallRequest())
		slow <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	stalled := smallRequest()
	stalled.Messages[0].Content = "stall me"
	_, err := c.Complete(ctx, stalled)
	require.Equal(t, llm.KindCancelled, llm.KindOf(err))
	require.NoError(t, <-slow, "the concurrent call must not be affected")
	select {
	case <-srv.Disconnected():
	case <-time.After(time.Second):
		t.Fatal("the fake did not see the connection close")
	}
	require.Equal(t, 1, srv.Disconnects())
}
