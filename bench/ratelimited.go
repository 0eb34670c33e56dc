package main

import (
	"flag"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// runRateLimited runs a batch against a rate-limited sim account (a budget of -rpm requests
// per fixed -window, 429 with Retry-After past it) twice: with the adaptive limit of calls in
// flight and with fixed concurrency (provider_adaptive=false). efficiency is the requests the
// account admitted per window over its budget; rate_429 the share of tries answered 429. The
// window may be scaled down (the full-size run is 600 per 60 s); the budget per window is
// what shapes the bursts, so it keeps its size.
func runRateLimited(args []string) error {
	var rpm, entities, conc, window int
	var latency, win time.Duration
	var out string
	if err := flags("rate-limited", args, func(fs *flag.FlagSet) {
		fs.IntVar(&rpm, "rpm", 600, "requests the account admits per window")
		fs.DurationVar(&win, "window", 60*time.Second, "the account's window (60s: requests per minute)")
		fs.IntVar(&entities, "entities", 2000, "entities in the batch")
		fs.DurationVar(&latency, "latency", 20*time.Millisecond, "sim latency of an admitted call")
		fs.IntVar(&conc, "concurrency", 8, "provider_concurrency (the ceiling)")
		fs.IntVar(&window, "batch-concurrency", 32, "batch_concurrency")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	var rows []Row
	for _, adaptive := range []bool{true, false} {
		row, err := rateLimitedRun(adaptive, rpm, win, entities, latency, conc, window)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	fmt.Printf("account: %d requests per %v; targets: efficiency >= 0.90, rate_429 <= 0.01\n", rpm, win)
	return report("rate-limited", []string{"mode", "entities", "tries", "admitted", "refused_429", "failed_entities",
		"wall_s", "efficiency", "rate_429", "min_limit"}, rows, out)
}

// rateLimitedRun runs one batch on a fresh engine and store.
func rateLimitedRun(adaptive bool, rpm int, win time.Duration, entities int, latency time.Duration, conc, window int) (Row, error) {
	calls := &outcomeCounter{}
	profiles := map[string]sim.Profile{"fast": {BaseLatencyMS: int(latency.Milliseconds()), RPM: rpm, WindowMS: int(win.Milliseconds())},
		"realistic": {}, "flaky": {}}
	eng, db, stop, err := simEngine(actors.Config{BatchConcurrency: window, ProviderConcurrency: conc, ProviderFixed: !adaptive,
		Observer: calls}, profiles, false)
	if err != nil {
		return nil, err
	}
	defer stop()
	start := time.Now()
	job, err := eng.Start("bench", enricher.CreatedBy{}, batchSpec(entities, "sim::fast"))
	if err != nil {
		return nil, err
	}
	if err := waitJob(eng, job.ID); err != nil {
		return nil, err
	}
	wall := time.Since(start)
	failed := 0
	recs, err := db.RecordsOfJob("bench", job.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if !r.Success {
			failed++
		}
	}
	tries, refused := calls.tries.Load(), calls.refused.Load()
	admitted := tries - refused
	mode := "fixed"
	if adaptive {
		mode = "adaptive"
	}
	minLimit := 0
	for _, l := range eng.ProviderLimits() {
		if l.Name == "sim" {
			minLimit = l.Min
		}
	}
	return Row{"mode": mode, "entities": entities, "tries": tries, "admitted": admitted, "refused_429": refused,
		"failed_entities": failed, "wall_s": wall.Seconds(),
		"efficiency": float64(admitted) / (wall.Seconds() / win.Seconds() * float64(rpm)),
		"rate_429":   float64(refused) / float64(max(tries, 1)), "min_limit": minLimit}, nil
}

// outcomeCounter counts provider tries and those answered 429 through the engine's observer.
type outcomeCounter struct{ tries, refused atomic.Int64 }

func (c *outcomeCounter) LLMCall(_, _, outcome string, _ time.Duration) {
	c.tries.Add(1)
	if outcome == "rate_limited" {
		c.refused.Add(1)
	}
}
func (c *outcomeCounter) LLMUsage(string, int, int, float64) {}
func (c *outcomeCounter) ValidationRetry(string)             {}
func (c *outcomeCounter) ProviderLoad(string, int, int)      {}
func (c *outcomeCounter) ProviderLimit(string, int, int)     {}
func (c *outcomeCounter) JobStarted(string)                  {}
func (c *outcomeCounter) JobFinished(string, string)         {}
func (c *outcomeCounter) StreamCatchUp()                     {}
