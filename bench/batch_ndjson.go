package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/entity-enricher/enricher/transport/client"
)

// runBatchNDJSON sends one NDJSON batch of n entities on sim::fast (zero latency) to a real
// server process over loopback, the entities generated while the body streams (the harness
// never holds them), and follows the job by polling its status until it ends: accept time
// (the POST, from the first byte to the answer), entities/s accepted and run, the server's
// peak RSS (VmHWM) while accepting the body and over the whole run.
func runBatchNDJSON(args []string) error {
	var n, window, memLimitMB int
	var out string
	var acceptOnly bool
	if err := flags("batch-1m-ndjson", args, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "entities", 1_000_000, "entities in the batch")
		fs.IntVar(&window, "window", 8, "batch_concurrency")
		fs.IntVar(&memLimitMB, "memory-limit-mb", 700, "the server's memory_limit_mb (0: none)")
		fs.StringVar(&out, "out", "bench/results", "results directory")
		fs.BoolVar(&acceptOnly, "accept-only", false, "cancel the batch once accepted (measure the upload alone)")
	}); err != nil {
		return err
	}
	srv, err := startServer("ENRICHER_BOOTSTRAP_KEY="+benchKey, "ENRICHER_BATCH_CONCURRENCY="+strconv.Itoa(window),
		"ENRICHER_MEMORY_LIMIT_MB="+strconv.Itoa(memLimitMB))
	if err != nil {
		return err
	}
	defer srv.stop()
	pid := srv.cmd.Process.Pid
	c := benchClient(srv.Base, 2)
	ctx := context.Background()
	rssIdle := procMB(pid, "VmRSS:")

	// The server's resident set is sampled while the body streams: VmHWM covers the peak.
	var sent atomic.Int64
	entities := func(yield func(any) bool) {
		for i := range n {
			if !yield(map[string]any{"name": "Company " + strconv.Itoa(i), "country": "US"}) {
				return
			}
			sent.Add(1)
		}
	}
	opts := client.BatchRequest{TargetSchema: json.RawMessage(benchSchema), Models: []string{"sim::fast"}}
	// VmHWM counts the pages of badger's mapped files too; the anonymous part (the Go heap and
	// buffers) is sampled on the side.
	var anonPeak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := int64(procMB(pid, "RssAnon:") * 1024); kb > anonPeak.Load() {
				anonPeak.Store(kb)
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	started, err := c.StartBatchEntities(ctx, opts, entities)
	close(stopSampling)
	<-sampled
	if err != nil {
		return fmt.Errorf("start after %d entities sent: %w", sent.Load(), err)
	}
	accept := time.Since(start)
	rssAccept, anonAccept := procMB(pid, "VmHWM:"), float64(anonPeak.Load())/1024
	cols := []string{"entities", "accept_s", "accepted_per_s", "run_s", "entities_per_s", "completed",
		"rss_idle_mb", "peak_rss_accept_mb", "peak_anon_accept_mb", "peak_rss_mb"}
	if acceptOnly {
		if _, err := c.Cancel(ctx, started.JobID); err != nil {
			return err
		}
		return report("batch-1m-ndjson", []string{"entities", "accept_s", "accepted_per_s", "rss_idle_mb", "peak_rss_accept_mb", "peak_anon_accept_mb"},
			[]Row{{"entities": n, "accept_s": accept.Seconds(), "accepted_per_s": float64(n) / accept.Seconds(),
				"rss_idle_mb": rssIdle, "peak_rss_accept_mb": rssAccept, "peak_anon_accept_mb": anonAccept}}, out)
	}
	if started.Total != n {
		return fmt.Errorf("the server took %d entities of %d", started.Total, n)
	}

	var job *client.Job
	for job == nil || !job.Status.Terminal() {
		if job != nil {
			time.Sleep(200 * time.Millisecond)
		}
		if job, err = c.Job(ctx, started.JobID); err != nil {
			return err
		}
	}
	wall := time.Since(start)
	run := wall - accept
	done := 0
	for _, p := range []*int{job.CompletedEntities, job.FailedEntities, job.SkippedEntities} {
		if p != nil {
			done += *p
		}
	}
	if done != n {
		return fmt.Errorf("job %s ended %s with %d of %d entities accounted for", started.JobID, job.Status, done, n)
	}
	fmt.Println("limit: peak RSS while accepting the body ≤ 300 MB; sim::fast has zero latency, so entities/s is the engine's, badger's and the event log's own cost (server and client on the same 2 cores)")
	return report("batch-1m-ndjson", cols, []Row{{
		"entities": n, "accept_s": accept.Seconds(), "accepted_per_s": float64(n) / accept.Seconds(),
		"run_s": run.Seconds(), "entities_per_s": float64(n) / run.Seconds(), "completed": *job.CompletedEntities,
		"rss_idle_mb": rssIdle, "peak_rss_accept_mb": rssAccept, "peak_anon_accept_mb": anonAccept, "peak_rss_mb": procMB(pid, "VmHWM:"),
	}}, out)
}
