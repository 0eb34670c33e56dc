package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/llmtest"
	"github.com/entity-enricher/enricher/transport/llm/vendorhttp"
	"github.com/stretchr/testify/require"
)

func TestCompleteGoldenRequest(t *testing.T) {
	tests := []struct {
		name       string
		auth       string
		req        func() *llm.Request
		wantBody   string
		wantHeader map[string]string
	}{
		{
			name: "forced tool with schema, x-api-key",
			req:  personRequest,
			wantBody: `{"model":"claude-sonnet-4-5","max_tokens":1024,"system":"Extract the person.",` +
				`"messages":[{"role":"user","content":"Alice is 30."}],"temperature":0,` +
				`"tools":[{"name":"record_answer","description":"Record the complete answer. Call this tool exactly once; its input is the answer.",` +
				`"input_schema":{"additionalProperties":false,"properties":{"age":{"type":"integer"},"name":{"type":"string"}},"required":["name","age"],"type":"object"}}],` +
				`"tool_choice":{"type":"tool","name":"record_answer"}}`,
			wantHeader: map[string]string{"X-Api-Key": testKey, "Anthropic-Version": "2023-06-01",
				"Content-Type": "application/json", "Authorization": ""},
		},
		{
			name: "no schema, no system, default max_tokens, bearer",
			auth: AuthBearer,
			req: func() *llm.Request {
				return &llm.Request{Model: "m", Messages: []llm.Message{
					{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "user", Content: "c"}}}
			},
			wantBody: `{"model":"m","max_tokens":8192,"messages":[{"role":"user","content":"a"},` +
				`{"role":"assistant","content":"b"},{"role":"user","content":"c"}],"temperature":0}`,
			wantHeader: map[string]string{"Authorization": "Bearer " + testKey, "X-Api-Key": "",
				"Anthropic-Version": "2023-06-01"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, func(c *Config) { c.AuthStyle = tt.auth })
			_, err := b.client.Complete(context.Background(), tt.req())
			require.NoError(t, err)
			reqs := b.fake.Requests()
			require.Len(t, reqs, 1)
			require.Equal(t, tt.wantBody, string(reqs[0].Body))
			for k, v := range tt.wantHeader {
				require.Equal(t, v, reqs[0].Header.Get(k), "header %s", k)
			}
		})
	}
}

