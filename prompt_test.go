package enricher

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

var updatePromptGolden = flag.Bool("update-prompt-golden", false, "rewrite testdata/enrichment_prompts.golden")

// TestEnrichmentPromptGolden pins the enrichment prompt's text (entity JSON indented with
// HTML escaping, nested fields, array items, examples, domains, languages and
// classification) to testdata/enrichment_prompts.golden, which was written by the
// encoding/json and fmt version of the prompt builder.
func TestEnrichmentPromptGolden(t *testing.T) {
	doc, err := os.ReadFile("testdata/schema_example.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(doc)
	if err != nil {
		t.Fatal(err)
	}
	entity := map[string]any{"name": "Acme <&> \u2028Ltd", "crm_id": "c-1", "tags": []any{"a", 1.5, nil, map[string]any{}, 1e-7},
		"hq": map[string]any{"city": "Zürich", "empty": []any{}, "n": 1e21}}
	var out strings.Builder
	for _, tc := range []struct {
		strategy Strategy
		domain   string
		cls      *Classification
		langs    []string
	}{
		{StrategySinglePass, "", nil, nil},
		{StrategyExpertDomains, "", &Classification{Status: "mismatch", ExpectedType: "Company", Confidence: 0.456, EntityDescription: "a person"}, []string{"en", "de"}},
		{StrategyMultiExpertise, "financial", nil, []string{"fr"}},
	} {
		in := PromptInput{Schema: s, Entity: entity, Spec: NewAnswerSpec(s, entity, tc.domain, tc.langs), Strategy: tc.strategy, Classification: tc.cls}
		if tc.domain != "" {
			d, _ := s.Domain(tc.domain)
			in.Domain = &d
		}
		p := EnrichmentPrompt(in)
		out.WriteString("=== " + string(tc.strategy) + "\n" + p.System + "\n---\n" + p.User + "\n")
	}
	const golden = "testdata/enrichment_prompts.golden"
	if *updatePromptGolden {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("prompts differ from %s:\n%s", golden, out.String())
	}
}

// TestArbitrationPromptFieldLine: each conflict's field line is the JSON encoding/json writes
// for the field's type and description (HTML-escaped, keys sorted), as before it was written
// by hand.
func TestArbitrationPromptFieldLine(t *testing.T) {
	s, err := ParseSchema([]byte(`{"root": {"name": "Company", "type": "object", "properties": {
		"name": {"type": "string", "is_key": true},
		"ceo": {"type": "string", "description": "Chief <executive> & \"head\""}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p := ArbitrationPrompt(s, map[string]any{"name": "Acme"}, []FieldConflict{{Path: "ceo", ValuesByModel: map[string]any{"a": "X", "b": "Y"}}})
	want, err := json.Marshal(map[string]any{"type": typeLabel(PropertyAt(s, "ceo")), "description": PropertyAt(s, "ceo").Description})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.User, "Field: "+string(want)+"\n") {
		t.Fatalf("no field line %s in\n%s", want, p.User)
	}
}
