package enricher

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseSchemaRules runs one document per problem (and valid neighbours) and asserts the
// exact list of problems; nil means the document is valid.
func TestParseSchemaRules(t *testing.T) {
	person := `"Person":{"name":"Person","properties":{"full_name":{"type":"string"}}}`
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{name: "valid minimal", doc: rootDoc(`"a":{"type":"string"}`)},

		// S1
		{name: "S1 no properties", doc: `{"root":{"name":"C","properties":{}}}`,
			want: []string{"root.properties: at least one property is required"}},
		{name: "S1 properties missing", doc: `{"root":{"name":"C"}}`,
			want: []string{"root.properties: at least one property is required"}},
		{name: "S1 properties not an object", doc: `{"root":{"name":"C","properties":[]}}`,
			want: []string{"root.properties: must be an object"}},
		{name: "S1 root missing", doc: `{"$schema":"x"}`, want: []string{"root: required field missing"}},
		{name: "S1 root null", doc: `{"root":null}`, want: []string{"root: required field missing"}},
		{name: "S1 root not an object", doc: `{"root":5}`, want: []string{"root: must be an object"}},
		{name: "root name missing", doc: `{"root":{"properties":{"a":{"type":"string"}}}}`,
			want: []string{"root.name: required field missing"}},
		{name: "root name empty", doc: `{"root":{"name":"","properties":{"a":{"type":"string"}}}}`,
			want: []string{"root.name: must not be empty"}},
		{name: "root type not object", doc: `{"root":{"name":"C","type":"array","properties":{"a":{"type":"string"}}}}`,
			want: []string{`root.type: must be "object"`}},

		// S2
		{name: "S2 unknown type", doc: rootDoc(`"revenue_usd":{"type":"money"}`),
			want: []string{`root.properties.revenue_usd.type: unknown type "money"`}},
		{name: "S2 type missing", doc: rootDoc(`"a":{"description":"x"}`),
			want: []string{"root.properties.a.type: required field missing"}},
		{name: "S2 type not a string", doc: rootDoc(`"a":{"type":["string","null"]}`),
			want: []string{"root.properties.a.type: must be a string"}},
		{name: "S2 every type", doc: rootDoc(`"s":{"type":"string"},"n":{"type":"number"},"i":{"type":"integer"},` +
			`"b":{"type":"boolean"},"a":{"type":"array","items":{"type":"string"}},"o":{"type":"object","properties":{"x":{"type":"string"}}}`)},
		{name: "S2 inside items", doc: rootDoc(`"subs":{"type":"array","items":{"type":"object","properties":{"x":{"type":"text"}}}}`),
			want: []string{`root.properties.subs.items.properties.x.type: unknown type "text"`}},

		// S3
		{name: "S3 array without items", doc: rootDoc(`"subsidiaries":{"type":"array"}`),
			want: []string{"root.properties.subsidiaries: array has no items"}},
		{name: "S3 items not an object", doc: rootDoc(`"tags":{"type":"array","items":"string"}`),
			want: []string{"root.properties.tags.items: must be an object"}},
		{name: "S3 object without properties", doc: rootDoc(`"hq":{"type":"object"}`),
			want: []string{"root.properties.hq: object has no properties"}},
		{name: "S3 object with empty properties", doc: rootDoc(`"hq":{"type":"object","properties":{}}`),
			want: []string{"root.properties.hq: object has no properties"}},
		{name: "S3 array items without items", doc: rootDoc(`"m":{"type":"array","items":{"type":"array"}}`),
			want: []string{"root.properties.m.items: array has no items"}},

		// S4
		{name: "S4 invalid name", doc: rootDoc(`"annual revenue":{"type":"number"}`),
			want: []string{"root.properties.annual revenue: invalid property name"}},
		{name: "S4 leading digit", doc: rootDoc(`"1st":{"type":"number"}`),
			want: []string{"root.properties.1st: invalid property name"}},
		{name: "S4 64 characters", doc: rootDoc(`"` + strings.Repeat("a", 64) + `":{"type":"number"}`)},
		{name: "S4 65 characters", doc: rootDoc(`"` + strings.Repeat("a", 65) + `":{"type":"number"}`),
			want: []string{"root.properties." + strings.Repeat("a", 65) + ": invalid property name"}},
		{name: "S4 underscore and digits", doc: rootDoc(`"_a1_B2":{"type":"number"}`)},
		{name: "S4 duplicate", doc: rootDoc(`"a":{"type":"string"},"a":{"type":"number"}`),
			want: []string{"root.properties.a: duplicate property name"}},
		{name: "S4 duplicate among many", doc: rootDoc(manyProps(20) + `,"p3":{"type":"number"},"p19":{"type":"number"}`),
			want: []string{"root.properties.p3: duplicate property name", "root.properties.p19: duplicate property name"}},
		{name: "S4 nested", doc: rootDoc(`"hq":{"type":"object","properties":{"my-city":{"type":"string"}}}`),
			want: []string{"root.properties.hq.properties.my-city: invalid property name"}},

		// S5
		{name: "S5 unknown domain", doc: rootDoc(`"revenue_usd":{"type":"number","expertise":"finance"}`),
			want: []string{`root.properties.revenue_usd.expertise: unknown domain "finance"`}},
		{name: "S5 declared domain", doc: rootDoc(`"a":{"type":"number","expertise":"profile"}`)},
		{name: "S5 implicit general", doc: rootDoc(`"a":{"type":"number","expertise":"general"}`)},
		{name: "S5 nested expertise is not read", doc: rootDoc(`"hq":{"type":"object","properties":{"c":{"type":"string","expertise":"nope"}}}`)},
		{name: "S5 expertise not a string", doc: rootDoc(`"a":{"type":"number","expertise":3}`),
			want: []string{"root.properties.a.expertise: must be a string"}},

		// S6
		{name: "S6 undefined reference", doc: rootDoc(`"ceo":{"$ref":"#/$defs/Person"}`),
			want: []string{`root.properties.ceo.$ref: "#/$defs/Person" is not defined`}},
		{name: "S6 defined reference", doc: defsDoc(`"ceo":{"$ref":"#/$defs/Person"}`, person)},
		{name: "S6 reference cycle", doc: defsDoc(`"ceo":{"$ref":"#/$defs/Person"}`,
			`"Person":{"properties":{"employer":{"$ref":"#/$defs/Company"}}},"Company":{"properties":{"ceo":{"$ref":"#/$defs/Person"}}}`),
			want: []string{"$defs.Person: reference cycle Person → Company → Person"}},
		{name: "S6 cycle reported from its first type", doc: defsDoc(`"x":{"$ref":"#/$defs/Company"}`,
			`"Person":{"properties":{"employer":{"$ref":"#/$defs/Company"}}},"Company":{"properties":{"ceo":{"$ref":"#/$defs/Person"}}}`),
			want: []string{"$defs.Person: reference cycle Person → Company → Person"}},
		{name: "S6 self reference through items", doc: defsDoc(`"ceo":{"$ref":"#/$defs/Person"}`,
			`"Person":{"properties":{"children":{"type":"array","items":{"$ref":"#/$defs/Person"}}}}`),
			want: []string{"$defs.Person: reference cycle Person → Person"}},
		{name: "S6 unused cycle", doc: defsDoc(`"a":{"type":"string"}`,
			`"A":{"properties":{"b":{"$ref":"#/$defs/B"}}},"B":{"properties":{"c":{"$ref":"#/$defs/C"}}},"C":{"properties":{"a":{"$ref":"#/$defs/A"}}}`),
			want: []string{"$defs.A: reference cycle A → B → C → A"}},
		{name: "S6 bad reference form", doc: defsDoc(`"ceo":{"$ref":"#/definitions/Person"}`, person),
			want: []string{`root.properties.ceo.$ref: "#/definitions/Person" must have the form "#/$defs/<Name>"`}},
		{name: "S6 reference not a string", doc: defsDoc(`"ceo":{"$ref":1}`, person),
			want: []string{"root.properties.ceo.$ref: must be a string"}},
		{name: "S6 reference with properties", doc: defsDoc(`"ceo":{"$ref":"#/$defs/Person","properties":{"x":{"type":"string"}}}`, person),
			want: []string{"root.properties.ceo: $ref and properties cannot be combined"}},
		{name: "S6 reference with scalar type", doc: defsDoc(`"ceo":{"$ref":"#/$defs/Person","type":"string"}`, person),
			want: []string{`root.properties.ceo.type: must be "object" with $ref`}},

		// S7
		{name: "S7 object key", doc: rootDoc(`"headquarters":{"type":"object","is_key":true,"properties":{"c":{"type":"string"}}}`),
			want: []string{"root.properties.headquarters.is_key: a search key must be a scalar"}},
		{name: "S7 boolean key", doc: rootDoc(`"is_listed":{"type":"boolean","identifying":true}`),
			want: []string{"root.properties.is_listed.identifying: a search key must be a scalar"}},
		{name: "S7 array key", doc: rootDoc(`"tags":{"type":"array","search_key":"search","items":{"type":"string"}}`),
			want: []string{"root.properties.tags.search_key: a search key must be a scalar"}},
		{name: "S7 reference key", doc: defsDoc(`"ceo":{"$ref":"#/$defs/Person","is_key":true}`, person),
			want: []string{"root.properties.ceo.is_key: a search key must be a scalar"}},
		{name: "S7 scalar keys", doc: rootDoc(`"a":{"type":"string","is_key":true},"b":{"type":"number","is_key":true},"c":{"type":"integer","is_key":true}`)},
		{name: "S7 false flag on object", doc: rootDoc(`"hq":{"type":"object","is_key":false,"properties":{"c":{"type":"string"}}}`)},

		// S8
		{name: "S8 integer", doc: rootDoc(`"founded_year":{"type":"integer","multilingual":true}`),
			want: []string{"root.properties.founded_year.multilingual: only text can be multilingual"}},
		{name: "S8 array of numbers", doc: rootDoc(`"x":{"type":"array","multilingual":true,"items":{"type":"number"}}`),
			want: []string{"root.properties.x.multilingual: only text can be multilingual"}},
		{name: "S8 object", doc: rootDoc(`"x":{"type":"object","multilingual":true,"properties":{"c":{"type":"string"}}}`),
			want: []string{"root.properties.x.multilingual: only text can be multilingual"}},
		{name: "S8 string and array of strings", doc: rootDoc(`"d":{"type":"string","multilingual":true},"t":{"type":"array","multilingual":true,"items":{"type":"string"}}`)},

		// S9
		{name: "S9 500 properties", doc: rootDoc(manyProps(500))},
		{name: "S9 612 properties", doc: rootDoc(manyProps(612)),
			want: []string{"root: 612 properties, the maximum is 500"}},
		{name: "S9 nested properties count", doc: rootDoc(`"o":{"type":"object","properties":{` + manyProps(500) + `}}`),
			want: []string{"root: 501 properties, the maximum is 500"}},
		{name: "S9 $defs properties count", doc: defsDoc(manyProps(300), `"P":{"properties":{`+manyProps(201)+`}}`),
			want: []string{"root: 501 properties, the maximum is 500"}},
		{name: "S9 a $defs type counts once", doc: defsDoc(`"a":{"$ref":"#/$defs/P"},"b":{"$ref":"#/$defs/P"}`, `"P":{"properties":{`+manyProps(240)+`}}`)},
		{name: "S9 expanded references", doc: defsDoc(`"a":{"$ref":"#/$defs/P"},"b":{"$ref":"#/$defs/P"}`, `"P":{"properties":{`+manyProps(300)+`}}`),
			want: []string{"root: 602 properties once $ref types are expanded, the maximum is 500"}},
		{name: "S9 depth 8", doc: rootDoc(chain(8))},
		{name: "S9 depth 9", doc: rootDoc(chain(9)),
			want: []string{chainPath(9) + ": nesting depth 9, the maximum is 8"}},
		{name: "S9 depth through items", doc: rootDoc(`"m":{"type":"array","items":{"type":"object","properties":{` + chain(7) + `}}}`),
			want: []string{"root.properties.m.items.properties.a1.properties.a2.properties.a3.properties.a4.properties.a5.properties.a6.properties.a7: nesting depth 9, the maximum is 8"}},
		{name: "S9 depth through $ref", doc: defsDoc(chain(6), `"P":{"properties":{`+strings.ReplaceAll(chain(3), `"a3":{"type":"string"}`, `"a3":{"$ref":"#/$defs/Q"}`)+`}},"Q":{"properties":{"q":{"type":"string"}}}`),
			want: nil},
		{name: "S9 reference too deep", doc: defsDoc(strings.ReplaceAll(chain(6), `"a6":{"type":"string"}`, `"a6":{"$ref":"#/$defs/P"}`), `"P":{"properties":{`+chain(3)+`}}`),
			want: []string{chainPath(6) + ".$ref: nesting depth 9, the maximum is 8"}},
		{name: "S9 type too deep on its own", doc: defsDoc(`"a":{"$ref":"#/$defs/P"}`, `"P":{"properties":{`+chain(9)+`}}`),
			want: []string{strings.Replace(chainPath(9), "root", "$defs.P", 1) + ": nesting depth 9, the maximum is 8"}},

		// Structure and types of fields.
		{name: "description not a string", doc: rootDoc(`"a":{"type":"string","description":5}`),
			want: []string{"root.properties.a.description: must be a string"}},
		{name: "property not an object", doc: rootDoc(`"a":"string"`),
			want: []string{"root.properties.a: must be an object"}},
		{name: "examples not scalars", doc: rootDoc(`"a":{"type":"string","examples":[{"x":1}]}`),
			want: []string{"root.properties.a.examples: must be an array of scalars"}},
		{name: "examples not an array", doc: rootDoc(`"a":{"type":"string","examples":"x"}`),
			want: []string{"root.properties.a.examples: must be an array of scalars"}},
		{name: "flags not booleans", doc: rootDoc(`"a":{"type":"string","preserve":"yes","multilingual":1,"nullable":"no","is_key":"true","identifying":0}`),
			want: []string{"root.properties.a.preserve: must be a boolean", "root.properties.a.multilingual: must be a boolean",
				"root.properties.a.nullable: must be a boolean", "root.properties.a.is_key: must be a boolean",
				"root.properties.a.identifying: must be a boolean"}},
		{name: "search_key wrong type", doc: rootDoc(`"a":{"type":"string","search_key":1}`),
			want: []string{`root.properties.a.search_key: must be a boolean or "search"`}},
		{name: "duplicate key in a property", doc: rootDoc(`"a":{"type":"string","type":"number"}`),
			want: []string{"root.properties.a.type: duplicate key"}},
		{name: "duplicate top-level key", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"root":5}`,
			want: []string{"root: duplicate key"}},
		{name: "domains not an object", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"expertise_domains":[]}`,
			want: []string{"expertise_domains: must be an object"}},
		{name: "domain key invalid", doc: `{"root":{"name":"C","properties":{"a":{"type":"string","expertise":"Finance"}}},"expertise_domains":{"Finance":{"name":"F"}}}`,
			want: []string{"expertise_domains.Finance: invalid domain key"}},
		{name: "domain key too long", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"expertise_domains":{"` + strings.Repeat("d", 41) + `":{"name":"F"}}}`,
			want: []string{"expertise_domains." + strings.Repeat("d", 41) + ": invalid domain key"}},
		{name: "domain key 40 characters", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"expertise_domains":{"d_` + strings.Repeat("9", 38) + `":{"name":"F"}}}`},
		{name: "domain without name", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"expertise_domains":{"f":{"description":"x"}}}`,
			want: []string{"expertise_domains.f.name: required field missing"}},
		{name: "domain not an object", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"expertise_domains":{"f":"Finance"}}`,
			want: []string{"expertise_domains.f: must be an object"}},
		{name: "identification confidence", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"identification_confidence":"very"}`,
			want: []string{`identification_confidence: must be "high", "medium" or "low"`}},
		{name: "identification notes", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"identification_notes":5}`,
			want: []string{"identification_notes: must be a string"}},
		{name: "defs not an object", doc: `{"root":{"name":"C","properties":{"a":{"type":"string"}}},"$defs":[]}`,
			want: []string{"$defs: must be an object"}},
		{name: "defs invalid name", doc: defsDoc(`"a":{"type":"string"}`, `"Bad Name":{"properties":{"x":{"type":"string"}}}`),
			want: []string{"$defs.Bad Name: invalid type name"}},
		{name: "defs entry not an object", doc: defsDoc(`"a":{"type":"string"}`, `"P":true`),
			want: []string{"$defs.P: must be an object"}},
		{name: "defs without properties", doc: defsDoc(`"a":{"type":"string"}`, `"P":{"name":"P"}`),
			want: []string{"$defs.P.properties: at least one property is required"}},
		{name: "defs nested problem", doc: defsDoc(`"a":{"type":"string"}`, `"P":{"properties":{"x":{"type":"date"}}}`),
			want: []string{`$defs.P.properties.x.type: unknown type "date"`}},
		{name: "unknown fields ignored", doc: `{"$schema":"https://x","version":2,"root":{"name":"C","x-extra":1,"properties":{"a":{"type":"string","format":"uri","pattern":"^h"}}}}`},
		{name: "end-to-end example document", doc: rootDoc(`"revenue":{"type":"money"},"hq":{"type":"object","is_key":true,"properties":{"city":{"type":"string"}}},"list":{"type":"array"}`),
			want: []string{`root.properties.revenue.type: unknown type "money"`, "root.properties.hq.is_key: a search key must be a scalar",
				"root.properties.list: array has no items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchema([]byte(tt.doc))
			if tt.want == nil {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.Nil(t, s)
			require.Equal(t, tt.want, problemsOf(t, err))
		})
	}
}

