package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

// TestVendorsEndToEnd runs enrichments against the four seed vendors' fakes and an
// Ollama-compatible fake over loopback, through the real adapters.
func TestVendorsEndToEnd(t *testing.T) {
	t.Parallel()
	oa := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorOpenAI, "sk-openai-test")
	ds := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorDeepSeek, "sk-deepseek-test")
	ol := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorOllama, "")
	an := llmtest.NewAnthropicServer(t, "sk-ant-test")
	ge := llmtest.NewGeminiServer(t)
	ge.APIKey = "gemini-test-key"

	models := filepath.Join(t.TempDir(), "models.json")
	require.NoError(t, os.WriteFile(models, []byte(`{"models": [{"key": "ollama::llama3.2", "input_price": 0, "output_price": 0}]}`), 0o600))
	env := map[string]string{
		"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_MODELS_FILE": models,
		"OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": oa.URL,
		"DEEPSEEK_API_KEY": "sk-deepseek-test", "DEEPSEEK_BASE_URL": ds.URL,
		"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": an.URL,
		"GEMINI_API_KEY": "gemini-test-key", "GEMINI_BASE_URL": ge.URL,
		"OLLAMA_BASE_URL": ol.URL,
	}
	ts := startServer(t, t.TempDir(), env, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	seed := []string{"anthropic::claude-sonnet-4-5-20250514", "openai::gpt-4o", "google::gemini-2.5-pro", "deepseek::deepseek-chat"}
	prices := map[string][2]float64{seed[0]: {3, 15}, seed[1]: {2.5, 10}, seed[2]: {1.25, 10}, seed[3]: {0.28, 0.42}, "ollama::llama3.2": {0, 0}}

	for _, models := range [][]string{seed, {"ollama::llama3.2"}} {
		r := c.must(200, "POST", "/api/single/enrich/sync", map[string]any{
			"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"}, "schema_id": schemaID,
			"models": models, "include_per_model_results": true, "strategy": "multi_expertise",
		})
		require.Equal(t, "completed", r.str("status"), string(r.raw))
		for _, m := range r.get("per_model_results").([]any) {
			mr := m.(map[string]any)
			key := mr["model"].(string)
			require.Equal(t, true, mr["success"], "%s: %v", key, mr["error_message"])
			rec := c.must(200, "GET", "/api/records/"+mr["record_id"].(string), nil)
			in, out := rec.get("input_tokens").(float64), rec.get("output_tokens").(float64)
			require.Greater(t, in, 0.0, key)
			require.Greater(t, out, 0.0, key)
			p := prices[key]
			require.InDelta(t, in*p[0]/1e6+out*p[1]/1e6, rec.get("cost_usd").(float64), 1e-12, key)
		}
	}
	require.NotEmpty(t, oa.Requests())
	require.NotEmpty(t, an.Requests())
	require.NotEmpty(t, ge.Requests())
	require.NotEmpty(t, ds.Requests())
	require.NotEmpty(t, ol.Requests())
	// The first body each vendor received, for the record (go test -v): issue 4's closing note.
	for _, b := range []struct {
		vendor string
		body   []byte
	}{{"anthropic", an.Requests()[0].Body}, {"openai", oa.Requests()[0].Body}, {"gemini", ge.Requests()[0].Body},
		{"deepseek", ds.Requests()[0].Body}, {"ollama", ol.Requests()[0].Body}} {
		var pretty bytes.Buffer
		require.NoError(t, json.Indent(&pretty, b.body, "", "  "), b.vendor)
		t.Logf("%s request body:\n%s", b.vendor, pretty.String())
	}
}

// TestCancelAbortsVendorRequest cancels a job whose OpenAI call is stalled: the fake sees its
// connection close, and the job ends cancelled.
func TestCancelAbortsVendorRequest(t *testing.T) {
	t.Parallel()
	oa := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorOpenAI, "sk-openai-test")
	oa.Script(func(n int, body []byte) llmtest.OpenAIReply { return llmtest.OpenAIReply{Stall: true} })
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey,
		"OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": oa.URL}, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	jobID := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{"entity_data": map[string]any{"name": "Roche", "country": "CH"},
		"schema_id": schemaID, "models": []string{"openai::gpt-4o"}}).str("job_id")
	c.streamN(jobID, 1) // model_started: the call is on its way
	for deadline := time.Now().Add(10 * time.Second); len(oa.Requests()) == 0; runtime.Gosched() {
		require.True(t, time.Now().Before(deadline), "the call never reached the vendor")
	}
	c.must(200, "POST", "/api/llm/cancel/"+jobID, nil)
	select {
	case <-oa.Disconnected():
	case <-time.After(10 * time.Second):
		t.Fatal("the vendor never saw the connection close")
	}
	events, _ := c.stream(jobID)
	require.Equal(t, "cancelled", events[len(events)-1].data["type"])
}
