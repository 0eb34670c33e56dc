package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

// TestBatcherOf: the providers whose vendor has a batch API get their client as batcher;
// OpenAI-protocol providers other than "openai" (DeepSeek, Ollama, declared compatible
// servers) get none, although their client type implements llm.Batcher.
func TestBatcherOf(t *testing.T) {
	t.Parallel()
	cat, err := llm.NewCatalog(llm.CatalogConfig{
		Env: func(k string) string {
			return map[string]string{"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "GEMINI_API_KEY": "k",
				"DEEPSEEK_API_KEY": "k", "OLLAMA_BASE_URL": "http://127.0.0.1:1/v1"}[k]
		},
		ModelsFile: []byte(`{"providers": [{"name": "together", "protocol": "openai", "base_url": "http://127.0.0.1:1/v1"}]}`),
	})
	require.NoError(t, err)
	providers, err := newProviders(cat, 0, 0)
	require.NoError(t, err)
	want := map[string]bool{"openai": true, "anthropic": true, "google": true, "sim": true,
		"deepseek": false, "ollama": false, "together": false}
	for _, p := range cat.Providers() {
		wantBatch, listed := want[p.Name]
		require.True(t, listed, p.Name)
		impl, ok := providers[p.Name]
		if !ok {
			require.False(t, wantBatch, "%s has no client", p.Name)
			continue
		}
		require.Equal(t, wantBatch, batcherOf(p, impl.Impl) != nil, p.Name)
	}
}
