package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSchemaGeneration(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	c := ts.bootstrap()
	samples := []struct {
		name   string
		sample map[string]any
	}{
		{"flat company", map[string]any{"name": "Moderna Inc", "country": "US", "founded_year": 2010, "revenue_usd": 6.8e9, "is_listed": true}},
		{"nested film", map[string]any{"title": map[string]any{"en": "The Lives of Others", "de": "Das Leben der Anderen"},
			"year": 2006, "director": map[string]any{"name": "Florian Henckel von Donnersmarck", "born": 1973}}},
		{"array of objects", map[string]any{"name": "Roche", "subsidiaries": []any{
			map[string]any{"name": "Genentech", "country": "US", "ownership_pct": 100.0},
			map[string]any{"name": "Chugai", "country": "JP", "ownership_pct": 61.2}}}},
	}
	for _, tt := range samples {
		t.Run(tt.name, func(t *testing.T) {
			start := c.must(200, "POST", "/api/schema/generate/stream", map[string]any{"entity_data": tt.sample, "model": "sim::fast"})
			events, _ := c.stream(start.str("job_id"))
			require.Equal(t, []string{"model_started", "model_completed", "completed"}, eventTypes(events))
			res := events[2].data["result"].(map[string]any)
			schemaID := res["schema_id"].(string)
			require.Len(t, res["suggestions"], 5)
			require.Equal(t, false, res["reused"])
			saved := c.must(200, "GET", "/api/schema/saved/"+schemaID, nil)
			require.Equal(t, "sim::fast", saved.get("generation_params").(map[string]any)["model"])
			rec := c.must(200, "GET", "/api/records/"+res["record_id"].(string), nil)
			require.Equal(t, "schema_generation", rec.str("type"))

			// The schema enriches the same sample at once.
			out := c.must(200, "POST", "/api/single/enrich/sync", map[string]any{"entity_data": tt.sample, "schema_id": schemaID,
				"models": []string{"sim::fast", "sim::realistic"}, "languages": []string{"en", "de"}})
			require.Equal(t, "completed", out.str("status"), string(out.raw))

			again := c.must(200, "POST", "/api/schema/generate/stream", map[string]any{"entity_data": tt.sample, "model": "sim::fast"})
			evs, _ := c.stream(again.str("job_id"))
			require.Equal(t, true, evs[len(evs)-1].data["result"].(map[string]any)["reused"], "the same content is reused")
		})
	}
}

func TestSchemaGenerationRetries(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	c := ts.bootstrap()
	fixed := c.must(200, "POST", "/api/schema/generate/stream", map[string]any{"model": "sim::fast",
		"entity_data": map[string]any{"name": "Pfizer", "_sim": map[string]any{"fail": "schema_invalid", "fail_attempts": 1}}})
	events, _ := c.stream(fixed.str("job_id"))
	require.Equal(t, []string{"model_started", "attempt_failed", "model_completed", "completed"}, eventTypes(events))
	require.Equal(t, "schema_generation", events[1].data["call_kind"])

	broken := c.must(200, "POST", "/api/schema/generate/stream", map[string]any{"model": "sim::fast",
		"entity_data": map[string]any{"name": "Pfizer", "_sim": map[string]any{"fail": "schema_invalid", "fail_attempts": 6}}})
	events, _ = c.stream(broken.str("job_id"))
	types := eventTypes(events)
	require.Equal(t, []string{"error", "failed"}, types[len(types)-2:])
	require.Equal(t, 6, len(types)-4, "six answers, six attempt_failed")
	errEv := events[len(events)-2].data
	require.Equal(t, "schema_generation_failed", errEv["error_code"])
	require.Equal(t, true, errEv["fatal"])
	require.Contains(t, errEv["error_message"], "no valid answer after 6 attempts")
}

func TestSchemaEdit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	c := ts.bootstrap()
	id := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	start := c.must(200, "POST", "/api/schema/saved/"+id+"/prompt/stream", map[string]any{"model": "sim::fast", "prompt": "add field regulatory_status"})
	events, _ := c.stream(start.str("job_id"))
	require.Equal(t, "completed", events[len(events)-1].data["type"])
	saved := c.must(200, "GET", "/api/schema/saved/"+id, nil)
	props := saved.get("schema_content.root.properties").(map[string]any)
	require.Contains(t, props, "regulatory_status")
	for name := range companySchema["root"].(map[string]any)["properties"].(map[string]any) {
		require.Contains(t, props, name, "the rest is kept")
	}
	require.Len(t, saved.get("ai_suggestions"), 5)

	opKey, _ := c.createKey(map[string]any{"name": "op", "role": "operator"})
	ts.key(opKey).must(403, "POST", "/api/schema/generate/stream", map[string]any{"entity_data": map[string]any{"name": "x"}, "model": "sim::fast"})
	tok, _ := ts.register("other@example.com", "Other")
	ts.bearer(tok).must(404, "POST", "/api/schema/saved/"+id+"/prompt/stream", map[string]any{"model": "sim::fast", "prompt": "add field x"})
	c.must(400, "POST", "/api/schema/saved/"+id+"/prompt/stream", map[string]any{"model": "sim::fast", "prompt": ""})
	c.must(400, "POST", "/api/schema/generate/stream", map[string]any{"entity_data": map[string]any{"name": "x"}, "model": "openai::gpt-5"})
	c.must(200, "DELETE", "/api/schema/saved/"+id, nil)
	c.must(409, "POST", "/api/schema/saved/"+id+"/prompt/stream", map[string]any{"model": "sim::fast", "prompt": "add field y"})
}
