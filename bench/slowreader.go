package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entity-enricher/enricher/transport/client"
)

// runSlowReader reproduces, through a real server process, the fault a seed-style batch
// client used to hit: a batch of N entities on sim::fast (zero latency) with the server's
// default sse_buffer, followed by a client written like the seed's Python example (one plain
// GET of the job's SSE stream, no reconnect, no Last-Event-ID) that reads its first 150 events
// slowly (30 ms each) and then at full speed. A second batch is followed by a client that
// reads nothing until its job has ended, then reads the same response to its end. Each
// client must receive every seq 1..last_seq exactly once, in order, ending with the terminal
// event; otherwise the scenario fails. Figures per client: events, stream catch-ups
// (enricher_sse_catchups_total), the time from the job's start to the terminal event's
// arrival against the job's own duration, and the server's peak RSS (VmHWM) so far.
func runSlowReader(args []string) error {
	var n, slowEvents, buffer int
	var delay, timeout time.Duration
	var out string
	if err := flags("slow-reader", args, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "entities", 3000, "entities per batch")
		fs.IntVar(&slowEvents, "slow-events", 150, "events the slow client reads slowly before reading at full speed")
		fs.DurationVar(&delay, "delay", 30*time.Millisecond, "the slow client's pause after each of its first events")
		fs.IntVar(&buffer, "sse-buffer", 0, "the server's sse_buffer (0: its default)")
		fs.DurationVar(&timeout, "timeout", 5*time.Minute, "longest a client may follow its job")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	env := []string{"ENRICHER_BOOTSTRAP_KEY=" + benchKey}
	if buffer > 0 {
		env = append(env, "ENRICHER_SSE_BUFFER="+strconv.Itoa(buffer))
	}
	srv, err := startServer(env...)
	if err != nil {
		return err
	}
	defer srv.stop()
	r := &slowReader{srv: srv, c: benchClient(srv.Base, 2), n: n, timeout: timeout,
		// The seed's client: a plain HTTP client, one connection per stream, nothing tuned.
		hc: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
	defer r.hc.CloseIdleConnections()
	var rows []Row
	for _, cl := range []readerClient{
		{name: "slow-start", slowEvents: slowEvents, delay: delay},
		{name: "stalled", stall: true},
	} {
		row, err := r.follow(cl)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	fmt.Println("limit: each client receives every seq 1..last_seq once, in order, and the terminal event (checked: the scenario fails otherwise); the job is not slowed by its reader")
	return report("slow-reader", []string{"client", "entities", "events", "last_seq", "catchups", "job_s", "terminal_s", "after_end_s", "peak_anon_mb", "peak_rss_mb"}, rows, out)
}

// readerClient is how one client reads its stream: slowly for its first slowEvents events
// (delay each), or not at all until the job has ended (stall).
type readerClient struct {
	name       string
	slowEvents int
	delay      time.Duration
	stall      bool
}

type slowReader struct {
	srv     *server
	c       *client.Client
	hc      *http.Client
	n       int
	timeout time.Duration
}

// follow starts one batch, opens its stream at once and reads it the way cl does, then checks
// what arrived against the job's last_seq and terminal status.
func (r *slowReader) follow(cl readerClient) (Row, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	anonPeak := sampleAnon(r.srv.cmd.Process.Pid)
	defer anonPeak() // the sampler stops on every return
	catchups0, err := metricValue(r.hc, r.srv.Base, "enricher_sse_catchups_total")
	if err != nil {
		return nil, err
	}
	ents := make([]map[string]any, r.n)
	for i := range ents {
		ents[i] = map[string]any{"name": "Company " + strconv.Itoa(i), "country": "US"}
	}
	started, err := r.c.StartBatch(ctx, client.BatchRequest{Entities: ents,
		TargetSchema: json.RawMessage(benchSchema), Models: []string{"sim::fast"}})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", r.srv.Base+"/api/llm/stream/"+started.JobID, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", benchKey)
	res, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s client: %w", cl.name, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("%s client: stream %s: %s", cl.name, started.JobID, res.Status)
	}
	if cl.stall {
		if _, err := r.waitEnd(ctx, started.JobID); err != nil {
			return nil, fmt.Errorf("%s client: the job did not end while its reader was stalled: %w", cl.name, err)
		}
	}

	var got int64     // events read
	var fault string  // the first gap, duplicate or disorder
	var last sseEvent // the last event read
	readErr := readSSE(res.Body, func(ev sseEvent) {
		got++
		if fault == "" && ev.ID != got {
			fault = fmt.Sprintf("event %d has seq %d", got, ev.ID)
		}
		last = ev
		if got <= int64(cl.slowEvents) {
			time.Sleep(cl.delay)
		}
	})
	job, err := r.waitEnd(ctx, started.JobID)
	if err != nil {
		return nil, err
	}
	switch {
	case fault != "":
		return nil, fmt.Errorf("%s client: seqs out of order, missing or repeated (%s); want every seq 1..%d once, in order", cl.name, fault, job.LastSeq)
	case got != job.LastSeq || last.ID != job.LastSeq || last.Type != string(job.Status):
		return nil, fmt.Errorf("%s client: the stream ended after %d events (last seq %d, a %q event; read error: %v), short of the job's last_seq %d and its terminal %q event",
			cl.name, got, last.ID, last.Type, readErr, job.LastSeq, job.Status)
	}
	catchups1, err := metricValue(r.hc, r.srv.Base, "enricher_sse_catchups_total")
	if err != nil {
		return nil, err
	}
	if job.StartedAt == nil || job.FinishedAt == nil {
		return nil, fmt.Errorf("job %s ended without start and finish times", job.JobID)
	}
	// Server and harness share the machine's clock; the job's times are in milliseconds.
	begin, end := job.StartedAt.Time, job.FinishedAt.Time
	return Row{"client": cl.name, "peak_anon_mb": anonPeak(), "entities": r.n, "events": got, "last_seq": job.LastSeq, "catchups": catchups1 - catchups0,
		"job_s": end.Sub(begin).Seconds(), "terminal_s": last.At.Sub(begin).Seconds(),
		"after_end_s": max(0, last.At.Sub(end).Seconds()), "peak_rss_mb": procMB(r.srv.cmd.Process.Pid, "VmHWM:")}, nil
}

// sampleAnon samples a process's anonymous resident memory (the Go heap and buffers, not
// badger's mapped files) every 50 ms until the function it returns is called, which gives
// the peak seen in MB (later calls return the same).
func sampleAnon(pid int) (peak func() float64) {
	stop, done := make(chan struct{}), make(chan float64)
	go func() {
		top := 0.0
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			top = max(top, procMB(pid, "RssAnon:"))
			select {
			case <-stop:
				done <- top
				return
			case <-t.C:
			}
		}
	}()
	return sync.OnceValue(func() float64 { close(stop); return <-done })
}

// waitEnd polls a job's status until it is terminal.
func (r *slowReader) waitEnd(ctx context.Context, jobID string) (*client.Job, error) {
	for {
		job, err := r.c.Job(ctx, jobID)
		if err != nil || job.Status.Terminal() {
			return job, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// metricValue reads one sample of the server's /metrics (0 when it was never set).
func metricValue(hc *http.Client, base, sample string) (float64, error) {
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-API-Key", benchKey)
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, sc.Err()
}
