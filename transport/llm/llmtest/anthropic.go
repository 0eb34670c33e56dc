package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// AnthropicReply is a scripted answer of AnthropicServer. The zero value means "answer normally".
type AnthropicReply struct {
	Status  int               // HTTP status; 0: the normal answer (Headers are still added)
	Headers map[string]string // response headers to set
	Body    string            // response body, sent as is when Status is not 0
	Stall   bool              // block until the client disconnects (or the server closes)
	Delay   time.Duration     // wait before answering (aborted by a disconnect)
}

// AnthropicScriptFunc decides the reply to the n-th request (1-based) with the given body. It is
// called after the request has passed the server's checks (authentication, version, shape).
type AnthropicScriptFunc func(n int, body []byte) AnthropicReply

// AnthropicRequest is one request received by AnthropicServer.
type AnthropicRequest struct {
	RemoteAddr string // the client's address: equal addresses mean a reused connection
	Header     http.Header
	Body       []byte
}

// AnthropicServer is a fake of the Anthropic Messages API (POST /v1/messages),
// bound to 127.0.0.1. It checks like the real API: the key (x-api-key or Authorization: Bearer,
// 401 authentication_error), anthropic-version (2023-06-01 or 2026-10-21, else 400), a JSON
// body without unknown top-level fields, model, max_tokens ≥ 1, messages (≥ 1, roles user or
// assistant, string or block content), tools with input_schema.type "object" and a tool_choice
// naming one of them (400 invalid_request_error otherwise). A normal answer is a tool_use block
// of the forced tool whose input is built from its input_schema (strings "x", integers 1,
// numbers 1.5, booleans true, arrays of one item, objects with every property; the first enum
// or const value; the first non-null type of a union), or a text block without a forced tool,
// with a usage block whose token counts derive from the sizes. Safe for concurrent use.
type AnthropicServer struct {
	// URL is the base URL (http://127.0.0.1:port), to pass as the adapter's BaseURL.
	URL string
	// Key is the accepted API key; empty accepts any key, including none.
	Key string

	srv          *httptest.Server
	done         chan struct{}
	disconnected chan struct{}

	mu       sync.Mutex
	script   AnthropicScriptFunc
	requests []AnthropicRequest
	closed   bool

	violations violations
	batches    *batchStore
}

// NewAnthropicServer starts a fake accepting key (empty: any). Every request it receives and
// every complete response it sends is validated against the Anthropic API description (see
// spec.go for its patches); when t ends the fake is closed and t fails with each violation not
// taken by TakeViolations.
func NewAnthropicServer(t testing.TB, key string) *AnthropicServer {
	t.Helper()
	s := &AnthropicServer{Key: key, done: make(chan struct{}), disconnected: make(chan struct{}, 64)}
	s.batches = newBatchStore("msgbatch_fake", s.answerLine)
	specs := append(specSet{anthropicSpec}, anthropicBatchSpecs...)
	if err := specs.load(); err != nil {
		t.Errorf("llmtest: %v", err)
	}
	s.srv = httptest.NewServer(validated(specs, &s.violations, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/messages/batches") {
			s.serveBatch(w, r)
			return
		}
		s.serve(w, r)
	}))
	s.URL = s.srv.URL
	watch(t, "Anthropic", &s.violations)
	t.Cleanup(s.Close)
	return s
}

// TakeViolations returns the spec violations seen so far (sorted) and forgets them, so a
// test that sends or serves something invalid on purpose can assert them instead of failing.
func (s *AnthropicServer) TakeViolations() []string { return s.violations.take() }

// Close ends stalled requests and shuts the server down. It is idempotent.
func (s *AnthropicServer) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// CloseClientConnections closes every open client connection, idle keep-alive ones included,
// as a server or load balancer dropping them would.
func (s *AnthropicServer) CloseClientConnections() { s.srv.CloseClientConnections() }

// Script sets the function that decides replies; nil restores normal answers.
func (s *AnthropicServer) Script(f AnthropicScriptFunc) {
	s.mu.Lock()
	s.script = f
	s.mu.Unlock()
}

// Requests returns a copy of every request that reached the handler, in arrival order
// (including rejected ones).
func (s *AnthropicServer) Requests() []AnthropicRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AnthropicRequest(nil), s.requests...)
}

// Disconnected receives one value each time a client goes away while its request is stalled
// or delayed.
func (s *AnthropicServer) Disconnected() <-chan struct{} { return s.disconnected }

// AnthropicErrorBody returns the vendor's error body for errType ("rate_limit_error",
// "overloaded_error", "invalid_request_error", ...) and message.
func AnthropicErrorBody(errType, message string) string {
	b, _ := json.Marshal(map[string]any{
		"type": "error", "error": map[string]any{"type": errType, "message": message},
		"request_id": "req_fake",
	})
	return string(b)
}

func (s *AnthropicServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, AnthropicRequest{RemoteAddr: r.RemoteAddr, Header: r.Header.Clone(), Body: body})
	n := len(s.requests)
	script := s.script
	s.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		anthropicWriteError(w, http.StatusNotFound, "not_found_error", "Not found")
		return
	}
	if status, typ, msg := s.checkHeaders(r.Header); status != 0 {
		anthropicWriteError(w, status, typ, msg)
		return
	}
	req, problem := anthropicParse(body)
	if problem != "" {
		anthropicWriteError(w, http.StatusBadRequest, "invalid_request_error", problem)
		return
	}
	var reply AnthropicReply
	if script != nil {
		reply = script(n, body)
	}
	for k, v := range reply.Headers {
		w.Header().Set(k, v)
	}
	if reply.Stall || reply.Delay > 0 {
		var timer <-chan time.Time
		if !reply.Stall {
			timer = time.After(reply.Delay)
		}
		select {
		case <-r.Context().Done():
			select {
			case s.disconnected <- struct{}{}:
			default:
			}
			return
		case <-s.done:
			return
		case <-timer:
		}
	}
	if reply.Status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(reply.Status)
		_, _ = io.WriteString(w, reply.Body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", fmt.Sprintf("req_fake_%d", n))
	_ = json.NewEncoder(w).Encode(anthropicAnswer(req, len(body), n))
}

