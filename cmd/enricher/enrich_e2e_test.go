package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// sseEvent is one frame of an event stream.
type sseEvent struct {
	id   int64
	data map[string]any
}

// openStream sends GET /api/llm/stream/{id} with the client's credential and headers.
func (c *client) openStream(jobID string, headers ...string) *http.Response {
	c.ts.t.Helper()
	req, err := http.NewRequest("GET", c.ts.base+"/api/llm/stream/"+jobID, nil)
	require.NoError(c.ts.t, err)
	if c.header != "" {
		req.Header.Set(c.header, c.value)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.ts.t, err)
	require.Equal(c.ts.t, 200, res.StatusCode)
	require.Equal(c.ts.t, "text/event-stream", res.Header.Get("Content-Type"))
	require.Equal(c.ts.t, "no-cache", res.Header.Get("Cache-Control"))
	return res
}

// scanEvents parses SSE frames from r, calling stop with each until it returns true; it
// returns the first line of the stream.
func scanEvents(t *testing.T, r io.Reader, stop func(sseEvent) bool) string {
	t.Helper()
	var first string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		if first == "" {
			first = line
		}
		switch {
		case strings.HasPrefix(line, "id: "):
			var err error
			cur.id, err = strconv.ParseInt(line[4:], 10, 64)
			require.NoError(t, err)
		case strings.HasPrefix(line, "data: "):
			require.NoError(t, json.Unmarshal([]byte(line[6:]), &cur.data))
		case line == "" && cur.data != nil:
			if stop(cur) {
				return first
			}
			cur = sseEvent{}
		}
	}
	return first
}

// readEvents parses SSE frames until n events (n < 0: the end of the stream); it returns
// them and the first line of the stream.
func readEvents(t *testing.T, r io.Reader, n int) ([]sseEvent, string) {
	t.Helper()
	var out []sseEvent
	first := scanEvents(t, r, func(e sseEvent) bool {
		out = append(out, e)
		return n >= 0 && len(out) >= n
	})
	return out, first
}

// readEventsUntil parses frames of an open stream until stop returns true.
func readEventsUntil(t *testing.T, res *http.Response, stop func(sseEvent) bool) {
	t.Helper()
	scanEvents(t, res.Body, stop)
}

// stream reads a job's stream until the server closes it and returns the frames.
func (c *client) stream(jobID string, headers ...string) ([]sseEvent, string) {
	c.ts.t.Helper()
	res := c.openStream(jobID, headers...)
	defer res.Body.Close()
	return readEvents(c.ts.t, res.Body, -1)
}

// streamN reads the first n events of a job's stream and hangs up.
func (c *client) streamN(jobID string, n int) []sseEvent {
	c.ts.t.Helper()
	res := c.openStream(jobID)
	defer res.Body.Close()
	out, _ := readEvents(c.ts.t, res.Body, n)
	require.Len(c.ts.t, out, n)
	return out
}

func eventTypes(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i], _ = e.data["type"].(string)
	}
	return out
}

// enrichSetup starts a server with the bootstrap key and a saved company schema.
func enrichSetup(t *testing.T) (*testServer, *client, string) {
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	return ts, c, schemaID
}

func TestSeedWorkflow(t *testing.T) {
	t.Parallel()
	_, c, _ := enrichSetup(t)
	schemas := c.must(200, "GET", "/api/schema/saved", nil)
	schemaID := schemas.body["schemas"].([]any)[0].(map[string]any)["id"].(string)
	start := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{
		"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"},
		"schema_id":   schemaID, "models": []string{"sim::fast"}, "strategy": "multi_expertise",
	})
	jobID := start.str("job_id")
	require.Equal(t, "/api/llm/stream/"+jobID, start.str("stream_url"))

	events, first := c.stream(jobID)
	require.Equal(t, "retry: 3000", first)
	types := eventTypes(events)
	require.Equal(t, "model_started", types[0])
	require.Equal(t, "completed", types[len(types)-1])
	var recordID string
	for i, e := range events {
		require.EqualValues(t, i+1, e.id, "ids run 1, 2, 3, ...")
		require.EqualValues(t, e.id, e.data["seq"])
		if e.data["type"] == "model_completed" {
			recordID, _ = e.data["record_id"].(string)
		}
	}
	require.NotEmpty(t, recordID)
	rec := c.must(200, "GET", "/api/records/"+recordID, nil)
	out := rec.get("structured_output").(map[string]any)
	require.Equal(t, "Moderna Inc", out["name"], "search keys from the input are copied")
	require.Contains(t, out, "founded_year")
	require.NotEmpty(t, rec.get("prompts"))

	status := c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
	require.Equal(t, "completed", status.str("status"))
	require.Equal(t, []any{"sim::fast"}, status.get("models"))
	jobs := c.must(200, "GET", "/api/llm/jobs?status=completed", nil)
	require.EqualValues(t, 1, jobs.get("total"))
}

