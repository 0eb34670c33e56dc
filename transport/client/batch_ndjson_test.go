package client_test

import (
	"bufio"
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/client"
)

// TestStartBatchEntities sends an iterator's entities as NDJSON: the options line first, then
// one line per entity, with the NDJSON content type.
func TestStartBatchEntities(t *testing.T) {
	t.Parallel()
	var lines []string
	var contentType string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contentType = r.Header.Get("Content-Type")
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		json.NewEncoder(w).Encode(map[string]any{"job_id": "j1", "total": len(lines) - 1})
	}))
	t.Cleanup(ts.Close)
	entities := func(yield func(any) bool) {
		for _, name := range []string{"Roche", "Pfizer", "Bayer"} {
			if !yield(map[string]any{"name": name}) {
				return
			}
		}
	}
	got, err := client.New(ts.URL).StartBatchEntities(context.Background(),
		client.BatchRequest{SchemaID: "s1", Models: []string{"sim::fast"}}, entities)
	require.NoError(t, err)
	require.Equal(t, "j1", got.JobID)
	require.Equal(t, "application/x-ndjson", contentType)
	require.Equal(t, []string{`{"schema_id":"s1","models":["sim::fast"]}`, `{"name":"Roche"}`, `{"name":"Pfizer"}`, `{"name":"Bayer"}`}, lines)

	_, err = client.New(ts.URL).StartBatchEntities(context.Background(), client.BatchRequest{Models: []string{"m"}},
		iter.Seq[any](func(yield func(any) bool) { yield(map[string]any{"bad": func() {}}) }))
	require.ErrorContains(t, err, "encode entity 0")
}
