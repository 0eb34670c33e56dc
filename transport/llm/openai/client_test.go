package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/llmtest"
	"github.com/entity-enricher/enricher/transport/llm/openai"
	"github.com/entity-enricher/enricher/transport/llm/vendorhttp"
)

const testKey = "sk-test-secret-key"

// personSchema is a small answer schema with an optional field and an example.
const personSchema = `{"type":"object","properties":{"name":{"type":"string","examples":["Ada"]},` +
	`"age":{"type":"integer"}},"required":["name"]}`

func newFake(t *testing.T, flavor llmtest.OpenAIFlavor, key string) *llmtest.OpenAIServer {
	t.Helper()
	s := llmtest.NewOpenAIServer(t, flavor, key)
	return s
}

func newClient(t *testing.T, cfg openai.Config) *openai.Client {
	t.Helper()
	c, err := openai.New(cfg)
	require.NoError(t, err)
	return c
}

func personRequest() *llm.Request {
	return &llm.Request{
		Model: "gpt-4o", System: "Extract the person.", SchemaName: "person", MaxTokens: 512,
		Messages: []llm.Message{{Role: "user", Content: "Alice is 30."}},
		Schema:   json.RawMessage(personSchema),
		Hints:    &llm.Hints{CallKind: "enrichment", ModelKey: "openai::gpt-4o"},
	}
}

func TestCompleteRequestBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		flavor llmtest.OpenAIFlavor
		cfg    openai.Config
		edit   func(*llm.Request)
		want   string
	}{
		{
			name: "openai strict json_schema",
			want: `{"model":"gpt-4o","messages":[{"role":"system","content":"Extract the person."},` +
				`{"role":"user","content":"Alice is 30."}],"temperature":0,"max_completion_tokens":512,` +
				`"response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,` +
				`"schema":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":["integer","null"]}},` +
				`"required":["name","age"],"additionalProperties":false}}}}`,
		},
		{
			name:   "deepseek json_object with schema in the system prompt",
			flavor: llmtest.OpenAIFlavorDeepSeek,
			cfg:    openai.Config{Mode: openai.ModeJSONObject, LegacyMaxTokens: true},
			edit:   func(r *llm.Request) { r.Model = "deepseek-chat" },
			want: `{"model":"deepseek-chat","messages":[{"role":"system","content":"Extract the person.\n\n` +
				`Reply with a single json object, without prose or code fences, that conforms to this JSON Schema:\n` +
				`{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"examples\":[\"Ada\"]},\"age\":{\"type\":\"integer\"}},\"required\":[\"name\"]}"},` +
				`{"role":"user","content":"Alice is 30."}],"temperature":0,"max_tokens":512,"response_format":{"type":"json_object"}}`,
		},
		{
			name:   "schema unfit for strict mode falls back to json_object",
			flavor: llmtest.OpenAIFlavorOllama,
			cfg:    openai.Config{LegacyMaxTokens: true},
			edit: func(r *llm.Request) {
				r.Model, r.System, r.MaxTokens = "llama3.1", "", 0
				r.Schema = json.RawMessage(`{"type":"object","additionalProperties":{"type":"string"}}`)
			},
			want: `{"model":"llama3.1","messages":[{"role":"system","content":"\n\nReply with a single json object, ` +
				`without prose or code fences, that conforms to this JSON Schema:\n{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}"},` +
				`{"role":"user","content":"Alice is 30."}],"temperature":0,"response_format":{"type":"json_object"}}`,
		},
		{
			name: "free-form answer without schema nor system prompt",
			edit: func(r *llm.Request) {
				r.System, r.Schema = "", nil
				r.Messages = append(r.Messages, llm.Message{Role: "assistant", Content: "ok"}, llm.Message{Role: "user", Content: "again"})
			},
			want: `{"model":"gpt-4o","messages":[{"role":"user","content":"Alice is 30."},{"role":"assistant","content":"ok"},` +
				`{"role":"user","content":"again"}],"temperature":0,"max_completion_tokens":512}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, tt.flavor, testKey)
			cfg := tt.cfg
			cfg.BaseURL, cfg.APIKey = fake.URL, testKey
			req := personRequest()
			if tt.edit != nil {
				tt.edit(req)
			}
			_, err := newClient(t, cfg).Complete(context.Background(), req)
			require.NoError(t, err)
			got := fake.Requests()
			require.Len(t, got, 1)
			require.Equal(t, tt.want, string(got[0].Body))
			require.Equal(t, "/v1/chat/completions", got[0].Path)
			require.Equal(t, "Bearer "+testKey, got[0].Authorization)
			require.NotContains(t, string(got[0].Body), "hints")
			require.NotContains(t, string(got[0].Body), "enrichment")
		})
	}
}

func TestCompleteNoKeyNoAuthorization(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOllama, "")
	c := newClient(t, openai.Config{BaseURL: fake.URL + "/", LegacyMaxTokens: true})
	_, err := c.Complete(context.Background(), personRequest())
	require.NoError(t, err)
	require.Empty(t, fake.Requests()[0].Authorization)
}

func TestCompleteSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		flavor     llmtest.OpenAIFlavor
		cfg        openai.Config
		reply      llmtest.OpenAIReply
		wantText   string
		wantCached int
		wantStop   string
		wantRate   *llm.RateLimit
	}{
		{name: "request budget reported", reply: llmtest.OpenAIReply{Headers: map[string]string{
			"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s"}},
			wantText: `{"age":1,"name":"x"}`, wantStop: "stop", wantRate: &llm.RateLimit{RemainingRequests: 0, Reset: 1500 * time.Millisecond}},
		{name: "token budget reported", reply: llmtest.OpenAIReply{Headers: map[string]string{
			"x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "1s",
			"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}},
			wantText: `{"age":1,"name":"x"}`, wantStop: "stop", wantRate: &llm.RateLimit{RemainingRequests: 59, Reset: time.Second,
				Tokens: &llm.TokenLimit{Remaining: 0, Reset: 6 * time.Minute}}},
		{name: "token budget alone", reply: llmtest.OpenAIReply{Headers: map[string]string{
			"x-ratelimit-remaining-tokens": "150000", "x-ratelimit-reset-tokens": "20ms"}},
			wantText: `{"age":1,"name":"x"}`, wantStop: "stop", wantRate: &llm.RateLimit{RemainingRequests: -1,
				Tokens: &llm.TokenLimit{Remaining: 150000, Reset: 20 * time.Millisecond}}},
		{name: "half a budget header is none", reply: llmtest.OpenAIReply{Headers: map[string]string{"x-ratelimit-remaining-requests": "3"}},
			wantText: `{"age":1,"name":"x"}`, wantStop: "stop"},
		{name: "openai with cached tokens", reply: llmtest.OpenAIReply{CachedTokens: 10},
			wantText: `{"age":1,"name":"x"}`, wantCached: 10, wantStop: "stop"},
		{name: "deepseek cache hit", flavor: llmtest.OpenAIFlavorDeepSeek,
			cfg:   openai.Config{Mode: openai.ModeJSONObject, LegacyMaxTokens: true},
			reply: llmtest.OpenAIReply{CachedTokens: 7}, wantText: `{"age":1,"name":"x"}`, wantCached: 7, wantStop: "stop"},
		{name: "deepseek keep-alive blank lines before the body", flavor: llmtest.OpenAIFlavorDeepSeek,
			cfg:   openai.Config{Mode: openai.ModeJSONObject, LegacyMaxTokens: true},
			reply: llmtest.OpenAIReply{KeepAlive: 5}, wantText: `{"age":1,"name":"x"}`, wantStop: "stop"},
		{name: "ollama bare usage", flavor: llmtest.OpenAIFlavorOllama, cfg: openai.Config{LegacyMaxTokens: true},
			wantText: `{"age":1,"name":"x"}`, wantStop: "stop"},
		{name: "truncated answer keeps its stop reason", reply: llmtest.OpenAIReply{Content: `{"name":"A`, FinishReason: "length"},
			wantText: `{"name":"A`, wantStop: "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, tt.flavor, testKey)
			fake.Script(func(int, []byte) llmtest.OpenAIReply { return tt.reply })
			cfg := tt.cfg
			cfg.BaseURL, cfg.APIKey = fake.URL, testKey
			resp, err := newClient(t, cfg).Complete(context.Background(), personRequest())
			require.NoError(t, err)
			require.Equal(t, tt.wantText, resp.Text)
			require.Equal(t, tt.wantStop, resp.StopReason)
			require.Equal(t, tt.wantRate, resp.RateLimit)
			prompt := len(fake.Requests()[0].Body)/4 + 1
			require.Equal(t, llm.Usage{InputTokens: prompt - tt.wantCached, OutputTokens: len(tt.wantText)/4 + 1,
				CacheReadTokens: tt.wantCached}, resp.Usage)
		})
	}
}

