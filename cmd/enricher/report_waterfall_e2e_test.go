package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestModelReportWaterfallCountsAskedFields runs a waterfall batch on three sim models, two
// cheap ones that leave half their fields null and a sure one, with founded_year a verify
// field, and checks every agreement figure of the report against the records: a model counts
// for a fused field of an entity only when its own record of that entity has the field in its
// provenance (what the waterfall asked it). The batch has entities where the third model ran
// for an open field but was never asked founded_year, which the first two had verified; the
// input's name and country, asked of no model, get no agreement figure at all.
func TestModelReportWaterfallCountsAskedFields(t *testing.T) {
	t.Parallel()
	ts := startWithModels(t, `{"models": [
		{"key": "sim::one", "input_price": 0.1, "output_price": 0.1, "sim": {"null_rate": 0.5}},
		{"key": "sim::two", "input_price": 0.2, "output_price": 0.2, "sim": {"null_rate": 0.5}},
		{"key": "sim::three", "input_price": 1, "output_price": 1, "sim": {"null_rate": -1}}]}`)
	c := ts.bootstrap()
	// more open fields than companySchema, so that the cheap models often leave one to the third
	schema := map[string]any{"root": map[string]any{"name": "Company", "description": "A business", "type": "object",
		"properties": map[string]any{
			"name":         map[string]any{"type": "string", "is_key": true},
			"country":      map[string]any{"type": "string", "search_key": true},
			"founded_year": map[string]any{"type": "integer"},
			"revenue_usd":  map[string]any{"type": "number"},
			"employees":    map[string]any{"type": "integer"},
			"ceo":          map[string]any{"type": "string"},
			"city":         map[string]any{"type": "string"},
			"ticker":       map[string]any{"type": "string"},
		}}}
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": schema}).str("id")

	const n = 40
	entities := make([]any, n)
	for i := range entities {
		entities[i] = map[string]any{"name": fmt.Sprintf("Cascade %d", i), "country": "US", "_sim": map[string]any{"latency_ms": 0}}
	}
	jobID := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{"entities": entities, "schema_id": schemaID,
		"strategy": "waterfall", "verify_fields": []string{"founded_year"},
		"models": []string{"sim::one", "sim::two", "sim::three"}}).str("job_id")
	require.Equal(t, "completed", c.waitStatus(jobID).str("status"))

	recs := jobRecords(t, c, jobID, "")
	asked := map[string]bool{} // "index|model|path"
	for _, r := range recs {
		if r.Type == "enrichment" && r.Success {
			for path := range r.FieldProvenance {
				asked[fmt.Sprintf("%d|%s|%s", *r.EntityIndex, *r.Model, path)] = true
			}
		}
	}
	type tally struct{ hit, all int }
	agree := map[string]*tally{}
	notAsked := 0
	for _, r := range recs {
		if r.Type != "fusion" {
			continue
		}
		for path, p := range r.FieldProvenance {
			if p.Method == "" || p.Method == "waterfall" {
				continue
			}
			for _, m := range r.SourceModels {
				if !asked[fmt.Sprintf("%d|%s|%s", *r.EntityIndex, m, path)] {
					if path == "founded_year" {
						notAsked++
					}
					continue
				}
				if agree[m+"|"+path] == nil {
					agree[m+"|"+path] = &tally{}
				}
				agree[m+"|"+path].all++
				if slices.Contains(p.Sources, m) {
					agree[m+"|"+path].hit++
				}
			}
		}
	}
	require.NotZero(t, notAsked, "the third model ran on some entity without being asked the founded_year the others verified")

	var rep struct {
		Models []struct {
			Model  string `json:"model"`
			Fields map[string]struct {
				Fused  int `json:"fused"`
				Agreed int `json:"agreed"`
			} `json:"fields"`
		} `json:"models"`
	}
	require.NoError(t, json.Unmarshal(c.must(200, "GET", "/api/llm/jobs/"+jobID+"/report", nil).raw, &rep))
	require.Len(t, rep.Models, 3)
	for _, m := range rep.Models {
		require.Zero(t, m.Fields["country"].Fused, "%s: the input's country was asked of no model", m.Model)
	}
	checked := 0
	for _, m := range rep.Models {
		for path, f := range m.Fields {
			want := agree[m.Model+"|"+path]
			if want == nil {
				want = &tally{}
			}
			require.Equal(t, want.all, f.Fused, "%s %s", m.Model, path)
			require.Equal(t, want.hit, f.Agreed, "%s %s", m.Model, path)
			checked += f.Fused
		}
	}
	total := 0
	for _, g := range agree {
		total += g.all
	}
	require.Equal(t, total, checked, "every counted agreement is in the report")
	require.NotZero(t, total)
}
