package enricher

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeSample decodes a sample the way a request body is decoded (numbers as float64).
func decodeSample(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &m))
	return m
}

func TestCheckSampleAgainstSchema(t *testing.T) {
	// The example Company schema is hand-written: 2 domains for 9 root properties break G1. example is the
	// same schema as a generator must write it, with one domain.
	handWritten := func(t *testing.T) *Schema {
		s, err := ParseSchema(exampleSchema(t))
		require.NoError(t, err)
		return s
	}
	example := func(t *testing.T) *Schema {
		doc := strings.ReplaceAll(string(exampleSchema(t)), `"expertise": "financial"`, `"expertise": "profile"`)
		doc = strings.Replace(doc, `,
    "financial": {"name": "Financial analyst", "description": "Revenue, listing, ownership"}`, "", 1)
		s, err := ParseSchema([]byte(doc))
		require.NoError(t, err)
		require.Len(t, s.Domains, 1)
		return s
	}
	parse := func(doc string) func(t *testing.T) *Schema {
		return func(t *testing.T) *Schema {
			s, err := ParseSchema([]byte(doc))
			require.NoError(t, err)
			return s
		}
	}
	// twelve root properties over six declared domains d0…d5.
	var props, domains []string
	for i := range 12 {
		props = append(props, fmt.Sprintf(`"p%d":{"type":"string","expertise":"d%d"}`, i, i%6))
	}
	for i := range 6 {
		domains = append(domains, fmt.Sprintf(`"d%d":{"name":"D%d"}`, i, i))
	}
	sixDomains := `{"root":{"name":"X","properties":{` + strings.Join(props, ",") + `}},"expertise_domains":{` + strings.Join(domains, ",") + `}}`

	tests := []struct {
		name   string
		schema func(t *testing.T) *Schema
		sample string
		want   []string
	}{
		{name: "example fits", schema: example, sample: `{"name":"Moderna Inc","country":"US","crm_id":"c-1",` +
			`"description":{"en":"Biotech","fr":"Biotech"},"founded_year":2010,"headquarters":{"city":"Cambridge","country":"US"},` +
			`"revenue_usd":19263000000.5,"is_listed":true,"subsidiaries":[{"name":"ModernaTX","country":"US","ownership_pct":100}]}`},
		{name: "nulls fit every type", schema: example, sample: `{"name":null,"founded_year":null,"headquarters":null,"subsidiaries":[null]}`},
		{name: "subset of fields", schema: example, sample: `{"name":"Moderna Inc"}`},

		// G1
		{name: "G1 hand-written example", schema: handWritten, sample: `{"name":"Moderna Inc"}`,
			want: []string{"expertise_domains: 2 domains for 9 properties, the maximum is 1"}},
		{name: "G1 six domains for twelve properties", schema: parse(sixDomains), sample: `{}`,
			want: []string{"expertise_domains: 6 domains for 12 properties, the maximum is 2"}},
		{name: "G1 two domains for five properties", schema: parse(rootDoc(`"a":{"type":"string","expertise":"profile"},` +
			`"b":{"type":"string"},"c":{"type":"string"},"d":{"type":"string"},"e":{"type":"string"}`)), sample: `{}`,
			want: []string{"expertise_domains: 2 domains for 5 properties, the maximum is 1"}},
		{name: "G1 declared unused domain counts", schema: parse(rootDoc(`"a":{"type":"string"}`)), sample: `{}`,
			want: []string{"expertise_domains: 2 domains for 1 properties, the maximum is 1"}},
		{name: "G1 one domain always allowed", schema: parse(`{"root":{"name":"X","properties":{"a":{"type":"string"}}}}`), sample: `{"a":"x"}`},

		// G2
		{name: "G2 missing field", schema: example, sample: `{"name":"Moderna Inc","ticker":"MRNA"}`,
			want: []string{`root.properties: sample field "ticker" is missing`}},
		{name: "G2 missing fields sorted", schema: example, sample: `{"zip":"02139","Name":"x","ceo":"S. Bancel"}`,
			want: []string{`root.properties: sample field "Name" is missing`, `root.properties: sample field "ceo" is missing`,
				`root.properties: sample field "zip" is missing`}},

		// G3
		{name: "G3 number for string", schema: parse(`{"root":{"name":"X","properties":{"revenue_usd":{"type":"string"}}}}`),
			sample: `{"revenue_usd":19263000000}`,
			want:   []string{`root.properties.revenue_usd: sample value is a number but the type is "string"`}},
		{name: "G3 fraction for integer", schema: example, sample: `{"founded_year":2010.5}`,
			want: []string{`root.properties.founded_year: sample value is a number but the type is "integer"`}},
		{name: "G3 integral float for integer", schema: example, sample: `{"founded_year":2010.0}`},
		{name: "G3 integer for number", schema: example, sample: `{"revenue_usd":5}`},
		{name: "G3 boolean for string", schema: example, sample: `{"name":true}`,
			want: []string{`root.properties.name: sample value is a boolean but the type is "string"`}},
		{name: "G3 string for boolean", schema: example, sample: `{"is_listed":"yes"}`,
			want: []string{`root.properties.is_listed: sample value is a string but the type is "boolean"`}},
		{name: "G3 array for object", schema: example, sample: `{"headquarters":["Cambridge"]}`,
			want: []string{`root.properties.headquarters: sample value is an array but the type is "object"`}},
		{name: "G3 object for array", schema: example, sample: `{"subsidiaries":{"name":"x"}}`,
			want: []string{`root.properties.subsidiaries: sample value is an object but the type is "array"`}},
		{name: "G3 localized object is a string", schema: example, sample: `{"description":{"en":"Biotech","DE":"Biotech","id":null}}`},
		{name: "G3 localized object for object", schema: example, sample: `{"headquarters":{"en":"Cambridge"}}`,
			want: []string{`root.properties.headquarters: sample value is a string but the type is "object"`}},
		{name: "G3 language-like keys with non-text values are an object", schema: example, sample: `{"name":{"id":5}}`,
			want: []string{`root.properties.name: sample value is an object but the type is "string"`}},
		{name: "G3 unsupported language is an object", schema: example, sample: `{"name":{"en":"x","xx":"y"}}`,
			want: []string{`root.properties.name: sample value is an object but the type is "string"`}},
		{name: "G3 nested object", schema: example, sample: `{"headquarters":{"city":7,"country":"US","extra":1}}`,
			want: []string{`root.properties.headquarters.properties.city: sample value is a number but the type is "string"`}},
		{name: "G3 array items reported once", schema: example,
			sample: `{"subsidiaries":[{"name":1},{"name":2,"ownership_pct":"most"}]}`,
			want: []string{`root.properties.subsidiaries.items.properties.name: sample value is a number but the type is "string"`,
				`root.properties.subsidiaries.items.properties.ownership_pct: sample value is a string but the type is "number"`}},
		{name: "G3 scalar items", schema: parse(`{"root":{"name":"X","properties":{"scores":{"type":"array","items":{"type":"number"}}}}}`),
			sample: `{"scores":[1,"two",3]}`,
			want:   []string{`root.properties.scores.items: sample value is a string but the type is "number"`}},
		{name: "G3 multilingual array of localized texts", schema: parse(`{"root":{"name":"X","properties":{"tags":{"type":"array","multilingual":true,"items":{"type":"string"}}}}}`),
			sample: `{"tags":[{"en":"a","fr":"b"},"c"]}`},
		{name: "G2 and G3 together", schema: example, sample: `{"ticker":"MRNA","is_listed":1}`,
			want: []string{`root.properties: sample field "ticker" is missing`,
				`root.properties.is_listed: sample value is a number but the type is "boolean"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckSampleAgainstSchema(tt.schema(t), decodeSample(t, tt.sample))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCheckSampleNumberKinds(t *testing.T) {
	s, err := ParseSchema([]byte(`{"root":{"name":"X","properties":{"n":{"type":"integer"}}}}`))
	require.NoError(t, err)
	tests := []struct {
		name  string
		value any
		fits  bool
	}{
		{name: "int", value: 3, fits: true},
		{name: "int64", value: int64(-3), fits: true},
		{name: "uint8", value: uint8(3), fits: true},
		{name: "float32 integral", value: float32(3), fits: true},
		{name: "float32 fraction", value: float32(3.5), fits: false},
		{name: "json.Number integral", value: json.Number("2e3"), fits: true},
		{name: "json.Number fraction", value: json.Number("2.5"), fits: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckSampleAgainstSchema(s, map[string]any{"n": tt.value})
			if tt.fits {
				require.Nil(t, got)
				return
			}
			require.Equal(t, []string{`root.properties.n: sample value is a number but the type is "integer"`}, got)
		})
	}
}
