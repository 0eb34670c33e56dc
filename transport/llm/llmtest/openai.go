package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// OpenAIFlavor selects which OpenAI-compatible server the fake imitates.
type OpenAIFlavor int

// The flavors.
const (
	// OpenAIFlavorOpenAI is api.openai.com: strict json_schema and json_object formats,
	// usage with prompt_tokens_details.
	OpenAIFlavorOpenAI OpenAIFlavor = iota
	// OpenAIFlavorDeepSeek is api.deepseek.com: json_object only (json_schema is a 400),
	// usage with prompt_cache_hit_tokens/prompt_cache_miss_tokens. It also rejects
	// max_completion_tokens, which DeepSeek would silently ignore, so tests catch a client
	// not configured with max_tokens.
	OpenAIFlavorDeepSeek
	// OpenAIFlavorOllama is Ollama's /v1: both formats, bare usage, no auth check.
	OpenAIFlavorOllama
)

// OpenAIReply is what a script makes the fake answer. The zero value is a normal answer.
type OpenAIReply struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Headers are extra response headers (e.g. "retry-after").
	Headers map[string]string
	// Body replaces the whole response body when set.
	Body string
	// Content replaces the generated answer text of a 200 when set.
	Content string
	// Refusal makes a 200 a refusal (content null).
	Refusal string
	// FinishReason replaces "stop".
	FinishReason string
	// CachedTokens is reported as cached prompt tokens.
	CachedTokens int
	// Stall holds the request open, sending nothing, until the client disconnects.
	Stall bool
	// KeepAlive sends this many blank lines, one per KeepAliveEvery (default 10 ms), after
	// the 200 headers and before the body (DeepSeek under load).
	KeepAlive      int
	KeepAliveEvery time.Duration
	// Pad appends this many spaces to the body (to exceed a client's size cap).
	Pad int
}

// OpenAIScript decides the reply to the n-th request (1-based) with the given body.
type OpenAIScript func(n int, body []byte) OpenAIReply

// OpenAIRequest is one request the fake received.
type OpenAIRequest struct {
	Path          string
	Authorization string
	Body          []byte
}

// OpenAIServer is a loopback fake of POST /chat/completions (any path ending so, so
// BaseURL may end in /v1). It checks the request like the vendor does (known fields only,
// messages, roles, strict-schema rules, the "json" word for json_object, the bearer key when
// APIKey is set) and answers a schema-valid JSON object built from the request's schema:
// strings "x", integers 1, numbers 1.5, booleans true, arrays of one item, enums their first
// value. It is safe for concurrent use; Close stops it.
type OpenAIServer struct {
	// URL is the base URL to configure clients with (ends in /v1).
	URL string

	flavor OpenAIFlavor
	apiKey string
	srv    *httptest.Server

	mu          sync.Mutex
	script      OpenAIScript
	requests    []OpenAIRequest
	disconnects chan struct{}
	conns       int
	closeOnce   sync.Once
	violations  violations

	batches     *batchStore
	files       *openAIFiles
	outputFiles map[string]map[string]string // by batch id: output_file_id, error_file_id
}

