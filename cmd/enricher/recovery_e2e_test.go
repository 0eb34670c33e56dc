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