func TestCompleteParsesAnswer(t *testing.T) {
	okTool := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",` +
		`"content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"tool_use","id":"toolu_1","name":"record_answer","input":{"name": "Alice", "age": 30}}],` +
		`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":412,"output_tokens":38,` +
		`"cache_creation_input_tokens":7,"cache_read_input_tokens":100,"cache_creation":{"ephemeral_5m_input_tokens":7,"ephemeral_1h_input_tokens":0},"service_tier":"standard"}}`
	tests := []struct {
		name      string
		schema    string // "" for none
		body      string // 200 body; "" for the fake's own answer
		wantText  string
		wantUsage *llm.Usage
		wantStop  string
		wantKind  llm.ErrorKind // "" for success
		wantMsg   string
		offSpec   bool // body is not a Messages API answer: the fake's spec check flags it
	}{
		{name: "tool answer with cache usage", schema: personSchema, body: okTool,
			wantText: `{"name":"Alice","age":30}`, wantStop: "tool_use",
			wantUsage: &llm.Usage{InputTokens: 412, OutputTokens: 38, CacheReadTokens: 100, CacheWriteTokens: 7}},
		{name: "fake's own answer is schema valid", schema: personSchema,
			wantText: `{"age":1,"name":"x"}`, wantStop: "tool_use"},
		{name: "non-object schema is wrapped and unwrapped", schema: `{"type":"array","items":{"type":"string"}}`,
			wantText: `["x"]`, wantStop: "tool_use"},
		{name: "text answer without schema", body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"content":[{"type":"text","text":"Hello, "},` +
			`{"type":"text","text":"world"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":2}}`,
			wantText: "Hello, world", wantStop: "end_turn", wantUsage: &llm.Usage{InputTokens: 3, OutputTokens: 2}},
		{name: "text cut at max_tokens without schema is returned", body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"content":[{"type":"text","text":"Hel"}],` +
			`"stop_reason":"max_tokens","usage":{"input_tokens":3,"output_tokens":1}}`, wantText: "Hel", wantStop: "max_tokens"},
		{name: "max_tokens with schema", schema: personSchema, body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"content":[],` +
			`"stop_reason":"max_tokens","usage":{"input_tokens":3,"output_tokens":1024}}`,
			wantKind: llm.KindBadRequest, wantMsg: "cut at max_tokens (1024 output tokens)"},
		{name: "refusal", schema: personSchema, body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"content":[],"stop_reason":"refusal","usage":{"input_tokens":3,"output_tokens":0}}`,
			wantKind: llm.KindBadRequest, wantMsg: "refused"},
		{name: "no tool call", schema: personSchema, body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"content":[{"type":"text","text":"no"}],` +
			`"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}`,
			wantKind: llm.KindServerError, wantMsg: "did not call the record_answer tool"},
		{name: "empty text", body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"content":[],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":0}}`,
			wantKind: llm.KindServerError, wantMsg: "empty"},
		{name: "not a message", schema: personSchema, body: `<html>ok</html>`,
			wantKind: llm.KindServerError, wantMsg: "not a Messages API message", offSpec: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, nil)
			if tt.body != "" {
				b.fake.Script(func(int, []byte) llmtest.AnthropicReply {
					return llmtest.AnthropicReply{Status: 200, Body: tt.body}
				})
			}
			req := personRequest()
			req.Schema = nil
			if tt.schema != "" {
				req.Schema = json.RawMessage(tt.schema)
			}
			resp, err := b.client.Complete(context.Background(), req)
			require.Equal(t, tt.offSpec, len(b.fake.TakeViolations()) > 0, "spec violations")
			if tt.wantKind != "" {
				e := requireKind(t, err, tt.wantKind)
				require.Contains(t, e.Message, tt.wantMsg)
				require.Nil(t, resp)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantText, resp.Text)
			require.Equal(t, tt.wantStop, resp.StopReason)
			if tt.wantUsage != nil {
				require.Equal(t, *tt.wantUsage, resp.Usage)
			} else {
				require.Positive(t, resp.Usage.InputTokens)
				require.Positive(t, resp.Usage.OutputTokens)
			}
		})
	}
}

