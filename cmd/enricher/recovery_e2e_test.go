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

// startChild starts the server as a separate process on dir, with env (NAME=value) added to
// its environment, and returns its base URL.
func startChild(t *testing.T, dir string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "info")
	cmd.Env = append(append(os.Environ(), childEnv+"=1", "ENRICHER_BOOTSTRAP_KEY="+testBootstrapKey), env...)
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

// TestKillMidBatchAndResume kills the server (kill -9) while batch entities are in flight with
// sim::fast's run stored and sim::realistic's waiting out a rate limit, then starts it again:
// the batch ends with every entity done once, one enrichment record and one model_completed
// per (entity, model), and no entity started twice.
func TestKillMidBatchAndResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, base := startChild(t, dir)
	ts := &testServer{t: t, base: base}
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	const n = 10
	var entities []any
	for i := range n {
		// sim::realistic's first try is rate limited (Retry-After 1 s): sim::fast is done long before.
		entities = append(entities, map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US", "_sim": map[string]any{
			"latency_ms": 20, "fail": "rate_limited", "fail_attempts": 1, "fail_models": []string{"sim::realistic"}}})
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
		return len(finished) >= 2
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

	completed, started, modelCompleted := map[int]int{}, map[int]int{}, map[string]int{}
	for _, e := range append(before, after...) {
		switch e.data["type"] {
		case "entity_completed":
			completed[int(e.data["entity_index"].(float64))]++
		case "entity_started":
			started[int(e.data["entity_index"].(float64))]++
		case "model_completed":
			modelCompleted[fmt.Sprint(e.data["entity_index"], "|", e.data["model"])]++
		}
	}
	sum := after[len(after)-1].data["result"].(map[string]any)
	require.EqualValues(t, n, sum["completed_entities"].(float64)+sum["failed_entities"].(float64)+sum["skipped_entities"].(float64))
	recs := c.must(200, "GET", fmt.Sprintf("/api/records?job_id=%s&type=enrichment&page_size=100", jobID), nil)
	records := map[string]int{}
	for _, r := range recs.get("records").([]any) {
		rec := r.(map[string]any)
		records[fmt.Sprint(rec["entity_index"], "|", rec["model"])]++
	}
	for i := range n {
		require.Equal(t, 1, completed[i], "entity %d completed once", i)
		require.Equal(t, 1, started[i], "entity %d started once", i)
		for _, m := range []string{"sim::fast", "sim::realistic"} {
			k := fmt.Sprint(float64(i), "|", m)
			require.Equal(t, 1, records[k], "one enrichment record for entity %d, %s", i, m)
			require.Equal(t, 1, modelCompleted[k], "one model_completed for entity %d, %s", i, m)
		}
	}
}
