package main

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/storage"
)

// signalWriter sends server logs to the test log and signals once a line holds want.
type signalWriter struct {
	t    *testing.T
	want string
	hit  chan struct{}
}

func (w signalWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	if strings.Contains(string(p), w.want) {
		select {
		case w.hit <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// TestPurgeDeletesFinishedJobs runs a batch, moves the clock past job_retention and waits for
// the server's purge loop to delete the job: its events and stored entities are gone from the
// data directory, its records are still listed by job_id. Run stops the loop before it closes
// the store (goleak checks no goroutine outlives the server).
func TestPurgeDeletesFinishedJobs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := &fakeClock{now: time.Now()}
	env := map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_PURGE_INTERVAL": "10ms", "ENRICHER_JOB_RETENTION": "1h"}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "info"}, getenv, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 10*time.Millisecond, cfg.Server.PurgeInterval)
	purged := make(chan struct{}, 1)
	m, err := Open(cfg, Env{Getenv: getenv, Log: signalWriter{t, "purged finished jobs", purged}, Now: clock.Now})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	ts := &testServer{t: t, base: "http://" + m.Addr(), dir: dir, clock: clock, env: env}
	var once sync.Once
	ts.stop = func() { once.Do(func() { cancel(); require.NoError(t, <-done) }) }
	t.Cleanup(ts.stop)

	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	jobID := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
		"entities":  []any{map[string]any{"name": "Pfizer Inc", "country": "US"}, map[string]any{"name": "Roche", "country": "CH"}},
		"schema_id": schemaID, "models": []string{"sim::fast"},
	}).str("job_id")
	require.Equal(t, "completed", c.waitStatus(jobID).str("status"))
	records := c.must(200, "GET", "/api/records?job_id="+jobID+"&limit=100", nil).get("total")
	require.GreaterOrEqual(t, records, float64(2))
	select {
	case <-purged:
		t.Fatal("a job within job_retention was purged")
	default:
	}

	clock.Advance(2 * time.Hour)
	select {
	case <-purged:
	case <-time.After(30 * time.Second):
		t.Fatal("the purge loop did not delete the job past job_retention")
	}
	c.must(404, "GET", "/api/llm/jobs/"+jobID, nil)
	require.Equal(t, records, c.must(200, "GET", "/api/records?job_id="+jobID+"&limit=100", nil).get("total"), "records stay")
	ts.stop()

	db, err := storage.Open(storage.Config{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	events := 0
	require.NoError(t, db.Events(jobID, 0, 0, func(int64, []byte) error { events++; return nil }))
	require.Zero(t, events, "events deleted")
	entities, err := db.CountEntities(jobID)
	require.NoError(t, err)
	require.Zero(t, entities, "stored entities deleted")
}