// NewOpenAIServer starts a fake of flavor; apiKey, when not empty, is the only accepted
// bearer key. Every request it receives and every complete response it sends is validated
// against the OpenAI API description (all flavors speak that wire); when t ends the fake is
// closed and t fails with each violation not taken by TakeViolations.
func NewOpenAIServer(t testing.TB, flavor OpenAIFlavor, apiKey string) *OpenAIServer {
	t.Helper()
	s := &OpenAIServer{flavor: flavor, apiKey: apiKey, disconnects: make(chan struct{}, 64),
		files: &openAIFiles{files: map[string][]byte{}}, outputFiles: map[string]map[string]string{}}
	s.batches = newBatchStore("batch_fake", s.answerLine)
	specs := append(specSet{openAISpec}, openAIBatchSpecs...)
	s.srv = httptest.NewUnstartedServer(validated(specs, &s.violations, func(w http.ResponseWriter, r *http.Request) {
		if isOpenAIBatchPath(r.URL.Path) {
			s.serveBatch(w, r)
			return
		}
		s.serve(w, r)
	}))
	s.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	if err := specs.load(); err != nil {
		t.Errorf("llmtest: %v", err)
	}
	s.srv.Start()
	s.URL = s.srv.URL + "/v1"
	watch(t, "OpenAI", &s.violations)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and closes its connections. It is idempotent.
func (s *OpenAIServer) Close() {
	s.closeOnce.Do(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// TakeViolations returns the spec violations seen so far (sorted) and forgets them, so a
// test that sends or serves something invalid on purpose can assert them instead of failing.
func (s *OpenAIServer) TakeViolations() []string { return s.violations.take() }

// Script sets the function that decides each reply; nil restores normal answers.
func (s *OpenAIServer) Script(f OpenAIScript) {
	s.mu.Lock()
	s.script = f
	s.mu.Unlock()
}

// Requests returns a copy of the requests received so far, in order.
func (s *OpenAIServer) Requests() []OpenAIRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OpenAIRequest(nil), s.requests...)
}

// Connections returns how many TCP connections clients opened so far.
func (s *OpenAIServer) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Disconnected receives one value each time a client hangs up on a stalled or slow reply
// (up to 64 unread values are kept; more are dropped).
func (s *OpenAIServer) Disconnected() <-chan struct{} { return s.disconnects }

func (s *OpenAIServer) noteDisconnect() {
	select {
	case s.disconnects <- struct{}{}:
	default:
	}
}

// OpenAIErrorBody returns an OpenAI error body.
func OpenAIErrorBody(message, typ, code string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": message, "type": typ, "param": nil, "code": nullable(code)}})
	return string(b)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// openAIWireRequest is the request shape the fake accepts (a subset of
// CreateChatCompletionRequest; unknown fields are rejected).
type openAIWireRequest struct {
	Model               string          `json:"model"`
	Messages            []openAIMessage `json:"messages"`
	Temperature         *float64        `json:"temperature"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stream              *bool           `json:"stream"`
	ResponseFormat      *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Strict      *bool           `json:"strict"`
			Schema      json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

type openAIMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

var openAISchemaName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func (s *OpenAIServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, OpenAIRequest{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: body})
	n := len(s.requests)
	script := s.script
	s.mu.Unlock()

	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		writeOpenAI(w, http.StatusNotFound, nil, OpenAIErrorBody("Invalid URL ("+r.Method+" "+r.URL.Path+")", "invalid_request_error", ""))
		return
	}
	if s.flavor != OpenAIFlavorOllama && s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeOpenAI(w, http.StatusUnauthorized, nil, OpenAIErrorBody("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
		return
	}
	var reply OpenAIReply
	if script != nil {
		reply = script(n, body)
	}
	if reply.Stall {
		<-r.Context().Done()
		s.noteDisconnect()
		return
	}
	if reply.Status != 0 && reply.Status != http.StatusOK || reply.Body != "" {
		writeOpenAI(w, max(reply.Status, 200), reply.Headers, reply.Body+strings.Repeat(" ", reply.Pad))
		return
	}
	req, answer, problem := s.check(body)
	if problem != "" {
		writeOpenAI(w, http.StatusBadRequest, nil, OpenAIErrorBody(problem, "invalid_request_error", ""))
		return
	}
	if reply.Content != "" {
		answer = reply.Content
	}
	out := s.completion(req, body, answer, reply)
	for k, v := range reply.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	if reply.KeepAlive > 0 {
		every := reply.KeepAliveEvery
		if every == 0 {
			every = 10 * time.Millisecond
		}
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		for range reply.KeepAlive {
			if _, err := io.WriteString(w, "\n"); err != nil {
				s.noteDisconnect()
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-r.Context().Done():
				s.noteDisconnect()
				return
			case <-time.After(every):
			}
		}
	}
	_, _ = w.Write(append(out, strings.Repeat(" ", reply.Pad)...))
}

func writeOpenAI(w http.ResponseWriter, status int, headers map[string]string, body string) {
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// check validates a request like the vendor and returns it with the answer text, or a
// problem message for a 400.
func (s *OpenAIServer) check(body []byte) (*openAIWireRequest, string, string) {
	var req openAIWireRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, "", "We could not parse the JSON body of your request: " + err.Error()
	}
	if req.Model == "" {
		return nil, "", "you must provide a model parameter"
	}
	if len(req.Messages) == 0 {
		return nil, "", "[] is too short - 'messages'"
	}
	var prompt, system strings.Builder
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer":
			if i != 0 {
				return nil, "", "the system message must come first"
			}
			system.WriteString(m.Content)
		case "user", "assistant":
		default:
			return nil, "", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'developer'.", m.Role)
		}
		prompt.WriteString(m.Content)
	}
	if s.flavor == OpenAIFlavorDeepSeek && req.MaxCompletionTokens != nil {
		return nil, "", "unknown field max_completion_tokens" // DeepSeek takes max_tokens
	}
	rf := req.ResponseFormat
	switch {
	case rf == nil || rf.Type == "text":
		return &req, `{"answer":"x"}`, ""
	case rf.Type == "json_object":
		if !strings.Contains(strings.ToLower(prompt.String()), "json") {
			return nil, "", "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."
		}
		schema := schemaInText(system.String())
		if schema == nil {
			return &req, "{}", ""
		}
		b, _ := json.Marshal(sampleValue(schema, schema, 0))
		return &req, string(b), ""
	case rf.Type == "json_schema":
		if s.flavor == OpenAIFlavorDeepSeek {
			return nil, "", "This response_format type is unavailable now"
		}
		js := rf.JSONSchema
		if js == nil || !openAISchemaName.MatchString(js.Name) {
			return nil, "", "Invalid 'response_format.json_schema.name': must match ^[a-zA-Z0-9_-]{1,64}$."
		}
		var schema map[string]any
		if err := json.Unmarshal(js.Schema, &schema); err != nil {
			return nil, "", "Invalid schema for response_format '" + js.Name + "': not an object."
		}
		if js.Strict != nil && *js.Strict {
			if p := strictProblem(schema, "", true); p != "" {
				return nil, "", "Invalid schema for response_format '" + js.Name + "': In context=(" + p
			}
		}
		b, _ := json.Marshal(sampleValue(schema, schema, 0))
		return &req, string(b), ""
	}
	return nil, "", "Invalid value: '" + rf.Type + "'. Supported values are: 'json_object', 'json_schema' and 'text'."
}

// strictProblem reports the first violation of the strict-mode rules the fake enforces.
func strictProblem(n map[string]any, path string, root bool) string {
	for _, k := range []string{"allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas", "patternProperties", "examples", "default", "nullable", "oneOf"} {
		if _, ok := n[k]; ok {
			return path + "), '" + k + "' is not permitted."
		}
	}
	types := schemaTypes(n)
	if root && (len(types) != 1 || types[0] != "object") {
		return path + "), schema must be a JSON Schema of 'type: \"object\"'."
	}
	if _, ok := n["type"]; !ok {
		if _, a := n["anyOf"]; !a {
			if _, r := n["$ref"]; !r {
				if _, e := n["enum"]; !e {
					return path + "), schema must have a 'type' key."
				}
			}
		}
	}
	if contains(types, "object") {
		if n["additionalProperties"] != false {
			return path + "), 'additionalProperties' is required to be supplied and to be false."
		}
		props, _ := n["properties"].(map[string]any)
		req, _ := n["required"].([]any)
		for name := range props {
			if !containsAny(req, name) {
				return path + "), 'required' is required to be supplied and to be an array including every key in properties. Missing '" + name + "'."
			}
		}
		for name, p := range props {
			pm, _ := p.(map[string]any)
			if q := strictProblem(pm, path+"properties/"+name+"/", false); q != "" {
				return q
			}
		}
	}
	if it, ok := n["items"].(map[string]any); ok {
		if q := strictProblem(it, path+"items/", false); q != "" {
			return q
		}
	}
	if branches, ok := n["anyOf"].([]any); ok {
		for _, b := range branches {
			bm, _ := b.(map[string]any)
			if q := strictProblem(bm, path+"anyOf/", false); q != "" {
				return q
			}
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsAny(list []any, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// resolveRef follows a local "#/..." pointer.
func resolveRef(root map[string]any, ref string) map[string]any {
	if !strings.HasPrefix(ref, "#") {
		return nil
	}
	cur := root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#"), "/") {
		if part == "" {
			continue
		}
		next, _ := cur[part].(map[string]any)
		cur = next
	}
	return cur
}

// schemaInText finds the first JSON object with a "type" key embedded in a prompt (the
// json_object mode carries the schema there).
func schemaInText(text string) map[string]any {
	for i := strings.IndexByte(text, '{'); i >= 0; {
		var m map[string]any
		if json.NewDecoder(strings.NewReader(text[i:])).Decode(&m) == nil {
			if _, ok := m["type"]; ok {
				return m
			}
		}
		j := strings.IndexByte(text[i+1:], '{')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}

// completion renders the success body with the flavor's usage block.
func (s *OpenAIServer) completion(req *openAIWireRequest, body []byte, answer string, reply OpenAIReply) []byte {
	prompt := len(body)/4 + 1
	completion := len(answer)/4 + 1
	cached := min(reply.CachedTokens, prompt)
	usage := map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
	switch s.flavor {
	case OpenAIFlavorOpenAI:
		usage["prompt_tokens_details"] = map[string]any{"cached_tokens": cached, "audio_tokens": 0}
		usage["completion_tokens_details"] = map[string]any{"reasoning_tokens": 0, "audio_tokens": 0,
			"accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
	case OpenAIFlavorDeepSeek:
		usage["prompt_cache_hit_tokens"] = cached
		usage["prompt_cache_miss_tokens"] = prompt - cached
		usage["prompt_tokens_details"] = map[string]any{"cached_tokens": cached}
		usage["completion_tokens_details"] = map[string]any{"reasoning_tokens": 0}
	}
	var content, refusal any = answer, nil
	if reply.Refusal != "" {
		content, refusal = nil, reply.Refusal
	}
	finish := reply.FinishReason
	if finish == "" {
		finish = "stop"
	}
	out := map[string]any{
		"id": "chatcmpl-fake", "object": "chat.completion", "created": 1764380000, "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "logprobs": nil, "finish_reason": finish,
			"message": map[string]any{"role": "assistant", "content": content, "refusal": refusal, "annotations": []any{}}}},
		"usage": usage, "system_fingerprint": "fp_fake",
	}
	if s.flavor == OpenAIFlavorOpenAI {
		out["service_tier"] = "default"
	}
	b, _ := json.Marshal(out)
	return b
}
