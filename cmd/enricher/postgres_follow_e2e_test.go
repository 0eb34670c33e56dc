package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStreamFromAnotherServer runs two servers on one PostgreSQL database: a batch started on
// server 1 is followed over SSE on server 2, which does not run it (both servers started
// before the batch, so server 2's start-up recovery did not take it). Server 2's streams, from
// the start and from a resume point, carry exactly the events of server 1's own stream, ids
// gap-free, up to the terminal event.
func TestStreamFromAnotherServer(t *testing.T) {
	t.Parallel()
	models := filepath.Join(t.TempDir(), "models.json")
	require.NoError(t, os.WriteFile(models, []byte(`{"models": [{"key": "sim::steady", "sim": {"base_latency_ms": 20}}]}`), 0o600))
	env := map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_DATABASE_URL": postgresDatabase(t),
		"ENRICHER_MODELS_FILE": models, "ENRICHER_BATCH_CONCURRENCY": "4"}
	one := startServer(t, t.TempDir(), env, nil)
	two := startServer(t, t.TempDir(), env, nil)
	c1, c2 := one.bootstrap(), two.bootstrap()
	schemaID := c1.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")

	const n = 100
	entities := make([]any, n)
	for i := range entities {
		entities[i] = map[string]any{"name": fmt.Sprintf("Follow Co %d", i), "country": "US"}
	}
	job := c1.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
		"entities": entities, "schema_id": schemaID, "models": []string{"sim::steady"}}).str("job_id")

	// Server 2 follows while the job runs on server 1: its first event comes before the end.
	var streams [3][]sseEvent
	var wg sync.WaitGroup
	res := c2.openStream(job)
	firstSeen := make(chan struct{})
	wg.Go(func() {
		defer res.Body.Close()
		once := sync.OnceFunc(func() { close(firstSeen) })
		defer once()
		scanEvents(t, res.Body, func(e sseEvent) bool {
			streams[0] = append(streams[0], e)
			once()
			return false
		})
	})
	<-firstSeen
	require.NotEqual(t, "completed", c2.must(200, "GET", "/api/llm/jobs/"+job, nil).str("status"),
		"the stream on server 2 is opened while server 1 runs the job")
	wg.Go(func() { streams[1], _ = c2.stream(job, "Last-Event-ID", "5") })
	wg.Go(func() { streams[2], _ = c1.stream(job) })
	wg.Wait()

	local := streams[2]
	require.Equal(t, "completed", eventTypes(local)[len(local)-1])
	sum := local[len(local)-1].data["result"].(map[string]any)
	require.EqualValues(t, n, sum["completed_entities"])
	for i, e := range local {
		require.EqualValues(t, i+1, e.id, "server 1's own stream is gap-free")
	}
	require.Equal(t, local, streams[0], "server 2 carries every event of server 1, in order, to the terminal one")
	require.Equal(t, local[5:], streams[1], "server 2 resumes after Last-Event-ID")
}
