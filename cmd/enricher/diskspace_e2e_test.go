package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeDisk is the free-space figure of a test server's data directory, set by the test.
type fakeDisk struct{ freeMB atomic.Int64 }

func (d *fakeDisk) measure(string) (uint64, error) { return uint64(d.freeMB.Load()) << 20, nil }

// startServerOnDisk is startServer with the free-space figure taken from disk.
func startServerOnDisk(t *testing.T, env map[string]string, disk *fakeDisk) *testServer {
	t.Helper()
	dir := t.TempDir()
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}, getenv, io.Discard)
	require.NoError(t, err)
	clock := &fakeClock{now: time.Now()}
	m, err := Open(cfg, Env{Getenv: getenv, Log: testWriter{t}, Now: clock.Now, FreeSpace: disk.measure,
		SpaceInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	ts := &testServer{t: t, base: "http://" + m.Addr(), dir: dir, clock: clock, env: env}
	ts.stop = func() { cancel(); require.NoError(t, <-done) }
	t.Cleanup(ts.stop)
	return ts
}

// TestStartRefusedOnLowSpace: below min_free_disk_mb the server does not start (badger would
// die with SIGBUS in its Open on a full disk); it says why in one line and creates nothing.
func TestStartRefusedOnLowSpace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		freeMB int64
		env    map[string]string
		want   string
	}{
		{"default threshold", 300, nil, "only 300 MB free, min_free_disk_mb is 1024"},
		{"own threshold", 450, map[string]string{"ENRICHER_MIN_FREE_DISK_MB": "500"}, "only 450 MB free, min_free_disk_mb is 500"},
		{"threshold below badger's needs", 5000, map[string]string{"ENRICHER_MIN_FREE_DISK_MB": "100"}, "min_free_disk_mb is 100: it must be at least 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			getenv := func(k string) string { return tt.env[k] }
			cfg, err := parseConfig([]string{"--listen", "127.0.0.1:0", "--data-dir", dir}, getenv, io.Discard)
			require.NoError(t, err)
			disk := &fakeDisk{}
			disk.freeMB.Store(tt.freeMB)
			_, err = Open(cfg, Env{Getenv: getenv, Log: io.Discard, FreeSpace: disk.measure})
			require.ErrorContains(t, err, tt.want)
			require.Equal(t, 1, len(strings.Split(err.Error(), "\n")), "one line")
			_, statErr := os.Stat(dir)
			require.True(t, os.IsNotExist(statErr), "nothing is created")
		})
	}
	t.Run("off", func(t *testing.T) {
		env := map[string]string{"ENRICHER_MIN_FREE_DISK_MB": "0"}
		getenv := func(k string) string { return env[k] }
		cfg, err := parseConfig([]string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, getenv, io.Discard)
		require.NoError(t, err)
		disk := &fakeDisk{} // 0 MB free: ignored
		m, err := Open(cfg, Env{Getenv: getenv, Log: io.Discard, FreeSpace: disk.measure})
		require.NoError(t, err)
		m.close()
	})
}

// TestLowSpaceHoldsAndResumes: while the data directory is low on space, writes get 507,
// /health says low_space, /metrics shows the free bytes, and a running batch holds its writes;
// once space is back (past the threshold plus 10 %) the batch completes by itself with every
// entity and record accounted for.
func TestLowSpaceHoldsAndResumes(t *testing.T) {
	t.Parallel()
	disk := &fakeDisk{}
	disk.freeMB.Store(5000)
	ts := startServerOnDisk(t, map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_MIN_FREE_DISK_MB": "1024"}, disk)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	const n = 40
	entities := make([]any, n)
	for i := range entities {
		entities[i] = map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US", "_sim": map[string]any{"latency_ms": 100}}
	}
	jobID := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
		"entities": entities, "schema_id": schemaID, "models": []string{"sim::fast"},
	}).str("job_id")
	require.Eventually(t, func() bool { // the batch is under way before the disk fills
		j := c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
		return j.str("status") == "running" && j.get("last_seq").(float64) >= 2
	}, 10*time.Second, 10*time.Millisecond)

	disk.freeMB.Store(900)
	require.Eventually(t, func() bool {
		return c.must(200, "GET", "/health", nil).str("storage") == "low_space"
	}, 5*time.Second, 20*time.Millisecond, "/health reports low space (and stays 200)")
	health := c.must(200, "GET", "/health", nil)
	require.Equal(t, "ok", health.str("status"), "the server stays in rotation: reads go on")
	r := c.must(507, "POST", "/api/schema/saved", map[string]any{"name": "Other", "schema_content": companySchema})
	require.Contains(t, r.str("detail"), "low on disk space")
	r = c.must(507, "POST", "/api/enrichment/batch/start", map[string]any{"entities": entities[:1], "schema_id": schemaID, "models": []string{"sim::fast"}})
	require.Contains(t, r.str("detail"), "low on disk space")
	ts.anon().must(507, "POST", "/api/auth/login", map[string]any{"email": "a@b.c", "password": "whatever12"})
	metrics := c.do("GET", "/metrics", nil)
	require.Contains(t, string(metrics.raw), "enricher_storage_free_bytes 9.437184e+08")
	require.Contains(t, string(metrics.raw), "enricher_storage_low_space 1")

	held := c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
	time.Sleep(700 * time.Millisecond) // longer than the whole batch takes, past several persister retries
	still := c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
	require.Equal(t, "running", still.str("status"), "the batch waits, it does not fail")
	require.Equal(t, held.get("last_seq"), still.get("last_seq"), "nothing is written while space is low")
	require.Zero(t, still.get("failed_entities"))

	disk.freeMB.Store(1100)            // above the threshold, below threshold + 10 %: still low
	time.Sleep(100 * time.Millisecond) // ten watchdog rounds
	require.Equal(t, "low_space", c.must(200, "GET", "/health", nil).str("storage"), "hysteresis")
	disk.freeMB.Store(1200)
	require.Eventually(t, func() bool {
		return c.must(200, "GET", "/health", nil).str("storage") == "ok"
	}, 5*time.Second, 20*time.Millisecond)

	events, _ := c.stream(jobID)
	last := events[len(events)-1].data
	require.Equal(t, "completed", last["type"])
	sum := last["result"].(map[string]any)
	require.EqualValues(t, n, sum["completed_entities"], "every entity completes after the pause")
	require.EqualValues(t, n, sum["total_entities"])
	records := c.must(200, "GET", fmt.Sprintf("/api/records?job_id=%s&page_size=100", jobID), nil)
	require.EqualValues(t, n, records.get("total"), "one record per entity, none lost, none repeated")
	c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Other", "schema_content": companySchema})
}
