package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/transport/llm"
)

func TestBudgetsFromModelsFile(t *testing.T) {
	cat, err := llm.NewCatalog(llm.CatalogConfig{ModelsFile: []byte(`{"models": [
		{"key": "sim::bucket", "rpm": 600, "tpm": 200000, "sim": {"rpm": 600, "tpm": 200000}},
		{"key": "sim::fast", "tpm": 1000},
		{"key": "openai::gpt-4o", "rpm": 500}]}`)})
	require.NoError(t, err)
	tests := []struct {
		provider string
		want     map[string]actors.Budget
	}{
		{"sim", map[string]actors.Budget{"sim::bucket": {RPM: 600, TPM: 200000}, "sim::fast": {TPM: 1000}}},
		{"openai", map[string]actors.Budget{"openai::gpt-4o": {RPM: 500}}},
		{"anthropic", nil},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, budgetsOf(cat, tt.provider), tt.provider)
	}
	provs, err := newProviders(cat, 0, 0)
	require.NoError(t, err)
	require.Equal(t, tests[0].want, provs["sim"].Budgets, "the sim provider is built with its models' budgets")
}
