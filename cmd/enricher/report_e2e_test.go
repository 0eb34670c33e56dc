package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// reportRecord is the part of a record detail the report test reads.
type reportRecord struct {
	ID              string         `json:"id"`
	Type            string         `json:"type"`
	Model           *string        `json:"model"`
	EntityIndex     *int           `json:"entity_index"`
	Success         bool           `json:"success"`
	MinConfidence   *float64       `json:"min_confidence"`
	StructuredOut   map[string]any `json:"structured_output"`
	EntityInput     map[string]any `json:"entity_input"`
	SourceModels    []string       `json:"source_models"`
	FieldProvenance map[string]struct {
		Sources    []string `json:"sources"`
		Method     string   `json:"method"`
		Confidence float64  `json:"confidence"`
	} `json:"field_provenance"`
}

// jobRecords returns every record of job (listing pages, then each detail).
func jobRecords(t *testing.T, c *client, jobID, filter string) []reportRecord {
	t.Helper()
	var out []reportRecord
	for page := 1; ; page++ {
		list := c.must(200, "GET", fmt.Sprintf("/api/records?job_id=%s&page_size=100&page=%d%s", jobID, page, filter), nil)
		items, _ := list.body["records"].([]any)
		for _, it := range items {
			var r reportRecord
			raw := c.must(200, "GET", "/api/records/"+it.(map[string]any)["id"].(string), nil).raw
			require.NoError(t, json.Unmarshal(raw, &r))
			require.NotContains(t, string(raw), "_expected", "not in entity_input, prompts or outputs")
			out = append(out, r)
		}
		if len(items) < 100 {
			return out
		}
	}
}

// sameExpected is the report's match rule, written out again for the brute-force check.
func sameExpected(want, got any) bool {
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		return ok && strings.ToLower(strings.Join(strings.Fields(w), " ")) == strings.ToLower(strings.Join(strings.Fields(g), " "))
	case float64:
		g, ok := got.(float64)
		return ok && math.Abs(g-w) <= 1e-6*math.Max(math.Abs(g), math.Abs(w))
	}
	return false
}

