package main

import (
	"bytes"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// runBigBodies measures the server process's resident memory around a burst of large request
// bodies that are all refused (400): before, at its peak (sampled every 50 ms), and after a
// quiet spell. Memory should return near its idle level instead of staying at the peak.
func runBigBodies(args []string) error {
	var clients, rounds, mb int
	var settle time.Duration
	var out string
	if err := flags("big-bodies", args, func(fs *flag.FlagSet) {
		fs.IntVar(&clients, "clients", 16, "parallel requests")
		fs.IntVar(&rounds, "rounds", 3, "bursts of one request per client")
		fs.IntVar(&mb, "mb", 8, "body size in MB (kept under the 8 MiB max_body_bytes)")
		fs.DurationVar(&settle, "settle", 30*time.Second, "quiet time before the last sample")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	srv, err := startServer("ENRICHER_BOOTSTRAP_KEY=" + benchKey)
	if err != nil {
		return err
	}
	defer srv.stop()
	pid := srv.cmd.Process.Pid
	// An entity far above max_entity_bytes: parsed in full, then refused with 400.
	size := min(mb<<20, 8<<20-4096)
	body := []byte(`{"models": ["sim::fast"], "entity_data": {"name": "` +
		string(bytes.Repeat([]byte("x"), size-128)) + `"}, "target_schema": {"root": {"name": "A", "type": "object",
		"properties": {"name": {"type": "string", "is_key": true}}}}}`)
	time.Sleep(time.Second)
	idle := procMB(pid, "VmRSS:")

	var peak float64
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, procMB(pid, "VmRSS:"))
			select {
			case <-sampling:
				return
			case <-t.C:
			}
		}
	}()
	client := &fasthttp.Client{MaxConnsPerHost: clients, MaxResponseBodySize: 1 << 20}
	statuses := map[int]int{}
	var mu sync.Mutex
	for range rounds {
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, err := do(client, "POST", srv.Base+"/api/single/enrich/stream", string(body))
				if err != nil {
					code = -1
				}
				mu.Lock()
				statuses[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	close(sampling)
	<-sampled
	after := procMB(pid, "VmRSS:")
	time.Sleep(settle)
	settled := procMB(pid, "VmRSS:")
	if statuses[400] != clients*rounds {
		return fmt.Errorf("expected %d answers of 400, got %v", clients*rounds, statuses)
	}
	fmt.Printf("limit: memory after a burst should come back near the idle level within %s\n", settle)
	return report("big-bodies", []string{"clients", "rounds", "body_mb", "rss_idle_mb", "rss_peak_mb", "rss_end_of_burst_mb", "rss_settled_mb", "settle_s"}, []Row{{
		"clients": clients, "rounds": rounds, "body_mb": float64(size) / (1 << 20), "rss_idle_mb": idle, "rss_peak_mb": peak,
		"rss_end_of_burst_mb": after, "rss_settled_mb": settled, "settle_s": settle.Seconds(),
	}}, out)
}
