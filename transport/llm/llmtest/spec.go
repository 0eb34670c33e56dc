package llmtest

import (
	"bytes"
	_ "embed" // the vendor API descriptions
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// The vendor API descriptions (see testdata/README.md for their origin and preprocessing).
var (
	//go:embed testdata/openai.openapi.json
	openAISpecJSON []byte
	//go:embed testdata/anthropic.openapi.json
	anthropicSpecJSON []byte
)

// spec validates exchanges against one vendor API description. It is compiled once per test
// binary, on first use, and is safe for concurrent use.
type spec struct {
	name  string
	build func() ([]byte, error) // the trimmed, patched description

	once sync.Once
	err  error
	mu   sync.Mutex // the validator's caches are not documented as concurrency-safe
	v    validator.Validator
}

// openAISpec validates POST /v1/chat/completions against the OpenAI description, trimmed to
// that operation and the components it references (compiling the whole 2 MB description takes
// ~12 s; the trimmed one a fraction of that). Patch, documented: the description lists only
// 200 and 429 for the operation; a "default" response with the ErrorResponse schema (the shape
// OpenAI sends for every error status, and the one 429 uses) is added so the fakes' other error
// bodies are validated too instead of being reported as undocumented statuses.
var openAISpec = &spec{name: "OpenAI", build: func() ([]byte, error) {
	return trimSpec(openAISpecJSON, "/chat/completions", "post", func(op, _ map[string]any) {
		responses := op["responses"].(map[string]any)
		responses["default"] = map[string]any{
			"description": "Error (added by llmtest: every OpenAI error status has this body).",
			"content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/ErrorResponse"}}},
		}
	})
}}

// anthropicSpec validates POST /v1/messages against the Anthropic description (2024-11),
// trimmed the same way. Patches, documented (each is something the vendor sends today that
// the 2024 description predates):
//   - responses: the description has 200 and 4XX only; 5XX (500 api_error, 504 timeout_error,
//     529 overloaded_error, sent with the same error body) gets the 4XX response;
//   - error types billing_error (402), timeout_error (504) and request_too_large (413) join
//     the error body's oneOf and discriminator, shaped like the others;
//   - Message.stop_reason also allows "pause_turn", "refusal" and
//     "model_context_window_exceeded";
//   - response content blocks may also be {"type":"thinking","thinking","signature"}
//     (extended thinking, which the adapter skips).
//
// The requests our adapter sends need no patch: every field it uses is in the 2024
// CreateMessageParams.
var anthropicSpec = &spec{name: "Anthropic", build: func() ([]byte, error) {
	return trimSpec(anthropicSpecJSON, "/v1/messages", "post", func(op, schemas map[string]any) {
		responses := op["responses"].(map[string]any)
		responses["5XX"] = responses["4XX"]

		errField := schemas["ErrorResponse"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)
		mapping := errField["discriminator"].(map[string]any)["mapping"].(map[string]any)
		for typ, name := range map[string]string{"billing_error": "BillingError", "timeout_error": "TimeoutError",
			"request_too_large": "RequestTooLargeError"} {
			schemas[name] = map[string]any{
				"title": name, "type": "object", "required": []any{"type", "message"},
				"properties": map[string]any{
					"type":    map[string]any{"type": "string", "const": typ, "enum": []any{typ}},
					"message": map[string]any{"type": "string"},
				},
			}
			ref := "#/components/schemas/" + name
			mapping[typ] = ref
			errField["oneOf"] = append(errField["oneOf"].([]any), map[string]any{"$ref": ref})
		}

		schemas["ResponseThinkingBlock"] = map[string]any{
			"title": "ResponseThinkingBlock", "type": "object", "required": []any{"type", "thinking", "signature"},
			"properties": map[string]any{
				"type":      map[string]any{"type": "string", "const": "thinking", "enum": []any{"thinking"}},
				"thinking":  map[string]any{"type": "string"},
				"signature": map[string]any{"type": "string"},
			},
		}
		block := schemas["ContentBlock"].(map[string]any)
		block["discriminator"].(map[string]any)["mapping"].(map[string]any)["thinking"] = "#/components/schemas/ResponseThinkingBlock"
		block["oneOf"] = append(block["oneOf"].([]any), map[string]any{"$ref": "#/components/schemas/ResponseThinkingBlock"})

		stop := schemas["Message"].(map[string]any)["properties"].(map[string]any)["stop_reason"].(map[string]any)
		for _, branch := range stop["anyOf"].([]any) {
			if b := branch.(map[string]any); b["enum"] != nil {
				b["enum"] = append(b["enum"].([]any), "pause_turn", "refusal", "model_context_window_exceeded")
			}
		}
	})
}}

// load compiles the description once.
func (s *spec) load() error {
	s.once.Do(func() {
		raw, err := s.build()
		if err != nil {
			s.err = fmt.Errorf("%s description: %w", s.name, err)
			return
		}
		doc, err := libopenapi.NewDocument(raw)
		if err != nil {
			s.err = fmt.Errorf("%s description: %w", s.name, err)
			return
		}
		v, errs := validator.NewValidator(doc, config.WithoutSecurityValidation())
		if len(errs) > 0 {
			s.err = fmt.Errorf("%s description: %v", s.name, errs)
			return
		}
		s.v = v
	})
	return s.err
}

