package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBatchFetch(t *testing.T) {
	t.Parallel()
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer remote-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/csv")
		w.Write([]byte("name,country\nPfizer Inc,US\nRoche,CH\n"))
	}))
	defer remote.Close()

	guarded := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	r := guarded.bootstrap().must(400, "POST", "/api/enrichment/batch/fetch", map[string]any{"url": remote.URL})
	require.Contains(t, r.str("detail"), "loopback", "the SSRF guard refuses loopback by default")

	trusted := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_FETCH_ALLOW_PRIVATE": "true"}, nil)
	c := trusted.bootstrap()
	r = c.must(400, "POST", "/api/batch/fetch", map[string]any{"url": remote.URL})
	require.Equal(t, "remote returned 401", r.str("detail"))
	r = c.must(200, "POST", "/api/batch/fetch", map[string]any{"url": remote.URL, "auth": map[string]any{"auth_type": "bearer", "bearer_token": "remote-token"}})
	require.Equal(t, "csv", r.str("format"))
	require.EqualValues(t, 2, r.get("total"))
	require.Equal(t, []any{map[string]any{"name": "Pfizer Inc", "country": "US"}, map[string]any{"name": "Roche", "country": "CH"}}, r.get("entities"))
	c.must(400, "POST", "/api/batch/fetch", map[string]any{"url": "file:///etc/passwd"})
	c.must(400, "POST", "/api/batch/fetch", map[string]any{})
}
