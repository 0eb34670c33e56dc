package enricher

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// askedPaths lists the asked properties as dotted paths, depth first; array items are not
// pruned and are shown as "<array>[]".
func askedPaths(props []*Property, prefix string) []string {
	var out []string
	for _, p := range props {
		path := prefix + p.Name
		out = append(out, path)
		switch {
		case p.Type == TypeObject:
			out = append(out, askedPaths(p.Properties, path+".")...)
		case p.Type == TypeArray && p.Items != nil && p.Items.Type == TypeObject:
			out = append(out, askedPaths(p.Items.Properties, path+"[].")...)
		}
	}
	return out
}

func TestNewAnswerSpec(t *testing.T) {
	// ids: an object whose fields are a preserve field and a search key, inside an otherwise
	// general schema; lines: an array whose items hold preserve and key fields (still asked).
	nested := func() *Schema {
		s := answerTestSchema()
		ids := answerLeaf("ids", TypeObject)
		ids.Expertise = GeneralDomain
		ref := answerLeaf("ref", TypeString)
		ref.Preserve = true
		code := answerLeaf("code", TypeString)
		code.IsKey = true
		ids.Properties = []*Property{ref, code}
		item := answerLeaf("", TypeObject)
		keep := answerLeaf("keep", TypeString)
		keep.Preserve = true
		sku := answerLeaf("sku", TypeString)
		sku.IsKey = true
		item.Properties = []*Property{keep, sku}
		lines := answerLeaf("lines", TypeArray)
		lines.Items = item // Expertise "" counts as general
		s.Root.Properties = append(s.Root.Properties, ids, lines)
		return s
	}
	all := []string{
		"name", "country", "description", "founded_year", "headquarters", "headquarters.city",
		"headquarters.country", "revenue_usd", "is_listed", "subsidiaries", "subsidiaries[].name",
		"subsidiaries[].country", "subsidiaries[].ownership_pct",
	}
	tests := []struct {
		name      string
		schema    *Schema
		input     map[string]any
		domain    string
		languages []string
		want      []string
		wantLangs []string
	}{
		{
			name:      "no input asks everything but preserve",
			schema:    answerTestSchema(),
			languages: []string{"en", "fr"},
			want:      all,
			wantLangs: []string{"en", "fr"},
		},
		{
			name:   "provided search keys are not asked, case-insensitively",
			schema: answerTestSchema(),
			input:  map[string]any{"NAME": "Moderna Inc", "Country": "US", "crm_id": "C1"},
			want: []string{
				"description", "founded_year", "headquarters", "headquarters.city",
				"headquarters.country", "revenue_usd", "is_listed", "subsidiaries",
				"subsidiaries[].name", "subsidiaries[].country", "subsidiaries[].ownership_pct",
			},
			wantLangs: []string{"en"},
		},
		{
			name:      "empty key values are asked",
			schema:    answerTestSchema(),
			input:     map[string]any{"name": "", "country": nil, "Name": []any{}},
			want:      all,
			wantLangs: []string{"en"},
		},
		{
			name:      "empty array value is asked",
			schema:    answerTestSchema(),
			input:     map[string]any{"name": []any{}, "country": 0.0},
			want:      append([]string{"name"}, all[2:]...), // 0 is a value; [] is not
			wantLangs: []string{"en"},
		},
		{
			name:   "domain filter",
			schema: answerTestSchema(),
			input:  map[string]any{"name": "Moderna Inc"},
			domain: "financial",
			want: []string{"revenue_usd", "is_listed", "subsidiaries", "subsidiaries[].name",
				"subsidiaries[].country", "subsidiaries[].ownership_pct"},
			wantLangs: []string{"en"},
		},
		{
			name:      "domain of keys only, all provided",
			schema:    answerTestSchema(),
			input:     map[string]any{"name": "Moderna Inc", "country": "US"},
			domain:    "profile",
			want:      []string{"description", "founded_year", "headquarters", "headquarters.city", "headquarters.country"},
			wantLangs: []string{"en"},
		},
		{
			name:      "unknown domain asks nothing",
			schema:    answerTestSchema(),
			domain:    "legal",
			want:      nil,
			wantLangs: []string{"en"},
		},
		{
			name:   "nested object pruned to nothing is dropped; array items keep preserve and keys",
			schema: nested(),
			input:  map[string]any{"name": "A", "country": "US", "IDS": map[string]any{"Code": "X1"}},
			domain: GeneralDomain,
			want:   []string{"lines", "lines[].keep", "lines[].sku"},
		},
		{
			name:   "nested search key asked when its object is absent from input",
			schema: nested(),
			input:  map[string]any{"name": "A", "code": "X1"},
			domain: GeneralDomain,
			want:   []string{"ids", "ids.code", "lines", "lines[].keep", "lines[].sku"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := json.Marshal(askedPaths(tt.schema.Root.Properties, ""))
			require.NoError(t, err)
			spec := NewAnswerSpec(tt.schema, tt.input, tt.domain, tt.languages)
			require.Equal(t, tt.want, askedPaths(spec.Properties, ""))
			require.Equal(t, len(tt.want) == 0, spec.Empty())
			if tt.wantLangs != nil {
				require.Equal(t, tt.wantLangs, spec.Languages)
			}
			after, err := json.Marshal(askedPaths(tt.schema.Root.Properties, ""))
			require.NoError(t, err)
			require.JSONEq(t, string(before), string(after), "the schema is not modified")
		})
	}
}

