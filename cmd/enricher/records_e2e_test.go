package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRecordsListAndDelete(t *testing.T) {
	t.Parallel()
	ts, c, schemaID := enrichSetup(t)
	start := c.must(200, "POST", "/api/batch/start", map[string]any{
		"entities":  []any{map[string]any{"name": "Pfizer Inc", "country": "US"}, map[string]any{"name": "Roche", "country": "CH"}},
		"schema_id": schemaID, "models": []string{"sim::fast", "sim::realistic"},
	})
	c.stream(start.str("job_id"))
	jobID := start.str("job_id")

	all := c.must(200, "GET", "/api/records?type=enrichment&page_size=10", nil)
	require.EqualValues(t, 4, all.get("total"), "two entities × two models")
	require.Len(t, all.get("records"), 4)
	require.NotContains(t, all.body["records"].([]any)[0], "prompts", "list items are summaries")
	byJob := c.must(200, "GET", "/api/records?job_id="+jobID, nil)
	require.EqualValues(t, 6, byJob.get("total"), "and one fusion record per entity")
	paged := c.must(200, "GET", "/api/records?job_id="+jobID+"&page=2&page_size=4&sort_by=cost_usd&sort_order=asc", nil)
	require.Len(t, paged.get("records"), 2)
	require.EqualValues(t, 2, paged.get("total_pages"))
	search := c.must(200, "GET", "/api/records?search=roche", nil)
	require.EqualValues(t, 3, search.get("total"))
	for _, bad := range []string{"?type=x", "?sort_by=name", "?sort_order=up", "?page_size=0", "?success=maybe", "?since=yesterday", "?job_id=nope"} {
		c.must(400, "GET", "/api/records"+bad, nil)
	}

	stats := c.must(200, "GET", "/api/records/stats", nil)
	require.EqualValues(t, 6, stats.get("total_records"))
	require.EqualValues(t, 4, stats.get("by_type").(map[string]any)["enrichment"])
	require.EqualValues(t, 2, stats.get("by_type").(map[string]any)["fusion"])
	require.EqualValues(t, 2, stats.get("by_model").(map[string]any)["sim::fast"].(map[string]any)["records"])
	require.EqualValues(t, 4, c.must(200, "GET", "/api/records/stats?type=enrichment", nil).get("total_records"))
	ts.clock.Advance(time.Second) // end_date (default now) is exclusive; the test clock stands still
	summary := c.must(200, "GET", "/api/costs/summary", nil)
	require.Greater(t, summary.get("total_requests").(float64), 3.0)
	require.Greater(t, summary.get("total_cost").(float64), 0.0)
	require.Contains(t, []any{"sim::fast", "sim::realistic"}, summary.get("most_used_model"))
	byModel := c.must(200, "GET", "/api/costs/by-model", nil).get("models").([]any)
	require.Len(t, byModel, 2)
	require.Equal(t, "sim::realistic", byModel[0].(map[string]any)["model"], "the pricier model first")
	c.must(400, "GET", "/api/costs/summary?start_date=2026-05-01&end_date=2026-04-01", nil)
	empty := c.must(200, "GET", "/api/costs/summary?start_date=2020-01-01&end_date=2020-02-01", nil)
	require.Nil(t, empty.get("most_used_model"))

	ids := []string{}
	for _, r := range all.body["records"].([]any) {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	tok, _ := ts.register("other@example.com", "Other")
	other := ts.bearer(tok)
	r := other.must(200, "POST", "/api/records/batch-delete", map[string]any{"ids": ids[:2]})
	require.EqualValues(t, 0, r.get("deleted"))
	require.Len(t, r.get("not_found"), 2, "another organization's ids are not found")
	c.must(200, "GET", "/api/records/"+ids[0], nil)

	r = c.must(200, "POST", "/api/records/batch-delete", map[string]any{"ids": ids[:2]})
	require.EqualValues(t, 2, r.get("deleted"))
	require.EqualValues(t, 2, c.must(200, "GET", "/api/records?type=enrichment", nil).get("total"))
	require.EqualValues(t, 4, c.must(200, "GET", "/api/records?type=enrichment&include_deleted=true", nil).get("total"))
	require.Equal(t, true, c.must(200, "GET", "/api/records/"+ids[0], nil).get("is_deleted"), "readable by id")

	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	r = c.must(400, "POST", "/api/records/batch-delete", map[string]any{"ids": many})
	require.Equal(t, "at most 100 ids per request", r.str("detail"))
	other.must(403, "POST", "/api/records/batch-delete", map[string]any{"ids": ids[:1], "hard_delete": true})
	other.must(403, "POST", "/api/records/batch-restore", map[string]any{"ids": ids[:1]})
	r = c.must(200, "POST", "/api/records/batch-restore", map[string]any{"ids": ids[:2]})
	require.EqualValues(t, 2, r.get("restored"))
	r = c.must(200, "POST", "/api/records/batch-delete", map[string]any{"ids": ids[:1], "hard_delete": true})
	require.EqualValues(t, 1, r.get("deleted"))
	c.must(404, "GET", "/api/records/"+ids[0], nil)
}
