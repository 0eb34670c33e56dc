package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/storage"
)

// ndjsonBody is an NDJSON batch body: the options line, then one line per entity.
func ndjsonBody(t *testing.T, options map[string]any, entities ...string) string {
	t.Helper()
	opts, err := json.Marshal(options)
	require.NoError(t, err)
	return string(opts) + "\n" + strings.Join(entities, "\n") + "\n"
}

// companies returns n entity lines "Company i".
func companies(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"name": "Company %d", "country": "US"}`, i)
	}
	return out
}

// postNDJSON sends body as an NDJSON batch start. A body that is not a string is sent as a
// plain reader, so the client streams it with chunked transfer encoding.
func (c *client) postNDJSON(path string, body io.Reader, headers ...string) response {
	c.ts.t.Helper()
	return c.do("POST", path, body, append([]string{"Content-Type", "application/x-ndjson"}, headers...)...)
}

// onlyReader hides every method but Read, so net/http cannot learn the length.
type onlyReader struct{ io.Reader }

// TestNDJSONBatch starts NDJSON batches on both paths: every entity line (blank lines are
// skipped) completes once, in line order, with the label of its line.
func TestNDJSONBatch(t *testing.T) {
	t.Parallel()
	_, c, schemaID := enrichSetup(t)
	opts := map[string]any{"schema_id": schemaID, "models": []string{"sim::fast"}}
	lines := companies(12)
	lines = append(lines[:5], append([]string{"", "   "}, lines[5:]...)...)
	for _, path := range []string{"/api/enrichment/batch/start", "/api/batch/start"} {
		r := c.postNDJSON(path, strings.NewReader(ndjsonBody(t, opts, lines...)))
		require.Equal(t, 200, r.status, string(r.raw))
		require.EqualValues(t, 12, r.get("total"))
		events, _ := c.stream(r.str("job_id"))
		require.Equal(t, "completed", events[len(events)-1].data["type"])
		done := map[int]string{}
		for _, e := range events {
			if e.data["type"] == "entity_completed" {
				i := int(e.data["entity_index"].(float64))
				require.NotContains(t, done, i, "entity %d completes once", i)
				done[i] = e.data["entity_label"].(string)
				require.Equal(t, true, e.data["success"])
			}
		}
		require.Len(t, done, 12)
		for i := range 12 {
			require.Equal(t, fmt.Sprintf("Company %d", i), done[i])
		}
	}
	// selected_indices in the options line pick entities by their position among the entity lines.
	opts["selected_indices"] = []int{11, 3}
	r := c.postNDJSON("/api/batch/start", strings.NewReader(ndjsonBody(t, opts, lines...)))
	require.Equal(t, 200, r.status, string(r.raw))
	require.EqualValues(t, 2, r.get("total"))
	events, _ := c.stream(r.str("job_id"))
	var labels []string
	for _, e := range events {
		if e.data["type"] == "entity_completed" {
			labels = append(labels, e.data["entity_label"].(string))
		}
	}
	require.ElementsMatch(t, []string{"Company 11", "Company 3"}, labels)
}

// TestNDJSONBatchRefusals sends bad NDJSON bodies: each is a 400 naming the line (or a 404 for
// an unknown schema), no job is created and no staged entity is left in storage.
func TestNDJSONBatchRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey,
		"ENRICHER_MAX_BATCH_ENTITIES_STREAM": "5", "ENRICHER_MAX_ENTITY_BYTES": "200", "ENRICHER_MAX_BATCH_ENTITIES": "3"}, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	opts := map[string]any{"schema_id": schemaID, "models": []string{"sim::fast"}}
	good := ndjsonBody(t, opts, companies(5)...)
	ok := c.postNDJSON("/api/batch/start", strings.NewReader(good))
	require.Equal(t, 200, ok.status, "five entities are within max_batch_entities_stream, above max_batch_entities: %s", ok.raw)
	c.stream(ok.str("job_id"))
	jobs := c.must(200, "GET", "/api/llm/jobs", nil).get("total")

	ent := companies(3)
	tests := []struct {
		name, body, detail string
		status             int
	}{
		{"empty body", "", "the first line must be the options object", 400},
		{"options not an object", "[1]\n" + ent[0], "line 1: the options line is not a JSON object", 400},
		{"options not JSON", "{nope\n" + ent[0], "line 1: the options line is not a JSON object", 400},
		{"options field type", `{"schema_id": "` + schemaID + `", "models": "sim::fast"}` + "\n" + ent[0], "line 1: models: expected array", 400},
		{"unknown model", ndjsonBody(t, map[string]any{"schema_id": schemaID, "models": []string{"nope::x"}}, ent[0]), "line 1: ", 400},
		{"entities in the options", ndjsonBody(t, map[string]any{"schema_id": schemaID, "models": []string{"sim::fast"}, "entities": []any{}}, ent[0]), "line 1: entities: not allowed", 400},
		{"pause", ndjsonBody(t, map[string]any{"schema_id": schemaID, "models": []string{"sim::fast"}, "on_classification_mismatch": "pause"}, ent[0]), "line 1: on_classification_mismatch", 400},
		{"unknown schema", ndjsonBody(t, map[string]any{"schema_id": "0b9c1c8e-7a57-4f43-9d49-2f1d2c3b4a59", "models": []string{"sim::fast"}}, ent[0]), "schema not found", 404},
		{"no entities", ndjsonBody(t, opts), "no entities", 400},
		{"not an object", ndjsonBody(t, opts, ent[0], ent[1], "", "[1, 2]", ent[2]), "line 5: not a JSON object", 400},
		{"not JSON", ndjsonBody(t, opts, ent[0], `{"name": "x"`), "line 3: not valid JSON", 400},
		{"empty object", ndjsonBody(t, opts, ent[0], "{}"), "line 3: at least one field is required", 400},
		{"too big", ndjsonBody(t, opts, ent[0], `{"name": "`+strings.Repeat("x", 300)+`"}`), "line 3: 311 bytes, the maximum is 200", 400},
		{"over the cap", ndjsonBody(t, opts, companies(6)...), "line 7: more than 5 entities", 400},
		{"selected out of range", ndjsonBody(t, map[string]any{"schema_id": schemaID, "models": []string{"sim::fast"}, "selected_indices": []int{3}}, ent...), "selected_indices[0]: 3 is out of range", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.postNDJSON("/api/enrichment/batch/start", strings.NewReader(tt.body))
			require.Equal(t, tt.status, r.status, string(r.raw))
			require.Contains(t, r.str("detail")+" "+joinErrors(r), tt.detail)
		})
	}
	// A chunked body fails the same way.
	r := c.postNDJSON("/api/enrichment/batch/start", onlyReader{strings.NewReader(ndjsonBody(t, opts, companies(6)...))})
	require.Equal(t, 400, r.status, string(r.raw))
	require.Contains(t, r.str("detail"), "line 7")
	// The JSON form keeps max_batch_entities.
	var four []any
	for i := range 4 {
		four = append(four, map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"})
	}
	r = c.must(400, "POST", "/api/enrichment/batch/start", map[string]any{"entities": four, "schema_id": schemaID, "models": []string{"sim::fast"}})
	require.Contains(t, r.str("detail"), "give 1 to 3 entities")
	require.Equal(t, jobs, c.must(200, "GET", "/api/llm/jobs", nil).get("total"), "no job was created")
	limits := c.must(200, "GET", "/api/enrichment/options", nil).get("limits").(map[string]any)
	require.EqualValues(t, 5, limits["max_batch_entities_stream"])

	ts.stop()
	db, err := storage.Open(storage.Config{Dir: dir})
	require.NoError(t, err)
	defer db.Close()
	n, err := db.CountEntities("")
	require.NoError(t, err)
	require.Equal(t, 5, n, "only the started batch's entities are stored; refused uploads left none")
}

// TestNDJSONBatchBodyLimits shows the server does not hold an NDJSON body: one larger than
// max_body_bytes is accepted (the same entities as JSON are 413), while max_stream_body_bytes
// bounds it (413 for a declared length before authentication, and for a chunked body as it
// streams).
func TestNDJSONBatchBodyLimits(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey,
		"ENRICHER_MAX_BODY_BYTES": "2048", "ENRICHER_MAX_STREAM_BODY_BYTES": "20000"}, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	opts := map[string]any{"schema_id": schemaID, "models": []string{"sim::fast"}}
	body := ndjsonBody(t, opts, companies(100)...) // about 4 KiB
	require.Greater(t, len(body), 2048)
	for _, rd := range []io.Reader{strings.NewReader(body), onlyReader{strings.NewReader(body)}} {
		r := c.postNDJSON("/api/batch/start", rd)
		require.Equal(t, 200, r.status, string(r.raw))
		require.EqualValues(t, 100, r.get("total"))
		events, _ := c.stream(r.str("job_id"))
		sum := events[len(events)-1].data["result"].(map[string]any)
		require.EqualValues(t, 100, sum["completed_entities"])
	}
	var entities []any
	for i := range 100 {
		entities = append(entities, map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"})
	}
	c.must(413, "POST", "/api/batch/start", map[string]any{"entities": entities, "schema_id": schemaID, "models": []string{"sim::fast"}})

	huge := ndjsonBody(t, opts, companies(600)...) // about 24 KiB
	r := ts.anon().postNDJSON("/api/batch/start", strings.NewReader(huge))
	require.Equal(t, 413, r.status, "a declared length over max_stream_body_bytes is refused before authentication: %s", r.raw)
	r = c.postNDJSON("/api/batch/start", onlyReader{strings.NewReader(huge)})
	require.Equal(t, 413, r.status, string(r.raw))
	require.Contains(t, r.str("detail"), "20000")
	// A line longer than max_body_bytes is refused naming it.
	r = c.postNDJSON("/api/batch/start", strings.NewReader(ndjsonBody(t, opts, `{"name": "`+strings.Repeat("x", 3000)+`"}`)))
	require.Equal(t, 400, r.status, string(r.raw))
	require.Contains(t, r.str("detail"), "line 2: longer than 2048 bytes")
}

// TestNDJSONBatchIdempotency repeats an NDJSON start with one Idempotency-Key: the same bytes
// get the same job back, other bytes are 409.
func TestNDJSONBatchIdempotency(t *testing.T) {
	t.Parallel()
	_, c, schemaID := enrichSetup(t)
	body := ndjsonBody(t, map[string]any{"schema_id": schemaID, "models": []string{"sim::fast"}}, companies(3)...)
	first := c.postNDJSON("/api/batch/start", strings.NewReader(body), "Idempotency-Key", "nd-1")
	require.Equal(t, 200, first.status, string(first.raw))
	again := c.postNDJSON("/api/enrichment/batch/start", onlyReader{strings.NewReader(body)}, "Idempotency-Key", "nd-1")
	require.Equal(t, 200, again.status, string(again.raw))
	require.Equal(t, first.str("job_id"), again.str("job_id"))
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	other := c.postNDJSON("/api/batch/start", strings.NewReader(body+`{"name": "Roche", "country": "CH"}`+"\n"), "Idempotency-Key", "nd-1")
	require.Equal(t, 409, other.status, string(other.raw))
}

// TestNDJSONUploadLeftoversSweptAtStart stands for a server that died during an upload: the
// entities it had stored under a batch id that never became a job are deleted when the
// server starts again, while those of a batch that did start (600 entities, several blocks)
// stay and still export.
func TestNDJSONUploadLeftoversSweptAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}
	ts := startServer(t, dir, env, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	r := c.postNDJSON("/api/batch/start", strings.NewReader(ndjsonBody(t, map[string]any{"schema_id": schemaID, "models": []string{"sim::fast"}}, companies(600)...)))
	require.Equal(t, 200, r.status, string(r.raw))
	jobID := r.str("job_id")
	events, _ := c.stream(jobID)
	require.Equal(t, "completed", events[len(events)-1].data["type"])
	ts.stop()

	const cut = "7d3f5a52-27a4-4b57-9f0b-3c1f1f8f4e10" // an upload cut short: entities, no job
	db, err := storage.Open(storage.Config{Dir: dir})
	require.NoError(t, err)
	var staged [][]byte
	for _, line := range companies(1000) {
		staged = append(staged, []byte(line))
	}
	require.NoError(t, db.PutEntities(cut, 0, staged))
	require.NoError(t, db.Close())

	ts = startServer(t, dir, env, nil)
	c = ts.bootstrap()
	res, body := c.getRaw("/api/llm/jobs/" + jobID + "/results?format=ndjson")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, 600, strings.Count(string(body), "\n"), "the started batch exports whole")
	ts.stop()

	db, err = storage.Open(storage.Config{Dir: dir})
	require.NoError(t, err)
	defer db.Close()
	for job, want := range map[string]int{cut: 0, jobID: 600} {
		n, err := db.CountEntities(job)
		require.NoError(t, err)
		require.Equal(t, want, n, "entities of %s", job)
	}
	got, err := db.EntitiesAt(jobID, []int{0, 599})
	require.NoError(t, err)
	require.JSONEq(t, companies(600)[599], string(got[1]))
}
