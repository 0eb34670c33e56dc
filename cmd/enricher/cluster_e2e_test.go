package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClusterOfThreeProcesses runs three `enricher serve` processes as one cluster (etcd
// membership, one PostgreSQL database). A 2,000-entity batch (sim latency 100 ms) is started on
// node 1; the node that runs it is killed with SIGKILL in its middle; a surviving node resumes
// it and completes it with counters adding up; a survivor's stream, followed live across the
// kill, and the stored log read afterwards run without gap to the terminal event; every
// record is readable from both survivors, once.
// Runs when ENRICHER_TEST_DATABASE_URL and ENRICHER_TEST_ETCD are set (.ci/postgres/start.sh,
// .ci/etcd/start.sh).
func TestClusterOfThreeProcesses(t *testing.T) {
	t.Parallel()
	etcd := os.Getenv("ENRICHER_TEST_ETCD")
	if etcd == "" {
		t.Skip("ENRICHER_TEST_ETCD is not set: the cluster process test did not run (see .ci/etcd/start.sh)")
	}
	dbURL := postgresDatabase(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	env := []string{"ENRICHER_DATABASE_URL=" + dbURL, "ENRICHER_CLUSTER_PROVIDER=etcd", "ENRICHER_CLUSTER_ETCD=" + etcd,
		"ENRICHER_CLUSTER_NAME=e2e" + hex.EncodeToString(b), "ENRICHER_BATCH_CONCURRENCY=40",
		// The nodes share the provider's 8 permits (the node running the batch uses them all;
		// the survivor gets them back once the killed node's database session is gone).
		"ENRICHER_CLUSTER_PROVIDER_CONCURRENCY=8"}
	type node struct {
		cmd *exec.Cmd
		c   *client
	}
	nodes := make([]node, 3)
	for i := range nodes {
		cmd, base := startChild(t, t.TempDir(), env...)
		nodes[i] = node{cmd: cmd, c: (&testServer{t: t, base: base}).bootstrap()}
	}
	c1 := nodes[0].c
	schemaID := c1.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	const n = 2000
	entities := make([]any, n)
	for i := range entities {
		entities[i] = map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US", "_sim": map[string]any{"latency_ms": 100}}
	}
	jobID := c1.must(200, "POST", "/api/batch/start", map[string]any{"entities": entities, "schema_id": schemaID,
		"models": []string{"sim::fast"}}).str("job_id")

	running := func(live []int) int { // the live node whose engine runs the job, or -1
		for _, i := range live {
			if nodes[i].c.must(200, "GET", "/health", nil).get("jobs_active").(float64) > 0 {
				return i
			}
		}
		return -1
	}
	var at int
	require.Eventually(t, func() bool { at = running([]int{0, 1, 2}); return at >= 0 }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		done, _ := c1.must(200, "GET", "/api/llm/jobs/"+jobID, nil).get("completed_entities").(float64)
		return done >= n/5
	}, 60*time.Second, 20*time.Millisecond, "the batch is under way")
	// A survivor-to-be follows the job live, across the kill, to its terminal event.
	follower := (at + 1) % len(nodes)
	res := nodes[follower].c.openStream(jobID)
	defer res.Body.Close()
	streamed := make(chan []byte, 1)
	go func() { // the stream ends after the terminal event; parsed below
		b, _ := io.ReadAll(res.Body)
		streamed <- b
	}()
	require.NoError(t, nodes[at].cmd.Process.Signal(syscall.SIGKILL))
	_ = nodes[at].cmd.Wait()
	killed := time.Now()
	var live []int
	for i := range nodes {
		if i != at {
			live = append(live, i)
		}
	}
	require.Eventually(t, func() bool { return running(live) >= 0 }, 60*time.Second, 50*time.Millisecond, "a survivor resumes the job")
	t.Logf("node %d killed; the job resumed on node %d after %v", at+1, running(live)+1, time.Since(killed).Round(10*time.Millisecond))

	a, b2 := nodes[live[0]].c, nodes[live[1]].c
	var job response
	require.Eventually(t, func() bool {
		job = a.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
		return job.str("status") == "completed"
	}, 120*time.Second, 100*time.Millisecond, "the batch completes")
	require.EqualValues(t, n, job.get("completed_entities"))
	require.EqualValues(t, 0, job.get("failed_entities"))

	var raw []byte
	select {
	case raw = <-streamed:
	case <-time.After(30 * time.Second):
		t.Fatal("the followed stream did not end after the job's terminal event")
	}
	followed, _ := readEvents(t, bytes.NewReader(raw), -1)
	stored, _ := b2.stream(jobID)
	for _, events := range [][]sseEvent{followed, stored} {
		for i, e := range events {
			require.EqualValues(t, i+1, e.id, "the stream has no gap")
		}
		require.Equal(t, "completed", eventTypes(events)[len(events)-1])
		completed := map[float64]bool{}
		for _, e := range events {
			if e.data["type"] == "entity_completed" {
				idx := e.data["entity_index"].(float64)
				require.False(t, completed[idx], "entity %v completed twice in the stream", idx)
				completed[idx] = true
			}
		}
		require.Len(t, completed, n)
	}
	require.Equal(t, len(stored), len(followed), "the stream followed across the kill is the stored log")

	for _, c := range []*client{a, b2} {
		seen := map[string]bool{}
		for page := 1; ; page++ {
			res := c.must(200, "GET", fmt.Sprintf("/api/records?job_id=%s&page=%d&page_size=100", jobID, page), nil)
			for _, r := range res.body["records"].([]any) {
				id := r.(map[string]any)["id"].(string)
				require.False(t, seen[id])
				seen[id] = true
			}
			if page >= int(res.get("total_pages").(float64)) {
				break
			}
		}
		require.Len(t, seen, n, "every record, once, from every survivor")
	}
}
