package main

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stalledStream opens a job's stream through a connection with a tiny receive buffer and reads
// nothing from it: the server's writer soon blocks on the socket and its live buffer fills,
// as with a client that reads slowly and never reconnects.
func (c *client) stalledStream(jobID string) *http.Response {
	c.ts.t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableCompression: true}}
	c.ts.t.Cleanup(hc.CloseIdleConnections)
	req, err := http.NewRequest("GET", c.ts.base+"/api/llm/stream/"+jobID, nil)
	require.NoError(c.ts.t, err)
	req.Header.Set(c.header, c.value)
	res, err := hc.Do(req)
	require.NoError(c.ts.t, err)
	require.Equal(c.ts.t, 200, res.StatusCode)
	return res
}

// metricValue reads one sample of /metrics (0 when absent).
func (c *client) metricValue(sample string) float64 {
	c.ts.t.Helper()
	body := string(c.must(200, "GET", "/metrics", nil).raw)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(c.ts.t, err)
	return v
}

// TestStalledReaderGetsTheWholeBatch follows a batch with a client that reads nothing until
// the job has ended, then reads the same response to its end: the job is not slowed (it ends
// while the reader is stalled), the server catches the stream up from the stored log
// instead of ending it, and the reader sees every event 1..N once, in order, up to the
// terminal one.
func TestStalledReaderGetsTheWholeBatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		buffer   string
		entities int
	}{
		{"small buffer", "8", 300},
		// The 3,000 entities on the default buffer pass too but take about half a
		// minute under -race on a loaded machine; the small buffer makes the same cycle run
		// many times over.
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}
			if tt.buffer != "" {
				env["ENRICHER_SSE_BUFFER"] = tt.buffer
			}
			ts := startServer(t, t.TempDir(), env, nil)
			c := ts.bootstrap()
			schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
			entities := make([]any, tt.entities)
			for i := range entities {
				entities[i] = map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"}
			}
			jobID := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{
				"entities": entities, "schema_id": schemaID, "models": []string{"sim::fast"}}).str("job_id")
			res := c.stalledStream(jobID)
			defer res.Body.Close()

			deadline := time.Now().Add(60 * time.Second)
			for c.must(200, "GET", "/api/llm/jobs/"+jobID, nil).str("status") != "completed" {
				require.True(t, time.Now().Before(deadline), "the job ends while its subscriber reads nothing")
				time.Sleep(20 * time.Millisecond)
			}
			require.Positive(t, c.metricValue("enricher_sse_catchups_total"), "the stalled stream fell behind")

			events, _ := readEvents(t, res.Body, -1)
			last := c.must(200, "GET", "/api/llm/jobs/"+jobID, nil).get("last_seq")
			require.Len(t, events, int(last.(float64)))
			for i, e := range events {
				require.EqualValues(t, i+1, e.id, "every seq once, in order")
			}
			require.Equal(t, "completed", events[len(events)-1].data["type"])
			require.Equal(t, float64(0), c.metricValue(`enricher_sse_disconnects_total{reason="client_gone"}`))
		})
	}
}
