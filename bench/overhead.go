package main

import (
	"flag"
	"fmt"
	"time"
)

// runOverhead measures what the server adds to one LLM call: the same number of calls made
// directly to an OpenAI-compatible fake upstream and through the server (single_pass, one
// model, POST /api/single/enrich/sync), in alternating rounds; the figure is the paired
// difference.
func runOverhead(args []string) error {
	var calls, round int
	var out string
	if err := flags("overhead", args, func(fs *flag.FlagSet) {
		fs.IntVar(&calls, "calls", 1000, "calls per path")
		fs.IntVar(&round, "round", 50, "calls per path per round")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	f, err := startFakeUpstream()
	if err != nil {
		return err
	}
	defer f.stop()
	c := benchClient(f.Srv.Base, 4)
	up := newAPI(f.URL, 4)
	throughServer := func() error { return enrichSync(c) }
	direct := map[string]any{"model": "bench", "messages": []map[string]string{{"role": "system", "content": "You fill in facts."},
		{"role": "user", "content": "Company: Acme. Answer with JSON."}}, "response_format": map[string]string{"type": "json_object"}}
	// Warm both paths (connections, caches).
	for range 20 {
		if err := up.call("POST", "/chat/completions", direct, nil); err != nil {
			return err
		}
		if err := throughServer(); err != nil {
			return fmt.Errorf("warm-up through the server: %w", err)
		}
	}
	var viaDirect, viaServer, diff []time.Duration
	for len(viaServer) < calls {
		start := len(viaDirect)
		for range round {
			t0 := time.Now()
			if err := up.call("POST", "/chat/completions", direct, nil); err != nil {
				return err
			}
			viaDirect = append(viaDirect, time.Since(t0))
		}
		for i := range round {
			t0 := time.Now()
			if err := throughServer(); err != nil {
				return fmt.Errorf("through the server: %w", err)
			}
			d := time.Since(t0)
			viaServer = append(viaServer, d)
			diff = append(diff, d-viaDirect[start+i])
		}
	}
	fmt.Println("limit: 0 added latency (the direct call); target added p50 ≤ 0.3 ms")
	return report("overhead", []string{"calls", "direct_p50_ms", "server_p50_ms", "added_p50_ms", "added_p99_ms"}, []Row{{
		"calls": len(viaServer), "direct_p50_ms": ms(percentile(viaDirect, 50)), "server_p50_ms": ms(percentile(viaServer, 50)),
		"added_p50_ms": ms(percentile(diff, 50)), "added_p99_ms": ms(percentile(diff, 99)),
	}}, out)
}
