package llmtest

import (
	"bytes"
	_ "embed" // the vendor API descriptions
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
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
	op   *operation
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

// errorDefault adds to op's responses a "default" response with OpenAI's ErrorResponse body
// (every OpenAI error status has that body; the batch and file operations document only 200).
func errorDefault(op map[string]any) {
	op["responses"].(map[string]any)["default"] = map[string]any{
		"description": "Error (added by llmtest: every OpenAI error status has this body).",
		"content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/ErrorResponse"}}},
	}
}

// openAIBatchSpecs validate the OpenAI Batch API operations the fake serves (upload a file,
// create, retrieve and cancel a batch, download a file's content), each trimmed from the
// OpenAI description and given the "default" error response. Patch, documented: the
// description says GET /files/{file_id}/content answers application/json with a string; the
// vendor sends the file's bytes (application/octet-stream), which for a batch's output and
// error files are JSON Lines of the "request output" object of the Batch API reference
// ({id, custom_id, response: {status_code, request_id, body} | null, error: {code, message} |
// null}); that media type and line schema are added.
var openAIBatchSpecs = []*spec{
	{name: "OpenAI files", build: func() ([]byte, error) {
		return trimSpec(openAISpecJSON, "/files", "post", func(op, _ map[string]any) { errorDefault(op) })
	}},
	{name: "OpenAI batches", build: func() ([]byte, error) {
		return trimSpec(openAISpecJSON, "/batches", "post", func(op, _ map[string]any) { errorDefault(op) })
	}},
	{name: "OpenAI batch", build: func() ([]byte, error) {
		return trimSpec(openAISpecJSON, "/batches/{batch_id}", "get", func(op, _ map[string]any) { errorDefault(op) })
	}},
	{name: "OpenAI batch cancel", build: func() ([]byte, error) {
		return trimSpec(openAISpecJSON, "/batches/{batch_id}/cancel", "post", func(op, _ map[string]any) { errorDefault(op) })
	}},
	{name: "OpenAI file content", build: func() ([]byte, error) {
		return trimSpec(openAISpecJSON, "/files/{file_id}/content", "get", func(op, _ map[string]any) {
			errorDefault(op)
			ok := op["responses"].(map[string]any)["200"].(map[string]any)
			ok["content"].(map[string]any)["application/octet-stream"] = map[string]any{"schema": map[string]any{
				"type": "string", "format": "binary", "x-line-schema": openAIBatchOutputLine}}
		})
	}},
}

