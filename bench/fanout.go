package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/entity-enricher/enricher/transport/client"
)

// runFanout measures SSE fan-out through a real server process: S subscribers spread over
// S/perJob batch jobs that emit events steadily (one sim model with a fixed latency). It
// reports events delivered per second, the server's resident memory per subscriber, the p99
// delay from an event's timestamp to its arrival, and whether one stuck subscriber per job
// (one that never reads) changes the jobs' duration.
func runFanout(args []string) error {
	var subsList string
	var perJob, entities, stuckJobs int
	var latency time.Duration
	var out string
	if err := flags("sse-fanout", args, func(fs *flag.FlagSet) {
		fs.StringVar(&subsList, "subs", "1000,10000", "subscriber counts, comma-separated")
		fs.IntVar(&perJob, "per-job", 25, "subscribers per job (≤ sse_max_subscribers)")
		fs.IntVar(&entities, "entities", 10, "entities per batch job (one at a time)")
		fs.IntVar(&stuckJobs, "stuck-jobs", 20, "jobs of the stuck-subscriber comparison")
		fs.DurationVar(&latency, "latency", time.Second, "sim latency per call")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	dir, err := tempDir()
	if err != nil {
		return err
	}
	defer removeAll(dir)
	models := filepath.Join(dir, "models.json")
	if err := os.WriteFile(models, fmt.Appendf(nil, `{"models": [{"key": "sim::steady", "sim": {"base_latency_ms": %d}}]}`, latency.Milliseconds()), 0o600); err != nil {
		return err
	}
	srv, err := startServer("ENRICHER_BOOTSTRAP_KEY="+benchKey, "ENRICHER_MODELS_FILE="+models,
		"ENRICHER_MAX_JOBS=100000", "ENRICHER_MAX_JOBS_PER_ORG=100000", "ENRICHER_PROVIDER_CONCURRENCY=10000",
		"ENRICHER_BATCH_CONCURRENCY=1", "ENRICHER_SSE_MAX_SUBSCRIBERS=64")
	if err != nil {
		return err
	}
	defer srv.stop()
	f := &fanout{c: benchClient(srv.Base, 64), srv: srv, entities: entities}
	var rows []Row
	for _, s := range strings.Split(subsList, ",") {
		subs, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-subs: %v", err)
		}
		row, err := f.subscribers(subs, perJob)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	jobs := stuckJobs
	free, err := f.durations(jobs, false)
	if err != nil {
		return err
	}
	stuck, err := f.durations(jobs, true)
	if err != nil {
		return err
	}
	fmt.Printf("limit: every subscriber gets every event; targets: 10k held, ≤ 32 KB RSS each, stuck subscribers change nothing\n")
	fmt.Printf("stuck subscribers (%d jobs): median job %.0f ms without, %.0f ms with one stuck subscriber per job (ratio %.2f)\n",
		jobs, ms(free), ms(stuck), stuck.Seconds()/free.Seconds())
	for _, r := range rows {
		r["job_ms_free"], r["job_ms_stuck"], r["stuck_ratio"] = ms(free), ms(stuck), stuck.Seconds()/free.Seconds()
	}
	return report("sse-fanout", []string{"subscribers", "jobs", "connected", "events_per_s", "rss_kb_per_sub", "p99_delay_ms", "stuck_ratio"}, rows, out)
}

type fanout struct {
	c        *client.Client
	srv      *server
	entities int
}

// startJobs starts n batch jobs and returns their ids.
func (f *fanout) startJobs(n int) ([]string, error) {
	ents := make([]map[string]any, f.entities)
	for i := range ents {
		ents[i] = map[string]any{"name": fmt.Sprintf("Company %d", i)}
	}
	ids := make([]string, n)
	for i := range ids {
		started, err := f.c.StartBatch(context.Background(), client.BatchRequest{Entities: ents,
			TargetSchema: json.RawMessage(overheadSchema), Models: []string{"sim::steady"}})
		if err != nil {
			return nil, err
		}
		ids[i] = started.JobID
	}
	return ids, nil
}

// subscribers runs subs subscribers over subs/perJob jobs.
func (f *fanout) subscribers(subs, perJob int) (Row, error) {
	jobs := (subs + perJob - 1) / perJob
	ids, err := f.startJobs(jobs)
	if err != nil {
		return nil, err
	}
	rss0 := procMB(f.srv.cmd.Process.Pid, "VmRSS:")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var delays []time.Duration
	var events, connected int
	var firstErr error
	ready := make(chan struct{})
	start := time.Now()
	for i := range subs {
		wg.Go(func() {
			c, err := subscribe(f.srv.Base, ids[i%jobs], 0)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			defer c.Close()
			mu.Lock()
			connected++
			if connected == subs {
				close(ready)
			}
			mu.Unlock()
			since := time.Now()
			var mine []time.Duration
			n := 0
			_ = readSSE(c, func(ev sseEvent) {
				n++
				var ts struct {
					Timestamp time.Time `json:"timestamp"`
				}
				if json.Unmarshal(ev.Data, &ts) == nil && ts.Timestamp.After(since) { // live, not replayed
					mine = append(mine, ev.At.Sub(ts.Timestamp))
				}
			})
			mu.Lock()
			events += n
			delays = append(delays, mine...)
			mu.Unlock()
		})
	}
	var rss1 float64
	select {
	case <-ready:
		rss1 = procMB(f.srv.cmd.Process.Pid, "VmRSS:")
	case <-time.After(2 * time.Minute):
	}
	wg.Wait()
	elapsed := time.Since(start)
	if connected < subs && firstErr != nil {
		return nil, fmt.Errorf("%d of %d subscribers connected: %v", connected, subs, firstErr)
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	return Row{"subscribers": subs, "jobs": jobs, "connected": connected, "events_per_s": float64(events) / elapsed.Seconds(),
		"rss_kb_per_sub": max(0, rss1-rss0) * 1024 / float64(subs), "p99_delay_ms": ms(percentile(delays, 99))}, nil
}

// durations runs jobs batch jobs followed by one reading subscriber each (and, with stuck,
// one subscriber each that never reads) and returns the median time from start to the
// terminal event.
func (f *fanout) durations(jobs int, stuck bool) (time.Duration, error) {
	t0 := time.Now()
	ids, err := f.startJobs(jobs)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	durs := make([]time.Duration, jobs)
	errs := make([]error, jobs)
	for i, id := range ids {
		if stuck {
			c, err := subscribe(f.srv.Base, id, 4096)
			if err != nil {
				return 0, err
			}
			defer c.Close() // held open, never read
		}
		wg.Go(func() {
			for _, err := range f.c.Stream(context.Background(), id, 0) {
				if err != nil {
					errs[i] = err
					break
				}
			}
			durs[i] = time.Since(t0)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return percentile(durs, 50), nil
}

// subscribe opens a raw connection streaming a job's events and returns its body; rcvbuf
// > 0 shrinks the socket's receive buffer and returns before reading anything (a stuck
// reader fills it sooner).
func subscribe(base, jobID string, rcvbuf int) (io.ReadCloser, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
	}
	host := strings.TrimPrefix(base, "http://")
	c, err := d.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequest("GET", base+"/api/llm/stream/"+jobID, nil)
	req.Header.Set("X-API-Key", benchKey)
	if err := req.Write(c); err != nil {
		c.Close()
		return nil, err
	}
	if rcvbuf > 0 {
		return c, nil
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(c, 4096), req)
	if err != nil {
		c.Close()
		return nil, err
	}
	if res.StatusCode != 200 {
		c.Close()
		return nil, fmt.Errorf("subscribe %s: %s", jobID, res.Status)
	}
	return struct {
		io.Reader
		io.Closer
	}{res.Body, c}, nil
}

// procMB reads a kB field of /proc/<pid>/status in MB.
func procMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}
