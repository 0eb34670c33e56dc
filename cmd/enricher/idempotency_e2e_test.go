package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// jobIDs lists the ids of the organization's jobs.
func (c *client) jobIDs() []string {
	c.ts.t.Helper()
	var ids []string
	for _, j := range c.must(200, "GET", "/api/llm/jobs", nil).get("jobs").([]any) {
		ids = append(ids, j.(map[string]any)["job_id"].(string))
	}
	return ids
}

// TestIdempotentStartReattachesAfterInterruption interrupts starts that carry an
// Idempotency-Key after their job was stored (a sync start that times out with 504, one cut
// by a shutdown with 503, a stream start whose server stopped) and retries them with the same
// key and body: the retry re-attaches to the one job the first request stored, the 5xx
// names that job, and another body under the key is still 409.
func TestIdempotentStartReattachesAfterInterruption(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}
	slowEntity := map[string]any{"name": "Slow", "country": "CH", "_sim": map[string]any{"latency_ms": 1500}}
	tests := []struct {
		name string
		path string
		body func(schemaID string) map[string]any
		// first sends the first request with key and returns the job it stored; it may stop
		// ts and return the server the retry goes to.
		first func(t *testing.T, ts *testServer, c *client, body map[string]any, key string) (string, *testServer)
	}{
		{"sync answered 504", "/api/single/enrich/sync",
			func(schemaID string) map[string]any {
				return map[string]any{"entity_data": slowEntity, "schema_id": schemaID, "models": []string{"sim::fast"}, "timeout_seconds": 1}
			},
			func(t *testing.T, ts *testServer, c *client, body map[string]any, key string) (string, *testServer) {
				r := c.must(504, "POST", "/api/single/enrich/sync", body, "Idempotency-Key", key)
				require.NotEmpty(t, r.str("job_id"), "a 504 names the stored job")
				return r.str("job_id"), ts
			}},
		{"sync cut by shutdown with 503", "/api/single/enrich/sync",
			func(schemaID string) map[string]any {
				return map[string]any{"entity_data": slowEntity, "schema_id": schemaID, "models": []string{"sim::fast"}, "timeout_seconds": 60}
			},
			func(t *testing.T, ts *testServer, c *client, body map[string]any, key string) (string, *testServer) {
				answered := make(chan response, 1)
				go func() { answered <- c.do("POST", "/api/single/enrich/sync", body, "Idempotency-Key", key) }()
				deadline := time.Now().Add(10 * time.Second)
				for len(c.jobIDs()) == 0 {
					require.True(t, time.Now().Before(deadline), "the sync start stores its job")
					time.Sleep(10 * time.Millisecond)
				}
				ts.stop()
				var r response
				select {
				case r = <-answered:
				case <-time.After(20 * time.Second):
					t.Fatal("the sync start was not answered at shutdown")
				}
				require.Equal(t, 503, r.status, string(r.raw))
				require.NotEmpty(t, r.str("job_id"), "a 503 for a stored job names it: %s", r.raw)
				return r.str("job_id"), startServer(t, ts.dir, env, nil)
			}},
		{"stream start before a restart", "/api/single/enrich/stream",
			func(schemaID string) map[string]any {
				return map[string]any{"entity_data": slowEntity, "schema_id": schemaID, "models": []string{"sim::fast"}}
			},
			func(t *testing.T, ts *testServer, c *client, body map[string]any, key string) (string, *testServer) {
				r := c.must(200, "POST", "/api/single/enrich/stream", body, "Idempotency-Key", key)
				ts.stop()
				return r.str("job_id"), startServer(t, ts.dir, env, nil)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, t.TempDir(), env, nil)
			c := ts.bootstrap()
			schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
			body := tt.body(schemaID)
			jobID, ts2 := tt.first(t, ts, c, body, "retry-me")
			c2 := ts2.bootstrap()

			again := c2.must(200, "POST", tt.path, body, "Idempotency-Key", "retry-me")
			require.Equal(t, jobID, again.str("job_id"), "the retry re-attaches to the stored job")
			require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
			if tt.path == "/api/single/enrich/sync" {
				require.Equal(t, "completed", again.str("status"), "a blocking retry waits for the job's outcome")
			}
			require.Equal(t, []string{jobID}, c2.jobIDs(), "one job for one key")
			other := map[string]any{"entity_data": map[string]any{"name": "Other", "country": "CH"}, "schema_id": schemaID, "models": []string{"sim::fast"}}
			c2.must(409, "POST", tt.path, other, "Idempotency-Key", "retry-me")
		})
	}
}
