package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/storage/postgres/pgtest"
)

// postgresDatabase creates a database of its own for this test, dropped when t ends (pgtest).
func postgresDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.Database(t, "enricher_e2e", "the PostgreSQL end-to-end test")
}

// TestServeOnPostgres runs the server with database_url: a single and a batch enrichment
// complete, their records read back, list and sum; a second server on the same database sees
// them all, and nothing was written to the data directory.
func TestServeOnPostgres(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_DATABASE_URL": postgresDatabase(t)}
	dir := t.TempDir()
	ts := startServer(t, dir, env, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")

	single := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{
		"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"}, "schema_id": schemaID, "models": []string{"sim::fast"},
	})
	events, _ := c.stream(single.str("job_id"))
	types := eventTypes(events)
	require.Equal(t, "completed", types[len(types)-1])
	var singleRecords []string
	for _, e := range events {
		if e.data["type"] == "model_completed" {
			singleRecords = append(singleRecords, e.data["record_id"].(string))
		}
	}
	require.Len(t, singleRecords, 1)

	batch := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
		"entities":  []any{map[string]any{"name": "Pfizer Inc", "country": "US"}, map[string]any{"name": "Roche", "country": "CH"}},
		"schema_id": schemaID, "models": []string{"sim::fast", "sim::realistic"},
	})
	events, _ = c.stream(batch.str("job_id"))
	sum := events[len(events)-1].data["result"].(map[string]any)
	require.EqualValues(t, 2, sum["completed_entities"])
	var finals []string
	for _, e := range events {
		if e.data["type"] == "entity_completed" {
			finals = append(finals, e.data["final_record_id"].(string))
		}
	}
	require.Len(t, finals, 2)
	for _, id := range append(finals, singleRecords...) {
		rec := c.must(200, "GET", "/api/records/"+id, nil)
		require.Equal(t, id, rec.str("id"))
		require.NotNil(t, rec.get("structured_output"))
	}
	list := c.must(200, "GET", "/api/records?job_id="+batch.str("job_id")+"&limit=100", nil)
	total := list.get("total")
	require.GreaterOrEqual(t, total, float64(6), "two entities, two models and a fusion each")
	require.Equal(t, "completed", c.must(200, "GET", "/api/llm/jobs/"+batch.str("job_id"), nil).str("status"))

	other, _ := ts.register("pg-other@example.com", "Other")
	ts.bearer(other).must(404, "GET", "/api/records/"+finals[0], nil)

	second := startServer(t, t.TempDir(), env, nil)
	again := second.bootstrap().must(200, "GET", "/api/records?job_id="+batch.str("job_id")+"&limit=100", nil)
	require.Equal(t, total, again.get("total"), "a second node on the database sees every record")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing is stored in data_dir")
}
