package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// GeminiRequest is one request the Gemini fake received.
type GeminiRequest struct {
	Method     string
	RemoteAddr string // client address: equal across requests when a connection was reused
	Path       string // URL path, e.g. /v1beta/models/gemini-2.5-pro:generateContent
	Query      string // raw query ("" when none)
	Header     http.Header
	Body       []byte
}

// GeminiReply is a scripted answer. Status 0 means "answer normally" (validate and generate);
// Stall holds the request open until the client disconnects (or the server closes), and is
// recorded by Disconnects.
type GeminiReply struct {
	Status  int
	Headers map[string]string
	Body    string
	Stall   bool
}

// GeminiScript decides the reply to the n-th request (1-based) with the given body.
type GeminiScript func(n int, body []byte) GeminiReply

// GeminiServer is a fake of the Gemini generateContent endpoint bound to 127.0.0.1. It is safe
// for concurrent use. Without a script (or when the script returns Status 0) it validates the
// request as the real API does (path, x-goog-api-key or ?key=, contents roles, one of
// responseSchema / responseJsonSchema with responseMimeType application/json, no
// additionalProperties in responseSchema, no unknown fields) and answers 400/403/404 in
// google.rpc.Status form, or 200 with a JSON object built from the schema and a usageMetadata
// block (tokens = ceil(bytes/4); ThoughtsTokens added as thoughtsTokenCount).
type GeminiServer struct {
	// URL is the base URL to give the adapter (no trailing slash).
	URL string
	// APIKey, when set, is the only key accepted (400 API_KEY_INVALID otherwise).
	APIKey string
	// ThoughtsTokens is reported as thoughtsTokenCount on generated answers.
	ThoughtsTokens int

	srv  *httptest.Server
	stop chan struct{}

	mu          sync.Mutex
	script      GeminiScript
	requests    []GeminiRequest
	disconnects int
	stalled     chan struct{} // receives one value per stall that ended by client disconnect
	batchKey    string        // the key batches were submitted with, to answer their requests

	batches *batchStore
}

// NewGeminiServer starts a fake and closes it when t ends.
func NewGeminiServer(t testing.TB) *GeminiServer {
	s := &GeminiServer{stop: make(chan struct{}), stalled: make(chan struct{}, 64)}
	s.batches = newBatchStore("fake", s.answerLine)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isGeminiBatchPath(r.URL.Path) {
			s.serveBatch(w, r)
			return
		}
		s.serve(w, r)
	}))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, releasing stalled requests. It is idempotent.
func (s *GeminiServer) Close() {
	select {
	case <-s.stop:
		return
	default:
		close(s.stop)
	}
	s.srv.Close()
}

// Script sets the script (nil: answer normally).
func (s *GeminiServer) Script(f GeminiScript) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = f
}

// Requests returns a copy of the requests received so far, in arrival order.
func (s *GeminiServer) Requests() []GeminiRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GeminiRequest(nil), s.requests...)
}

// Disconnects returns how many stalled requests ended because the client closed the connection.
func (s *GeminiServer) Disconnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disconnects
}

// Disconnected receives one value each time a stalled request's client disconnects.
func (s *GeminiServer) Disconnected() <-chan struct{} { return s.stalled }