// checkHeaders returns the error status, type and message of bad authentication or version
// headers, or status 0.
func (s *AnthropicServer) checkHeaders(h http.Header) (int, string, string) {
	if s.Key != "" {
		key := h.Get("x-api-key")
		if bearer, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); key == "" && ok {
			key = bearer
		}
		if key != s.Key {
			return http.StatusUnauthorized, "authentication_error", "invalid x-api-key"
		}
	}
	switch v := h.Get("anthropic-version"); v {
	case "2023-06-01", "2026-10-21":
	case "":
		return http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required"
	default:
		return http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("anthropic-version: invalid version %q", v)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return http.StatusBadRequest, "invalid_request_error", "content-type must be application/json"
	}
	return 0, "", ""
}

// anthropicRequest is the part of a Messages request the fake checks and answers from.
type anthropicRequest struct {
	Model         string            `json:"model"`
	MaxTokens     *int              `json:"max_tokens"`
	Messages      []json.RawMessage `json:"messages"`
	System        json.RawMessage   `json:"system"`
	Temperature   *float64          `json:"temperature"`
	TopP          *float64          `json:"top_p"`
	TopK          *int              `json:"top_k"`
	StopSequences []string          `json:"stop_sequences"`
	Stream        bool              `json:"stream"`
	Metadata      json.RawMessage   `json:"metadata"`
	Thinking      json.RawMessage   `json:"thinking"`
	OutputConfig  json.RawMessage   `json:"output_config"`
	ServiceTier   string            `json:"service_tier"`
	Tools         []struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		InputSchema map[string]any `json:"input_schema"`
		Strict      bool           `json:"strict"`
	} `json:"tools"`
	ToolChoice *struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	} `json:"tool_choice"`
}

// anthropicParse decodes and checks a request body, returning the API's complaint if any.
func anthropicParse(body []byte) (*anthropicRequest, string) {
	var req anthropicRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return nil, strings.Trim(f, `"`) + ": Extra inputs are not permitted"
		}
		return nil, "invalid JSON body: " + err.Error()
	}
	switch {
	case req.Model == "":
		return nil, "model: Field required"
	case req.MaxTokens == nil:
		return nil, "max_tokens: Field required"
	case *req.MaxTokens < 1:
		return nil, "max_tokens: must be at least 1"
	case len(req.Messages) == 0:
		return nil, "messages: at least one message is required"
	case req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 1):
		return nil, "temperature: must be between 0 and 1"
	case req.Stream:
		return nil, "stream: the fake answers only non-streamed requests"
	}
	for i, raw := range req.Messages {
		var m struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Sprintf("messages.%d: invalid message", i)
		}
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if len(m.Content) == 0 || m.Content[0] != '"' && m.Content[0] != '[' {
			return nil, fmt.Sprintf("messages.%d.content: Input should be a string or a list of blocks", i)
		}
	}
	names := map[string]bool{}
	for i, t := range req.Tools {
		if t.Name == "" || len(t.Name) > 64 {
			return nil, fmt.Sprintf("tools.%d.name: invalid tool name", i)
		}
		if t.InputSchema == nil || t.InputSchema["type"] != "object" {
			return nil, fmt.Sprintf("tools.%d.input_schema.type: Input should be 'object'", i)
		}
		names[t.Name] = true
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto", "any", "none":
		case "tool":
			if !names[tc.Name] {
				return nil, fmt.Sprintf("tool_choice.name: tool %q is not among the tools", tc.Name)
			}
		default:
			return nil, "tool_choice.type: invalid tool choice type"
		}
	}
	return &req, ""
}

// anthropicAnswer builds the normal 200 body for req.
func anthropicAnswer(req *anthropicRequest, bodyLen, n int) map[string]any {
	var content []any
	stop := "end_turn"
	var out []byte
	if tc := req.ToolChoice; tc != nil && tc.Type == "tool" {
		for _, t := range req.Tools {
			if t.Name == tc.Name {
				input := sampleValue(t.InputSchema, t.InputSchema, 0)
				out, _ = json.Marshal(input)
				content = append(content, map[string]any{
					"type": "tool_use", "id": fmt.Sprintf("toolu_fake_%d", n), "name": t.Name, "input": input,
				})
				stop = "tool_use"
			}
		}
	} else {
		text := "This is the fake's answer."
		out = []byte(text)
		content = append(content, map[string]any{"type": "text", "text": text})
	}
	return map[string]any{
		"id": fmt.Sprintf("msg_fake_%d", n), "type": "message", "role": "assistant", "model": req.Model,
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": map[string]any{
			"input_tokens": bodyLen/4 + 1, "output_tokens": len(out)/4 + 1,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
			"cache_creation": map[string]any{"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
			"service_tier":   "standard",
		},
	}
}

// anthropicWriteError writes the vendor's error body with status.
func anthropicWriteError(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, AnthropicErrorBody(errType, message))
}