// checkRequest returns the violations of r, whose body is body (r.Body is not read).
func (s *spec) checkRequest(r *http.Request, body []byte) []string {
	if err := s.load(); err != nil {
		return []string{err.Error()}
	}
	req := specRequest(r, body)
	s.mu.Lock()
	ok, errs := s.v.ValidateHttpRequestSync(req)
	s.mu.Unlock()
	if ok {
		return nil
	}
	return describe(s.name+" request", errs)
}

// checkResponse returns the violations of a response to r.
func (s *spec) checkResponse(r *http.Request, status int, header http.Header, body []byte) []string {
	if err := s.load(); err != nil {
		return []string{err.Error()}
	}
	resp := &http.Response{StatusCode: status, Header: header.Clone(), Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body))}
	s.mu.Lock()
	ok, errs := s.v.ValidateHttpResponse(specRequest(r, nil), resp)
	s.mu.Unlock()
	if ok {
		return nil
	}
	return describe(fmt.Sprintf("%s response %d", s.name, status), errs)
}

// specRequest is a copy of r with body, as the validator reads it.
func specRequest(r *http.Request, body []byte) *http.Request {
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	return req
}

// describe renders validation errors, one line each, with their schema failures.
func describe(what string, errs []*verrors.ValidationError) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s: %s", what, e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			fmt.Fprintf(&sb, " (%s)", e.Reason)
		}
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&sb, "; %s: %s", f.FieldPath, f.Reason)
		}
		out = append(out, sb.String())
	}
	return out
}

// trimSpec returns the description raw reduced to one operation (path, method) and the
// components its $refs reach, after patch has edited that operation and the component schemas. Security requirements are
// dropped: the fakes check credentials themselves, and keyless servers (Ollama) send none.
func trimSpec(raw []byte, path, method string, patch func(op, schemas map[string]any)) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	item, _ := paths[path].(map[string]any)
	op, _ := item[method].(map[string]any)
	if op == nil {
		return nil, fmt.Errorf("no %s %s", method, path)
	}
	delete(op, "security")
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	patch(op, schemas)
	kept := map[string]any{}
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			if ref, ok := n["$ref"].(string); ok {
				keepRef(components, kept, ref, walk)
			}
			for _, c := range n {
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(op)
	out := map[string]any{
		"openapi":    doc["openapi"],
		"info":       doc["info"],
		"servers":    doc["servers"],
		"paths":      map[string]any{path: map[string]any{method: op}},
		"components": kept,
	}
	return json.Marshal(out)
}

// keepRef copies the component ref names ("#/components/<kind>/<name>") from all into kept,
// walking it the first time.
func keepRef(all, kept map[string]any, ref string, walk func(any)) {
	parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
	if len(parts) != 2 || !strings.HasPrefix(ref, "#/components/") {
		return
	}
	kind, name := parts[0], strings.ReplaceAll(strings.ReplaceAll(parts[1], "~1", "/"), "~0", "~")
	src, _ := all[kind].(map[string]any)
	dst, _ := kept[kind].(map[string]any)
	if dst == nil {
		dst = map[string]any{}
		kept[kind] = dst
	}
	if _, done := dst[name]; done || src[name] == nil {
		return
	}
	dst[name] = src[name]
	walk(src[name])
}

// violations collects a fake's spec violations. It is safe for concurrent use.
type violations struct {
	mu   sync.Mutex
	list []string
}

func (v *violations) add(list ...string) {
	if len(list) == 0 {
		return
	}
	v.mu.Lock()
	v.list = append(v.list, list...)
	v.mu.Unlock()
}

// take returns the violations so far, sorted, and forgets them.
func (v *violations) take() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.list
	v.list = nil
	sort.Strings(out)
	return out
}

// watch makes t fail, when it ends, with every violation v still holds; the fake's Close
// must run first (register watch before the Close cleanup: cleanups run last-first).
func watch(t testing.TB, name string, v *violations) {
	t.Helper()
	t.Cleanup(func() {
		for _, msg := range v.take() {
			t.Errorf("llmtest %s fake: spec violation: %s", name, msg)
		}
	})
}

// validated wraps next so that every request it receives and every complete response it sends
// is checked against s, the violations going to v. A response the client hung up on (a stall,
// a disconnect during keep-alive lines) is not checked: it was never complete.
func validated(s *spec, v *violations, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		v.add(s.checkRequest(r, body)...)
		rec := &teeWriter{ResponseWriter: w}
		next(rec, r)
		if r.Context().Err() != nil || rec.status == 0 && rec.body.Len() == 0 {
			return
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		v.add(s.checkResponse(r, status, w.Header(), rec.body.Bytes())...)
	}
}

// teeWriter passes a response through and keeps a copy of its status and body.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (t *teeWriter) WriteHeader(status int) {
	if t.status == 0 {
		t.status = status
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.body.Write(p)
	return t.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (t *teeWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