func TestCompleteErrors(t *testing.T) {
	t.Parallel()
	quota := llmtest.OpenAIErrorBody("You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota")
	tests := []struct {
		name        string
		reply       llmtest.OpenAIReply
		key         string
		wantKind    llm.ErrorKind
		wantStatus  int
		wantRetry   time.Duration
		wantMessage string
		offSpec     bool // the body is another server's dialect or a proxy page: the fake's spec check flags it
	}{
		{name: "429 rate limit with retry-after seconds",
			reply: llmtest.OpenAIReply{Status: 429, Headers: map[string]string{"retry-after": "2"},
				Body: llmtest.OpenAIErrorBody("Rate limit reached for gpt-4o. Please try again in 1.2s.", "requests", "rate_limit_exceeded")},
			wantKind: llm.KindRateLimited, wantStatus: 429, wantRetry: 2 * time.Second, wantMessage: "Rate limit reached"},
		{name: "429 with retry-after-ms",
			reply: llmtest.OpenAIReply{Status: 429, Headers: map[string]string{"retry-after-ms": "1500", "retry-after": "9"},
				Body: llmtest.OpenAIErrorBody("slow down", "tokens", "rate_limit_exceeded")},
			wantKind: llm.KindRateLimited, wantStatus: 429, wantRetry: 1500 * time.Millisecond},
		{name: "429 with x-ratelimit-reset-tokens",
			reply: llmtest.OpenAIReply{Status: 429, Headers: map[string]string{"x-ratelimit-reset-tokens": "6m0s",
				"x-ratelimit-reset-requests": "20ms", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-remaining-requests": "99"},
				Body: llmtest.OpenAIErrorBody("slow down", "tokens", "rate_limit_exceeded")},
			wantKind: llm.KindRateLimited, wantStatus: 429, wantRetry: 6 * time.Minute},
		{name: "429 insufficient quota", reply: llmtest.OpenAIReply{Status: 429, Body: quota},
			wantKind: llm.KindQuotaExhausted, wantStatus: 429, wantMessage: "exceeded your current quota"},
		{name: "402 deepseek insufficient balance",
			reply:    llmtest.OpenAIReply{Status: 402, Body: llmtest.OpenAIErrorBody("Insufficient Balance", "unknown_error", "invalid_request_error")},
			wantKind: llm.KindQuotaExhausted, wantStatus: 402, wantMessage: "Insufficient Balance"},
		{name: "400 context length by code",
			reply: llmtest.OpenAIReply{Status: 400, Body: llmtest.OpenAIErrorBody("This model's maximum context length is 128000 tokens.",
				"invalid_request_error", "context_length_exceeded")},
			wantKind: llm.KindContextLength, wantStatus: 400, wantMessage: "maximum context length"},
		{name: "400 context length by wording (vLLM flat body)",
			reply:    llmtest.OpenAIReply{Status: 400, Body: `{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}`},
			wantKind: llm.KindContextLength, wantStatus: 400, offSpec: true},
		{name: "400 other", reply: llmtest.OpenAIReply{Status: 400, Body: llmtest.OpenAIErrorBody("Invalid 'messages'", "invalid_request_error", "")},
			wantKind: llm.KindBadRequest, wantStatus: 400, wantMessage: "Invalid 'messages'"},
		{name: "401 wrong key", key: "sk-wrong-key", wantKind: llm.KindAuth, wantStatus: 401, wantMessage: "Incorrect API key"},
		{name: "403 region", reply: llmtest.OpenAIReply{Status: 403, Body: llmtest.OpenAIErrorBody("Country not supported", "request_forbidden", "unsupported_country_region_territory")},
			wantKind: llm.KindAuth, wantStatus: 403},
		{name: "404 model (ollama text body)", reply: llmtest.OpenAIReply{Status: 404, Body: `{"error":"model \"x\" not found, try pulling it first"}`},
			wantKind: llm.KindModelNotFound, wantStatus: 404, wantMessage: `model "x" not found`, offSpec: true},
		{name: "500", reply: llmtest.OpenAIReply{Status: 500, Body: llmtest.OpenAIErrorBody("The server had an error", "server_error", "")},
			wantKind: llm.KindServerError, wantStatus: 500, wantMessage: "The server had an error"},
		{name: "502 html body", reply: llmtest.OpenAIReply{Status: 502, Body: "<html>bad gateway</html>"},
			wantKind: llm.KindServerError, wantStatus: 502, wantMessage: "<html>bad gateway</html>", offSpec: true},
		{name: "503 overloaded with retry-after", reply: llmtest.OpenAIReply{Status: 503, Headers: map[string]string{"retry-after": "3"},
			Body: llmtest.OpenAIErrorBody("Server Overloaded", "server_error", "")},
			wantKind: llm.KindOverloaded, wantStatus: 503, wantRetry: 3 * time.Second},
		{name: "529 overloaded", reply: llmtest.OpenAIReply{Status: 529, Body: `{"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":null}}`},
			wantKind: llm.KindOverloaded, wantStatus: 529, wantMessage: "Overloaded"},
		{name: "refusal", reply: llmtest.OpenAIReply{Refusal: "I can't help with that."},
			wantKind: llm.KindBadRequest, wantStatus: 200, wantMessage: "model refused: I can't help with that."},
		{name: "blank answer (deepseek)", reply: llmtest.OpenAIReply{Content: "   "},
			wantKind: llm.KindServerError, wantStatus: 200, wantMessage: "empty answer"},
		{name: "content filter", reply: llmtest.OpenAIReply{Content: " ", FinishReason: "content_filter"},
			wantKind: llm.KindBadRequest, wantStatus: 200, wantMessage: "content filter"},
		{name: "200 not JSON", reply: llmtest.OpenAIReply{Body: "<html>"},
			wantKind: llm.KindServerError, wantStatus: 200, wantMessage: "not valid JSON", offSpec: true},
		{name: "200 without choices", reply: llmtest.OpenAIReply{Body: `{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[]}`},
			wantKind: llm.KindServerError, wantStatus: 200, wantMessage: "no choices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, llmtest.OpenAIFlavorOpenAI, testKey)
			fake.Script(func(int, []byte) llmtest.OpenAIReply { return tt.reply })
			key := tt.key
			if key == "" {
				key = testKey
			}
			_, err := newClient(t, openai.Config{BaseURL: fake.URL, APIKey: key}).Complete(context.Background(), personRequest())
			require.Equal(t, tt.offSpec, len(fake.TakeViolations()) > 0, "spec violations")
			var e *llm.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.wantKind, e.Kind, e.Error())
			require.Equal(t, tt.wantStatus, e.Status)
			require.Equal(t, tt.wantRetry, e.RetryAfter)
			require.Contains(t, e.Message, tt.wantMessage)
			require.NotContains(t, err.Error(), key)
			require.Len(t, fake.Requests(), 1, "the adapter never retries by itself")
		})
	}
}