func TestCompleteErrorMapping(t *testing.T) {
	body := llmtest.AnthropicErrorBody
	tests := []struct {
		name       string
		key        string // client key; "" means testKey
		status     int
		headers    map[string]string
		body       string
		wantKind   llm.ErrorKind
		wantStatus int
		wantRetry  time.Duration
		wantMsg    string
		offSpec    bool // the body is a proxy's, not the vendor's: the fake's spec check flags it
	}{
		{name: "429 with retry-after seconds", status: 429, headers: map[string]string{"retry-after": "7"},
			body:     body("rate_limit_error", "Number of requests has exceeded your rate limit"),
			wantKind: llm.KindRateLimited, wantRetry: 7 * time.Second, wantMsg: "exceeded your rate limit"},
		{name: "429 with retry-after-ms", status: 429, headers: map[string]string{"retry-after-ms": "1500", "retry-after": "2"},
			body: body("rate_limit_error", "slow down"), wantKind: llm.KindRateLimited, wantRetry: 1500 * time.Millisecond},
		{name: "429 without hint", status: 429, body: body("rate_limit_error", "slow down"), wantKind: llm.KindRateLimited},
		{name: "429 spend limit", status: 429,
			body:     `{"type":"error","error":{"type":"rate_limit_error","message":"limit","details":{"error_code":"enforced_spend_limit_reached"}}}`,
			wantKind: llm.KindQuotaExhausted},
		{name: "400 credit balance", status: 400,
			body:     body("invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."),
			wantKind: llm.KindQuotaExhausted, wantMsg: "credit balance"},
		{name: "402 billing", status: 402, body: body("billing_error", "payment required"), wantKind: llm.KindQuotaExhausted},
		{name: "529 overloaded", status: 529, body: body("overloaded_error", "Overloaded"), wantKind: llm.KindOverloaded, wantMsg: "Overloaded"},
		{name: "503 without vendor body", status: 503, body: "upstream connect error", wantKind: llm.KindOverloaded,
			wantMsg: "HTTP 503 Service Unavailable: upstream connect error", offSpec: true},
		{name: "500 api_error", status: 500, body: body("api_error", "Internal server error"), wantKind: llm.KindServerError},
		{name: "502 html", status: 502, body: "<html>bad gateway</html>", wantKind: llm.KindServerError, wantMsg: "HTTP 502 Bad Gateway", offSpec: true},
		{name: "504 timeout_error", status: 504, body: body("timeout_error", "Request timeout"), wantKind: llm.KindServerError},
		{name: "401 from the fake's key check", key: "sk-wrong", wantKind: llm.KindAuth, wantStatus: 401, wantMsg: "invalid x-api-key"},
		{name: "403 permission", status: 403, body: body("permission_error", "no access"), wantKind: llm.KindAuth},
		{name: "404 model", status: 404, body: body("not_found_error", "model: claude-x"), wantKind: llm.KindModelNotFound},
		{name: "400 prompt too long", status: 400,
			body:     body("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
			wantKind: llm.KindContextLength},
		{name: "400 other", status: 400, body: body("invalid_request_error", "messages: field required"), wantKind: llm.KindBadRequest},
		{name: "413 too large", status: 413, body: body("request_too_large", "Request exceeds the maximum size"), wantKind: llm.KindBadRequest},
		{name: "408", status: 408, body: "", wantKind: llm.KindTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, func(c *Config) {
				if tt.key != "" {
					c.APIKey = tt.key
				}
			})
			if tt.status != 0 {
				b.fake.Script(func(int, []byte) llmtest.AnthropicReply {
					return llmtest.AnthropicReply{Status: tt.status, Headers: tt.headers, Body: tt.body}
				})
			}
			_, err := b.client.Complete(context.Background(), personRequest())
			require.Equal(t, tt.offSpec, len(b.fake.TakeViolations()) > 0, "spec violations")
			e := requireKind(t, err, tt.wantKind)
			want := tt.wantStatus
			if want == 0 {
				want = tt.status
			}
			require.Equal(t, want, e.Status)
			require.Equal(t, tt.wantRetry, e.RetryAfter)
			require.Contains(t, e.Message, tt.wantMsg)
			if tt.key != "" {
				require.NotContains(t, err.Error(), tt.key) // never echoes a credential
			}
		})
	}
}

func TestCompleteCancellationClosesConnection(t *testing.T) {
	b := setup(t, nil)
	arrived := make(chan struct{}, 1)
	b.fake.Script(func(int, []byte) llmtest.AnthropicReply {
		arrived <- struct{}{}
		return llmtest.AnthropicReply{Stall: true}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := b.client.Complete(ctx, personRequest())
		errc <- err
	}()
	waitFor(t, arrived, 2*time.Second, "the request")
	start := time.Now()
	cancel()
	var err error
	select {
	case err = <-errc:
	case <-time.After(time.Second):
		t.Fatal("Complete did not return within 1 s of cancellation")
	}
	require.Less(t, time.Since(start), time.Second)
	requireKind(t, err, llm.KindCancelled)
	require.True(t, errors.Is(err, context.Canceled))
	waitFor(t, b.fake.Disconnected(), time.Second, "the fake to see the disconnect")

	// The client still works afterwards, on a new connection.
	b.fake.Script(nil)
	_, err = b.client.Complete(context.Background(), personRequest())
	require.NoError(t, err)
	reqs := b.fake.Requests()
	require.Len(t, reqs, 2)
	require.NotEqual(t, reqs[0].RemoteAddr, reqs[1].RemoteAddr)
}

func TestCompleteReusesConnections(t *testing.T) {
	b := setup(t, nil)
	for range 3 {
		_, err := b.client.Complete(context.Background(), personRequest())
		require.NoError(t, err)
	}
	reqs := b.fake.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, reqs[0].RemoteAddr, reqs[1].RemoteAddr)
	require.Equal(t, reqs[1].RemoteAddr, reqs[2].RemoteAddr)
}

func TestCompleteTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		ctx     func() (context.Context, context.CancelFunc)
		wantMsg string
		wantCtx bool // errors.Is(err, context.DeadlineExceeded)
	}{
		{name: "Timeout", cfg: func(c *Config) { c.Timeout = 200 * time.Millisecond }, wantMsg: "timed out"},
		{name: "FirstByteTimeout", cfg: func(c *Config) { c.FirstByteTimeout = 150 * time.Millisecond }, wantMsg: "first-byte"},
		{name: "ctx deadline", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, wantMsg: "deadline", wantCtx: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, tt.cfg)
			b.fake.Script(func(int, []byte) llmtest.AnthropicReply { return llmtest.AnthropicReply{Stall: true} })
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			start := time.Now()
			_, err := b.client.Complete(ctx, personRequest())
			require.Less(t, time.Since(start), 2*time.Second)
			e := requireKind(t, err, llm.KindTimeout)
			require.Contains(t, e.Message, tt.wantMsg)
			require.Equal(t, tt.wantCtx, errors.Is(err, context.DeadlineExceeded))
			waitFor(t, b.fake.Disconnected(), time.Second, "the fake to see the disconnect")
		})
	}
}

func TestCompleteResponseSizeCap(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		wantKind llm.ErrorKind
	}{
		{name: "under the cap", size: 500},
		{name: "over the cap", size: 5000, wantKind: llm.KindServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, func(c *Config) { c.MaxResponseBytes = 2048 })
			body := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_sequence":null,"content":[{"type":"text","text":"` + strings.Repeat("a", tt.size) +
				`"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`
			b.fake.Script(func(int, []byte) llmtest.AnthropicReply { return llmtest.AnthropicReply{Status: 200, Body: body} })
			req := personRequest()
			req.Schema = nil
			resp, err := b.client.Complete(context.Background(), req)
			if tt.wantKind == "" {
				require.NoError(t, err)
				require.Len(t, resp.Text, tt.size)
				return
			}
			e := requireKind(t, err, tt.wantKind)
			require.Contains(t, e.Message, "larger than 2048 bytes")
		})
	}
}

func TestCompleteConnectionRefused(t *testing.T) {
	fake := llmtest.NewAnthropicServer(t, testKey)
	url := fake.URL
	fake.Close()
	c, err := New(Config{BaseURL: url, APIKey: testKey})
	require.NoError(t, err)
	_, err = c.Complete(context.Background(), personRequest())
	e := requireKind(t, err, llm.KindServerError)
	require.Zero(t, e.Status)
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "defaults", cfg: Config{APIKey: "k"}},
		{name: "bad url", cfg: Config{BaseURL: "ftp://x"}, wantErr: "not an http(s) URL"},
		{name: "bad auth style", cfg: Config{AuthStyle: "basic"}, wantErr: "auth style"},
		{name: "negative timeout", cfg: Config{Options: vendorhttp.Options{Timeout: -1}}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, "https://api.anthropic.com/v1/messages", c.endpoint)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestCompleteRetriesStaleKeepAlive(t *testing.T) {
	b := setup(t, nil)
	_, err := b.client.Complete(context.Background(), personRequest())
	require.NoError(t, err)
	b.fake.CloseClientConnections() // the pooled connection is now dead
	resp, err := b.client.Complete(context.Background(), personRequest())
	require.NoError(t, err)
	require.Equal(t, `{"age":1,"name":"x"}`, resp.Text)
	reqs := b.fake.Requests()
	require.Len(t, reqs, 2)
	require.NotEqual(t, reqs[0].RemoteAddr, reqs[1].RemoteAddr)
}
