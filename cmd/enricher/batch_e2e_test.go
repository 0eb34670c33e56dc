package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSeedBatchExample is the seed's curl batch example (two entities, two models, an
// arbitration model) on sim models, through the alias path and the main one.
func TestSeedBatchExample(t *testing.T) {
	t.Parallel()
	_, c, schemaID := enrichSetup(t)
	for _, path := range []string{"/api/enrichment/batch/start", "/api/batch/start"} {
		start := c.must(200, "POST", path, map[string]any{
			"entities":          []any{map[string]any{"name": "Pfizer Inc", "country": "US"}, map[string]any{"name": "Roche", "country": "CH"}},
			"schema_id":         schemaID,
			"models":            []string{"sim::fast", "sim::realistic"},
			"strategy":          "multi_expertise",
			"arbitration_model": "sim::fast",
		})
		require.EqualValues(t, 2, start.get("total"))
		events, _ := c.stream(start.str("job_id"))
		types := eventTypes(events)
		require.Equal(t, "batch_started", types[0])
		require.Equal(t, []string{"batch_completed", "completed"}, types[len(types)-2:])
		sum := events[len(events)-1].data["result"].(map[string]any)
		require.EqualValues(t, 2, sum["completed_entities"])
		require.EqualValues(t, 2, sum["total_entities"])
		n := 0
		for _, e := range events {
			if e.data["type"] == "entity_completed" {
				n++
				require.Equal(t, true, e.data["success"])
				id := e.data["final_record_id"].(string)
				rec := c.must(200, "GET", "/api/records/"+id, nil)
				require.Equal(t, "fusion", rec.str("type"))
			}
		}
		require.Equal(t, 2, n)
		status := c.must(200, "GET", "/api/llm/jobs/"+start.str("job_id"), nil)
		require.Equal(t, "batch_enrichment", status.str("job_type"))
		require.EqualValues(t, 2, status.get("completed_entities"))
	}
}

func TestBatchValidation(t *testing.T) {
	t.Parallel()
	_, c, schemaID := enrichSetup(t)
	ok := map[string]any{"name": "Roche", "country": "CH"}
	tests := []struct {
		name   string
		body   map[string]any
		detail string
	}{
		{"no entities", map[string]any{"entities": []any{}, "schema_id": schemaID, "models": []string{"sim::fast"}}, "entities"},
		{"not an object", map[string]any{"entities": []any{ok, "x", 3}, "schema_id": schemaID, "models": []string{"sim::fast"}}, "entities[1] is not an object"},
		{"index out of range", map[string]any{"entities": []any{ok}, "selected_indices": []int{12}, "schema_id": schemaID, "models": []string{"sim::fast"}}, "selected_indices[0]: 12 is out of range"},
		{"pause", map[string]any{"entities": []any{ok}, "schema_id": schemaID, "models": []string{"sim::fast"}, "on_classification_mismatch": "pause"}, `on_classification_mismatch: "pause" is not allowed in a batch`},
		{"unknown execution", map[string]any{"entities": []any{ok}, "schema_id": schemaID, "models": []string{"sim::fast"}, "execution": "overnight"}, `execution: unknown execution "overnight"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.must(400, "POST", "/api/enrichment/batch/start", tt.body)
			require.Contains(t, r.str("detail")+" "+joinErrors(r), tt.detail)
		})
	}
	single := c.must(400, "POST", "/api/single/enrich/sync", map[string]any{"entity_data": ok, "schema_id": schemaID,
		"models": []string{"sim::fast"}, "execution": "provider_batch"})
	require.Contains(t, single.str("detail"), "execution: provider_batch is for batch jobs only")
	sel := c.must(200, "POST", "/api/batch/start", map[string]any{"entities": []any{ok, ok, map[string]any{"ticker": "x"}},
		"selected_indices": []int{2, 0}, "schema_id": schemaID, "models": []string{"sim::fast"}})
	require.EqualValues(t, 2, sel.get("total"))
	events, _ := c.stream(sel.str("job_id"))
	sum := events[len(events)-1].data["result"].(map[string]any)
	require.EqualValues(t, 1, sum["completed_entities"])
	require.EqualValues(t, 1, sum["failed_entities"], "entity 2 has no search key")
}

func joinErrors(r response) string {
	out := ""
	for _, e := range toStrings(r.get("errors")) {
		out += e + "; "
	}
	return out
}
