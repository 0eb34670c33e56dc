package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	_, c, schemaID := enrichSetup(t)
	jobID := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{"entity_data": map[string]any{"name": "Roche", "country": "CH"},
		"schema_id": schemaID, "models": []string{"sim::fast"}}).str("job_id")
	c.stream(jobID)
	c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)

	res := c.do("GET", "/metrics", nil)
	require.Equal(t, 200, res.status)
	body := string(res.raw)
	for _, want := range []string{
		`enricher_http_requests_total{method="GET",route="/api/llm/jobs/{job_id}",status="200"} 1`,
		`enricher_jobs_total{job_type="single_enrichment",status="completed"} 1`,
		`enricher_llm_calls_total{model="sim::fast",outcome="success",provider="sim"}`,
		`enricher_llm_tokens_total{direction="input",model="sim::fast"}`,
		`enricher_sse_disconnects_total{reason="completed"} 1`,
		`enricher_provider_limit{provider="sim"} 8`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, jobID, "route labels are patterns, never raw paths")

	opKey, _ := c.createKey(map[string]any{"name": "op", "role": "operator"})
	c.ts.key(opKey).must(403, "GET", "/metrics", nil)
}

func TestMetricsListener(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_METRICS_LISTEN": addr}, nil)
	ts.bootstrap().must(404, "GET", "/metrics", nil)
	res, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, 200, res.StatusCode)
	require.True(t, strings.Contains(string(b), "enricher_sse_subscribers"), "no auth on the metrics listener")
}

func TestPprofListener(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_PPROF_LISTEN": addr}, nil)
	ts.bootstrap().must(404, "GET", "/debug/pprof/", nil) // never on the main listener
	res, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, string(b), "heap profile")
}