func TestParseSchemaDeepNestingIsBounded(t *testing.T) {
	// A document nested far beyond the limit reports the first level over it once, not every level.
	s, err := ParseSchema([]byte(rootDoc(chain(200))))
	require.Nil(t, s)
	require.Equal(t, []string{chainPath(9) + ": nesting depth 9, the maximum is 8"}, problemsOf(t, err))
}

func TestParseSchemaExpansionIsBounded(t *testing.T) {
	// Each type references the next one 20 times: 20^12 properties once expanded.
	var defs []string
	for i := range 12 {
		refs := make([]string, 20)
		for j := range refs {
			refs[j] = fmt.Sprintf(`"r%d":{"$ref":"#/$defs/T%d"}`, j, i+1)
		}
		defs = append(defs, fmt.Sprintf(`"T%d":{"properties":{%s}}`, i, strings.Join(refs, ",")))
	}
	defs = append(defs, `"T12":{"properties":{"leaf":{"type":"string"}}}`)
	_, err := ParseSchema([]byte(defsDoc(`"a":{"$ref":"#/$defs/T0"}`, strings.Join(defs, ","))))
	problems := problemsOf(t, err)
	require.Contains(t, problems, "root: more than 1099511627776 properties once $ref types are expanded, the maximum is 500")
}

func TestParseSchemaLargeDocumentIsLinear(t *testing.T) {
	// 100,000 properties: every one is decoded and counted, duplicates are found without a
	// quadratic scan, and the single count problem is reported.
	_, err := ParseSchema([]byte(rootDoc(manyProps(100_000))))
	require.Equal(t, []string{"root: 100000 properties, the maximum is 500"}, problemsOf(t, err))
}
