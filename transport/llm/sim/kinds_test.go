package sim

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	enricher "github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// kindReq builds a call of kind on sim::fast.
func kindReq(kind string, h llm.Hints) *llm.Request {
	h.CallKind = kind
	h.ModelKey = "sim::fast"
	return &llm.Request{Model: "fast", Messages: []llm.Message{{Role: "user", Content: "go"}}, Hints: &h}
}

func TestClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		directive  map[string]any
		wantStatus string
		wantConf   float64
	}{
		{name: "default match", wantStatus: "match", wantConf: 0.9},
		{name: "directed mismatch", directive: map[string]any{"classification": "mismatch"}, wantStatus: "mismatch", wantConf: 0.85},
		{name: "directed ambiguous", directive: map[string]any{"classification": "ambiguous"}, wantStatus: "ambiguous", wantConf: 0.5},
		{name: "directed unknown", directive: map[string]any{"classification": "unknown"}, wantStatus: "unknown", wantConf: 0.2},
		{name: "fail classification_mismatch", directive: map[string]any{"fail": "classification_mismatch"}, wantStatus: "mismatch", wantConf: 0.85},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTest(Config{})
			resp, err := p.Complete(context.Background(), kindReq(KindClassification, llm.Hints{
				RootName: "Company", Entity: map[string]any{"Name": "Moderna"}, Directive: tt.directive}))
			require.NoError(t, err)
			m := decode(t, resp.Text)
			require.Equal(t, tt.wantStatus, m["status"])
			require.Equal(t, "Company", m["expected_type"])
			require.Equal(t, tt.wantConf, m["confidence"])
			require.Contains(t, m["entity_description"], "Moderna")
			require.NotEmpty(t, m["reasoning"])
			require.IsType(t, []any{}, m["alternative_interpretations"])
			require.Len(t, m, 6)
		})
	}
}

func TestArbitration(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	conflicts := []llm.Conflict{
		{Path: "founded_year", ValuesByModel: map[string]any{"sim::realistic": 2010.0, "sim::fast": 2011.0, "sim::flaky": 2012.0}},
		{Path: "headquarters.city", ValuesByModel: map[string]any{"openai::gpt-4o": "Boston", "anthropic::x": "Cambridge"}},
	}
	resp, err := p.Complete(context.Background(), kindReq(KindArbitration, llm.Hints{Entity: company(1), Conflicts: conflicts}))
	require.NoError(t, err)
	var got struct {
		Decisions []struct {
			Path        string `json:"path"`
			Value       any    `json:"value"`
			ChosenModel string `json:"chosen_model"`
			Reasoning   string `json:"reasoning"`
		} `json:"decisions"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Text), &got))
	require.Len(t, got.Decisions, 2)
	require.Equal(t, "founded_year", got.Decisions[0].Path)
	require.Equal(t, "sim::fast", got.Decisions[0].ChosenModel)
	require.Equal(t, 2011.0, got.Decisions[0].Value)
	require.Equal(t, "headquarters.city", got.Decisions[1].Path)
	require.Equal(t, "anthropic::x", got.Decisions[1].ChosenModel)
	require.Equal(t, "Cambridge", got.Decisions[1].Value)
	require.NotEmpty(t, got.Decisions[1].Reasoning)
}

// generated runs a schema_generation call for sample and parses the schema it returns.
func generated(t *testing.T, sample map[string]any) (*enricher.Schema, []string) {
	t.Helper()
	p, _ := newTest(Config{})
	resp, err := p.Complete(context.Background(), kindReq(KindSchemaGeneration, llm.Hints{Sample: sample}))
	require.NoError(t, err)
	var ans struct {
		Schema      json.RawMessage `json:"schema"`
		Suggestions []string        `json:"suggestions"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Text), &ans))
	s, err := enricher.ParseSchema(ans.Schema)
	require.NoError(t, err, string(ans.Schema))
	return s, ans.Suggestions
}

// shape describes a parsed property for comparison.
type shape struct {
	Type         enricher.Type
	IsKey        bool
	Multilingual bool
	Expertise    string
	Items        *shape
	Props        map[string]shape
}

