package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	restclient "github.com/entity-enricher/enricher/transport/client"
)

// outputLine is the part of an `enricher enrich` output line the tests check.
type outputLine struct {
	Index     int            `json:"index"`
	Entity    string         `json:"entity"`
	Success   bool           `json:"success"`
	Result    map[string]any `json:"result"`
	RecordID  string         `json:"record_id"`
	RecordIDs []string       `json:"record_ids"`
	JobID     string         `json:"job_id"`
}

// readOutput parses the complete lines of an output file.
func readOutput(t *testing.T, path string) []outputLine {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []outputLine
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" {
			continue
		}
		var l outputLine
		require.NoError(t, json.Unmarshal([]byte(line), &l), line)
		out = append(out, l)
	}
	return out
}

// requireEveryIndexOnce checks that lines hold each index of 0..n-1 exactly once, each a
// success with the entity's name and its record.
func requireEveryIndexOnce(t *testing.T, lines []outputLine, n int) {
	t.Helper()
	require.Len(t, lines, n)
	seen := map[int]bool{}
	for _, l := range lines {
		require.False(t, seen[l.Index], "index %d written twice", l.Index)
		seen[l.Index] = true
		require.True(t, l.Success, "index %d", l.Index)
		require.Equal(t, fmt.Sprintf("Company %04d", l.Index), l.Entity)
		require.Equal(t, l.Entity, l.Result["name"], "the result keeps the search key")
		require.Len(t, l.RecordIDs, 1, "one model, one record")
		require.Equal(t, l.RecordIDs[0], l.RecordID)
	}
	for i := 0; i < n; i++ {
		require.True(t, seen[i], "index %d missing", i)
	}
}

// requireEnrichedOnce proves on the server that every entity was enriched exactly once: one
// enrichment record per entity (one model each) and the given number of batch jobs.
func requireEnrichedOnce(t *testing.T, c *restclient.Client, entities, jobs int) {
	t.Helper()
	ctx := context.Background()
	recs, err := c.ListRecords(ctx, restclient.RecordQuery{Type: enricher.RecordEnrichment, PageSize: 1})
	require.NoError(t, err)
	require.Equal(t, entities, recs.Total, "records on the server")
	list, err := c.ListJobs(ctx, restclient.JobQuery{JobType: enricher.JobBatchEnrichment})
	require.NoError(t, err)
	require.Equal(t, jobs, list.Total, "batch jobs started")
}

func TestEnrichCLIOnCSV(t *testing.T) {
	t.Parallel()
	ts, _, schemaID := enrichSetup(t)
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("name,country\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&csv, "Company %04d,US\n", i)
	}
	in, out := filepath.Join(dir, "companies.csv"), filepath.Join(dir, "out.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(csv.String()), 0o644))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"enrich", "-server", ts.base, "-schema", schemaID,
		"-models", "sim::fast", "-in", in, "-out", out}, func(k string) string {
		return map[string]string{"ENRICHER_API_KEY": testBootstrapKey}[k]
	}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	requireEveryIndexOnce(t, readOutput(t, out), 1000)
	require.Contains(t, stderr.String(), "1000/1000 entities, 0 failed", "plain progress when stderr is no terminal")
	requireEnrichedOnce(t, restclient.New(ts.base, restclient.WithAPIKey(testBootstrapKey)), 1000, 1) // one input file, one job
}

func TestEnrichCLIToStdoutWithInlineSchema(t *testing.T) {
	t.Parallel()
	ts, _, _ := enrichSetup(t)
	dir := t.TempDir()
	schema, err := json.Marshal(companySchema)
	require.NoError(t, err)
	schemaFile, in := filepath.Join(dir, "schema.json"), filepath.Join(dir, "in.json")
	require.NoError(t, os.WriteFile(schemaFile, schema, 0o644))
	require.NoError(t, os.WriteFile(in, []byte(`[{"name":"Company 0000","country":"US"},{"ticker":"X"}]`), 0o644))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"enrich", "-server", ts.base, "-key", testBootstrapKey,
		"-schema", schemaFile, "-models", "sim::fast", "-in", in}, os.Getenv, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 2)
	var bad struct {
		Index   int     `json:"index"`
		Success bool    `json:"success"`
		Error   *string `json:"error"`
	}
	for _, l := range lines {
		require.NoError(t, json.Unmarshal([]byte(l), &bad))
		if bad.Index == 1 {
			require.False(t, bad.Success)
			require.NotNil(t, bad.Error, "an entity without a search key has its error")
		}
	}
	require.Contains(t, stderr.String(), "2/2 entities, 1 failed")
}

