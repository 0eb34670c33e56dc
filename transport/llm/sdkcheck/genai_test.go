package sdkcheck_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/gemini"
)

const testKey = "test-key-123"

const smallSchema = `{"additionalProperties":false,"properties":{"name":{"type":"string"},"age":{"type":["integer","null"]}},"required":["name","age"],"type":"object"}`

// capture is a loopback server that records each request (path, key header, body) and answers
// a minimal valid generateContent response.
type capture struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []captured
}

type captured struct {
	path, key string
	body      map[string]any
}

func newCapture(t *testing.T) *capture {
	t.Helper()
	c := &capture{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("request body is not JSON: %v: %s", err, raw)
		}
		c.mu.Lock()
		c.reqs = append(c.reqs, captured{path: r.URL.Path, key: r.Header.Get("x-goog-api-key"), body: body})
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"{\"name\":\"x\"}"}],"role":"model"},`+
			`"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}`)
	}))
	t.Cleanup(c.Close)
	return c
}

// last returns the latest request and forgets all.
func (c *capture) last(t *testing.T) captured {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Len(t, c.reqs, 1)
	r := c.reqs[0]
	c.reqs = nil
	return r
}

// TestRequestBodyEqualsGenAI sends the same call through google.golang.org/genai (the official
// client) and through the adapter, and requires the two bodies to be equal as parsed JSON, field
// for field, along with the path and the key header. (genai gives the system instruction role
// "user" even when the caller sets none; the adapter was changed to do the same, so there is
// no remaining difference.)
func TestRequestBodyEqualsGenAI(t *testing.T) {
	t.Parallel()
	companySchema := `{"type":"object","additionalProperties":false,"required":["name","country","employees"],"properties":{` +
		`"name":{"type":"string","description":"Legal name"},"country":{"type":["string","null"],"enum":["US","CH",null]},` +
		`"employees":{"type":"integer","minimum":0},"tags":{"type":"array","items":{"type":"string"}}}}`
	decode := func(s string) any {
		var v any
		require.NoError(t, json.Unmarshal([]byte(s), &v))
		return v
	}
	system := func(text string) *genai.Content {
		return &genai.Content{Parts: []*genai.Part{genai.NewPartFromText(text)}}
	}
	tests := []struct {
		name   string
		field  string // Config.SchemaField
		req    *llm.Request
		genai  []*genai.Content
		config *genai.GenerateContentConfig
	}{
		{
			name: "one turn, JSON Schema, max tokens",
			req: &llm.Request{Model: "gemini-2.5-pro", System: "You enrich company records.", MaxTokens: 1024,
				Messages: []llm.Message{{Role: "user", Content: `Entity: {"name":"Moderna Inc","country":"US"}`}},
				Schema:   json.RawMessage(companySchema)},
			genai: genai.Text(`Entity: {"name":"Moderna Inc","country":"US"}`),
			config: &genai.GenerateContentConfig{SystemInstruction: system("You enrich company records."),
				Temperature: genai.Ptr[float32](0), MaxOutputTokens: 1024,
				ResponseMIMEType: "application/json", ResponseJsonSchema: decode(companySchema)},
		},
		{
			name: "several turns, temperature, no max tokens",
			req: &llm.Request{Model: "gemini-2.5-flash", System: "Extract a person.", Temperature: 0.2,
				Messages: []llm.Message{{Role: "user", Content: "Alice is 30"}, {Role: "assistant", Content: "{}"}, {Role: "user", Content: "Again."}},
				Schema:   json.RawMessage(smallSchema)},
			genai: []*genai.Content{genai.NewContentFromText("Alice is 30", genai.RoleUser),
				genai.NewContentFromText("{}", genai.RoleModel), genai.NewContentFromText("Again.", genai.RoleUser)},
			config: &genai.GenerateContentConfig{SystemInstruction: system("Extract a person."), Temperature: genai.Ptr[float32](0.2),
				ResponseMIMEType: "application/json", ResponseJsonSchema: decode(smallSchema)},
		},
		{
			name: "OpenAPI responseSchema", field: gemini.SchemaFieldOpenAPI,
			req: &llm.Request{Model: "gemini-2.5-pro", System: "Extract a person.", MaxTokens: 512,
				Messages: []llm.Message{{Role: "user", Content: "Alice is 30"}}, Schema: json.RawMessage(smallSchema)},
			genai: genai.Text("Alice is 30"),
			config: &genai.GenerateContentConfig{SystemInstruction: system("Extract a person."), Temperature: genai.Ptr[float32](0),
				MaxOutputTokens: 512, ResponseMIMEType: "application/json",
				ResponseSchema: &genai.Schema{Type: genai.TypeObject, Required: []string{"name", "age"}, PropertyOrdering: []string{"name", "age"},
					Properties: map[string]*genai.Schema{
						"name": {Type: genai.TypeString},
						"age":  {Type: genai.TypeInteger, Nullable: genai.Ptr(true)},
					}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newCapture(t)
			sdk, err := genai.NewClient(context.Background(), &genai.ClientConfig{APIKey: testKey, Backend: genai.BackendGeminiAPI,
				HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL + "/"}})
			require.NoError(t, err)
			_, err = sdk.Models.GenerateContent(context.Background(), tt.req.Model, tt.genai, tt.config)
			require.NoError(t, err)
			want := srv.last(t)

			c, err := gemini.New(gemini.Config{BaseURL: srv.URL, APIKey: testKey, SchemaField: tt.field})
			require.NoError(t, err)
			_, err = c.Complete(context.Background(), tt.req)
			require.NoError(t, err)
			got := srv.last(t)

			require.Equal(t, want.path, got.path)
			require.Equal(t, want.key, got.key)
			require.Equal(t, want.body, got.body)
		})
	}
}
