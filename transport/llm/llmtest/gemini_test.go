package llmtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGeminiServerValidates(t *testing.T) {
	t.Parallel()
	const okPath = "/v1beta/models/gemini-2.5-pro:generateContent"
	const contents = `"contents":[{"role":"user","parts":[{"text":"hi"}]}]`
	tests := []struct {
		name       string
		path       string
		key        string
		body       string
		wantStatus int
		wantInBody string
	}{
		{"minimal", okPath, "k", `{` + contents + `}`, 200, `"candidates"`},
		{"key in query", okPath + "?key=k", "", `{` + contents + `}`, 200, `"usageMetadata"`},
		{"snake case", okPath, "k", `{` + contents + `,"generation_config":{"response_mime_type":"application/json","response_json_schema":{"type":"object","properties":{"a":{"type":"string"}}}}}`, 200, `{\"a\":\"x\"}`},
		{"no key", okPath, "", `{` + contents + `}`, 403, "PERMISSION_DENIED"},
		{"wrong key", okPath, "bad", `{` + contents + `}`, 400, "API key not valid"},
		{"wrong path", "/v1/models/x:generate", "k", `{` + contents + `}`, 404, "NOT_FOUND"},
		{"no contents", okPath, "k", `{}`, 400, "contents is not specified"},
		{"assistant role", okPath, "k", `{"contents":[{"role":"assistant","parts":[{"text":"hi"}]}]}`, 400, "valid role"},
		{"unknown field", okPath, "k", `{` + contents + `,"temperature":0}`, 400, "Unknown name"},
		{"unknown config field", okPath, "k", `{` + contents + `,"generationConfig":{"temprature":0}}`, 400, "Unknown name"},
		{"both schemas", okPath, "k", `{` + contents + `,"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"STRING"},"responseJsonSchema":{"type":"string"}}}`, 400, "cannot both"},
		{"schema without json mime", okPath, "k", `{` + contents + `,"generationConfig":{"responseJsonSchema":{"type":"string"}}}`, 400, "responseMimeType"},
		{"additionalProperties in responseSchema", okPath, "k", `{` + contents + `,"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","additionalProperties":false}}}`, 400, "additionalProperties"},
		{"type array in responseSchema", okPath, "k", `{` + contents + `,"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"a":{"type":["STRING","NULL"]}}}}}`, 400, "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewGeminiServer(t)
			s.APIKey = "k"
			req, err := http.NewRequest(http.MethodPost, s.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.key != "" {
				req.Header.Set("x-goog-api-key", tt.key)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			require.Contains(t, string(body), tt.wantInBody)
			require.Len(t, s.Requests(), 1)
			require.Equal(t, tt.body, string(s.Requests()[0].Body))
		})
	}
}

func TestSampleValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		schema string
		want   string
	}{
		{"scalars", `{"type":"object","properties":{"s":{"type":"string"},"i":{"type":"INTEGER"},"n":{"type":["number","null"]},"b":{"type":"boolean"}}}`, `{"s":"x","i":1,"n":1.5,"b":true}`},
		{"array of objects", `{"type":"array","items":{"type":"object","properties":{"a":{"type":"string"}}}}`, `[{"a":"x"}]`},
		{"multilingual object", `{"type":"object","properties":{"name":{"type":"object","properties":{"en":{"type":"string"},"fr":{"type":"string"}},"required":["en","fr"]}}}`, `{"name":{"en":"x","fr":"x"}}`},
		{"enum, anyOf and ref", `{"$defs":{"C":{"type":"string","enum":["red","blue"]}},"type":"object","properties":{"c":{"$ref":"#/$defs/C"},"u":{"anyOf":[{"type":"integer"},{"type":"string"}]}}}`, `{"c":"red","u":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var schema map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.schema), &schema))
			got, err := json.Marshal(sampleValue(schema, schema, 0))
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
}

func TestGeminiServerUsageAndScript(t *testing.T) {
	t.Parallel()
	s := NewGeminiServer(t)
	s.ThoughtsTokens = 19
	s.Script(func(n int, _ []byte) GeminiReply {
		if n == 1 {
			return GeminiReply{Status: 429, Headers: map[string]string{"Retry-After": "2"}, Body: GeminiErrorBody(429, "RESOURCE_EXHAUSTED", "slow down", "2s")}
		}
		return GeminiReply{}
	})
	post := func() (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/v1beta/models/m:generateContent",
			strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"12345678"}]}]}`))
		require.NoError(t, err)
		req.Header.Set("x-goog-api-key", "k")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}
	resp, body := post()
	require.Equal(t, 429, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	require.Contains(t, string(body), `"retryDelay":"2s"`)

	resp, body = post()
	require.Equal(t, 200, resp.StatusCode)
	var out struct {
		UsageMetadata struct {
			Prompt     int `json:"promptTokenCount"`
			Candidates int `json:"candidatesTokenCount"`
			Thoughts   int `json:"thoughtsTokenCount"`
			Total      int `json:"totalTokenCount"`
		} `json:"usageMetadata"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	u := out.UsageMetadata
	require.Equal(t, 2, u.Prompt)
	require.Equal(t, 19, u.Thoughts)
	require.Positive(t, u.Candidates)
	require.Equal(t, u.Prompt+u.Candidates+u.Thoughts, u.Total)
}
