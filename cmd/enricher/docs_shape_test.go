package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// shapes checks JSON values against the component schemas of the served OpenAPI document. It
// understands the subset the document uses ($ref, allOf, oneOf, type, const, enum, properties,
// required, items, additionalProperties) and, stricter than JSON Schema, reports every object
// field that the schema does not document.
type shapes struct {
	schemas map[string]any
}

func newShapes(t *testing.T, doc []byte) shapes {
	var d struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(doc, &d))
	return shapes{schemas: d.Components.Schemas}
}

// conform returns the problems of v against component name, one message per problem.
func (s shapes) conform(name string, v any) []string {
	return s.check(map[string]any{"$ref": "#/components/schemas/" + name}, v, name, true)
}

func (s shapes) resolve(schema map[string]any) map[string]any {
	for {
		ref, ok := schema["$ref"].(string)
		if !ok {
			return schema
		}
		schema, _ = s.schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		if schema == nil {
			return map[string]any{"not": "unresolved " + ref}
		}
	}
}

// fields lists the properties a schema documents, through $ref and allOf.
func (s shapes) fields(schema map[string]any) map[string]bool {
	schema = s.resolve(schema)
	out := map[string]bool{}
	for k := range asMap(schema["properties"]) {
		out[k] = true
	}
	for _, part := range asSlice(schema["allOf"]) {
		for k := range s.fields(asMap(part)) {
			out[k] = true
		}
	}
	return out
}

