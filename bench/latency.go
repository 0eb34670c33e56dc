package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// runLatencyBound runs a batch against one sim model with a fixed latency L behind a provider
// cap C, sized to last about -duration: the physical limit is C/L calls per second, and the
// figure is the achieved rate over that limit.
func runLatencyBound(args []string) error {
	var latency, dur time.Duration
	var capacity int
	var out string
	if err := flags("latency-bound", args, func(fs *flag.FlagSet) {
		fs.DurationVar(&latency, "latency", 200*time.Millisecond, "sim latency per call (no jitter)")
		fs.IntVar(&capacity, "cap", 200, "provider concurrency cap")
		fs.DurationVar(&dur, "duration", 20*time.Second, "intended run time")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	limit := float64(capacity) / latency.Seconds()
	n := int(limit * dur.Seconds())
	profiles := map[string]sim.Profile{"fast": {BaseLatencyMS: int(latency.Milliseconds())}}
	eng, _, stop, err := simEngine(actors.Config{BatchConcurrency: 2 * capacity, ProviderConcurrency: capacity, ProviderQueue: 4 * capacity},
		profiles, false)
	if err != nil {
		return err
	}
	defer stop()
	spec := batchSpec(n, "sim::fast")
	cpu0, start := cpuTime(), time.Now()
	job, err := eng.Start("bench", enricher.CreatedBy{}, spec)
	if err != nil {
		return err
	}
	if err := waitJob(eng, job.ID); err != nil {
		return err
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	rate := float64(n) / wall.Seconds()
	fmt.Printf("limit: C/L = %d / %v = %.0f calls/s (one call per entity)\n", capacity, latency, limit)
	return report("latency-bound", []string{"latency_ms", "cap", "calls", "limit_calls_per_s", "calls_per_s", "efficiency_pct", "cpu_pct_of_2_cores"}, []Row{{
		"latency_ms": latency.Milliseconds(), "cap": capacity, "calls": n, "limit_calls_per_s": limit, "calls_per_s": rate,
		"efficiency_pct": 100 * rate / limit, "cpu_pct_of_2_cores": 100 * cpu.Seconds() / wall.Seconds() / 2,
	}}, out)
}
