package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

// TestArbitrationWithOpenAIFake arbitrates sim models' conflicts with openai::gpt-4o served by
// the OpenAI fake: once with sound decisions (method llm), once with garbage (rule fallback).
func TestArbitrationWithOpenAIFake(t *testing.T) {
	t.Parallel()
	oa := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorOpenAI, "sk-openai-test")
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey,
		"OPENAI_API_KEY": "sk-openai-test", "OPENAI_BASE_URL": oa.URL}, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")

	// Find an entity whose two sim runs have a conflict that needs arbitration.
	var ids map[string]string
	var pending []map[string]any
	for i := 0; i < 20 && len(pending) == 0; i++ {
		ids = enrichRecords(t, c, schemaID, map[string]any{"name": "Company " + string(rune('A'+i)), "country": "US"}, "sim::fast", "sim::realistic")
		merged := c.must(200, "POST", "/api/fusion/merge", map[string]any{"result_ids": []string{ids["sim::fast"], ids["sim::realistic"]}})
		for _, fc := range merged.get("conflict_report").(map[string]any)["conflicts"].([]any) {
			if m := fc.(map[string]any); m["needs_arbitration"] == true {
				pending = append(pending, m)
			}
		}
	}
	require.NotEmpty(t, pending, "sim models disagree on some field within 20 entities")

	decide := func(garbage bool) llmtest.OpenAIScript {
		return func(n int, body []byte) llmtest.OpenAIReply {
			if !strings.Contains(string(body), "decisions") {
				return llmtest.OpenAIReply{}
			}
			if garbage {
				return llmtest.OpenAIReply{Content: `{"decisions": "no idea"}`}
			}
			var ds []map[string]any
			for _, p := range pending {
				ds = append(ds, map[string]any{"path": p["path"], "value": p["values_by_model"].(map[string]any)["sim::realistic"],
					"chosen_model": "sim::realistic", "reasoning": "more precise"})
			}
			b, _ := json.Marshal(map[string]any{"decisions": ds})
			return llmtest.OpenAIReply{Content: string(b)}
		}
	}
	pair := []string{ids["sim::fast"], ids["sim::realistic"]}
	for _, tt := range []struct {
		garbage bool
		method  string
	}{{false, "llm"}, {true, "rule_based"}} {
		oa.Script(decide(tt.garbage))
		start := c.must(200, "POST", "/api/fusion/merge/stream", map[string]any{"result_ids": pair, "arbitration_model": "openai::gpt-4o"})
		events, _ := c.stream(start.str("job_id"))
		types := eventTypes(events)
		require.Equal(t, []string{"fusion_started", "conflicts_detected", "arbitration_started"}, types[:3])
		require.Equal(t, []string{"fusion_completed", "completed"}, types[len(types)-2:])
		var arb map[string]any
		for _, e := range events {
			if e.data["type"] == "arbitration_completed" {
				arb = e.data
			}
		}
		require.NotNil(t, arb)
		require.Equal(t, !tt.garbage, arb["success"])
		require.Equal(t, tt.garbage, arb["fallback_to_rule_based"])
		res := events[len(events)-1].data["result"].(map[string]any)
		require.Equal(t, tt.method, res["method"])
		require.Greater(t, res["cost_usd"].(float64), 0.0, "the arbitration call is billed at gpt-4o prices")
		if !tt.garbage {
			merged := res["merged_result"].(map[string]any)
			path := pending[0]["path"].(string)
			if !strings.Contains(path, ".") {
				require.Equal(t, pending[0]["values_by_model"].(map[string]any)["sim::realistic"], merged[path])
			}
		}
	}
}