func (s shapes) check(schema map[string]any, v any, at string, strict bool) []string {
	schema = s.resolve(schema)
	if why, ok := schema["not"].(string); ok {
		return []string{at + ": " + why}
	}
	var out []string
	if parts := asSlice(schema["allOf"]); parts != nil {
		for _, p := range parts {
			out = append(out, s.check(asMap(p), v, at, false)...)
		}
		if obj, ok := v.(map[string]any); ok && strict {
			out = append(out, extraFields(obj, s.fields(schema), at)...)
		}
		return out
	}
	if alts := asSlice(schema["oneOf"]); alts != nil {
		for _, a := range alts {
			if len(s.check(asMap(a), v, at, strict)) == 0 {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %s matches none of its %d alternatives", at, short(v), len(alts))}
	}
	if c, ok := schema["const"]; ok && !equalJSON(c, v) {
		out = append(out, fmt.Sprintf("%s: %s, want %v", at, short(v), c))
	}
	if e := asSlice(schema["enum"]); e != nil && !slices.ContainsFunc(e, func(x any) bool { return equalJSON(x, v) }) {
		out = append(out, fmt.Sprintf("%s: %s is not one of %v", at, short(v), e))
	}
	if types := typeList(schema["type"]); types != nil && !slices.Contains(types, jsonType(v)) &&
		!(jsonType(v) == "integer" && slices.Contains(types, "number")) {
		return append(out, fmt.Sprintf("%s: %s is %s, want %v", at, short(v), jsonType(v), types))
	}
	switch v := v.(type) {
	case map[string]any:
		props := asMap(schema["properties"])
		for _, r := range asSlice(schema["required"]) {
			if _, ok := v[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s: required field %q missing", at, r))
			}
		}
		extra, _ := schema["additionalProperties"].(map[string]any)
		for k, x := range v {
			if p, ok := props[k]; ok {
				out = append(out, s.check(asMap(p), x, at+"."+k, true)...)
			} else if extra != nil {
				out = append(out, s.check(extra, x, at+"."+k, true)...)
			}
		}
		if strict && props != nil && schema["additionalProperties"] == nil {
			out = append(out, extraFields(v, s.fields(schema), at)...)
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range v {
				out = append(out, s.check(items, x, fmt.Sprintf("%s[%d]", at, i), true)...)
			}
		}
	}
	return out
}

func extraFields(obj map[string]any, known map[string]bool, at string) []string {
	var out []string
	for k := range obj {
		if !known[k] {
			out = append(out, fmt.Sprintf("%s: field %q is not documented", at, k))
		}
	}
	sort.Strings(out)
	return out
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

func typeList(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, len(t))
		for i, x := range t {
			out[i], _ = x.(string)
		}
		return out
	}
	return nil
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { s, _ := v.([]any); return s }

func TestShapesReportsDifferences(t *testing.T) {
	doc := []byte(`{"components":{"schemas":{
		"Base":{"type":"object","properties":{"id":{"type":"string"},"n":{"type":["integer","null"]}},"required":["id","n"]},
		"Item":{"allOf":[{"$ref":"#/components/schemas/Base"},{"type":"object","properties":{"kind":{"const":"a"},
			"tags":{"type":"array","items":{"enum":["x","y"]}}},"required":["kind"]}]}}}}`)
	s := newShapes(t, doc)
	tests := []struct {
		name string
		v    string
		want []string
	}{
		{"conforms", `{"id":"1","n":null,"kind":"a","tags":["x"]}`, nil},
		{"missing field", `{"id":"1","kind":"a"}`, []string{`Item: required field "n" missing`}},
		{"undocumented field", `{"id":"1","n":2,"kind":"a","extra":true}`, []string{`Item: field "extra" is not documented`}},
		{"wrong type", `{"id":"1","n":2.5,"kind":"a"}`, []string{`Item.n: 2.5 is number, want [integer null]`}},
		{"wrong const and enum", `{"id":"1","n":1,"kind":"b","tags":["z"]}`, []string{`Item.kind: "b", want a`, `Item.tags[0]: "z" is not one of [x y]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			require.NoError(t, json.Unmarshal([]byte(tt.v), &v))
			got := s.conform("Item", v)
			sort.Strings(got)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestResponsesMatchOpenAPI runs the seed's workflow against a real server and checks every
// answer and every stream event against the schema the served document gives for it.
func TestResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	ts, c, schemaID := enrichSetup(t)
	s := newShapes(t, c.must(200, "GET", "/api/openapi.json", nil).raw)
	conform := func(name string, r response) {
		t.Helper()
		var v any
		require.NoError(t, json.Unmarshal(r.raw, &v), string(r.raw))
		require.Empty(t, s.conform(name, v), "%s: %s", name, short(v))
	}
	events := func(jobID string) []string {
		t.Helper()
		evs, _ := c.stream(jobID)
		var types []string
		for _, e := range evs {
			typ, _ := e.data["type"].(string)
			types = append(types, typ)
			name := ""
			for _, part := range strings.Split(typ, "_") {
				name += strings.ToUpper(part[:1]) + part[1:]
			}
			require.Empty(t, s.conform(name+"Event", e.data), "event %s", typ)
			require.Empty(t, s.conform("JobEvent", e.data), "event %s", typ)
		}
		t.Logf("events of %s: %v", jobID, types)
		return types
	}

	conform("Health", ts.anon().must(200, "GET", "/health", nil))
	conform("Error", ts.anon().must(401, "GET", "/api/auth/me", nil))
	conform("LoginResponse", ts.anon().must(200, "POST", "/api/auth/register", map[string]any{
		"email": "ada@acme.example", "password": "correct horse battery", "organization_name": "Acme"}))
	conform("LoginResponse", ts.anon().must(200, "POST", "/api/auth/login", map[string]any{
		"email": "ada@acme.example", "password": "correct horse battery"}))
	conform("Me", c.must(200, "GET", "/api/auth/me", nil))
	conform("ApiKeyCreated", c.must(200, "POST", "/api/auth/api-keys", map[string]any{"name": "ingest", "role": "operator"}))
	conform("ApiKeyList", c.must(200, "GET", "/api/auth/api-keys", nil))
	conform("Options", c.must(200, "GET", "/api/enrichment/options", nil))
	conform("SavedSchema", c.must(200, "GET", "/api/schema/saved/"+schemaID, nil))
	conform("SavedSchemaList", c.must(200, "GET", "/api/schema/saved", nil))

	sync := c.must(200, "POST", "/api/single/enrich/sync", map[string]any{
		"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"}, "schema_id": schemaID,
		"models": []string{"sim::fast", "sim::flaky"}, "strategy": "multi_expertise", "classification_model": "sim::fast",
		"include_per_model_results": true})
	conform("EnrichmentOutcome", sync)
	require.NotEmpty(t, s.conform("FusionResponse", sync.body), "the check is not vacuous")
	jobID := sync.str("job_id")
	require.Contains(t, events(jobID), "classification_completed")
	conform("JobStatus", c.must(200, "GET", "/api/llm/jobs/"+jobID, nil))
	conform("JobList", c.must(200, "GET", "/api/llm/jobs", nil))

	batch := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
		"entities": []any{map[string]any{"name": "Pfizer Inc", "country": "US"}, map[string]any{"name": "Roche", "country": "CH"},
			map[string]any{"founded_year": 1896}},
		"schema_id": schemaID, "models": []string{"sim::fast", "sim::flaky"}, "arbitration_model": "sim::fast"})
	conform("BatchStarted", batch)
	require.Contains(t, events(batch.str("job_id")), "batch_completed")
	conform("JobReport", c.must(200, "GET", "/api/llm/jobs/"+batch.str("job_id")+"/report", nil))

	waterfall := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{
		"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"}, "schema_id": schemaID,
		"models": []string{"sim::fast", "sim::flaky"}, "strategy": "waterfall", "verify_fields": []string{"founded_year"}})
	require.Contains(t, events(waterfall.str("job_id")), "waterfall_escalated", "a verify field always goes to a second model")

	records := c.must(200, "GET", "/api/records?type=enrichment&success=true&page_size=100", nil)
	conform("RecordList", records)
	var ids []string
	models := map[string]bool{}
	for _, r := range records.body["records"].([]any) {
		rec := r.(map[string]any)
		if rec["job_id"] == jobID && !models[rec["model"].(string)] {
			models[rec["model"].(string)] = true
			ids = append(ids, rec["id"].(string))
		}
	}
	require.Len(t, ids, 2, "both models of the sync job succeeded")
	conform("RecordDetail", c.must(200, "GET", "/api/records/"+ids[0], nil))
	merged := c.must(200, "POST", "/api/fusion/merge", map[string]any{"result_ids": ids})
	conform("FusionResponse", merged)
	conform("RecordDetail", c.must(200, "GET", "/api/records/"+merged.str("record_id"), nil))
	stream := c.must(200, "POST", "/api/fusion/merge/stream", map[string]any{"result_ids": ids})
	conform("JobStarted", stream)
	require.Contains(t, events(stream.str("job_id")), "fusion_completed")

	// Pause, continue, failure and cancellation events.
	paused := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{
		"entity_data": map[string]any{"name": "Moderna Inc", "country": "US", "_sim": map[string]any{"classification": "mismatch"}},
		"schema_id":   schemaID, "models": []string{"sim::fast"}, "classification_model": "sim::fast"}).str("job_id")
	c.streamN(paused, 3)
	conform("JobControl", c.must(200, "POST", "/api/llm/continue/"+paused, nil))
	require.Subset(t, events(paused), []string{"classification_mismatch_pause", "job_resumed", "completed"})
	failed := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{
		"entity_data": map[string]any{"name": "Moderna Inc", "country": "US", "_sim": map[string]any{"fail": "schema_invalid", "fail_attempts": 99}},
		"schema_id":   schemaID, "models": []string{"sim::fast"}}).str("job_id")
	require.Subset(t, events(failed), []string{"error", "failed"})
	cancelled := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
		"entities": []any{map[string]any{"name": "Pfizer Inc", "country": "US"}}, "schema_id": schemaID,
		"models": []string{"sim::realistic"}}).str("job_id")
	conform("JobControl", c.must(200, "POST", "/api/llm/cancel/"+cancelled, nil))
	require.Contains(t, events(cancelled), "cancelled")

	conform("CostSummary", c.must(200, "GET", "/api/costs/summary", nil))
	conform("CostsByModel", c.must(200, "GET", "/api/costs/by-model", nil))
	conform("RecordStats", c.must(200, "GET", "/api/records/stats", nil))
	orgs := c.must(200, "GET", "/api/admin/organizations", nil)
	conform("OrganizationList", orgs)
	counted := 0.0
	for _, o := range orgs.get("organizations").([]any) {
		counted += o.(map[string]any)["record_count"].(float64)
	}
	require.Positive(t, counted, "record counts are real")
	conform("DeleteRecordsResponse", c.must(200, "POST", "/api/records/batch-delete", map[string]any{"ids": ids[:1]}))
}