func shapeOf(p *enricher.Property) shape {
	s := shape{Type: p.Type, IsKey: p.IsKey, Multilingual: p.Multilingual, Expertise: p.Expertise}
	if p.Items != nil {
		it := shapeOf(p.Items)
		s.Items = &it
	}
	if p.Properties != nil {
		s.Props = map[string]shape{}
		for _, c := range p.Properties {
			s.Props[c.Name] = shapeOf(c)
		}
	}
	return s
}

func TestSchemaGeneration(t *testing.T) {
	t.Parallel()
	const g = enricher.GeneralDomain
	tests := []struct {
		name   string
		sample string
		want   map[string]shape
	}{
		{name: "flat company",
			sample: `{"name": "Moderna", "website": "modernatx.com", "founded_year": 2010, "revenue_usd": 6.8e9,
				"margin": 0.31, "is_listed": true, "ceo": null}`,
			want: map[string]shape{
				"name":         {Type: "string", IsKey: true, Expertise: g},
				"website":      {Type: "string", IsKey: true, Expertise: g},
				"founded_year": {Type: "integer", Expertise: g},
				"revenue_usd":  {Type: "integer", Expertise: g},
				"margin":       {Type: "number", Expertise: g},
				"is_listed":    {Type: "boolean", Expertise: g},
				"ceo":          {Type: "string", Expertise: g},
			}},
		{name: "nested film with multilingual title",
			sample: `{"title": {"en": "The Seventh Seal", "fr": "Le Septième Sceau"}, "year": 1957,
				"director": {"name": "Ingmar Bergman", "born": {"city": "Uppsala", "year": 1918}},
				"genres": ["drama"]}`,
			want: map[string]shape{
				"title": {Type: "string", Multilingual: true, Expertise: g},
				"year":  {Type: "integer", Expertise: g},
				"director": {Type: "object", Expertise: g, Props: map[string]shape{
					"name": {Type: "string"},
					"born": {Type: "object", Props: map[string]shape{"city": {Type: "string"}, "year": {Type: "integer"}}},
				}},
				"genres": {Type: "array", Expertise: g, Items: &shape{Type: "string"}},
			}},
		{name: "array of objects",
			sample: `{"name": "Acme", "scores": [1, 2.5], "subsidiaries": [{"name": "Acme UK", "ownership_pct": 100},
				{"name": "Acme DE", "country": "DE", "ownership_pct": 51.5}], "offices": [], "tags": [[1, 2]]}`,
			want: map[string]shape{
				"name": {Type: "string", IsKey: true, Expertise: g},
				"subsidiaries": {Type: "array", Expertise: g, Items: &shape{Type: "object", Props: map[string]shape{
					"name":          {Type: "string", IsKey: true},
					"country":       {Type: "string"},
					"ownership_pct": {Type: "number"},
				}}},
				"offices": {Type: "array", Expertise: g, Items: &shape{Type: "string"}},
				"scores":  {Type: "array", Expertise: g, Items: &shape{Type: "number"}},
				"tags":    {Type: "array", Expertise: g, Items: &shape{Type: "array", Items: &shape{Type: "integer"}}},
			}},
		{name: "invalid field names are made valid",
			sample: `{"annual revenue": 5, "2nd": "x", "annual_revenue": 6}`,
			want: map[string]shape{
				"annual_revenue":   {Type: "integer", Expertise: g},
				"annual_revenue_2": {Type: "integer", Expertise: g},
				"_2nd":             {Type: "string", Expertise: g},
			}},
		{name: "localized array", sample: `{"aliases": [{"en": "a", "de": "b"}], "code": {"id": "x"}}`,
			want: map[string]shape{
				"aliases": {Type: "array", Multilingual: true, Expertise: g, Items: &shape{Type: "string"}},
				"code":    {Type: "object", Expertise: g, Props: map[string]shape{"id": {Type: "string"}}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sample map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.sample), &sample))
			s, suggestions := generated(t, sample)
			got := map[string]shape{}
			for _, p := range s.Root.Properties {
				got[p.Name] = shapeOf(p)
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, []enricher.Domain{{Key: g, Name: "General", Description: "Every field of the entity"}}, s.Domains)
			require.Equal(t, "Entity", s.Root.Name)
			require.Len(t, suggestions, 5)
		})
	}
}

