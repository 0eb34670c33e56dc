package enricher

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpectedMatch(t *testing.T) {
	tests := []struct {
		want, got any
		match     bool
	}{
		{"Acme  Corp", " acme corp ", true},
		{"Acme", "Acme Inc", false},
		{1849.0, 1849.0, true},
		{1e6, 1e6 + 0.5, true},
		{1e6, 1e6 + 2, false},
		{0.0, 0.0, true},
		{0.0, 1e-9, false},
		{1849.0, "1849", false},
		{true, true, true},
		{true, false, false},
		{"x", nil, false},
		{nil, nil, false},
		{[]any{"a", 1.0}, []any{"a", 1.0}, true},
		{[]any{"a", 1.0}, []any{1.0, "a"}, false},
		{map[string]any{"b": 1.0, "a": "x"}, map[string]any{"a": "x", "b": 1.0}, true},
		{map[string]any{"a": "x"}, nil, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.match, ExpectedMatch(tt.want, tt.got), "%v vs %v", tt.want, tt.got)
	}
}

func TestReportBuilder(t *testing.T) {
	idx := func(i int) *int { return &i }
	id := func(s string) *string { return &s }
	rec := func(typ RecordType, model string, entity int, out, expected string, prov map[string]FieldProvenance) *Record {
		r := &Record{StructuredOutput: json.RawMessage(out), FieldProvenance: prov}
		r.Type, r.EntityID, r.EntityIndex, r.Success = typ, id("e"), idx(entity), out != ""
		if expected != "" {
			r.Expected = json.RawMessage(expected)
		}
		if model != "" {
			r.Model = id(model)
		}
		return r
	}
	single := func(fields ...string) map[string]FieldProvenance {
		out := map[string]FieldProvenance{"name": {Sources: []string{}}, "hq.city": {Sources: []string{}}}
		for _, f := range fields {
			out[f] = FieldProvenance{Method: ProvenanceSingle}
		}
		return out
	}
	b := NewReportBuilder("job")
	exp := `{"name":"Acme","hq":{"city":"Oslo"},"missing":null}`
	a0 := rec(RecordEnrichment, "a", 0, `{"name":"ACME","hq":{"city":"Oslo"}}`, exp, single("name", "hq.city"))
	a0.CostUSD, a0.ProcessingTimeMS = 0.5, 10
	a0.Prompts = []PromptCall{{Model: "a", CallKind: "enrichment", AttemptLog: []Attempt{{ValidationErrors: []string{"x"}}, {}}}}
	b.Add(a0)
	b.Add(rec(RecordEnrichment, "b", 0, `{"name":"Acme","hq":{"city":null}}`, exp, single("name")))
	f0 := rec(RecordFusion, "", 0, `{"name":"Acme","hq":{"city":"Oslo"}}`, exp, map[string]FieldProvenance{
		"name": {Sources: []string{"a", "b"}, Method: ProvenanceUnanimous}, "hq.city": {Sources: []string{"a"}, Method: ProvenanceSingle}})
	f0.SourceModels = []string{"a", "b"}
	b.Add(f0)
	a1 := rec(RecordEnrichment, "a", 1, "", "", nil) // failed, no expected
	a1.ProcessingTimeMS = 30
	b.Add(a1)
	b.Add(rec(RecordSchemaEdit, "", 2, `{}`, "", nil))

	r := b.Report()
	require.Equal(t, 2, r.Entities)
	require.Equal(t, 1, r.ExpectedEntities)
	require.Len(t, r.Models, 2)
	a, bm := r.Models[0], r.Models[1]
	require.Equal(t, "a", a.Model)
	require.Equal(t, 2, a.Records)
	require.Equal(t, 1, a.Calls)
	require.Equal(t, 0.5, a.SuccessRate)
	require.Equal(t, 1, a.ValidationRetries)
	require.Equal(t, 0.0, a.NullRate)
	require.Equal(t, 0.5, bm.NullRate)
	require.Equal(t, LatencySummary{P50: 10, P95: 30}, a.LatencyMS)
	require.Equal(t, 0.5, a.CostUSD)
	require.Equal(t, 1.0, *a.Fields["name"].Accuracy)
	require.Equal(t, 1.0, *a.Fields["hq.city"].Accuracy)
	require.Equal(t, 0.0, *bm.Fields["hq.city"].Accuracy, "a null answer is wrong")
	require.Equal(t, 0.0, *bm.Fields["hq.city"].Agreement)
	require.Equal(t, 1.0, *bm.Fields["name"].Agreement)
	require.NotContains(t, a.Fields, "missing", "null expected values are not compared")
	require.Equal(t, 1, r.Fused.Records)
	require.Equal(t, 1.0, *r.Fused.Fields["hq.city"].Accuracy)
}

// TestReportWaterfall: a waterfall step is judged on the fields it was asked (the ones in its
// record's provenance): its nulls and accuracy elsewhere do not count, and a fused field one
// model answered (method waterfall) gives the other models no agreement figure.
func TestReportWaterfall(t *testing.T) {
	strategy, idx, entity := "waterfall", 0, "e"
	rec := func(typ RecordType, model, out string, prov map[string]FieldProvenance) *Record {
		r := &Record{StructuredOutput: json.RawMessage(out), FieldProvenance: prov, Expected: json.RawMessage(`{"ceo":"Ann","hq":{"city":"Oslo"}}`)}
		r.Type, r.EntityID, r.EntityIndex, r.Success, r.Strategy = typ, &entity, &idx, true, &strategy
		if model != "" {
			r.Model = &model
		}
		return r
	}
	b := NewReportBuilder("job")
	b.Add(rec(RecordEnrichment, "cheap", `{"ceo":null,"hq":{"city":"Oslo"}}`, map[string]FieldProvenance{
		"ceo": {Sources: []string{}}, "hq.city": {Sources: []string{"cheap"}, Method: ProvenanceSingle}}))
	b.Add(rec(RecordEnrichment, "dear", `{"ceo":"Ann","hq":{"city":null}}`, map[string]FieldProvenance{ // asked ceo only
		"ceo": {Sources: []string{"dear"}, Method: ProvenanceSingle}}))
	f := rec(RecordFusion, "", `{"ceo":"Ann","hq":{"city":"Oslo"}}`, map[string]FieldProvenance{
		"ceo": {Sources: []string{"dear"}, Method: ProvenanceWaterfall}, "hq.city": {Sources: []string{"cheap"}, Method: ProvenanceWaterfall}})
	f.SourceModels = []string{"dear", "cheap"}
	b.Add(f)
	r := b.Report()
	cheap, dear := r.Models[0], r.Models[1]
	require.Equal(t, 0.5, cheap.NullRate)
	require.Equal(t, 0.0, dear.NullRate, "the field it was not asked is no null of its own")
	require.Equal(t, 1.0, *dear.Fields["ceo"].Accuracy)
	require.NotContains(t, dear.Fields, "hq.city", "not asked: not judged")
	require.Equal(t, 0.0, *cheap.Fields["ceo"].Accuracy, "asked and null: wrong")
	require.Nil(t, cheap.Fields["ceo"].Agreement, "a waterfall value has one source: no agreement figure")
	require.Equal(t, 1.0, *r.Fused.Fields["ceo"].Accuracy)
}
