package enricher

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// answerLeaf returns a nullable leaf property, the default of a parsed schema.
func answerLeaf(name string, t Type) *Property {
	return &Property{Name: name, Type: t, Nullable: true}
}

// answerTestSchema returns the example Company schema, built directly as ParseSchema would
// (Nullable true by default, Expertise set on root properties). Each call returns a new tree.
func answerTestSchema() *Schema {
	name := answerLeaf("name", TypeString)
	name.IsKey, name.Expertise, name.Description = true, "profile", "Registered name"
	name.Examples = []any{"Moderna Inc"}
	country := answerLeaf("country", TypeString)
	country.IsKey, country.Expertise = true, "profile"
	country.Description = "ISO 3166-1 alpha-2 country of registration"
	crm := answerLeaf("crm_id", TypeString)
	crm.Preserve, crm.Expertise, crm.Description = true, "profile", "Caller's own identifier"
	description := answerLeaf("description", TypeString)
	description.Multilingual, description.Expertise = true, "profile"
	description.Description = "Two-sentence business summary"
	founded := answerLeaf("founded_year", TypeInteger)
	founded.Expertise, founded.Examples = "profile", []any{float64(2010)}
	hqCountry := answerLeaf("country", TypeString)
	hqCountry.Description = "ISO 3166-1 alpha-2"
	hq := answerLeaf("headquarters", TypeObject)
	hq.Expertise, hq.Description = "profile", "Head office"
	hq.Properties = []*Property{answerLeaf("city", TypeString), hqCountry}
	revenue := answerLeaf("revenue_usd", TypeNumber)
	revenue.Expertise, revenue.Description = "financial", "Last reported annual revenue"
	listed := answerLeaf("is_listed", TypeBoolean)
	listed.Expertise, listed.Description = "financial", "Shares traded on an exchange"
	subName := answerLeaf("name", TypeString)
	subName.IsKey = true
	pct := answerLeaf("ownership_pct", TypeNumber)
	pct.Description = "Share held, 0 to 100"
	item := answerLeaf("", TypeObject)
	item.Properties = []*Property{subName, answerLeaf("country", TypeString), pct}
	subs := answerLeaf("subsidiaries", TypeArray)
	subs.Expertise, subs.Description, subs.Items = "financial", "Majority-owned subsidiaries", item
	return &Schema{
		Root: EntityDefinition{
			Name:        "Company",
			Description: "A business registered as a legal entity",
			Properties:  []*Property{name, country, crm, description, founded, hq, revenue, listed, subs},
		},
		Domains: []Domain{
			{Key: "profile", Name: "Corporate profile", Description: "Identity, history, location"},
			{Key: "financial", Name: "Financial analyst", Description: "Revenue, listing, ownership"},
		},
		IdentificationConfidence: "medium",
	}
}

// answerJSON decodes a JSON object literal, failing the test on error.
func answerJSON(t testing.TB, text string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &m))
	return m
}
