package enricher

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAssembleOutput(t *testing.T) {
	profile := `{"description": {"en": "Biotech.", "fr": "Biotech FR."}, "founded_year": 2010,
		"headquarters": {"city": "Cambridge", "country": "US"}, "country": "US"}`
	financial := `{"revenue_usd": 6848000000.5, "is_listed": true, "subsidiaries": [
		{"name": "ModernaTX", "country": "US", "ownership_pct": 100}]}`
	allNulls := `{"name": null, "country": null, "crm_id": null, "description": null, "founded_year": null,
		"headquarters": null, "revenue_usd": null, "is_listed": null, "subsidiaries": null}`
	tests := []struct {
		name      string
		input     string
		answers   []string
		languages []string
		want      string
	}{
		{
			name:      "multi-domain merge with copied key and preserve",
			input:     `{"Name": "Moderna Inc", "CRM_ID": "C-1", "notes": "context only"}`,
			answers:   []string{profile, financial},
			languages: []string{"en", "fr"},
			want: `{"name": "Moderna Inc", "country": "US", "crm_id": "C-1",
				"description": {"en": "Biotech.", "fr": "Biotech FR."}, "founded_year": 2010,
				"headquarters": {"city": "Cambridge", "country": "US"},
				"revenue_usd": 6848000000.5, "is_listed": true,
				"subsidiaries": [{"name": "ModernaTX", "country": "US", "ownership_pct": 100}]}`,
		},
		{
			name:      "no answer: everything unknown is null",
			input:     `{"name": ""}`,
			languages: []string{"en"},
			want:      allNulls,
		},
		{
			name:      "input key wins over the answer; empty input key does not",
			input:     `{"name": "Moderna Inc", "country": "", "crm_id": null}`,
			answers:   []string{`{"name": "MODERNA", "country": "US", "crm_id": "model-made"}`},
			languages: []string{"en"},
			want: `{"name": "Moderna Inc", "country": "US", "crm_id": null, "description": null,
				"founded_year": null, "headquarters": null, "revenue_usd": null, "is_listed": null,
				"subsidiaries": null}`,
		},
		{
			name:  "later answers merge objects and keep earlier values over null",
			input: `{}`,
			answers: []string{
				`{"headquarters": {"city": "Cambridge"}, "founded_year": 2010, "is_listed": false}`,
				`{"headquarters": {"country": "US"}, "founded_year": null, "is_listed": true}`,
			},
			languages: []string{"en"},
			want: `{"name": null, "country": null, "crm_id": null, "description": null, "founded_year": 2010,
				"headquarters": {"city": "Cambridge", "country": "US"}, "revenue_usd": null,
				"is_listed": true, "subsidiaries": null}`,
		},
		{
			name:  "unknown and mistyped fields are null, unknown fields dropped, languages shaped",
			input: `{}`,
			answers: []string{`{"founded_year": "2010", "revenue_usd": 1.5, "ticker": "MRNA",
				"headquarters": {"city": 3, "zip": "02139"},
				"description": {"en": "Biotech.", "de": "Biotech DE."}}`},
			languages: []string{"en", "fr"},
			want: `{"name": null, "country": null, "crm_id": null,
				"description": {"en": "Biotech.", "fr": null}, "founded_year": null,
				"headquarters": {"city": null, "country": null}, "revenue_usd": 1.5,
				"is_listed": null, "subsidiaries": null}`,
		},
		{
			name:  "arrays of objects deduplicated on key fields",
			input: `{}`,
			answers: []string{`{"subsidiaries": [
				{"name": "A", "country": "US"},
				{"name": "B", "ownership_pct": 50},
				{"name": "A", "country": "DE", "ownership_pct": 10},
				{"name": null, "country": "FR"},
				{"name": "", "country": "IT"},
				{"name": null, "country": "FR"},
				null,
				{"name": "a"}]}`},
			languages: []string{"en"},
			want: `{"name": null, "country": null, "crm_id": null, "description": null, "founded_year": null,
				"headquarters": null, "revenue_usd": null, "is_listed": null, "subsidiaries": [
				{"name": "A", "country": "US", "ownership_pct": null},
				{"name": "B", "country": null, "ownership_pct": 50},
				{"name": null, "country": "FR", "ownership_pct": null},
				{"name": "", "country": "IT", "ownership_pct": null},
				{"name": null, "country": "FR", "ownership_pct": null},
				null,
				{"name": "a", "country": null, "ownership_pct": null}]}`,
		},
		{
			name:      "no languages means en",
			input:     `{}`,
			answers:   []string{`{"description": {"en": "Biotech.", "fr": "Biotech FR."}}`},
			languages: nil,
			want: `{"name": null, "country": null, "crm_id": null, "description": {"en": "Biotech."},
				"founded_year": null, "headquarters": null, "revenue_usd": null, "is_listed": null,
				"subsidiaries": null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var answers []map[string]any
			for _, a := range tt.answers {
				answers = append(answers, answerJSON(t, a))
			}
			got := AssembleOutput(answerTestSchema(), answerJSON(t, tt.input), answers, tt.languages)
			require.Equal(t, answerJSON(t, tt.want), got)
		})
	}
}

func TestAssembleOutputNested(t *testing.T) {
	// account: {ref (preserve), code (key), tier}, lines: [{keep (preserve, ignored in arrays),
	// sku (key)}], and a preserved object taken whole from the input.
	ref := answerLeaf("ref", TypeString)
	ref.Preserve = true
	code := answerLeaf("code", TypeString)
	code.IsKey = true
	account := answerLeaf("account", TypeObject)
	account.Properties = []*Property{ref, code, answerLeaf("tier", TypeString)}
	keep := answerLeaf("keep", TypeString)
	keep.Preserve = true
	sku := answerLeaf("sku", TypeString)
	sku.IsKey = true
	lines := answerLeaf("lines", TypeArray)
	lines.Items = &Property{Type: TypeObject, Nullable: true, Properties: []*Property{keep, sku}}
	meta := answerLeaf("meta", TypeObject)
	meta.Preserve = true
	meta.Properties = []*Property{answerLeaf("a", TypeString)}
	s := &Schema{Root: EntityDefinition{Name: "Thing", Properties: []*Property{account, lines, meta}}}

	tests := []struct {
		name   string
		input  string
		answer string
		want   string
	}{
		{
			name:   "nested preserve and key come from the input even without an answer",
			input:  `{"Account": {"REF": "r-1", "code": "K"}, "meta": {"a": "x", "extra": [1]}}`,
			answer: `{"account": null, "lines": null, "meta": {"a": "model"}}`,
			want: `{"account": {"ref": "r-1", "code": "K", "tier": null}, "lines": null,
				"meta": {"a": "x", "extra": [1]}}`,
		},
		{
			name:   "answer fills the rest; preserve absent from input is null",
			input:  `{"account": {"code": ""}}`,
			answer: `{"account": {"ref": "model", "code": "K2", "tier": "gold"}}`,
			want:   `{"account": {"ref": null, "code": "K2", "tier": "gold"}, "lines": null, "meta": null}`,
		},
		{
			name:  "inside arrays preserve and keys come from the answer; dedup on sku",
			input: `{"lines": [{"keep": "in", "sku": "S"}]}`,
			answer: `{"lines": [{"keep": "m1", "sku": "S1"}, {"keep": "m2", "sku": "S1"},
				{"keep": "m3", "sku": "S2"}]}`,
			want: `{"account": null, "lines": [{"keep": "m1", "sku": "S1"}, {"keep": "m3", "sku": "S2"}],
				"meta": null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := answerJSON(t, tt.input)
			answer := answerJSON(t, tt.answer)
			got := AssembleOutput(s, input, []map[string]any{answer}, []string{"en"})
			require.Equal(t, answerJSON(t, tt.want), got)
			require.Equal(t, answerJSON(t, tt.input), input, "input is not modified")
			require.Equal(t, answerJSON(t, tt.answer), answer, "answer is not modified")
		})
	}
}

func TestAssembleOutputOwnsResult(t *testing.T) {
	s := answerTestSchema()
	input := answerJSON(t, `{"name": "A", "crm_id": "C-1"}`)
	s.Property("crm_id").Type = TypeObject
	input["crm_id"] = map[string]any{"id": "C-1"}
	answer := answerJSON(t, `{"headquarters": {"city": "X"}, "subsidiaries": [{"name": "S"}]}`)
	got := AssembleOutput(s, input, []map[string]any{answer}, []string{"en"})

	got["crm_id"].(map[string]any)["id"] = "changed"
	got["headquarters"].(map[string]any)["city"] = "changed"
	got["subsidiaries"].([]any)[0].(map[string]any)["name"] = "changed"
	require.Equal(t, map[string]any{"id": "C-1"}, input["crm_id"])
	require.Equal(t, answerJSON(t, `{"headquarters": {"city": "X"}, "subsidiaries": [{"name": "S"}]}`), answer)
}
