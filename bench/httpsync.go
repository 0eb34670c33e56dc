package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runHTTPSync measures sync enrichments through a real server process: POST
// /api/single/enrich/sync with one OpenAI-protocol model against a fake upstream that answers
// at once, by C concurrent clients for a duration, for each C in -clients. Figures per C:
// requests/s, p50/p99 and the server process's CPU (utime+stime from /proc) per request over
// the measured window.
func runHTTPSync(args []string) error {
	var clientList, out string
	var dur time.Duration
	if err := flags("http-sync", args, func(fs *flag.FlagSet) {
		fs.StringVar(&clientList, "clients", "1,32", "concurrent clients, one row per comma-separated value")
		fs.DurationVar(&dur, "duration", 5*time.Second, "measuring time per row")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	var counts []int
	for _, s := range strings.Split(clientList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-clients: %q is not a positive number", s)
		}
		counts = append(counts, n)
	}
	// Admission is raised above the clients in flight: this measures the cost of a request,
	// not the per-organization job cap (20 by default).
	f, err := startFakeUpstream("ENRICHER_MAX_JOBS=100000", "ENRICHER_MAX_JOBS_PER_ORG=100000", "ENRICHER_PROVIDER_CONCURRENCY=256")
	if err != nil {
		return err
	}
	defer f.stop()
	var rows []Row
	for _, clients := range counts {
		row, err := httpSyncRow(f.Srv, clients, dur)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	fmt.Println("limit: target ≤ 400 µs server CPU per request at 32 clients; loopback, client and upstream on the same 2 cores")
	return report("http-sync", []string{"clients", "requests_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_req", "failed"}, rows, out)
}

// httpSyncRow warms the connections of clients clients, then lets each send sync
// enrichments back to back for dur.
func httpSyncRow(srv *server, clients int, dur time.Duration) (Row, error) {
	c := benchClient(srv.Base, clients*2)
	var warm sync.WaitGroup
	var warmErr atomic.Value
	for range clients {
		warm.Go(func() {
			for range 5 {
				if err := enrichSync(c); err != nil {
					warmErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	warm.Wait()
	if err, ok := warmErr.Load().(error); ok {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	var done, failed atomic.Int64
	var firstErr atomic.Value
	lats := make([][]time.Duration, clients)
	stopAt := time.Now().Add(dur)
	cpu0, start := srv.cpu(), time.Now()
	var wg sync.WaitGroup
	for n := range clients {
		wg.Go(func() {
			for time.Now().Before(stopAt) {
				t0 := time.Now()
				if err := enrichSync(c); err != nil {
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
		return nil, fmt.Errorf("no sync enrichment succeeded at %d clients: %v", clients, firstErr.Load())
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	n := float64(done.Load())
	return Row{"clients": clients, "requests_per_s": n / elapsed.Seconds(), "p50_ms": ms(percentile(all, 50)),
		"p99_ms": ms(percentile(all, 99)), "server_cpu_us_per_req": float64(cpu.Microseconds()) / n, "failed": failed.Load()}, nil
}