func TestCompleteCancelAbortsRequest(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, "")
	fake.Script(func(int, []byte) llmtest.OpenAIReply { return llmtest.OpenAIReply{Stall: true} })
	c := newClient(t, openai.Config{BaseURL: fake.URL})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Complete(ctx, personRequest())
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, llm.KindCancelled, llm.KindOf(err))
	require.ErrorIs(t, err, context.Canceled)
	select {
	case <-fake.Disconnected():
	case <-time.After(time.Second):
		t.Fatal("the fake did not see the connection close")
	}
}

func TestCompleteTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         openai.Config
		ctxTimeout  time.Duration
		reply       llmtest.OpenAIReply
		wantMessage string
	}{
		{name: "total timeout while stalled", cfg: openai.Config{Options: vendorhttp.Options{Timeout: 200 * time.Millisecond}},
			reply: llmtest.OpenAIReply{Stall: true}, wantMessage: "timed out"},
		{name: "first-byte timeout", cfg: openai.Config{Options: vendorhttp.Options{FirstByteTimeout: 150 * time.Millisecond}},
			reply: llmtest.OpenAIReply{Stall: true}, wantMessage: "first-byte"},
		{name: "ctx deadline", ctxTimeout: 200 * time.Millisecond,
			reply: llmtest.OpenAIReply{Stall: true}, wantMessage: "deadline"},
		{name: "slow keep-alive lines still hit the total timeout",
			cfg:   openai.Config{Options: vendorhttp.Options{Timeout: 300 * time.Millisecond, FirstByteTimeout: 100 * time.Millisecond}},
			reply: llmtest.OpenAIReply{KeepAlive: 100, KeepAliveEvery: 20 * time.Millisecond}, wantMessage: "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(t, llmtest.OpenAIFlavorDeepSeek, "")
			fake.Script(func(int, []byte) llmtest.OpenAIReply { return tt.reply })
			cfg := tt.cfg
			cfg.BaseURL, cfg.Mode, cfg.LegacyMaxTokens = fake.URL, openai.ModeJSONObject, true
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			start := time.Now()
			_, err := newClient(t, cfg).Complete(ctx, personRequest())
			require.Less(t, time.Since(start), 2*time.Second)
			var e *llm.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, llm.KindTimeout, e.Kind)
			require.Contains(t, e.Message, tt.wantMessage)
			select {
			case <-fake.Disconnected():
			case <-time.After(time.Second):
				t.Fatal("the fake did not see the connection close")
			}
		})
	}
}

