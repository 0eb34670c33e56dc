package enricher

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// exampleSchema returns the example Company schema document.
func exampleSchema(t testing.TB) []byte {
	t.Helper()
	doc, err := os.ReadFile("testdata/schema_example.json")
	require.NoError(t, err)
	return doc
}

// rootDoc wraps root properties (JSON members) in a document declaring the domain "profile".
func rootDoc(props string) string {
	return `{"root":{"name":"Company","type":"object","properties":{` + props + `}},` +
		`"expertise_domains":{"profile":{"name":"Corporate profile","description":"Identity"}}}`
}

// defsDoc is rootDoc with $defs members.
func defsDoc(props, defs string) string {
	return `{"root":{"name":"Company","properties":{` + props + `}},"$defs":{` + defs + `}}`
}

// manyProps returns n string properties p0…p(n-1).
func manyProps(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"p%d":{"type":"string"}`, i)
	}
	return strings.Join(parts, ",")
}

// chain returns one property a1 whose objects nest n levels deep (a1.a2…an, an a string).
func chain(n int) string {
	leaf := fmt.Sprintf(`"a%d":{"type":"string"}`, n)
	for i := n - 1; i >= 1; i-- {
		leaf = fmt.Sprintf(`"a%d":{"type":"object","properties":{%s}}`, i, leaf)
	}
	return leaf
}

// chainPath returns the document path of a_n in chain(n).
func chainPath(n int) string {
	parts := []string{"root"}
	for i := 1; i <= n; i++ {
		parts = append(parts, "properties", fmt.Sprintf("a%d", i))
	}
	return strings.Join(parts, ".")
}

// problemsOf returns the problems of a ParseSchema error, failing the test for any other error.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	require.True(t, IsKind(err, KindInvalid), "kind %v", ErrorKind(err))
	var e *Error
	require.True(t, errors.As(err, &e))
	require.NotEmpty(t, e.Problems)
	return e.Problems
}

func TestParseSchemaExample(t *testing.T) {
	s, err := ParseSchema(exampleSchema(t))
	require.NoError(t, err)

	names := make([]string, 0, len(s.Root.Properties))
	for _, p := range s.Root.Properties {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"name", "country", "crm_id", "description", "founded_year", "headquarters",
		"revenue_usd", "is_listed", "subsidiaries"}, names)
	require.Equal(t, "Company", s.Root.Name)
	require.Equal(t, "A business registered as a legal entity", s.Root.Description)
	require.Equal(t, []Domain{
		{Key: "profile", Name: "Corporate profile", Description: "Identity, history, location"},
		{Key: "financial", Name: "Financial analyst", Description: "Revenue, listing, ownership"},
	}, s.Domains)
	require.Equal(t, "medium", s.IdentificationConfidence)
	require.Equal(t, "Names are ambiguous across countries; always give the country.", s.IdentificationNotes)

	// 9 root properties + 2 in headquarters + 3 in the subsidiaries' items.
	require.Equal(t, 14, s.PropertyCount())
	require.Equal(t, 2, s.ExpertiseCount())
	require.Equal(t, [][]string{{"name"}, {"country"}}, s.SearchKeyPaths())
	require.Equal(t, []string{"name", "country"}, s.SearchKeys())

	name := s.Property("name")
	require.Equal(t, &Property{Name: "name", Type: TypeString, Description: "Registered name",
		Examples: []any{"Moderna Inc"}, Expertise: "profile", IsKey: true, Nullable: true}, name)
	require.Equal(t, []any{json.Number("2010")}, s.Property("founded_year").Examples)
	require.True(t, s.Property("crm_id").Preserve)
	require.True(t, s.Property("description").Multilingual)
	require.Equal(t, "financial", s.Property("revenue_usd").Expertise)

	hq := s.Property("headquarters")
	require.Equal(t, TypeObject, hq.Type)
	require.Len(t, hq.Properties, 2)
	require.Equal(t, "city", hq.Properties[0].Name)
	require.Empty(t, hq.Properties[0].Expertise, "nested properties follow their root ancestor")

	subs := s.Property("subsidiaries")
	require.Equal(t, TypeArray, subs.Type)
	require.NotNil(t, subs.Items)
	require.Equal(t, TypeObject, subs.Items.Type)
	require.Len(t, subs.Items.Properties, 3)
	require.True(t, subs.Items.Properties[0].IsKey)
	require.Equal(t, "ownership_pct", subs.Items.Properties[2].Name)
}

func TestParseSchemaDefaults(t *testing.T) {
	s, err := ParseSchema([]byte(rootDoc(`"a":{"type":"string"},"b":{"type":"number","nullable":false,"expertise":"general"},` +
		`"c":{"type":"boolean","description":null,"expertise":null,"nullable":null}`)))
	require.NoError(t, err)
	require.Equal(t, &Property{Name: "a", Type: TypeString, Expertise: GeneralDomain, Nullable: true}, s.Property("a"))
	require.False(t, s.Property("b").Nullable)
	require.Equal(t, GeneralDomain, s.Property("b").Expertise)
	require.Equal(t, &Property{Name: "c", Type: TypeBoolean, Expertise: GeneralDomain, Nullable: true}, s.Property("c"))
	require.Equal(t, 1, s.ExpertiseCount(), "only the implicit domain is in use")
	require.Nil(t, s.SearchKeyPaths())
	require.Nil(t, s.SearchKeys())
}

func TestParseSchemaOrder(t *testing.T) {
	doc := `{"root":{"name":"X","properties":{"zeta":{"type":"string","expertise":"z"},` +
		`"alpha":{"type":"object","properties":{"y":{"type":"string"},"b":{"type":"string"},"m":{"type":"string"}}},` +
		`"mid":{"type":"string","expertise":"a"}}},` +
		`"$defs":{"Zed":{"properties":{"q":{"type":"string"}}},"Abe":{"properties":{"r":{"type":"string"}}}},` +
		`"expertise_domains":{"z":{"name":"Z"},"a":{"name":"A"},"m":{"name":"M"}}}`
	s, err := ParseSchema([]byte(doc))
	require.NoError(t, err)
	var got []string
	for _, p := range s.Root.Properties {
		got = append(got, p.Name)
	}
	for _, p := range s.Property("alpha").Properties {
		got = append(got, p.Name)
	}
	for _, d := range s.Defs {
		got = append(got, d.Name)
	}
	for _, d := range s.Domains {
		got = append(got, d.Key)
	}
	require.Equal(t, []string{"zeta", "alpha", "mid", "y", "b", "m", "Zed", "Abe", "z", "a", "m"}, got)
	require.Equal(t, 3, s.ExpertiseCount(), "z, general (alpha) and a")
}

func TestParseSchemaSearchKeySpellings(t *testing.T) {
	tests := []struct {
		name  string
		flags string
		want  bool
	}{
		{name: "is_key", flags: `"is_key":true`, want: true},
		{name: "identifying", flags: `"identifying":true`, want: true},
		{name: "search_key true", flags: `"search_key":true`, want: true},
		{name: "search_key search", flags: `"search_key":"search"`, want: true},
		{name: "search_key other string", flags: `"search_key":"output"`, want: false},
		{name: "is_key false", flags: `"is_key":false`, want: false},
		{name: "null", flags: `"is_key":null,"identifying":null`, want: false},
		{name: "any true wins", flags: `"is_key":false,"identifying":true`, want: true},
		{name: "none", flags: `"description":"x"`, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchema([]byte(rootDoc(`"a":{"type":"string",` + tt.flags + `}`)))
			require.NoError(t, err)
			require.Equal(t, tt.want, s.Property("a").IsKey)
		})
	}
}

func TestSearchKeyPaths(t *testing.T) {
	doc := defsDoc(`"name":{"type":"string","is_key":true},`+
		`"hq":{"type":"object","properties":{"country":{"type":"string","identifying":true},"city":{"type":"string"}}},`+
		`"country":{"type":"string","search_key":"search"},`+
		`"ceo":{"$ref":"#/$defs/Person"},`+
		`"board":{"type":"array","items":{"$ref":"#/$defs/Person"}},`+
		`"tags":{"type":"array","items":{"type":"string","is_key":true}}`,
		`"Person":{"name":"Person","properties":{"email":{"type":"string","is_key":true}}}`)
	s, err := ParseSchema([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, [][]string{{"name"}, {"hq", "country"}, {"country"}, {"ceo", "email"}}, s.SearchKeyPaths())
	require.Equal(t, []string{"name", "country", "email"}, s.SearchKeys())
}

func TestParseSchemaRefResolution(t *testing.T) {
	doc := defsDoc(`"name":{"type":"string"},"ceo":{"$ref":"#/$defs/Person"},`+
		`"parent":{"type":"object","$ref":"#/$defs/Company","description":"Owner"},`+
		`"board":{"type":"array","items":{"$ref":"#/$defs/Person"}}`,
		`"Company":{"description":"A firm","properties":{"legal_name":{"type":"string"},"chair":{"$ref":"#/$defs/Person"}}},`+
			`"Person":{"name":"Person","description":"A human","properties":{"full_name":{"type":"string","is_key":true},"email":{"type":"string"}}}`)
	s, err := ParseSchema([]byte(doc))
	require.NoError(t, err)

	require.Len(t, s.Defs, 2)
	require.Equal(t, "Company", s.Defs[0].Name)
	require.Equal(t, "Person", s.Defs[1].Name)

	ceo := s.Property("ceo")
	require.Equal(t, TypeObject, ceo.Type)
	require.Equal(t, "#/$defs/Person", ceo.Ref)
	require.Equal(t, "A human", ceo.Description, "the type's description fills an empty one")
	require.Len(t, ceo.Properties, 2)
	require.Equal(t, "full_name", ceo.Properties[0].Name)
	require.True(t, ceo.Properties[0].IsKey)

	parent := s.Property("parent")
	require.Equal(t, "Owner", parent.Description)
	require.Len(t, parent.Properties, 2)
	chair := parent.Properties[1]
	require.Equal(t, TypeObject, chair.Type, "references resolve recursively")
	require.Len(t, chair.Properties, 2)
	require.Equal(t, "email", chair.Properties[1].Name)

	board := s.Property("board")
	require.Equal(t, TypeObject, board.Items.Type)
	require.Len(t, board.Items.Properties, 2)

	// Written properties: 4 root + Company 2 + Person 2; references are not followed.
	require.Equal(t, 8, s.PropertyCount())
}

func TestParseSchemaNotJSON(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "array", doc: `[1,2]`, want: "schema is not a JSON object"},
		{name: "string", doc: `"x"`, want: "schema is not a JSON object"},
		{name: "null", doc: `null`, want: "schema is not a JSON object"},
		{name: "empty", doc: ``, want: "schema is not valid JSON: "},
		{name: "truncated", doc: `{"root":`, want: "schema is not valid JSON: "},
		{name: "trailing data", doc: `{} {}`, want: "schema is not valid JSON: "},
		{name: "bad token", doc: `{"a" 1}`, want: "schema is not valid JSON: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchema([]byte(tt.doc))
			problems := problemsOf(t, err)
			require.Len(t, problems, 1)
			require.True(t, strings.HasPrefix(problems[0], tt.want), problems[0])
		})
	}
}

func TestParseSchemaAllProblemsAtOnce(t *testing.T) {
	doc := rootDoc(`"revenue_usd":{"type":"money"},"annual revenue":{"type":"number"},` +
		`"founded_year":{"type":"integer","multilingual":true}`)
	_, err := ParseSchema([]byte(doc))
	require.Equal(t, []string{
		`root.properties.revenue_usd.type: unknown type "money"`,
		`root.properties.annual revenue: invalid property name`,
		`root.properties.founded_year.multilingual: only text can be multilingual`,
	}, problemsOf(t, err))
	require.Equal(t, "schema is invalid: 3 problems", err.Error())
}
