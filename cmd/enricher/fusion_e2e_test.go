package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// enrichRecords runs one enrichment and returns the record id of each model run.
func enrichRecords(t *testing.T, c *client, schemaID string, entity map[string]any, models ...string) map[string]string {
	t.Helper()
	r := c.must(200, "POST", "/api/single/enrich/sync", map[string]any{"entity_data": entity, "schema_id": schemaID,
		"models": models, "include_per_model_results": true})
	out := map[string]string{}
	for _, m := range r.get("per_model_results").([]any) {
		mr := m.(map[string]any)
		out[mr["model"].(string)] = mr["record_id"].(string)
	}
	return out
}

func TestFusionMerge(t *testing.T) {
	t.Parallel()
	ts, c, schemaID := enrichSetup(t)
	entity := map[string]any{"name": "Moderna Inc", "country": "US"}
	ids := enrichRecords(t, c, schemaID, entity, "sim::fast", "sim::realistic", "sim::flaky")
	pair := []string{ids["sim::fast"], ids["sim::realistic"]}

	merged := c.must(200, "POST", "/api/fusion/merge", map[string]any{"result_ids": pair})
	require.Equal(t, true, merged.get("success"))
	require.Equal(t, "rule_based", merged.str("method"))
	require.Equal(t, []any{"sim::fast", "sim::realistic"}, merged.get("source_models"))
	require.Equal(t, "Moderna Inc", merged.get("merged_result").(map[string]any)["name"])
	rec := c.must(200, "GET", "/api/records/"+merged.str("record_id"), nil)
	require.Equal(t, "fusion", rec.str("type"))
	require.Equal(t, []any{pair[0], pair[1]}, rec.get("source_record_ids"))

	arb := c.must(200, "POST", "/api/fusion/merge", map[string]any{"result_ids": pair, "arbitration_model": "sim::flaky"})
	report := arb.get("conflict_report").(map[string]any)
	needs := false
	for _, fc := range report["conflicts"].([]any) {
		needs = needs || fc.(map[string]any)["needs_arbitration"].(bool)
	}
	if needs {
		require.Contains(t, []string{"llm", "rule_based"}, arb.str("method"))
		require.Equal(t, "sim::flaky", arb.str("arbitration_model"))
	} else {
		require.Equal(t, "rule_based", arb.str("method"))
	}

	start := c.must(200, "POST", "/api/fusion/merge/stream", map[string]any{"result_ids": []string{ids["sim::fast"], ids["sim::realistic"], ids["sim::flaky"]}})
	events, _ := c.stream(start.str("job_id"))
	types := eventTypes(events)
	require.Equal(t, []string{"fusion_started", "conflicts_detected", "fusion_completed", "completed"}, types)
	require.EqualValues(t, 0, events[0].data["total_models"])
	require.Equal(t, "fusion", events[0].data["job_type"])

	again := enrichRecords(t, c, schemaID, entity, "sim::fast")
	tests := []struct {
		name   string
		ids    []string
		status int
		detail string
	}{
		{"one id", []string{pair[0]}, 400, "2 to"},
		{"duplicate", []string{pair[0], pair[0]}, 400, "twice"},
		{"malformed", []string{pair[0], "x"}, 400, "not a valid id"},
		{"unknown", []string{pair[0], "00000000-0000-4000-8000-000000000000"}, 404, "not found"},
		{"same model twice", []string{pair[0], again["sim::fast"]}, 400, "two records of model"},
		{"fusion record", []string{pair[0], merged.str("record_id")}, 400, "not a successful enrichment record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.must(tt.status, "POST", "/api/fusion/merge", map[string]any{"result_ids": tt.ids})
			require.Contains(t, r.str("detail"), tt.detail)
		})
	}
	tok, _ := ts.register("spy@example.com", "Spies")
	ts.bearer(tok).must(404, "POST", "/api/fusion/merge", map[string]any{"result_ids": pair})
}
