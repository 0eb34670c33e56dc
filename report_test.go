package enricher

import (
	"encoding/json"
	"slices"
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

// waterfallAskedRecords is a hand-built waterfall job of two entities on models a, c, b (in
// that order), with verify fields name and founded:
//
//   - entity 0: a answers name Acme, founded 1849, no city; c is asked all three and agrees
//     on founded only; b is asked name (still unverified) and city, not founded, and answers
//     Acme and Oslo. Fused: name majority {a, b}, founded unanimous {a, c}, city waterfall {b}.
//   - entity 1: a and c disagree on founded, so b is asked it and disagrees with both; the
//     rule picks a's value.
//
// It returns the model records and the fusion records apart.
func waterfallAskedRecords() (models, fusions []*Record) {
	strategy := "waterfall"
	rec := func(typ RecordType, model string, entity int, out string, prov map[string]FieldProvenance) *Record {
		id, idx := "e", entity
		r := &Record{StructuredOutput: json.RawMessage(out), FieldProvenance: prov}
		r.Type, r.EntityID, r.EntityIndex, r.Success, r.Strategy = typ, &id, &idx, true, &strategy
		if model != "" {
			r.Model = &model
		}
		return r
	}
	one := func(m string) FieldProvenance { return FieldProvenance{Sources: []string{m}, Method: ProvenanceSingle} }
	null := FieldProvenance{Sources: []string{}}
	models = []*Record{
		rec(RecordEnrichment, "a", 0, `{"name":"Acme","founded":1849,"hq":{"city":null}}`,
			map[string]FieldProvenance{"name": one("a"), "founded": one("a"), "hq.city": null}),
		rec(RecordEnrichment, "c", 0, `{"name":"Acme Corp","founded":1849,"hq":{"city":null}}`,
			map[string]FieldProvenance{"name": one("c"), "founded": one("c"), "hq.city": null}),
		rec(RecordEnrichment, "b", 0, `{"name":"Acme","founded":null,"hq":{"city":"Oslo"}}`, // not asked founded
			map[string]FieldProvenance{"name": one("b"), "hq.city": one("b")}),
		rec(RecordEnrichment, "a", 1, `{"name":"Bolt","founded":1900,"hq":{"city":"Rome"}}`,
			map[string]FieldProvenance{"name": one("a"), "founded": one("a"), "hq.city": one("a")}),
		rec(RecordEnrichment, "c", 1, `{"name":"Bolt","founded":1901,"hq":{"city":null}}`,
			map[string]FieldProvenance{"name": one("c"), "founded": one("c")}),
		rec(RecordEnrichment, "b", 1, `{"name":null,"founded":1902,"hq":{"city":null}}`,
			map[string]FieldProvenance{"founded": one("b")}),
	}
	f0 := rec(RecordFusion, "", 0, `{"name":"Acme","founded":1849,"hq":{"city":"Oslo"}}`, map[string]FieldProvenance{
		"name":    {Sources: []string{"a", "b"}, Method: ProvenanceMajority},
		"founded": {Sources: []string{"a", "c"}, Method: ProvenanceUnanimous},
		"hq.city": {Sources: []string{"b"}, Method: ProvenanceWaterfall}})
	f1 := rec(RecordFusion, "", 1, `{"name":"Bolt","founded":1900,"hq":{"city":"Rome"}}`, map[string]FieldProvenance{
		"name":    {Sources: []string{"a", "c"}, Method: ProvenanceUnanimous},
		"founded": {Sources: []string{"a"}, Method: ProvenanceRule},
		"hq.city": {Sources: []string{"a"}, Method: ProvenanceWaterfall}})
	f0.SourceModels, f1.SourceModels = []string{"a", "c", "b"}, []string{"a", "c", "b"}
	return models, []*Record{f0, f1}
}

// TestReportWaterfallAsked: under the waterfall strategy a model counts for a fused field's
// agreement only on the entities where it was asked that field, whichever order the records
// come in; every other figure is what the report without NoteAsked gives.
func TestReportWaterfallAsked(t *testing.T) {
	models, fusions := waterfallAskedRecords()
	orders := map[string][]*Record{
		"fusion first": append(slices.Clone(fusions), models...),
		"models first": append(slices.Clone(models), fusions...),
		"interleaved":  {models[0], fusions[1], models[2], fusions[0], models[4], models[1], models[5], models[3]},
	}
	plain := NewReportBuilder("job")
	for _, r := range orders["models first"] {
		plain.Add(r)
	}
	want := plain.Report()
	field := func(r JobReport, model, path string) *FieldReport {
		for _, m := range r.Models {
			if m.Model == model {
				return m.Fields[path]
			}
		}
		return nil
	}
	// Without NoteAsked b counts where it was not asked: founded on entity 0, name on entity 1.
	require.Equal(t, FieldReport{Fused: 2, Agreed: 0, Agreement: ptr(0.0)}, *field(want, "b", "founded"))
	require.Equal(t, FieldReport{Fused: 2, Agreed: 1, Agreement: ptr(0.5)}, *field(want, "b", "name"))
	*field(want, "b", "founded") = FieldReport{Fused: 1, Agreed: 0, Agreement: ptr(0.0)} // entity 1 only
	*field(want, "b", "name") = FieldReport{Fused: 1, Agreed: 1, Agreement: ptr(1.0)}    // entity 0 only

	for name, recs := range orders {
		t.Run(name, func(t *testing.T) {
			b := NewReportBuilder("job")
			for _, r := range recs {
				b.NoteAsked(r)
			}
			for _, r := range recs {
				b.Add(r)
			}
			got := b.Report()
			require.Equal(t, want, got, "only b's founded and name change")
			require.Equal(t, FieldReport{Fused: 1, Agreed: 0, Agreement: ptr(0.0)}, *field(got, "b", "founded"))
			require.Equal(t, FieldReport{Fused: 2, Agreed: 2, Agreement: ptr(1.0)}, *field(got, "a", "founded"))
			require.Equal(t, FieldReport{Fused: 2, Agreed: 1, Agreement: ptr(0.5)}, *field(got, "c", "founded"))
			require.Equal(t, FieldReport{Fused: 2, Agreed: 1, Agreement: ptr(0.5)}, *field(got, "c", "name"))
		})
	}
}

func ptr[T any](v T) *T { return &v }
