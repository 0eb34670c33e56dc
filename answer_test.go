package enricher

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// companyAnswer returns a valid answer to the full company spec (languages en, fr) with an
// extra language, unasked fields and an unasked nested field; mod edits it before encoding.
func companyAnswer(t testing.TB, mod func(m map[string]any)) string {
	t.Helper()
	m := answerJSON(t, `{
		"name": "Moderna Inc", "country": "US", "crm_id": "from-model", "ticker": "MRNA",
		"description": {"en": "Biotech.", "fr": "Biotech FR.", "de": "Biotech DE."},
		"founded_year": 2010,
		"headquarters": {"city": "Cambridge", "country": "US", "zip": "02139"},
		"revenue_usd": 6848000000.5, "is_listed": true,
		"subsidiaries": [
			{"name": "ModernaTX", "country": "US", "ownership_pct": 100, "extra": 1},
			{"name": "Moderna Biotech Spain", "country": null, "ownership_pct": 99.5}
		]}`)
	if mod != nil {
		mod(m)
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// answerAt returns the object of m at the path of names.
func answerAt(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func TestCheckAnswerProblems(t *testing.T) {
	spec := NewAnswerSpec(answerTestSchema(), nil, "", []string{"en", "fr"})
	tests := []struct {
		name string
		text string
		want []string
	}{
		{
			name: "nested type mismatch",
			text: companyAnswer(t, func(m map[string]any) { answerAt(m, "headquarters")["city"] = 42.0 }),
			want: []string{"headquarters.city: expected string, got number"},
		},
		{
			name: "missing language",
			text: companyAnswer(t, func(m map[string]any) { delete(answerAt(m, "description"), "fr") }),
			want: []string{`description: missing language "fr"`},
		},
		{
			name: "mistyped language value",
			text: companyAnswer(t, func(m map[string]any) { answerAt(m, "description")["fr"] = true }),
			want: []string{"description.fr: expected string, got boolean"},
		},
		{
			name: "multilingual value is a plain string",
			text: companyAnswer(t, func(m map[string]any) { m["description"] = "Biotech." }),
			want: []string{"description: expected object keyed by language, got string"},
		},
		{
			name: "missing property",
			text: companyAnswer(t, func(m map[string]any) { delete(m, "founded_year") }),
			want: []string{"founded_year: required property missing"},
		},
		{
			name: "fractional number for integer",
			text: companyAnswer(t, func(m map[string]any) { m["founded_year"] = 2010.5 }),
			want: []string{"founded_year: expected integer, got number"},
		},
		{
			name: "numeric string is not coerced",
			text: companyAnswer(t, func(m map[string]any) { m["founded_year"] = "2010" }),
			want: []string{"founded_year: expected integer, got string"},
		},
		{
			name: "string for number",
			text: companyAnswer(t, func(m map[string]any) { m["revenue_usd"] = "6.8e9" }),
			want: []string{"revenue_usd: expected number, got string"},
		},
		{
			name: "string for boolean",
			text: companyAnswer(t, func(m map[string]any) { m["is_listed"] = "true" }),
			want: []string{"is_listed: expected boolean, got string"},
		},
		{
			name: "object for array",
			text: companyAnswer(t, func(m map[string]any) { m["subsidiaries"] = map[string]any{} }),
			want: []string{"subsidiaries: expected array, got object"},
		},
		{
			name: "array for object",
			text: companyAnswer(t, func(m map[string]any) { m["headquarters"] = []any{} }),
			want: []string{"headquarters: expected object, got array"},
		},
		{
			name: "problems inside array items",
			text: companyAnswer(t, func(m map[string]any) {
				subs := m["subsidiaries"].([]any)
				subs[0].(map[string]any)["name"] = 7.0
				delete(subs[1].(map[string]any), "ownership_pct")
			}),
			want: []string{
				"subsidiaries[0].name: expected string, got number",
				"subsidiaries[1].ownership_pct: required property missing",
			},
		},
		{
			name: "non-object array item",
			text: companyAnswer(t, func(m map[string]any) { m["subsidiaries"] = []any{"ModernaTX"} }),
			want: []string{"subsidiaries[0]: expected object, got string"},
		},
		{
			name: "several problems in schema order",
			text: companyAnswer(t, func(m map[string]any) {
				m["subsidiaries"].([]any)[1].(map[string]any)["country"] = 1.0
				delete(m, "name")
				answerAt(m, "headquarters")["city"] = false
				delete(answerAt(m, "description"), "en")
			}),
			want: []string{
				"name: required property missing",
				`description: missing language "en"`,
				"headquarters.city: expected string, got boolean",
				"subsidiaries[1].country: expected string, got number",
			},
		},
		{
			name: "truncated answer",
			text: "```json\n" + companyAnswer(t, nil)[:40],
			want: []string{"answer is not valid JSON: unexpected end of input"},
		},
		{
			name: "no JSON",
			text: "I could not find this company.",
			want: []string{"answer is not valid JSON: no JSON object found"},
		},
		{
			name: "number out of range",
			text: `{"founded_year": 1e400}`,
			want: []string{"answer is not valid JSON: json: cannot unmarshal number 1e400 into Go value of type float64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := CheckAnswer(spec, tt.text)
			require.Equal(t, tt.want, problems)
			require.Nil(t, got)
		})
	}
}

func TestCheckAnswerAccepts(t *testing.T) {
	spec := NewAnswerSpec(answerTestSchema(), nil, "", []string{"en", "fr"})
	got, problems := CheckAnswer(spec, "Here you go:\n```json\n"+companyAnswer(t, nil)+"\n```\nDone.")
	require.Empty(t, problems)
	want := answerJSON(t, `{
		"name": "Moderna Inc", "country": "US",
		"description": {"en": "Biotech.", "fr": "Biotech FR."},
		"founded_year": 2010,
		"headquarters": {"city": "Cambridge", "country": "US"},
		"revenue_usd": 6848000000.5, "is_listed": true,
		"subsidiaries": [
			{"name": "ModernaTX", "country": "US", "ownership_pct": 100},
			{"name": "Moderna Biotech Spain", "country": null, "ownership_pct": 99.5}
		]}`)
	require.Equal(t, want, got, "unasked fields, the extra language and item extras are dropped")

	nulls := `{"name": null, "country": null, "description": null, "founded_year": null,
		"headquarters": null, "revenue_usd": null, "is_listed": null, "subsidiaries": null}`
	got, problems = CheckAnswer(spec, nulls)
	require.Empty(t, problems, "every field is nullable")
	require.Len(t, got, 8)
	for k, v := range got {
		require.Nil(t, v, k)
	}

	got, problems = CheckAnswer(spec, companyAnswer(t, func(m map[string]any) {
		answerAt(m, "description")["fr"] = nil
		m["subsidiaries"] = []any{nil}
	}))
	require.Empty(t, problems, "a nullable multilingual field takes null per language; nullable items take null")
	require.Equal(t, map[string]any{"en": "Biotech.", "fr": nil}, got["description"])
	require.Equal(t, []any{nil}, got["subsidiaries"])
}

func TestCheckAnswerIntegersAndNullable(t *testing.T) {
	id := &Property{Name: "id", Type: TypeInteger, Nullable: false}
	tags := &Property{Name: "tags", Type: TypeArray, Nullable: false,
		Items: &Property{Type: TypeString, Nullable: false}}
	label := &Property{Name: "label", Type: TypeString, Multilingual: true, Nullable: false}
	spec := &AnswerSpec{Properties: []*Property{id, tags, label}, Languages: []string{"en"}}
	tests := []struct {
		name     string
		text     string
		want     map[string]any
		problems []string
	}{
		{
			name: "integral float literal",
			text: `{"id": 2.0, "tags": [], "label": {"en": "x", "fr": "y"}}`,
			want: map[string]any{"id": 2.0, "tags": []any{}, "label": map[string]any{"en": "x"}},
		},
		{
			name: "exponent integer",
			text: `{"id": 2e3, "tags": ["a"], "label": {"en": "x"}}`,
			want: map[string]any{"id": 2000.0, "tags": []any{"a"}, "label": map[string]any{"en": "x"}},
		},
		{
			name: "negative integer",
			text: `{"id": -7, "tags": ["a"], "label": {"en": ""}}`,
			want: map[string]any{"id": -7.0, "tags": []any{"a"}, "label": map[string]any{"en": ""}},
		},
		{
			name:     "fraction",
			text:     `{"id": 2.5, "tags": [], "label": {"en": "x"}}`,
			problems: []string{"id: expected integer, got number"},
		},
		{
			name:     "boolean for integer",
			text:     `{"id": true, "tags": [], "label": {"en": "x"}}`,
			problems: []string{"id: expected integer, got boolean"},
		},
		{
			name: "nulls where nullable is false",
			text: `{"id": null, "tags": ["a", null], "label": null}`,
			problems: []string{
				"id: expected integer, got null",
				"tags[1]: expected string, got null",
				"label: expected object keyed by language, got null",
			},
		},
		{
			name:     "null language where nullable is false",
			text:     `{"id": 1, "tags": null, "label": {"en": null}}`,
			problems: []string{"tags: expected array, got null", "label.en: expected string, got null"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := CheckAnswer(spec, tt.text)
			require.Equal(t, tt.problems, problems)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCheckAnswerNestedArrays(t *testing.T) {
	// officers: [{name, roles: [{title (multilingual), since (integer)}]}]
	role := &Property{Type: TypeObject, Nullable: true, Properties: []*Property{
		{Name: "title", Type: TypeString, Multilingual: true, Nullable: true},
		{Name: "since", Type: TypeInteger, Nullable: true},
	}}
	officer := &Property{Type: TypeObject, Nullable: true, Properties: []*Property{
		{Name: "name", Type: TypeString, IsKey: true, Nullable: true},
		{Name: "roles", Type: TypeArray, Nullable: true, Items: role},
	}}
	spec := &AnswerSpec{
		Properties: []*Property{{Name: "officers", Type: TypeArray, Nullable: true, Items: officer}},
		Languages:  []string{"en", "de"},
	}
	good := `{"officers": [{"name": "A", "roles": [{"title": {"en": "CEO", "de": "Chef", "fr": "PDG"}, "since": 2020.0, "x": 1}]}]}`
	got, problems := CheckAnswer(spec, good)
	require.Empty(t, problems)
	require.Equal(t, answerJSON(t, `{"officers": [{"name": "A", "roles": [{"title": {"en": "CEO", "de": "Chef"}, "since": 2020}]}]}`), got)

	bad := `{"officers": [{"name": "A", "roles": []}, {"name": "B", "roles": [{"title": {"en": "CFO"}, "since": "2019"}]}]}`
	got, problems = CheckAnswer(spec, bad)
	require.Nil(t, got)
	require.Equal(t, []string{
		`officers[1].roles[0].title: missing language "de"`,
		"officers[1].roles[0].since: expected integer, got string",
	}, problems)
}

func TestCheckAnswerOnlyAsksSpec(t *testing.T) {
	// A domain spec ignores the other domain's fields entirely, even malformed ones.
	spec := NewAnswerSpec(answerTestSchema(), map[string]any{"name": "Moderna Inc"}, "financial", []string{"en"})
	got, problems := CheckAnswer(spec, `{"revenue_usd": 1, "is_listed": false, "subsidiaries": [], "founded_year": "x"}`)
	require.Empty(t, problems)
	require.Equal(t, map[string]any{"revenue_usd": 1.0, "is_listed": false, "subsidiaries": []any{}}, got)

	_, problems = CheckAnswer(spec, `{}`)
	require.Equal(t, []string{
		"revenue_usd: required property missing",
		"is_listed: required property missing",
		"subsidiaries: required property missing",
	}, problems)
	for _, p := range problems {
		require.False(t, strings.HasPrefix(p, "founded_year"))
	}
}
