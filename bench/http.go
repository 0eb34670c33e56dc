package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entity-enricher/enricher/transport/client"
)

// runHTTP measures whole enrichments through a real server process over loopback: POST
// /api/single/enrich/stream, the job's SSE stream to `completed`, then GET of the record the
// outcome names, by many clients at once on sim::fast.
func runHTTP(args []string) error {
	var clients int
	var dur time.Duration
	var out string
	if err := flags("http", args, func(fs *flag.FlagSet) {
		fs.IntVar(&clients, "clients", 64, "concurrent clients")
		fs.DurationVar(&dur, "duration", 10*time.Second, "measuring time")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	srv, err := startServer("ENRICHER_BOOTSTRAP_KEY="+benchKey, "ENRICHER_MAX_JOBS=100000", "ENRICHER_MAX_JOBS_PER_ORG=100000",
		"ENRICHER_PROVIDER_CONCURRENCY=256")
	if err != nil {
		return err
	}
	defer srv.stop()
	c := benchClient(srv.Base, clients*2)
	var done, failed atomic.Int64
	var firstErr atomic.Value
	lats := make([][]time.Duration, clients)
	stopAt := time.Now().Add(dur)
	cpu0, start := srv.cpu(), time.Now()
	var wg sync.WaitGroup
	for n := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(stopAt); i++ {
				t0 := time.Now()
				if err := enrichOnce(c, fmt.Sprintf("Company %d-%d", n, i)); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lats[n] = append(lats[n], time.Since(t0))
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), srv.cpu()-cpu0
	if done.Load() == 0 {
		return fmt.Errorf("no enrichment succeeded: %v", firstErr.Load())
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	n := float64(done.Load())
	fmt.Println("limit: the engine scenario's single_pass/1-model jobs/s (same work without HTTP); loopback, client on the same 2 cores")
	return report("http", []string{"clients", "enrichments_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_enrichment", "failed"}, []Row{{
		"clients": clients, "enrichments_per_s": n / elapsed.Seconds(), "p50_ms": ms(percentile(all, 50)), "p99_ms": ms(percentile(all, 99)),
		"server_cpu_us_per_enrichment": float64(cpu.Microseconds()) / n, "failed": failed.Load(),
	}}, out)
}

// enrichOnce runs one enrichment the way a streaming client does, through the Go client:
// start, follow the stream to its terminal event, read the record the outcome names.
func enrichOnce(c *client.Client, name string) error {
	ctx := context.Background()
	started, err := c.EnrichStream(ctx, client.EnrichRequest{EntityData: map[string]any{"name": name, "country": "US"},
		TargetSchema: json.RawMessage(benchSchema), Models: []string{"sim::fast"}})
	if err != nil {
		return err
	}
	var last client.Event
	for ev, err := range c.Stream(ctx, started.JobID, 0) {
		if err != nil {
			return err
		}
		last = ev
	}
	var outcome struct {
		Result struct {
			RecordID string `json:"record_id"`
		} `json:"result"`
	}
	if err := last.Decode(&outcome); err != nil || last.Type != "completed" || outcome.Result.RecordID == "" {
		return fmt.Errorf("job %s ended %q without a record (%v)", started.JobID, last.Type, err)
	}
	_, err = c.GetRecord(ctx, outcome.Result.RecordID)
	return err
}