func TestCompleteResponseSizeCap(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, "")
	fake.Script(func(int, []byte) llmtest.OpenAIReply { return llmtest.OpenAIReply{Pad: 10000} })
	c := newClient(t, openai.Config{BaseURL: fake.URL, Options: vendorhttp.Options{MaxResponseBytes: 4096}})
	_, err := c.Complete(context.Background(), personRequest())
	var e *llm.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, llm.KindServerError, e.Kind)
	require.Contains(t, e.Message, "larger than 4096 bytes")

	fake.Script(nil)
	_, err = c.Complete(context.Background(), personRequest())
	require.NoError(t, err, "a normal answer fits")
}

func TestCompleteNetworkError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c := newClient(t, openai.Config{BaseURL: "http://" + addr + "/v1", APIKey: testKey})
	_, err = c.Complete(context.Background(), personRequest())
	var e *llm.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, llm.KindServerError, e.Kind)
	require.Zero(t, e.Status)
	require.NotContains(t, err.Error(), testKey)
}

func TestCompleteReusesConnections(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, "")
	c := newClient(t, openai.Config{BaseURL: fake.URL})
	for range 5 {
		_, err := c.Complete(context.Background(), personRequest())
		require.NoError(t, err)
	}
	require.Len(t, fake.Requests(), 5)
	require.Equal(t, 1, fake.Connections())
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  openai.Config
		want string
	}{
		{name: "no base url", cfg: openai.Config{}, want: "BaseURL"},
		{name: "bad mode", cfg: openai.Config{BaseURL: "http://x", Mode: "xml"}, want: "Mode"},
		{name: "negative timeout", cfg: openai.Config{BaseURL: "http://x", Options: vendorhttp.Options{Timeout: -1}}, want: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := openai.New(tt.cfg)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCompleteRejectsBadRequest(t *testing.T) {
	t.Parallel()
	c := newClient(t, openai.Config{BaseURL: "http://127.0.0.1:1"})
	tests := []struct {
		name string
		edit func(*llm.Request)
	}{
		{name: "no model", edit: func(r *llm.Request) { r.Model = "" }},
		{name: "no messages", edit: func(r *llm.Request) { r.Messages = nil }},
		{name: "bad role", edit: func(r *llm.Request) { r.Messages[0].Role = "tool" }},
		{name: "schema not JSON", edit: func(r *llm.Request) { r.Schema = json.RawMessage(`{`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := personRequest()
			tt.edit(req)
			_, err := c.Complete(context.Background(), req)
			require.Equal(t, llm.KindBadRequest, llm.KindOf(err))
			require.False(t, errors.Is(err, context.Canceled))
			require.False(t, strings.Contains(err.Error(), "127.0.0.1"), "rejected before any network use")
		})
	}
}

func TestCompleteCancelLeavesOtherCallsAlone(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, "")
	fake.Script(func(_ int, body []byte) llmtest.OpenAIReply {
		if strings.Contains(string(body), "stall me") {
			return llmtest.OpenAIReply{Stall: true}
		}
		return llmtest.OpenAIReply{KeepAlive: 3}
	})
	c := newClient(t, openai.Config{BaseURL: fake.URL, Options: vendorhttp.Options{MaxConns: 4}})
	ctx, cancel := context.WithCancel(context.Background())
	stalled := personRequest()
	stalled.Messages[0].Content = "stall me"
	errs := make(chan error, 9)
	go func() {
		_, err := c.Complete(ctx, stalled)
		errs <- err
	}()
	for range 8 {
		go func() {
			_, err := c.Complete(context.Background(), personRequest())
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	var cancelled, ok int
	for range 9 {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case llm.KindOf(err) == llm.KindCancelled:
			cancelled++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	require.Equal(t, 8, ok)
	require.Equal(t, 1, cancelled)
	_, err := c.Complete(context.Background(), personRequest())
	require.NoError(t, err, "the pool still works after an abort")
}
