package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary act as `enricher serve` (see TestMain).
const childEnv = "ENRICHER_TEST_CHILD"

// runChildIfAsked runs the server in place of the tests when the binary was started as a child.
func runChildIfAsked() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startChild starts the server as a separate process on dir and returns its base URL.
func startChild(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "info")
	cmd.Env = append(os.Environ(), childEnv+"=1", "ENRICHER_BOOTSTRAP_KEY="+testBootstrapKey)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("child server did not start")
	}
	return nil, ""
}

func TestKillAndResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, base := startChild(t, dir)
	ts := &testServer{t: t, base: base}
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	jobID := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{
		"entity_data": map[string]any{"name": "Moderna Inc", "country": "US", "_sim": map[string]any{"latency_ms": 1500}},
		"schema_id":   schemaID, "models": []string{"sim::fast", "sim::realistic"}, "strategy": "multi_expertise",
	}).str("job_id")

	// Let the job get going (its first events are stored), then kill -9.
	first := c.streamN(jobID, 2)
	lastSeq := first[len(first)-1].id
	status := c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
	require.Equal(t, "running", status.str("status"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	_, base = startChild(t, dir)
	ts.base = base
	rest, _ := c.stream(jobID, "Last-Event-ID", strconv.FormatInt(lastSeq, 10))
	require.NotEmpty(t, rest)
	for i, e := range rest {
		require.EqualValues(t, lastSeq+int64(i)+1, e.id, "the sequence continues across the restart without a gap")
	}
	types := eventTypes(rest)
	require.Equal(t, "completed", types[len(types)-1], fmt.Sprint(types))
	final := c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
	require.Equal(t, "completed", final.str("status"))
}

func TestKillMidBatchAndResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, base := startChild(t, dir)
	ts := &testServer{t: t, base: base}
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	var entities []any
	for i := range 24 {
		entities = append(entities, map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US", "_sim": map[string]any{"latency_ms": 150}})
	}
	jobID := c.must(200, "POST", "/api/batch/start", map[string]any{"entities": entities, "schema_id": schemaID,
		"models": []string{"sim::fast", "sim::realistic"}}).str("job_id")

	// Read until a few entities finished, then kill -9.
	var before []sseEvent
	finished := map[int]bool{}
	res := c.openStream(jobID)
	readEventsUntil(t, res, func(e sseEvent) bool {
		before = append(before, e)
		if e.data["type"] == "entity_completed" {
			finished[int(e.data["entity_index"].(float64))] = true
		}
		return len(finished) >= 4
	})
	res.Body.Close()
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	stored := c // same credentials on the next process
	_, base = startChild(t, dir)
	ts.base = base
	after, _ := stored.stream(jobID, "Last-Event-ID", strconv.FormatInt(before[len(before)-1].id, 10))
	require.NotEmpty(t, after)
	require.EqualValues(t, before[len(before)-1].id+1, after[0].id, "the sequence continues without a gap")
	require.Equal(t, "completed", after[len(after)-1].data["type"])

	completedOnce := map[int]int{}
	for _, e := range append(before, after...) {
		if e.data["type"] == "entity_completed" {
			completedOnce[int(e.data["entity_index"].(float64))]++
		}
	}
	for i := range 24 {
		require.LessOrEqual(t, completedOnce[i], 1, "entity %d completed twice", i)
	}
	sum := after[len(after)-1].data["result"].(map[string]any)
	require.EqualValues(t, 24, sum["completed_entities"].(float64)+sum["failed_entities"].(float64)+sum["skipped_entities"].(float64))
	for idx := range finished {
		recs := c.must(200, "GET", fmt.Sprintf("/api/records?job_id=%s&type=enrichment&page_size=100", jobID), nil)
		n := 0
		for _, r := range recs.get("records").([]any) {
			if r.(map[string]any)["entity_index"] == float64(idx) {
				n++
			}
		}
		require.Equal(t, 2, n, "entity %d finished before the kill is not enriched again", idx)
	}
}
