package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// exportItem is one item of a results export.
type exportItem struct {
	EntityIndex  *int            `json:"entity_index"`
	EntityLabel  *string         `json:"entity_label"`
	Status       string          `json:"status"`
	Result       json.RawMessage `json:"result"`
	RecordID     *string         `json:"record_id"`
	ErrorMessage *string         `json:"error_message"`
	CostUSD      float64         `json:"cost_usd"`
}

// getRaw sends GET path with the client's credential and headers, without transparent gzip
// decoding, and returns the response with its body read.
func (c *client) getRaw(path string, headers ...string) (*http.Response, []byte) {
	c.ts.t.Helper()
	req, err := http.NewRequest("GET", c.ts.base+path, nil)
	require.NoError(c.ts.t, err)
	if c.header != "" {
		req.Header.Set(c.header, c.value)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer hc.CloseIdleConnections()
	res, err := hc.Do(req)
	require.NoError(c.ts.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(c.ts.t, err)
	return res, body
}

func parseNDJSON(t *testing.T, body []byte) []exportItem {
	t.Helper()
	var out []exportItem
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var it exportItem
		require.NoError(t, json.Unmarshal(sc.Bytes(), &it), sc.Text())
		out = append(out, it)
	}
	return out
}

// waitStatus polls a job until it is terminal and returns its status.
func (c *client) waitStatus(jobID string) response {
	c.ts.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
		switch r.str("status") {
		case "completed", "failed", "cancelled":
			return r
		}
		require.True(c.ts.t, time.Now().Before(deadline), "job %s still %s", jobID, r.str("status"))
		time.Sleep(20 * time.Millisecond)
	}
}

// TestResultsExport exports a 1,000-entity batch (one entity has no search key and fails) as
// NDJSON, JSON, CSV and gzip, and checks isolation, a single job and a running job.
func TestResultsExport(t *testing.T) {
	t.Parallel()
	ts, c, schemaID := enrichSetup(t)
	const n = 1000
	entities := make([]any, n)
	for i := range entities {
		entities[i] = map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"}
	}
	entities[7] = map[string]any{"ticker": "X"} // no search key: failed
	jobID := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
		"entities": entities, "schema_id": schemaID, "models": []string{"sim::fast"}}).str("job_id")
	status := c.waitStatus(jobID)
	require.Equal(t, "completed", status.str("status"))
	path := "/api/llm/jobs/" + jobID + "/results"

	res, plain := c.getRaw(path + "?format=ndjson")
	require.Equal(t, 200, res.StatusCode, string(plain))
	require.Equal(t, "application/x-ndjson", res.Header.Get("Content-Type"))
	require.Equal(t, "completed", res.Header.Get("X-Job-Status"))
	items := parseNDJSON(t, plain)
	require.Len(t, items, n)
	counts := map[string]int{}
	for i, it := range items {
		require.Equal(t, i, *it.EntityIndex, "entity order")
		counts[it.Status]++
		if it.Status == "completed" {
			require.Equal(t, fmt.Sprintf("Company %d", i), *it.EntityLabel)
			require.NotNil(t, it.RecordID)
			var result map[string]any
			require.NoError(t, json.Unmarshal(it.Result, &result))
			require.Equal(t, fmt.Sprintf("Company %d", i), result["name"])
		}
	}
	require.Equal(t, "failed", items[7].Status)
	require.NotEmpty(t, *items[7].ErrorMessage)
	require.EqualValues(t, status.get("completed_entities"), counts["completed"], "statuses add up to the batch counters")
	require.EqualValues(t, status.get("failed_entities"), counts["failed"])
	require.EqualValues(t, status.get("skipped_entities"), counts["skipped"])

	res, zipped := c.getRaw(path+"?format=ndjson", "Accept-Encoding", "gzip")
	require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, plain, unzipped, "the gzip body decodes to the same export")
	require.Less(t, len(zipped), len(plain))

	res, raw := c.getRaw(path + "?format=csv")
	require.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, n+1, "a header and one row per entity")
	header := rows[0]
	require.Equal(t, []string{"entity_index", "entity_label", "status", "record_id", "error_message", "cost_usd", "min_confidence"}, header[:7])
	require.ElementsMatch(t, []string{"name", "country", "founded_year", "revenue_usd"}, header[7:])
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	require.Equal(t, "Company 3", rows[4][col["name"]])
	require.Equal(t, "3", rows[4][col["entity_index"]])
	require.Equal(t, "failed", rows[8][col["status"]])

	var doc struct {
		JobID  string       `json:"job_id"`
		Status string       `json:"status"`
		Items  []exportItem `json:"items"`
	}
	_, raw = c.getRaw(path + "?format=json")
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, jobID, doc.JobID)
	require.Len(t, doc.Items, n)

	c.must(400, "GET", path+"?format=xml", nil)
	other, _ := ts.register("other@example.com", "Other Co")
	ts.bearer(other).must(404, "GET", path, nil)
	res, _ = c.getRaw(path + "?format=ndjson&token=" + url.QueryEscape(testBootstrapKey)) // the credential in the query
	require.Equal(t, 200, res.StatusCode)
	anon := ts.anon()
	res, _ = anon.getRaw(path + "?token=" + url.QueryEscape(testBootstrapKey))
	require.Equal(t, 200, res.StatusCode, "?token= is accepted like on the stream")

	single := c.must(200, "POST", "/api/single/enrich/sync", map[string]any{"entity_data": map[string]any{"name": "Roche", "country": "CH"},
		"schema_id": schemaID, "models": []string{"sim::fast"}})
	_, raw = c.getRaw("/api/llm/jobs/" + single.str("job_id") + "/results")
	one := parseNDJSON(t, raw)
	require.Len(t, one, 1, "a single enrichment exports one item")
	require.Nil(t, one[0].EntityIndex)
	require.Equal(t, "completed", one[0].Status)
	require.Equal(t, "Roche", *one[0].EntityLabel)
	require.Equal(t, single.str("record_id"), *one[0].RecordID)

	slow := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{"entities": []any{
		map[string]any{"name": "Slow", "country": "US", "_sim": map[string]any{"latency_ms": 60000}}},
		"schema_id": schemaID, "models": []string{"sim::fast"}}).str("job_id")
	deadline := time.Now().Add(60 * time.Second) // a job answers pending until its actor has begun
	for c.must(200, "GET", "/api/llm/jobs/"+slow, nil).str("status") != "running" {
		require.True(t, time.Now().Before(deadline), "the slow batch starts running")
		time.Sleep(10 * time.Millisecond)
	}
	res, raw = c.getRaw("/api/llm/jobs/" + slow + "/results")
	require.Equal(t, "running", res.Header.Get("X-Job-Status"))
	require.Empty(t, parseNDJSON(t, raw), "nothing finished yet")
	c.must(200, "POST", "/api/llm/cancel/"+slow, nil)
	res, raw = c.getRaw("/api/llm/jobs/" + slow + "/results")
	require.Equal(t, "cancelled", res.Header.Get("X-Job-Status"))
	cancelled := parseNDJSON(t, raw)
	require.Len(t, cancelled, 1, "an entity cancelled while it ran is listed")
	require.Equal(t, "skipped", cancelled[0].Status)
}