// TestModelReportMatchesBruteForce runs a 300-entity batch on two sim models, a third of the
// entities carrying _expected values (some the sims give, some they do not), and checks the
// report's accuracies and agreements against a computation over the records themselves; it
// also checks the records' provenance, the confidence filters and the report's isolation.
func TestModelReportMatchesBruteForce(t *testing.T) {
	t.Parallel()
	ts, c, schemaID := enrichSetup(t)
	const n = 300
	entities := make([]any, n)
	expected := map[int]map[string]any{}
	for i := range entities {
		e := map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US", "_sim": map[string]any{"latency_ms": 0}}
		switch i % 3 {
		case 0:
			expected[i] = map[string]any{"name": fmt.Sprintf("  company %d", i), "founded_year": float64(1850 + i%176)}
		case 1:
			expected[i] = map[string]any{"country": "us", "revenue_usd": 1e9}
		}
		if expected[i] != nil {
			e["_expected"] = expected[i]
		}
		entities[i] = e
	}
	models := []string{"sim::fast", "sim::realistic"}
	jobID := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
		"entities": entities, "schema_id": schemaID, "models": models}).str("job_id")
	require.Equal(t, "completed", c.waitStatus(jobID).str("status"))

	recs := jobRecords(t, c, jobID, "")
	require.Len(t, recs, 3*n, "two model records and one fusion per entity")

	// Brute force: accuracy per (model or "fused", field), agreement per (model, field).
	type tally struct{ hit, all int }
	acc, agree := map[string]*tally{}, map[string]*tally{}
	add := func(m map[string]*tally, key string, hit bool) {
		if m[key] == nil {
			m[key] = &tally{}
		}
		m[key].all++
		if hit {
			m[key].hit++
		}
	}
	confident := map[string]int{}
	for _, r := range recs {
		require.NotContains(t, r.EntityInput, "_expected", "never stored in entity_input")
		require.NotContains(t, r.StructuredOut, "_expected")
		require.NotNil(t, r.MinConfidence, "every record here has provenance")
		require.NotEmpty(t, r.FieldProvenance)
		if *r.MinConfidence >= 0.9 {
			confident["ge"]++
		} else {
			confident["lt"]++
		}
		who := "fused"
		if r.Type == "enrichment" {
			who = *r.Model
			for _, p := range r.FieldProvenance {
				if p.Method != "" {
					require.Equal(t, "single", p.Method)
					require.Equal(t, 0.5, p.Confidence)
				}
			}
		} else {
			require.Equal(t, "fusion", r.Type)
			for path, p := range r.FieldProvenance {
				if p.Method == "" {
					continue
				}
				for _, m := range r.SourceModels {
					add(agree, m+"|"+path, slices.Contains(p.Sources, m))
				}
			}
		}
		for field, want := range expected[*r.EntityIndex] {
			add(acc, who+"|"+field, sameExpected(want, r.StructuredOut[field]))
		}
	}
	require.NotZero(t, confident["ge"])
	require.NotZero(t, confident["lt"], "the sims disagree on some fields")

	report := c.must(200, "GET", "/api/llm/jobs/"+jobID+"/report", nil)
	var rep struct {
		Entities         int `json:"entities"`
		ExpectedEntities int `json:"expected_entities"`
		Models           []struct {
			Model       string                     `json:"model"`
			Records     int                        `json:"records"`
			SuccessRate float64                    `json:"success_rate"`
			Fields      map[string]json.RawMessage `json:"fields"`
		} `json:"models"`
		Fused struct {
			Records int                        `json:"records"`
			Fields  map[string]json.RawMessage `json:"fields"`
		} `json:"fused"`
	}
	require.NoError(t, json.Unmarshal(report.raw, &rep))
	require.Equal(t, n, rep.Entities)
	require.Equal(t, len(expected), rep.ExpectedEntities)
	require.Equal(t, n, rep.Fused.Records)
	type field struct {
		Fused, Agreed, Expected, Correct int
		Agreement, Accuracy              *float64
	}
	check := func(who string, fields map[string]json.RawMessage) {
		for _, name := range []string{"name", "country", "founded_year", "revenue_usd"} {
			var f field
			require.NoError(t, json.Unmarshal(fields[name], &f), "%s %s", who, name)
			if a := acc[who+"|"+name]; a != nil {
				require.Equal(t, a.all, f.Expected, "%s %s", who, name)
				require.Equal(t, a.hit, f.Correct, "%s %s", who, name)
				require.InDelta(t, float64(a.hit)/float64(a.all), *f.Accuracy, 1e-4)
			}
			if g := agree[who+"|"+name]; g != nil {
				require.Equal(t, g.all, f.Fused, "%s %s", who, name)
				require.Equal(t, g.hit, f.Agreed, "%s %s", who, name)
			}
		}
	}
	require.Len(t, rep.Models, 2)
	for i, m := range rep.Models {
		require.Equal(t, models[i], m.Model)
		require.Equal(t, n, m.Records)
		require.Equal(t, 1.0, m.SuccessRate)
		check(m.Model, m.Fields)
	}
	check("fused", rep.Fused.Fields)
	// Not vacuous: names are echoed (all correct), founded years are mostly not.
	require.Equal(t, acc["fused|name"].all, acc["fused|name"].hit)
	require.Less(t, acc["sim::fast|founded_year"].hit, acc["sim::fast|founded_year"].all)
	require.Less(t, agree["sim::fast|founded_year"].hit, agree["sim::fast|founded_year"].all)

	// Confidence filters: served from the index, equal to the records' own figures.
	for _, f := range []struct {
		q    string
		want int
	}{{"&min_confidence=0.9", confident["ge"]}, {"&below_confidence=0.9", confident["lt"]}} {
		total := int(c.must(200, "GET", "/api/records?job_id="+jobID+f.q, nil).get("total").(float64))
		require.Equal(t, f.want, total, f.q)
	}
	for _, bad := range []string{"min_confidence=1.5", "below_confidence=-0.1", "min_confidence=abc"} {
		c.must(400, "GET", "/api/records?"+bad, nil)
	}

	other, _ := ts.register("other@example.com", "Other Co")
	ts.bearer(other).must(404, "GET", "/api/llm/jobs/"+jobID+"/report", nil)
}
