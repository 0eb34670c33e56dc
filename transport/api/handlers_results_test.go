package api

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

const nestedSchema = `{"schema_content": {"root": {"name": "Company", "description": "A business", "type": "object", "properties": {
	"name": {"type": "string", "is_key": true},
	"headquarters": {"type": "object", "properties": {"city": {"type": "string"}, "geo": {"type": "object", "properties": {"lat": {"type": "number"}}}}},
	"tickers": {"type": "array", "items": {"type": "string"}},
	"listed": {"type": "boolean"}}}}}`

func TestCSVExportFlattensTheSchema(t *testing.T) {
	cols, err := schemaColumns(json.RawMessage(nestedSchema))
	require.NoError(t, err)
	require.Equal(t, []string{"entity_index", "entity_label", "status", "record_id", "error_message", "cost_usd",
		"min_confidence", "name", "headquarters.city", "headquarters.geo.lat", "tickers", "listed"}, csvHeader(cols))

	idx, label, id, conf := 4, "Acme", "r1", 0.6
	tests := []struct {
		name string
		item resultItem
		want []string
	}{
		{"completed", resultItem{EntityIndex: &idx, EntityLabel: &label, Status: resultCompleted, RecordID: &id, CostUSD: 0.25, MinConfidence: &conf,
			Result: json.RawMessage(`{"name":"Acme, Inc.","headquarters":{"city":"Oslo","geo":{"lat":59.91}},"tickers":["AC","AX"],"listed":true,"extra":1}`)},
			[]string{"4", "Acme", "completed", "r1", "", "0.25", "0.6", "Acme, Inc.", "Oslo", "59.91", `["AC","AX"]`, "true"}},
		{"failed, single job", resultItem{Status: resultFailed, ErrorMessage: &label},
			[]string{"", "", "failed", "", "Acme", "0", "", "", "", "", "", ""}},
		{"nulls and missing objects", resultItem{Status: resultCompleted, Result: json.RawMessage(`{"name":null,"headquarters":null}`)},
			[]string{"", "", "completed", "", "", "0", "", "", "", "", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, err := csvRow(&tt.item, cols)
			require.NoError(t, err)
			require.Equal(t, tt.want, row)
		})
	}
}

func TestWriteResultsFormats(t *testing.T) {
	idx := 0
	items := func(fn func(*resultItem) error) error {
		for i := range 2 {
			n := idx + i
			if err := fn(&resultItem{EntityIndex: &n, Status: resultSkipped, ErrorMessage: &cancelledWithBatch}); err != nil {
				return err
			}
		}
		return nil
	}
	job := &enricher.Job{ID: "j1", Status: enricher.JobRunning}
	var buf bytes.Buffer
	require.NoError(t, writeResults(&buf, "json", job, nil, items))
	var doc struct {
		JobID  string       `json:"job_id"`
		Status string       `json:"status"`
		Items  []resultItem `json:"items"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	require.Equal(t, "j1", doc.JobID)
	require.Equal(t, "running", doc.Status)
	require.Len(t, doc.Items, 2)
	require.Equal(t, 1, *doc.Items[1].EntityIndex)

	buf.Reset()
	require.NoError(t, writeResults(&buf, "ndjson", job, nil, items))
	require.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("\n")))
	require.Contains(t, buf.String(), `"status":"skipped"`)
}
