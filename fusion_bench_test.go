package enricher

import (
	"testing"
)

// fusionBenchSchema is the example Company schema plus ceo, employees and tags: 12 root
// properties.
func fusionBenchSchema() *Schema {
	crm := fusionProp("crm_id", TypeString)
	crm.Preserve = true
	return fusionSchema(
		fusionKeyProp("name", TypeString),
		fusionKeyProp("country", TypeString),
		crm,
		fusionTextProp("description"),
		fusionProp("founded_year", TypeInteger),
		fusionObjectProp("headquarters", fusionProp("city", TypeString), fusionProp("country", TypeString)),
		fusionProp("revenue_usd", TypeNumber),
		fusionProp("is_listed", TypeBoolean),
		fusionArrayProp("subsidiaries", fusionObjectProp("", fusionKeyProp("name", TypeString),
			fusionProp("country", TypeString), fusionProp("ownership_pct", TypeNumber))),
		fusionProp("ceo", TypeString),
		fusionProp("employees", TypeInteger),
		fusionArrayProp("tags", fusionProp("", TypeString)),
	)
}

// BenchmarkFuse fuses three models' outputs that agree on most fields and conflict on some of
// every kind.
func BenchmarkFuse(b *testing.B) {
	s := fusionBenchSchema()
	outputs := []string{
		`{"name":"Moderna Inc","country":"US","crm_id":"c-1","description":{"en":"Biotech company.","fr":"Entreprise de biotechnologie."},
		  "founded_year":2010,"headquarters":{"city":"Cambridge","country":"US"},"revenue_usd":6848000000,"is_listed":true,
		  "subsidiaries":[{"name":"ModernaTX","country":"US","ownership_pct":100},{"name":"Moderna Biotech Spain","country":"ES","ownership_pct":100}],
		  "ceo":"Stéphane Bancel","employees":5600,"tags":["mRNA","vaccines"]}`,
		`{"name":"Moderna, Inc.","country":"US","crm_id":"c-1","description":{"en":"Biotechnology company developing mRNA medicines.","fr":"Entreprise de biotechnologie."},
		  "founded_year":2010,"headquarters":{"city":"Cambridge","country":"US"},"revenue_usd":6800000000,"is_listed":true,
		  "subsidiaries":[{"name":"modernatx","country":"US","ownership_pct":100}],
		  "ceo":"Stephane Bancel","employees":5800,"tags":["vaccines","therapeutics"]}`,
		`{"name":"Moderna Inc","country":"US","crm_id":"c-1","description":{"en":"Biotech company.","fr":null},
		  "founded_year":2011,"headquarters":{"city":"Cambridge","country":null},"revenue_usd":null,"is_listed":false,
		  "subsidiaries":null,"ceo":"Stéphane Bancel","employees":5700,"tags":["mRNA"]}`,
	}
	models := []string{"anthropic::claude-sonnet-4-5-20250514", "openai::gpt-4o", "gemini::gemini-2.5-flash"}
	prices := []float64{18, 12.5, 2.8}
	inputs := make([]FusionInput, len(outputs))
	for i, out := range outputs {
		inputs[i] = FusionInput{Model: models[i], Price: prices[i], Output: fusionObject(b, out)}
	}
	langs := []string{"en", "fr"}
	if _, report := Fuse(s, inputs, langs); report.ConflictedFields == 0 {
		b.Fatal("the benchmark fixture has no conflict")
	}
	b.ReportAllocs()
	for b.Loop() {
		Fuse(s, inputs, langs)
	}
}
