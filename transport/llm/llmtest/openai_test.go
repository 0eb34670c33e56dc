package llmtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

func postOpenAI(t *testing.T, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

func TestOpenAIServerChecksRequests(t *testing.T) {
	t.Parallel()
	strict := `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema",` +
		`"json_schema":{"name":"p","strict":true,"schema":%s}}}`
	tests := []struct {
		name       string
		flavor     llmtest.OpenAIFlavor
		key        string
		body       string
		wantStatus int
		wantError  string
		// wantViolation is a fragment of the expected spec violation; "" when the body is
		// valid per the OpenAI description (the fake's own checks go further).
		wantViolation string
	}{
		{name: "wrong key", key: "bad", body: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 401, wantError: "Incorrect API key"},
		{name: "unknown field", key: "k", body: `{"model":"m","messages":[{"role":"user","content":"hi"}],"temprature":0}`,
			wantStatus: 400, wantError: "temprature", wantViolation: "temprature"},
		{name: "max_tokens as a string", key: "k", body: `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":"5"}`,
			wantStatus: 400, wantError: "max_completion_tokens", wantViolation: "max_completion_tokens"},
		{name: "no messages", key: "k", body: `{"model":"m","messages":[]}`, wantStatus: 400, wantError: "too short", wantViolation: "messages"},
		{name: "bad role", key: "k", body: `{"model":"m","messages":[{"role":"robot","content":"hi"}]}`, wantStatus: 400, wantError: "robot",
			wantViolation: "messages"},
		{name: "json_object without the word", key: "k",
			body:       `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`,
			wantStatus: 400, wantError: "must contain the word 'json'"},
		{name: "strict missing required", key: "k",
			body:       strings.Replace(strict, "%s", `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`, 1),
			wantStatus: 400, wantError: "Missing 'a'"},
		{name: "strict open object", key: "k",
			body:       strings.Replace(strict, "%s", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, 1),
			wantStatus: 400, wantError: "additionalProperties"},
		{name: "strict examples", key: "k",
			body:       strings.Replace(strict, "%s", `{"type":"object","properties":{"a":{"type":"string","examples":["x"]}},"required":["a"],"additionalProperties":false}`, 1),
			wantStatus: 400, wantError: "'examples' is not permitted"},
		{name: "deepseek refuses json_schema", flavor: llmtest.OpenAIFlavorDeepSeek, key: "k",
			body:       strings.Replace(strict, "%s", `{"type":"object","properties":{},"required":[],"additionalProperties":false}`, 1),
			wantStatus: 400, wantError: "unavailable"},
		{name: "deepseek wants max_tokens", flavor: llmtest.OpenAIFlavorDeepSeek, key: "k",
			body:       `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5}`,
			wantStatus: 400, wantError: "max_completion_tokens"},
		{name: "ollama ignores keys", flavor: llmtest.OpenAIFlavorOllama, key: "anything",
			body: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := llmtest.NewOpenAIServer(t, tt.flavor, "k")
			status, out := postOpenAI(t, s.URL, tt.key, tt.body)
			require.Equal(t, tt.wantStatus, status, out)
			if tt.wantError != "" {
				e, _ := out["error"].(map[string]any)
				require.Contains(t, e["message"], tt.wantError)
			}
			require.Len(t, s.Requests(), 1)
			v := s.TakeViolations()
			if tt.wantViolation == "" {
				require.Empty(t, v)
				return
			}
			require.NotEmpty(t, v)
			require.Contains(t, strings.Join(v, "\n"), tt.wantViolation)
		})
	}
}

func TestOpenAIServerAnswersFromSchema(t *testing.T) {
	t.Parallel()
	schema := `{"type":"object","properties":{"s":{"type":["string","null"]},"i":{"type":"integer"},` +
		`"n":{"type":"number"},"b":{"type":"boolean"},"e":{"type":"string","enum":["red","blue"]},` +
		`"a":{"type":"array","items":{"type":"string"}},"o":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/lang"}]}},` +
		`"required":["s","i","n","b","e","a","o"],"additionalProperties":false,` +
		`"$defs":{"lang":{"type":"object","properties":{"en":{"type":"string"},"fr":{"type":"string"}},"required":["en","fr"],"additionalProperties":false}}}`
	tests := []struct {
		name   string
		flavor llmtest.OpenAIFlavor
		body   string
		usage  []string
	}{
		{name: "openai strict", body: `{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema",` +
			`"json_schema":{"name":"p","strict":true,"schema":` + schema + `}}}`,
			usage: []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details"}},
		{name: "deepseek json_object with the schema in the prompt", flavor: llmtest.OpenAIFlavorDeepSeek,
			body: `{"model":"m","messages":[{"role":"system","content":` + quote("Answer in json per {this} schema: "+schema) + `},` +
				`{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`,
			usage: []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_cache_hit_tokens",
				"prompt_cache_miss_tokens", "prompt_tokens_details", "completion_tokens_details"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := llmtest.NewOpenAIServer(t, tt.flavor, "")
			status, out := postOpenAI(t, s.URL, "", tt.body)
			require.Equal(t, 200, status, out)
			choice := out["choices"].([]any)[0].(map[string]any)
			msg := choice["message"].(map[string]any)
			require.JSONEq(t, `{"s":"x","i":1,"n":1.5,"b":true,"e":"red","a":["x"],"o":{"en":"x","fr":"x"}}`, msg["content"].(string))
			require.Nil(t, msg["refusal"])
			require.Equal(t, "stop", choice["finish_reason"])
			usage := out["usage"].(map[string]any)
			keys := make([]string, 0, len(usage))
			for k := range usage {
				keys = append(keys, k)
			}
			require.ElementsMatch(t, tt.usage, keys)
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
