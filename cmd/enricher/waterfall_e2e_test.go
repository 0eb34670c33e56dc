package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWaterfallEndToEnd runs the waterfall strategy through the API on sim models from a
// models file, a cheap one that leaves half its fields null first: the stream shows the
// escalation, the next model is asked only the open fields, and the fused result says where
// each value came from. Bad verify_fields are 400 with a clear detail.
func TestWaterfallEndToEnd(t *testing.T) {
	t.Parallel()
	ts := startWithModels(t, `{"models": [
		{"key": "sim::cheap", "input_price": 0.1, "output_price": 0.1, "sim": {"null_rate": 0.5}},
		{"key": "sim::sure", "input_price": 1, "output_price": 1, "sim": {"null_rate": -1}}]}`)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")

	opts := c.must(200, "GET", "/api/enrichment/options", nil)
	var names []any
	for _, s := range opts.get("strategies").([]any) {
		names = append(names, s.(map[string]any)["name"])
	}
	require.Contains(t, names, "waterfall")

	body := func(i int, extra map[string]any) map[string]any {
		b := map[string]any{"schema_id": schemaID, "strategy": "waterfall", "models": []string{"sim::cheap", "sim::sure"},
			"entity_data": map[string]any{"name": fmt.Sprintf("Waterfall %d", i), "country": "US"}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	for _, tt := range []struct {
		extra  map[string]any
		detail string
	}{
		{map[string]any{"verify_fields": []string{"headquarters"}}, `verify_fields[0]: "headquarters" is not a leaf field of the schema (leaf fields: country, founded_year, name, revenue_usd)`},
		{map[string]any{"verify_fields": []string{"founded_year"}, "models": []string{"sim::cheap"}}, "verify_fields: two models must agree on a verified field; give at least 2 models"},
		{map[string]any{"verify_fields": []string{"founded_year"}, "strategy": "single_pass"}, "verify_fields: only the waterfall strategy takes verify_fields"},
	} {
		r := c.must(400, "POST", "/api/single/enrich/stream", body(0, tt.extra))
		require.Equal(t, tt.detail, r.str("detail"))
	}

	// the first entity on which the cheap model leaves a field open
	for i := range 10 {
		start := c.must(200, "POST", "/api/single/enrich/stream", body(i, nil))
		events, _ := c.stream(start.str("job_id"))
		var esc map[string]any
		for _, e := range events {
			if e.data["type"] == "waterfall_escalated" {
				esc = e.data
			}
		}
		final := events[len(events)-1].data
		require.Equal(t, "completed", final["type"])
		outcome := final["result"].(map[string]any)
		prov := outcome["field_provenance"].(map[string]any)
		if esc == nil {
			require.Equal(t, []any{"sim::cheap"}, outcome["source_models"], "nothing open: the second model is not run")
			continue
		}
		require.Equal(t, "sim::cheap", esc["from_model"])
		require.Equal(t, "sim::sure", esc["next_model"])
		fields := esc["fields"].([]any)
		require.NotEmpty(t, fields)
		result := outcome["result"].(map[string]any)
		for _, f := range fields {
			require.NotNil(t, result[f.(string)], "the second model never answers null")
			p := prov[f.(string)].(map[string]any)
			require.Equal(t, "waterfall", p["method"])
			require.Equal(t, []any{"sim::sure"}, p["sources"])
		}
		require.Equal(t, "waterfall", prov["founded_year"].(map[string]any)["method"])
		require.Equal(t, "waterfall", prov["revenue_usd"].(map[string]any)["method"])
		return
	}
	t.Fatal("the cheap model answered every field of 10 entities")
}
