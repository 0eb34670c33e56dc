package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

const benchKey = "ent_BenchmarkBootstrapKey0123456789abcdefgh"

// runAuth measures authenticated GET /api/schema/saved (10 saved schemas) through a real
// server process over loopback: requests/s, latency, and server CPU per request.
func runAuth(args []string) error {
	var clients int
	var dur time.Duration
	var out string
	if err := flags("auth", args, func(fs *flag.FlagSet) {
		fs.IntVar(&clients, "clients", 64, "concurrent clients")
		fs.DurationVar(&dur, "duration", 5*time.Second, "measuring time")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	srv, err := startServer("ENRICHER_BOOTSTRAP_KEY=" + benchKey)
	if err != nil {
		return err
	}
	defer srv.stop()
	client := &fasthttp.Client{MaxConnsPerHost: clients * 2}
	for i := range 10 {
		body := fmt.Sprintf(`{"name": "Schema %d", "schema_content": {"root": {"name": "Company", "type": "object",
			"properties": {"name": {"type": "string", "is_key": true}, "founded_year": {"type": "integer"}}}}}`, i)
		if code, err := do(client, "POST", srv.Base+"/api/schema/saved", body); err != nil || code != 200 {
			return fmt.Errorf("create schema: %d %v", code, err)
		}
	}
	var count, failed atomic.Int64
	lats := make([][]time.Duration, clients)
	stopAt := time.Now().Add(dur)
	cpu0, start := srv.cpu(), time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopAt) {
				t0 := time.Now()
				code, err := do(client, "GET", srv.Base+"/api/schema/saved", "")
				if err != nil || code != 200 {
					failed.Add(1)
					continue
				}
				lats[c] = append(lats[c], time.Since(t0))
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), srv.cpu()-cpu0
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	n := float64(count.Load())
	fmt.Printf("limit: loopback HTTP on 2 shared cores; the client runs on the same machine\n")
	return report("auth", []string{"clients", "requests_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_req", "failed"}, []Row{{
		"clients": clients, "requests_per_s": n / elapsed.Seconds(),
		"p50_ms": float64(percentile(all, 50).Microseconds()) / 1000, "p99_ms": float64(percentile(all, 99).Microseconds()) / 1000,
		"server_cpu_us_per_req": float64(cpu.Microseconds()) / n, "failed": failed.Load(),
	}}, out)
}

func do(c *fasthttp.Client, method, url, body string) (int, error) {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	req.Header.Set("X-API-Key", benchKey)
	if body != "" {
		req.SetBodyString(body)
	}
	err := c.Do(req, res)
	return res.StatusCode(), err
}