func TestEnrichCLIKilledThenResumed(t *testing.T) {
	t.Parallel()
	ts, _, schemaID := enrichSetup(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "companies.ndjson"), filepath.Join(dir, "out.ndjson")
	var nd strings.Builder
	for i := 0; i < 1000; i++ { // 20 ms per call keeps the run long enough to kill it halfway
		fmt.Fprintf(&nd, `{"name":"Company %04d","country":"US","_sim":{"latency_ms":20}}`+"\n", i)
	}
	require.NoError(t, os.WriteFile(in, []byte(nd.String()), 0o644))
	args := []string{"enrich", "-server", ts.base, "-key", testBootstrapKey, "-schema", schemaID,
		"-models", "sim::fast", "-in", in, "-out", out}

	// The first run is a child process, killed once some lines are written.
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for countLines(out) < 200 {
		require.True(t, time.Now().Before(deadline), "the child wrote no output")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	written := countLines(out)
	t.Logf("%d lines written when the first run was killed", written)
	require.Less(t, written, 1000, "the run was interrupted")

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(args, "-resume"), os.Getenv, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	requireEveryIndexOnce(t, readOutput(t, out), 1000)
	// The resumed run re-attached to the job the killed run started, which kept running.
	requireEnrichedOnce(t, restclient.New(ts.base, restclient.WithAPIKey(testBootstrapKey)), 1000, 1)
	state, err := loadState(out + ".state")
	require.NoError(t, err)
	require.Len(t, state.Jobs, 1)

	// A second resume of a finished run starts nothing and writes nothing.
	code = run(context.Background(), append(args, "-resume"), os.Getenv, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Equal(t, 1000, countLines(out))
	requireEnrichedOnce(t, restclient.New(ts.base, restclient.WithAPIKey(testBootstrapKey)), 1000, 1)

	// Resuming with other settings is refused.
	stderr.Reset()
	changed := append(slices.Clone(args), "-resume", "-strategy", "multi_expertise")
	require.Equal(t, 1, run(context.Background(), changed, os.Getenv, &stdout, &stderr))
	require.Contains(t, stderr.String(), "differ from the interrupted run")
}

// countLines counts the complete lines of a file (0 when it does not exist).
func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	rd := bufio.NewReader(f)
	for {
		if _, err := rd.ReadString('\n'); err != nil {
			return n
		}
		n++
	}
}

// TestEnrichCLIPassesVerifyFieldsAndExecution: -verify-fields and -execution reach the batch
// job: with strategy waterfall and provider_batch on two sim models, the job's stream shows
// its vendor batches and every entity's verify field passed on to the second model.
func TestEnrichCLIPassesVerifyFieldsAndExecution(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	models := filepath.Join(dir, "models.json")
	require.NoError(t, os.WriteFile(models, []byte(`{"models": [{"key": "sim::fast", "sim": {"batch_delay_ms": 20}},
		{"key": "sim::realistic", "sim": {"batch_delay_ms": 20}}]}`), 0o600))
	// A server process: the sim's vendor batches end on the real clock (the in-process
	// harness's clock stands still).
	_, base := startChild(t, filepath.Join(dir, "data"), "ENRICHER_MODELS_FILE="+models,
		"ENRICHER_PROVIDER_BATCH_LINGER=30ms", "ENRICHER_PROVIDER_BATCH_POLL=20ms")
	ts := &testServer{t: t, base: base}
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	in := filepath.Join(dir, "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte("{\"name\":\"Company 1\",\"country\":\"US\"}\n{\"name\":\"Company 2\",\"country\":\"FR\"}\n"), 0o644))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"enrich", "-server", ts.base, "-key", testBootstrapKey, "-schema", schemaID,
		"-models", "sim::fast,sim::realistic", "-strategy", "waterfall", "-verify-fields", "founded_year", "-execution", "provider_batch",
		"-in", in}, os.Getenv, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Len(t, strings.Split(strings.TrimSpace(stdout.String()), "\n"), 2)

	jobs := c.must(200, "GET", "/api/llm/jobs", nil).get("jobs").([]any)
	require.Len(t, jobs, 1)
	events, _ := c.stream(jobs[0].(map[string]any)["job_id"].(string))
	batches, verified := 0, 0
	for _, e := range events {
		switch e.data["type"] {
		case "provider_batch_submitted":
			batches++
		case "waterfall_escalated":
			if slices.Contains(e.data["fields"].([]any), any("founded_year")) {
				verified++
			}
		}
	}
	require.Positive(t, batches, "the calls went through the vendor batch API")
	require.Equal(t, 2, verified, "each entity's founded_year went on to the second model to be verified")
}
