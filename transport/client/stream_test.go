package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/client"
)

// eventBlock is the wire form of event seq of job "j1"; the last one is the terminal event.
func eventBlock(seq, last int) string {
	typ := "model_started"
	if seq == last {
		typ = "completed"
	}
	return fmt.Sprintf("id: %d\ndata: {\"type\":%q,\"event\":%q,\"seq\":%d,\"job_id\":\"j1\",\"job_type\":\"batch_enrichment\",\"status\":\"running\",\"total_entities\":3,\"entity_index\":%d}\n\n", seq, typ, typ, seq, seq%3)
}

// cuttingServer serves job j1's 10 events over several connections, each cut at a planned
// place (sometimes in the middle of an event), and records every Last-Event-ID it receives.
type cuttingServer struct {
	mu     sync.Mutex
	ids    []string // Last-Event-ID per connection ("" when absent)
	cuts   []int    // events sent on connection i before it is cut
	total  int
	status int // job status answer: 0 = 404
}

func (s *cuttingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/llm/jobs/") {
		if s.status == 0 {
			http.Error(w, `{"detail":"job not found"}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"job_id":"j1","status":"completed","last_seq":%d}`, s.total)
		return
	}
	s.mu.Lock()
	conn := len(s.ids)
	s.ids = append(s.ids, r.Header.Get("Last-Event-ID"))
	s.mu.Unlock()
	from := 0
	fmt.Sscan(r.Header.Get("Last-Event-ID"), &from)
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, "retry: 5\n\n: ping\n\n")
	n := s.total
	if conn < len(s.cuts) {
		n = min(s.total, from+s.cuts[conn])
	}
	for seq := from + 1; seq <= n; seq++ {
		fmt.Fprint(w, eventBlock(seq, s.total))
		if seq == from+1 {
			fmt.Fprint(w, ": ping\n\n")
		}
	}
	if n < s.total {
		fmt.Fprintf(w, "id: %d\ndata: {\"type\":\"model_st", n+1) // cut inside the next event
		return
	}
	if from < s.total {
		fmt.Fprint(w, eventBlock(s.total+1, s.total+5)) // nothing after the terminal event is read
	}
}

// lastEventIDs returns the Last-Event-ID of every connection so far.
func (s *cuttingServer) lastEventIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

func collect(t *testing.T, c *client.Client, job string, from int64) ([]client.Event, error) {
	t.Helper()
	var out []client.Event
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ev, err := range c.Stream(ctx, job, from) {
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func TestStreamResumesAfterDrops(t *testing.T) {
	t.Parallel()
	srv := &cuttingServer{cuts: []int{4, 3, 0}, total: 10}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := client.New(ts.URL, client.WithAPIKey("ent_x"), client.WithReconnect(3, time.Second))
	events, err := collect(t, c, "j1", 0)
	require.NoError(t, err)
	require.Len(t, events, 10, "every event exactly once")
	for i, ev := range events {
		require.EqualValues(t, i+1, ev.ID, "in order")
		require.EqualValues(t, ev.ID, ev.Seq)
		require.Equal(t, "j1", ev.JobID)
		require.Equal(t, enricher.JobBatchEnrichment, ev.JobType)
		require.NotNil(t, ev.EntityIndex)
		require.Equal(t, (i+1)%3, *ev.EntityIndex)
		require.NotNil(t, ev.TotalEntities)
	}
	require.Equal(t, "completed", events[9].Type)
	require.True(t, events[9].Terminal())
	require.False(t, events[8].Terminal())
	// Connection 3 brings nothing (cut at 0 events) and the stream retries with the same id.
	require.Equal(t, []string{"", "4", "7", "7"}, srv.lastEventIDs())
}

func TestStreamStartsAfterLastEventID(t *testing.T) {
	t.Parallel()
	srv := &cuttingServer{total: 10}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	events, err := collect(t, client.New(ts.URL), "j1", 6)
	require.NoError(t, err)
	require.Len(t, events, 4)
	require.EqualValues(t, 7, events[0].ID)
	require.Equal(t, []string{"6"}, srv.lastEventIDs())
}

func TestStreamGivesUpAfterBoundedAttempts(t *testing.T) {
	t.Parallel()
	srv := &cuttingServer{cuts: []int{0, 0, 0, 0, 0, 0, 0, 0}, total: 10}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := client.New(ts.URL, client.WithReconnect(2, 10*time.Millisecond))
	events, err := collect(t, c, "j1", 0)
	require.Error(t, err)
	require.Empty(t, events)
	require.Len(t, srv.lastEventIDs(), 3, "one connection and two reconnections")
}

func TestStreamEndsOnFinishedJob(t *testing.T) {
	t.Parallel()
	srv := &cuttingServer{cuts: []int{0}, total: 10, status: 200}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	events, err := collect(t, client.New(ts.URL), "j1", 10)
	require.NoError(t, err, "a resume point at the last seq of a finished job is the end")
	require.Empty(t, events)
	require.Len(t, srv.lastEventIDs(), 1)
}

func TestStreamErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"detail":"job not found"}`)
	}))
	defer ts.Close()
	_, err := collect(t, client.New(ts.URL), "j1", 0)
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 404, apiErr.Status)
	require.Equal(t, "job not found", apiErr.Detail)
	require.EqualValues(t, 1, calls.Load())
}