func (s *GeminiServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := readGeminiBody(r)
	s.mu.Lock()
	s.requests = append(s.requests, GeminiRequest{Method: r.Method, RemoteAddr: r.RemoteAddr, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body})
	n, script := len(s.requests), s.script
	s.mu.Unlock()

	var reply GeminiReply
	if script != nil {
		reply = script(n, body)
	}
	if reply.Stall {
		select {
		case <-r.Context().Done():
			s.mu.Lock()
			s.disconnects++
			s.mu.Unlock()
			select {
			case s.stalled <- struct{}{}:
			default:
			}
		case <-s.stop:
		}
		return
	}
	if reply.Status == 0 {
		reply = s.answer(r, body)
	}
	for k, v := range reply.Headers {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.WriteHeader(reply.Status)
	_, _ = w.Write([]byte(reply.Body))
}

func readGeminiBody(r *http.Request) ([]byte, error) {
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}

var geminiPathRE = regexp.MustCompile(`^/v1beta/models/([^/:]+):generateContent$`)

// geminiTopFields and geminiConfigFields are the accepted field names (camel and snake case).
var (
	geminiTopFields = map[string]bool{"contents": true, "systemInstruction": true, "system_instruction": true,
		"generationConfig": true, "generation_config": true, "safetySettings": true, "safety_settings": true,
		"tools": true, "toolConfig": true, "tool_config": true, "cachedContent": true, "cached_content": true}
	geminiConfigFields = map[string]bool{"temperature": true, "topP": true, "top_p": true, "topK": true, "top_k": true,
		"maxOutputTokens": true, "max_output_tokens": true, "stopSequences": true, "stop_sequences": true,
		"candidateCount": true, "candidate_count": true, "seed": true, "responseMimeType": true,
		"response_mime_type": true, "responseSchema": true, "response_schema": true,
		"responseJsonSchema": true, "response_json_schema": true, "thinkingConfig": true, "thinking_config": true}
)

// answer validates the request and generates the reply.
func (s *GeminiServer) answer(r *http.Request, body []byte) GeminiReply {
	if r.Method != http.MethodPost {
		return GeminiReply{Status: 404, Body: GeminiErrorBody(404, "NOT_FOUND", "method not found", "")}
	}
	m := geminiPathRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		return GeminiReply{Status: 404, Body: GeminiErrorBody(404, "NOT_FOUND", "path not found: "+r.URL.Path, "")}
	}
	key := r.Header.Get("x-goog-api-key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	if key == "" {
		return GeminiReply{Status: 403, Body: GeminiErrorBody(403, "PERMISSION_DENIED",
			"Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "")}
	}
	if s.APIKey != "" && key != s.APIKey {
		return GeminiReply{Status: 400, Body: GeminiErrorBody(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "")}
	}
	bad := func(format string, args ...any) GeminiReply {
		return GeminiReply{Status: 400, Body: GeminiErrorBody(400, "INVALID_ARGUMENT", fmt.Sprintf(format, args...), "")}
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return bad("Invalid JSON payload received. %v", err)
	}
	for k := range req {
		if !geminiTopFields[k] {
			return bad("Invalid JSON payload received. Unknown name %q: Cannot find field.", k)
		}
	}
	var contents []struct {
		Role  string `json:"role"`
		Parts []struct {
			Text *string `json:"text"`
		} `json:"parts"`
	}
	if err := json.Unmarshal(req["contents"], &contents); err != nil || len(contents) == 0 {
		return bad("* GenerateContentRequest.contents: contents is not specified")
	}
	prompt := 0
	for i, c := range contents {
		if c.Role != "user" && c.Role != "model" {
			return bad("Please use a valid role: user, model. (contents[%d].role %q)", i, c.Role)
		}
		if len(c.Parts) == 0 {
			return bad("* GenerateContentRequest.contents[%d].parts: contents.parts must not be empty.", i)
		}
		for _, p := range c.Parts {
			if p.Text != nil {
				prompt += len(*p.Text)
			}
		}
	}
	gc := req["generationConfig"]
	if gc == nil {
		gc = req["generation_config"]
	}
	var cfg map[string]json.RawMessage
	if gc != nil {
		if err := json.Unmarshal(gc, &cfg); err != nil {
			return bad("Invalid JSON payload received. generationConfig: %v", err)
		}
	}
	for k := range cfg {
		if !geminiConfigFields[k] {
			return bad("Invalid JSON payload received. Unknown name %q at 'generation_config': Cannot find field.", k)
		}
	}
	pick := func(a, b string) json.RawMessage {
		if v := cfg[a]; v != nil {
			return v
		}
		return cfg[b]
	}
	openAPI, jsonSchema := pick("responseSchema", "response_schema"), pick("responseJsonSchema", "response_json_schema")
	var mime string
	_ = json.Unmarshal(pick("responseMimeType", "response_mime_type"), &mime)
	if openAPI != nil && jsonSchema != nil {
		return bad("responseSchema and responseJsonSchema cannot both be set")
	}
	var schema map[string]any
	if raw := append(openAPI, jsonSchema...); raw != nil {
		if mime != "application/json" {
			return bad("responseMimeType must be application/json when a response schema is set")
		}
		if err := json.Unmarshal(raw, &schema); err != nil {
			return bad("Invalid JSON payload received. response schema: %v", err)
		}
		if openAPI != nil {
			if problem := geminiCheckOpenAPI(schema, "response_schema"); problem != "" {
				return bad("%s", problem)
			}
		}
	}
	text := `{"answer":"x"}`
	if schema != nil {
		v := sampleValue(schema, schema, 0)
		b, _ := json.Marshal(v)
		text = string(b)
	}
	out := map[string]any{
		"candidates": []any{map[string]any{
			"content":      map[string]any{"parts": []any{map[string]any{"text": text}}, "role": "model"},
			"finishReason": "STOP", "index": 0,
		}},
		"usageMetadata": geminiUsage(prompt, len(text), s.ThoughtsTokens),
		"modelVersion":  m[1],
		"responseId":    fmt.Sprintf("fake-%d", len(body)),
	}
	b, _ := json.Marshal(out)
	return GeminiReply{Status: 200, Body: string(b)}
}

// geminiUsage builds a usageMetadata block from byte counts.
func geminiUsage(promptBytes, answerBytes, thoughts int) map[string]any {
	p, c := (promptBytes+3)/4, (answerBytes+3)/4
	u := map[string]any{"promptTokenCount": p, "candidatesTokenCount": c, "totalTokenCount": p + c + thoughts,
		"promptTokensDetails": []any{map[string]any{"modality": "TEXT", "tokenCount": p}}}
	if thoughts > 0 {
		u["thoughtsTokenCount"] = thoughts
	}
	return u
}

// geminiOpenAPITypes are the type values responseSchema accepts (either case).
var geminiOpenAPITypes = map[string]bool{"STRING": true, "NUMBER": true, "INTEGER": true, "BOOLEAN": true,
	"ARRAY": true, "OBJECT": true, "NULL": true}

// geminiCheckOpenAPI returns a problem when node uses what responseSchema lacks.
func geminiCheckOpenAPI(node map[string]any, at string) string {
	for _, k := range []string{"additionalProperties", "$ref", "$defs", "$schema", "oneOf", "const"} {
		if _, ok := node[k]; ok {
			return fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", k, at)
		}
	}
	if t, ok := node["type"]; ok {
		s, isStr := t.(string)
		if !isStr || !geminiOpenAPITypes[strings.ToUpper(s)] {
			return fmt.Sprintf("Invalid value at '%s.type': %v", at, t)
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, p := range props {
			if pm, ok := p.(map[string]any); ok {
				if problem := geminiCheckOpenAPI(pm, at+".properties["+name+"]"); problem != "" {
					return problem
				}
			}
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		return geminiCheckOpenAPI(items, at+".items")
	}
	if alts, ok := node["anyOf"].([]any); ok {
		for i, a := range alts {
			if am, ok := a.(map[string]any); ok {
				if problem := geminiCheckOpenAPI(am, fmt.Sprintf("%s.any_of[%d]", at, i)); problem != "" {
					return problem
				}
			}
		}
	}
	return ""
}

// GeminiErrorBody returns a google.rpc.Status error body; retryDelay (e.g. "13s"), when set,
// adds a google.rpc.RetryInfo detail after a QuotaFailure one, as real 429s carry.
func GeminiErrorBody(code int, status, message, retryDelay string) string {
	e := map[string]any{"code": code, "message": message, "status": status}
	if retryDelay != "" {
		e["details"] = []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
				"violations": []any{map[string]any{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests"}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retryDelay},
		}
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return string(b)
}
