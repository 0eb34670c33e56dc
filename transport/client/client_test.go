package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/client"
)

func TestErrorDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   client.Error
	}{
		{"detail", 404, nil, `{"detail":"job not found"}`, client.Error{Status: 404, Detail: "job not found"}},
		{"validation problems", 400, nil, `{"detail":"schema is invalid: 2 problems","errors":["a","b"]}`,
			client.Error{Status: 400, Detail: "schema is invalid: 2 problems", Errors: []string{"a", "b"}}},
		{"retry after", 429, map[string]string{"Retry-After": "5"}, `{"detail":"too many jobs"}`,
			client.Error{Status: 429, Detail: "too many jobs", RetryAfter: 5 * time.Second}},
		{"blocking timeout", 504, nil, `{"detail":"still running","job_id":"j9"}`,
			client.Error{Status: 504, Detail: "still running", JobID: "j9"}},
		{"not the error shape", 502, nil, "bad gateway\n", client.Error{Status: 502, Detail: "bad gateway"}},
		{"empty body", 503, map[string]string{"Retry-After": "1"}, "", client.Error{Status: 503, Detail: "Service Unavailable", RetryAfter: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer ts.Close()
			_, err := client.New(ts.URL).Job(context.Background(), "j1")
			var got *client.Error
			require.ErrorAs(t, err, &got)
			require.Equal(t, tt.want, *got)
			require.Equal(t, tt.status, client.StatusOf(err))
		})
	}
}

// echoServer answers every request with its method, path, query, credential headers and body.
func echoServer(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]any{
			"job_id": r.Method + " " + r.URL.Path, "message": r.URL.RawQuery,
			"stream_url": r.Header.Get("X-API-Key") + "|" + r.Header.Get("Authorization") + "|" + r.Header.Get("Idempotency-Key"),
			"total":      len(body),
		})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestCredentialsAndIdempotency(t *testing.T) {
	t.Parallel()
	ts := echoServer(t)
	ctx := context.Background()
	req := client.BatchRequest{Entities: []map[string]any{{"name": "Roche"}}, SchemaID: "s1", Models: []string{"sim::fast"}}

	got, err := client.New(ts.URL, client.WithAPIKey("ent_k")).StartBatch(ctx, req, client.IdempotencyKey("run-1"))
	require.NoError(t, err)
	require.Equal(t, "POST /api/enrichment/batch/start", got.JobID)
	require.Equal(t, "ent_k||run-1", got.StreamURL)
	require.Positive(t, got.Total, "the body is sent")

	got, err = client.New(ts.URL, client.WithBearer("tok")).EnrichStream(ctx, client.EnrichRequest{EntityData: map[string]any{"name": "x"}})
	require.NoError(t, err)
	require.Equal(t, "POST /api/single/enrich/stream", got.JobID)
	require.Equal(t, "|Bearer tok|", got.StreamURL)
}

func TestRecordQuery(t *testing.T) {
	t.Parallel()
	var query string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		io.WriteString(w, `{"records":[],"total":0,"page":2,"page_size":5,"total_pages":0}`)
	}))
	defer ts.Close()
	ok, sure := true, 0.75
	page, err := client.New(ts.URL).ListRecords(context.Background(), client.RecordQuery{
		Page: 2, PageSize: 5, Type: "enrichment", Success: &ok, JobID: "j1",
		Since: time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC), MinConfidence: &sure,
	})
	require.NoError(t, err)
	require.Equal(t, 2, page.Page)
	require.Equal(t, "job_id=j1&min_confidence=0.75&page=2&page_size=5&since=2026-03-16T09%3A30%3A00.000Z&success=true&type=enrichment", query)
}
