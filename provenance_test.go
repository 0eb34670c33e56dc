package enricher

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// bareReport returns r without its provenance, for comparing the counted part of reports.
func bareReport(r ConflictReport) ConflictReport {
	r.Provenance, r.models = nil, nil
	return r
}

func TestProvenanceConfidence(t *testing.T) {
	tests := []struct {
		method    string
		agreement float64
		want      float64
	}{
		{ProvenanceUnanimous, 1, 1},
		{ProvenanceMajority, 2.0 / 3, 0.6},
		{ProvenanceMajority, 0.75, 0.675},
		{ProvenanceArbitration, 0.5, 0.4},
		{ProvenanceRule, 0.5, 0.25},
		{ProvenanceRule, 0, 0},
		{ProvenanceSingle, 1, 0.5},
		{ProvenanceSingle, 0, 0.5},
		{ProvenanceWaterfall, 1, 0.5},
		{"nonsense", 1, 0},
		{ProvenanceUnanimous, 7, 1},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, ProvenanceConfidence(tt.method, tt.agreement), "%s %v", tt.method, tt.agreement)
	}
}

func TestFuseProvenance(t *testing.T) {
	s := fusionSchema(fusionProp("name", TypeString), fusionProp("n", TypeNumber),
		fusionArrayProp("tags", fusionProp("", TypeString)))
	in := func(model string, price float64, doc string) FusionInput {
		return FusionInput{Model: model, Price: price, Output: fusionObject(t, doc)}
	}
	tests := []struct {
		name   string
		inputs []FusionInput
		path   string
		want   FieldProvenance
	}{
		{name: "one model", inputs: []FusionInput{in("a", 1, `{"name":"Acme"}`)}, path: "name",
			want: FieldProvenance{Sources: []string{"a"}, Agreement: 1, Method: ProvenanceSingle, Confidence: 0.5}},
		{name: "unanimous, spelling differs", inputs: []FusionInput{in("a", 1, `{"name":"Acme"}`), in("b", 2, `{"name":" acme "}`)}, path: "name",
			want: FieldProvenance{Sources: []string{"b", "a"}, Agreement: 1, Method: ProvenanceUnanimous, Confidence: 1}},
		{name: "others null: single", inputs: []FusionInput{in("a", 1, `{"name":"Acme"}`), in("b", 2, `{"name":null}`)}, path: "name",
			want: FieldProvenance{Sources: []string{"a"}, Agreement: 1, Method: ProvenanceSingle, Confidence: 0.5}},
		{name: "majority 2 of 3", inputs: []FusionInput{in("a", 1, `{"n":5}`), in("b", 1, `{"n":5}`), in("c", 9, `{"n":7}`)}, path: "n",
			want: FieldProvenance{Sources: []string{"a", "b"}, Agreement: 0.6667, Method: ProvenanceMajority, Confidence: 0.6}},
		{name: "median: nobody gave it", inputs: []FusionInput{in("a", 1, `{"n":4}`), in("b", 2, `{"n":6}`)}, path: "n",
			want: FieldProvenance{Sources: []string{}, Agreement: 0, Method: ProvenanceRule, Confidence: 0}},
		{name: "longest string", inputs: []FusionInput{in("a", 1, `{"name":"Acme"}`), in("b", 2, `{"name":"Acme Corp"}`)}, path: "name",
			want: FieldProvenance{Sources: []string{"b"}, Agreement: 0.5, Method: ProvenanceRule, Confidence: 0.25}},
		{name: "array union", inputs: []FusionInput{in("a", 1, `{"tags":["x"]}`), in("b", 2, `{"tags":["y"]}`)}, path: "tags",
			want: FieldProvenance{Sources: []string{}, Agreement: 0, Method: ProvenanceRule, Confidence: 0}},
		{name: "arrays equal", inputs: []FusionInput{in("a", 1, `{"tags":["x","y"]}`), in("b", 2, `{"tags":["y","x"]}`)}, path: "tags",
			want: FieldProvenance{Sources: []string{"b", "a"}, Agreement: 1, Method: ProvenanceUnanimous, Confidence: 1}},
		{name: "nobody answered", inputs: []FusionInput{in("a", 1, `{}`), in("b", 2, `{"n":null}`)}, path: "n",
			want: FieldProvenance{Sources: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, report := Fuse(s, tt.inputs, nil)
			require.Len(t, report.Provenance, 3, "every leaf has provenance")
			require.Equal(t, tt.want, report.Provenance[tt.path])
		})
	}
}

func TestApplyDecisionsProvenance(t *testing.T) {
	s := fusionSchema(fusionProp("name", TypeString), fusionProp("city", TypeString))
	inputs := []FusionInput{
		{Model: "a", Price: 1, Output: fusionObject(t, `{"name":"Acme","city":"Paris"}`)},
		{Model: "b", Price: 2, Output: fusionObject(t, `{"name":"Acme Corp","city":"Paris"}`)},
		{Model: "c", Price: 3, Output: fusionObject(t, `{"name":"acme","city":"Paris"}`)},
	}
	merged, report := Fuse(s, inputs, nil)
	require.Equal(t, ProvenanceMajority, report.Provenance["name"].Method)
	ApplyDecisions(merged, &report, map[string]any{"name": "Acme Corp", "city": "Lyon"})
	require.Equal(t, FieldProvenance{Sources: []string{"b"}, Agreement: 0.3333, Method: ProvenanceArbitration, Confidence: 0.2667},
		report.Provenance["name"])
	require.Equal(t, ProvenanceUnanimous, report.Provenance["city"].Method, "city was no conflict: the decision is ignored")

	// A report read back from JSON has no model order: sources come in key order.
	_, r2 := Fuse(s, inputs, nil)
	r2.models = nil
	ApplyDecisions(map[string]any{}, &r2, map[string]any{"name": "acme"})
	require.Equal(t, []string{"a", "c"}, r2.Provenance["name"].Sources)
	require.Equal(t, 0.5333, r2.Provenance["name"].Confidence)
}

func TestMinConfidence(t *testing.T) {
	_, ok := MinConfidence(map[string]FieldProvenance{"a": {Sources: []string{}}})
	require.False(t, ok, "null fields do not count")
	c, ok := MinConfidence(map[string]FieldProvenance{"a": {Method: ProvenanceUnanimous, Confidence: 1},
		"b": {Method: ProvenanceMajority, Confidence: 0.6}, "c": {Sources: []string{}}})
	require.True(t, ok)
	require.Equal(t, 0.6, c)
}