func TestStreamSubscribersAndResume(t *testing.T) {
	t.Parallel()
	_, c, schemaID := enrichSetup(t)
	jobID := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{
		"entity_data": map[string]any{"name": "Pfizer Inc", "country": "US", "_sim": map[string]any{"latency_ms": 100}},
		"schema_id":   schemaID, "models": []string{"sim::fast", "sim::realistic", "sim::flaky"}, "strategy": "multi_expertise",
	}).str("job_id")

	var wg sync.WaitGroup
	results := make([][]sseEvent, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = c.stream(jobID)
		}()
	}
	wg.Wait()
	want := eventTypes(results[0])
	require.Equal(t, "completed", want[len(want)-1])
	require.Contains(t, want, "fusion_completed")
	for _, r := range results {
		require.Equal(t, want, eventTypes(r), "every subscriber sees the same sequence")
		for i, e := range r {
			require.EqualValues(t, i+1, e.id)
		}
	}

	// Resume after completion: only the events after the resume point.
	resumed, _ := c.stream(jobID, "Last-Event-ID", "3")
	require.Len(t, resumed, len(want)-3)
	require.EqualValues(t, 4, resumed[0].id)
	resumed, _ = c.stream(jobID + "?last_event_id=5")
	require.EqualValues(t, 6, resumed[0].id)
	all, _ := c.stream(jobID, "Last-Event-ID", strconv.Itoa(len(want)))
	require.Empty(t, all, "a resume point at the end closes at once")
	c.must(400, "GET", "/api/llm/stream/"+jobID, nil, "Last-Event-ID", "abc")
}

func TestIdempotencyAndIsolation(t *testing.T) {
	t.Parallel()
	ts, c, schemaID := enrichSetup(t)
	body := map[string]any{"entity_data": map[string]any{"name": "Roche", "country": "CH"}, "schema_id": schemaID, "models": []string{"sim::fast"}}
	first := c.must(200, "POST", "/api/single/enrich/stream", body, "Idempotency-Key", "abc-1")
	again := c.must(200, "POST", "/api/single/enrich/stream", body, "Idempotency-Key", "abc-1")
	require.Equal(t, first.str("job_id"), again.str("job_id"))
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	body["models"] = []string{"sim::realistic"}
	c.must(409, "POST", "/api/single/enrich/stream", body, "Idempotency-Key", "abc-1")
	c.must(400, "POST", "/api/single/enrich/stream", body, "Idempotency-Key", strings.Repeat("x", 256))
	jobID := first.str("job_id")
	c.stream(jobID)

	tok, _ := ts.register("other@example.com", "Other Org")
	other := ts.bearer(tok)
	other.must(404, "GET", "/api/llm/stream/"+jobID, nil)
	other.must(404, "GET", "/api/llm/jobs/"+jobID, nil)
	other.must(404, "POST", "/api/llm/cancel/"+jobID, nil)
	other.must(404, "POST", "/api/llm/continue/"+jobID, nil)
	c.must(409, "POST", "/api/llm/cancel/"+jobID, nil)
	c.must(409, "POST", "/api/llm/continue/"+jobID, nil)
}

func TestEnrichValidation(t *testing.T) {
	t.Parallel()
	_, c, schemaID := enrichSetup(t)
	entity := map[string]any{"name": "Roche", "country": "CH"}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		detail string
	}{
		{"unknown model", map[string]any{"entity_data": entity, "schema_id": schemaID, "models": []string{"openai::gpt-5"}}, 400, `unknown model "openai::gpt-5"`},
		{"unavailable model", map[string]any{"entity_data": entity, "schema_id": schemaID, "models": []string{"openai::gpt-4o"}}, 400, "OPENAI_API_KEY is not set"},
		{"no models", map[string]any{"entity_data": entity, "schema_id": schemaID, "models": []string{}}, 400, "models"},
		{"both schemas", map[string]any{"entity_data": entity, "schema_id": schemaID, "target_schema": companySchema, "models": []string{"sim::fast"}}, 400, "exactly one"},
		{"no schema", map[string]any{"entity_data": entity, "models": []string{"sim::fast"}}, 400, "exactly one"},
		{"missing search key", map[string]any{"entity_data": map[string]any{"ticker": "ROG"}, "schema_id": schemaID, "models": []string{"sim::fast"}}, 400, "entity_data has none of the search keys: country, name"},
		{"bad strategy", map[string]any{"entity_data": entity, "schema_id": schemaID, "models": []string{"sim::fast"}, "strategy": "fast"}, 400, "strategy"},
		{"bad language", map[string]any{"entity_data": entity, "schema_id": schemaID, "models": []string{"sim::fast"}, "languages": []string{"xx"}}, 400, "xx"},
		{"unknown schema", map[string]any{"entity_data": entity, "schema_id": "00000000-0000-4000-8000-000000000000", "models": []string{"sim::fast"}}, 404, "schema"},
		{"malformed schema id", map[string]any{"entity_data": entity, "schema_id": "nope", "models": []string{"sim::fast"}}, 400, "schema_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.must(tt.status, "POST", "/api/single/enrich/stream", tt.body)
			require.Contains(t, r.str("detail"), tt.detail)
		})
	}
}

func TestEnrichSync(t *testing.T) {
	t.Parallel()
	_, c, schemaID := enrichSetup(t)
	r := c.must(200, "POST", "/api/single/enrich/sync", map[string]any{
		"entity_data": map[string]any{"name": "Roche", "country": "CH"}, "schema_id": schemaID,
		"models": []string{"sim::fast", "sim::realistic"}, "include_per_model_results": true,
		"languages": []string{"en", "fr"},
	})
	require.Equal(t, "completed", r.str("status"))
	require.Equal(t, true, r.get("success"))
	require.Equal(t, true, r.get("is_fused"))
	require.Len(t, r.get("per_model_results"), 2)
	c.must(400, "POST", "/api/single/enrich/sync", map[string]any{
		"entity_data": map[string]any{"name": "Roche"}, "schema_id": schemaID, "models": []string{"sim::fast"},
		"on_classification_mismatch": "pause"})
	slow := c.must(504, "POST", "/api/single/enrich/sync", map[string]any{
		"entity_data": map[string]any{"name": "Slow", "_sim": map[string]any{"latency_ms": 3000}}, "schema_id": schemaID,
		"models": []string{"sim::fast"}, "timeout_seconds": 1})
	require.NotEmpty(t, slow.str("job_id"))
}