// openAIBatchOutputLine is the schema of one line of a batch's output or error file.
var openAIBatchOutputLine = map[string]any{
	"type": "object", "required": []any{"id", "custom_id", "response", "error"}, "additionalProperties": false,
	"properties": map[string]any{
		"id":        map[string]any{"type": "string"},
		"custom_id": map[string]any{"type": "string"},
		"response": map[string]any{"anyOf": []any{map[string]any{"type": "null"}, map[string]any{
			"type": "object", "required": []any{"status_code", "request_id", "body"}, "additionalProperties": false,
			"properties": map[string]any{
				"status_code": map[string]any{"type": "integer"},
				"request_id":  map[string]any{"type": "string"},
				"body":        map[string]any{"type": "object"},
			}}}},
		"error": map[string]any{"anyOf": []any{map[string]any{"type": "null"}, map[string]any{
			"type": "object", "required": []any{"code", "message"},
			"properties": map[string]any{"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}},
		}}},
	},
}

// anthropicBatchSpecs validate the Message Batches operations the fake serves (create,
// retrieve, cancel, results), each trimmed from the Anthropic description; the results'
// application/x-jsonl body is validated line by line against the description's
// x-line-schema. Patch, documented: 5XX gets the 4XX error response, as for /v1/messages.
var anthropicBatchSpecs = []*spec{
	anthropicBatchSpec("/v1/messages/batches", "post"),
	anthropicBatchSpec("/v1/messages/batches/{message_batch_id}", "get"),
	anthropicBatchSpec("/v1/messages/batches/{message_batch_id}/cancel", "post"),
	anthropicBatchSpec("/v1/messages/batches/{message_batch_id}/results", "get"),
}

func anthropicBatchSpec(path, method string) *spec {
	return &spec{name: "Anthropic " + method + " " + path, build: func() ([]byte, error) {
		return trimSpec(anthropicSpecJSON, path, method, func(op, _ map[string]any) {
			responses := op["responses"].(map[string]any)
			responses["5XX"] = responses["4XX"]
		})
	}}
}

// specSet validates the exchanges of several operations: each is checked against the
// operation whose method and path it matches; one that matches none is a violation.
type specSet []*spec

// pick returns the spec of r's operation, or a violation.
func (set specSet) pick(r *http.Request) (*spec, []string) {
	var have []string
	for _, s := range set {
		op, err := s.load()
		if err != nil {
			return nil, []string{err.Error()}
		}
		if op.matches(r) {
			return s, nil
		}
		have = append(have, op.method+" "+op.path)
	}
	return nil, []string{fmt.Sprintf("%s Path '%s' not found (the descriptions have %s)",
		r.Method, r.URL.Path, strings.Join(have, ", "))}
}

func (set specSet) checkRequest(r *http.Request, body []byte) []string {
	s, v := set.pick(r)
	if s == nil {
		return v
	}
	return s.checkRequest(r, body)
}

func (set specSet) checkResponse(r *http.Request, status int, header http.Header, body []byte) []string {
	s, v := set.pick(r)
	if s == nil {
		return v
	}
	return s.checkResponse(r, status, header, body)
}

// load compiles every description of the set (once each).
func (set specSet) load() error {
	for _, s := range set {
		if _, err := s.load(); err != nil {
			return err
		}
	}
	return nil
}

// checker validates exchanges: a spec or a specSet.
type checker interface {
	checkRequest(r *http.Request, body []byte) []string
	checkResponse(r *http.Request, status int, header http.Header, body []byte) []string
}

// load compiles the description once.
func (s *spec) load() (*operation, error) {
	s.once.Do(func() {
		raw, err := s.build()
		if err == nil {
			s.op, err = compileOperation(s.name, raw)
		}
		if err != nil {
			s.err = fmt.Errorf("%s description: %w", s.name, err)
		}
	})
	return s.op, s.err
}

// checkRequest returns the violations of r, whose body is body (r.Body is not read).
func (s *spec) checkRequest(r *http.Request, body []byte) []string {
	op, err := s.load()
	if err != nil {
		return []string{err.Error()}
	}
	return op.checkRequest(r, body)
}

// checkResponse returns the violations of a response to r.
func (s *spec) checkResponse(r *http.Request, status int, header http.Header, body []byte) []string {
	op, err := s.load()
	if err != nil {
		return []string{err.Error()}
	}
	return op.checkResponse(r, status, header, body)
}

// trimSpec returns the description raw reduced to one operation (path, method) and the
// components its $refs reach, after patch has edited that operation and the component schemas.
// Security requirements are dropped: the fakes check credentials themselves, and keyless
// servers (Ollama) send none. OpenAPI 3.0 schema keywords are translated to their JSON Schema
// 2020-12 equivalents (see translate30), so the result validates with a plain JSON Schema
// validator; the keywords JSON Schema does not know (discriminator, example, xml, externalDocs,
// x-*) are annotations it ignores; discriminator only picks the oneOf branch that oneOf
// validation finds anyway.
func trimSpec(raw []byte, path, method string, patch func(op, schemas map[string]any)) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // integer bounds such as 2^63-1 stay exact
	if err := dec.Decode(&doc); err != nil {
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
	translate30(op)
	translate30(kept)
	out := map[string]any{
		"openapi":    doc["openapi"],
		"info":       doc["info"],
		"servers":    doc["servers"],
		"paths":      map[string]any{path: map[string]any{method: op}},
		"components": kept,
	}
	return json.Marshal(out)
}

// translate30 rewrites, in place, the OpenAPI 3.0 schema keywords under v that JSON Schema
// 2020-12 spells differently: "nullable": true adds "null" to the schema's type (and to its
// enum, if any), and a boolean exclusiveMinimum/exclusiveMaximum becomes the numeric bound it
// qualifies. Vendors' descriptions keep such 3.0 keywords even when they declare 3.1, so this
// runs whatever the declared version. Example values are left alone.
func translate30(v any) {
	switch n := v.(type) {
	case map[string]any:
		for k, c := range n {
			if k != "example" && k != "examples" {
				translate30(c)
			}
		}
		if nullable, ok := n["nullable"].(bool); ok {
			delete(n, "nullable")
			if nullable {
				switch t := n["type"].(type) {
				case string:
					n["type"] = []any{t, "null"}
				case []any:
					if !slices.Contains(t, any("null")) {
						n["type"] = append(t, "null")
					}
				}
				if enum, ok := n["enum"].([]any); ok && !slices.Contains(enum, nil) {
					n["enum"] = append(enum, nil)
				}
			}
		}
		for ex, bound := range map[string]string{"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"} {
			if on, ok := n[ex].(bool); ok {
				delete(n, ex)
				if on && n[bound] != nil {
					n[ex] = n[bound]
					delete(n, bound)
				}
			}
		}
	case []any:
		for _, c := range n {
			translate30(c)
		}
	}
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
func validated(s checker, v *violations, next http.HandlerFunc) http.HandlerFunc {
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