func TestAnswerSpecJSONSchema(t *testing.T) {
	s := answerTestSchema()
	s.Property("founded_year").Nullable = false
	spec := NewAnswerSpec(s, map[string]any{"name": "Moderna Inc"}, "", []string{"en", "fr"})
	got := spec.JSONSchema()

	first, err := json.Marshal(got)
	require.NoError(t, err)
	again, err := json.Marshal(spec.JSONSchema())
	require.NoError(t, err)
	require.Equal(t, string(first), string(again), "deterministic encoding")

	// Decode the wire form so the assertions see what a provider sees.
	var root map[string]any
	require.NoError(t, json.Unmarshal(first, &root))
	require.Equal(t, "object", root["type"])
	require.Equal(t, false, root["additionalProperties"])
	require.Equal(t, []any{"country", "description", "founded_year", "headquarters", "revenue_usd",
		"is_listed", "subsidiaries"}, root["required"])
	props := root["properties"].(map[string]any)
	require.Len(t, props, 7)

	require.Equal(t, map[string]any{
		"type":        []any{"string", "null"},
		"description": "ISO 3166-1 alpha-2 country of registration",
	}, props["country"])
	require.Equal(t, map[string]any{
		"type":                 []any{"object", "null"},
		"description":          "Two-sentence business summary",
		"required":             []any{"en", "fr"},
		"additionalProperties": false,
		"properties": map[string]any{
			"en": map[string]any{"type": []any{"string", "null"}},
			"fr": map[string]any{"type": []any{"string", "null"}},
		},
	}, props["description"])
	require.Equal(t, map[string]any{"type": "integer", "examples": []any{2010.0}}, props["founded_year"])
	require.Equal(t, map[string]any{
		"type":                 []any{"object", "null"},
		"description":          "Head office",
		"required":             []any{"city", "country"},
		"additionalProperties": false,
		"properties": map[string]any{
			"city":    map[string]any{"type": []any{"string", "null"}},
			"country": map[string]any{"type": []any{"string", "null"}, "description": "ISO 3166-1 alpha-2"},
		},
	}, props["headquarters"])
	require.Equal(t, map[string]any{"type": []any{"number", "null"}, "description": "Last reported annual revenue"},
		props["revenue_usd"])
	require.Equal(t, map[string]any{"type": []any{"boolean", "null"}, "description": "Shares traded on an exchange"},
		props["is_listed"])

	subs := props["subsidiaries"].(map[string]any)
	require.Equal(t, []any{"array", "null"}, subs["type"])
	require.Equal(t, "Majority-owned subsidiaries", subs["description"])
	items := subs["items"].(map[string]any)
	require.Equal(t, []any{"object", "null"}, items["type"])
	require.Equal(t, []any{"name", "country", "ownership_pct"}, items["required"])
	require.Equal(t, false, items["additionalProperties"])
	require.Equal(t, map[string]any{"type": []any{"number", "null"}, "description": "Share held, 0 to 100"},
		items["properties"].(map[string]any)["ownership_pct"])
}

func TestAnswerSpecJSONSchemaMultilingualArray(t *testing.T) {
	tags := &Property{Name: "tags", Type: TypeArray, Multilingual: true, Nullable: false,
		Items: &Property{Type: TypeString, Nullable: false}}
	spec := &AnswerSpec{Properties: []*Property{tags}, Languages: []string{"de"}}
	got := spec.JSONSchema()
	require.Equal(t, map[string]any{
		"type":                 "object",
		"required":             []any{"de"},
		"additionalProperties": false,
		"properties": map[string]any{
			"de": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
	}, got["properties"].(map[string]any)["tags"])
}

// TestAnswerSpecShape: specs of one schema with the same Shape ask the same fields in the
// same languages and have the same JSON Schema, over the domains, pruned key fields, nested
// objects and languages.
func TestAnswerSpecShape(t *testing.T) {
	s := answerTestSchema()
	inputs := []map[string]any{nil, {"name": "Moderna Inc"}, {"name": "Moderna Inc", "headquarters": map[string]any{"city": "Cambridge"}}}
	langSets := [][]string{nil, {"en"}, {"en", "fr"}, {"fr", "en"}}
	domains := []string{""}
	for _, d := range s.Domains {
		domains = append(domains, d.Key)
	}
	type asked struct{ fields, langs, schema string }
	byShape := map[string]asked{}
	for _, in := range inputs {
		for _, langs := range langSets {
			for _, d := range domains {
				spec := NewAnswerSpec(s, in, d, langs)
				doc, err := json.Marshal(spec.JSONSchema())
				require.NoError(t, err)
				got := asked{fmt.Sprint(askedPaths(spec.Properties, "")), fmt.Sprint(spec.Languages), string(doc)}
				if prev, ok := byShape[spec.Shape()]; ok {
					require.Equal(t, prev, got, "one shape: %s", spec.Shape())
				}
				byShape[spec.Shape()] = got
			}
		}
	}
	require.Greater(t, len(byShape), 4, "the cases differ")
}