func TestSchemaGenerationDeepSample(t *testing.T) {
	t.Parallel()
	sample := map[string]any{"leaf": "x"}
	for range 12 {
		sample = map[string]any{"inner": sample}
	}
	s, _ := generated(t, sample)
	require.Equal(t, "inner", s.Root.Properties[0].Name)
}

func TestSchemaEdit(t *testing.T) {
	t.Parallel()
	const base = `{"root": {"name": "Company", "type": "object", "properties": {
		"name": {"type": "string", "is_key": true}, "country": {"type": "string"}, "crm_id": {"type": "string", "preserve": true}}},
		"identification_notes": "keep"}`
	tests := []struct {
		name   string
		prompt string
		want   []string
	}{
		{name: "add", prompt: "add field ceo_name", want: []string{"name", "country", "crm_id", "ceo_name"}},
		{name: "remove", prompt: "Remove field country please", want: []string{"name", "crm_id"}},
		{name: "both in order", prompt: "add field ticker, then remove field crm_id and add field `isin`",
			want: []string{"name", "country", "ticker", "isin"}},
		{name: "add existing is a no-op", prompt: "add field name", want: []string{"name", "country", "crm_id"}},
		{name: "other prompt", prompt: "make it better", want: []string{"name", "country", "crm_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTest(Config{})
			resp, err := p.Complete(context.Background(), kindReq(KindSchemaEdit, llm.Hints{Schema: json.RawMessage(base), Prompt: tt.prompt}))
			require.NoError(t, err)
			var ans struct {
				Schema      json.RawMessage `json:"schema"`
				Suggestions []string        `json:"suggestions"`
			}
			require.NoError(t, json.Unmarshal([]byte(resp.Text), &ans))
			require.Len(t, ans.Suggestions, 5)
			s, err := enricher.ParseSchema(ans.Schema)
			require.NoError(t, err)
			var names []string
			for _, p := range s.Root.Properties {
				names = append(names, p.Name)
			}
			require.Equal(t, tt.want, names)
			require.Equal(t, "keep", s.IdentificationNotes)
			if added := s.Property("ceo_name"); added != nil {
				require.Equal(t, enricher.TypeString, added.Type)
				require.True(t, added.Nullable)
			}
			require.True(t, s.Property("name").IsKey)
		})
	}
}

func TestOtherKindsSchemaInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  string
		hints llm.Hints
	}{
		{kind: KindClassification, hints: llm.Hints{RootName: "Company", Entity: company(1)}},
		{kind: KindArbitration, hints: llm.Hints{Entity: company(1), Conflicts: []llm.Conflict{{Path: "a", ValuesByModel: map[string]any{"sim::a": 1.0}}}}},
		{kind: KindSchemaGeneration, hints: llm.Hints{Sample: company(1)}},
		{kind: KindSchemaEdit, hints: llm.Hints{Schema: json.RawMessage(`{"root":{"name":"X","properties":{"a":{"type":"string"}}}}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			p, _ := newTest(Config{})
			good, err := p.Complete(context.Background(), kindReq(tt.kind, tt.hints))
			require.NoError(t, err)
			h := tt.hints
			h.Directive = map[string]any{"fail": "schema_invalid"}
			bad, err := p.Complete(context.Background(), kindReq(tt.kind, h))
			require.NoError(t, err)
			gm, bm := decode(t, good.Text), decode(t, bad.Text)
			require.Len(t, bm, len(gm))
			var changed int
			for k, v := range gm {
				if jsonKind(v) != jsonKind(bm[k]) {
					changed++
				}
			}
			require.Equal(t, 1, changed, "%s\n%s", good.Text, bad.Text)

			h.Directive = map[string]any{"fail": "malformed_json"}
			broken, err := p.Complete(context.Background(), kindReq(tt.kind, h))
			require.NoError(t, err)
			require.False(t, json.Valid([]byte(broken.Text)), broken.Text)
		})
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}
