package main

import (
	"flag"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// runRateLimited runs a batch against a rate-limited sim account, in one of two kinds.
//
// The default (-account bucket) is the issue's: a token bucket of -rpm requests and -tpm
// tokens per minute that refills continuously and answers 429 past either, with Retry-After
// and the vendors' budget reports (or, with -quiet, with neither: the refusal alone). It runs
// three ways: with the model's rpm/tpm budgets in the engine and the adaptive limit
// (adaptive+budget), with the adaptive limit alone (adaptive), and with today's fixed
// concurrency (fixed). -minute scales time: the account's and the budgets' minute, and the
// sim's latency with it (a true time scale: every ratio is kept).
//
// -account window is the earlier account: -rpm requests per fixed -minute window, 429 with
// Retry-After to the window's end; it runs adaptive and fixed.
//
// efficiency is the requests the account admitted over the most it could admit in the wall
// time (a full bucket plus its refill: rpm × (1 + wall/minute); for windows, rpm per window
// begun); rate_429 the share of tries answered 429; rpm_achieved the admitted requests per
// (scaled) minute of wall time.
func runRateLimited(args []string) error {
	var rpm, tpm, entities, conc, window int
	var latency, minute time.Duration
	var out, account string
	var quiet bool
	if err := flags("rate-limited", args, func(fs *flag.FlagSet) {
		fs.StringVar(&account, "account", "bucket", "bucket (token bucket, refilling continuously) or window (fixed windows)")
		fs.IntVar(&rpm, "rpm", 600, "requests the account admits per minute")
		fs.IntVar(&tpm, "tpm", 200000, "tokens the account admits per minute (bucket)")
		fs.BoolVar(&quiet, "quiet", false, "bucket: 429s without Retry-After and answers without budget reports")
		fs.DurationVar(&minute, "minute", time.Minute, "the account's minute: a shorter one scales time down (latency too)")
		fs.IntVar(&entities, "entities", 2000, "entities in the batch")
		fs.DurationVar(&latency, "latency", 20*time.Millisecond, "sim latency of an admitted call, at a 60 s minute")
		fs.IntVar(&conc, "concurrency", 8, "provider_concurrency (the ceiling)")
		fs.IntVar(&window, "batch-concurrency", 32, "batch_concurrency")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	scaled := time.Duration(float64(latency) * float64(minute) / float64(time.Minute))
	prof := sim.Profile{BaseLatencyMS: int(scaled.Milliseconds()), RPM: rpm, WindowMS: int(minute.Milliseconds())}
	modes := []string{"adaptive", "fixed"}
	switch account {
	case "bucket":
		prof.TPM, prof.Refill, prof.NoRetryAfter = tpm, "continuous", quiet
		modes = []string{"adaptive+budget", "adaptive", "fixed"}
	case "window":
		tpm = 0
	default:
		return fmt.Errorf("rate-limited: -account is bucket or window, not %q", account)
	}
	var rows []Row
	for _, mode := range modes {
		row, err := rateLimitedRun(mode, prof, minute, entities, conc, window)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	fmt.Printf("account: %s, %d requests and %d tokens per %v (quiet %v); targets: efficiency >= 0.90, rate_429 <= 0.01\n",
		account, rpm, tpm, minute, quiet)
	return report("rate-limited", []string{"mode", "entities", "tries", "admitted", "refused_429", "failed_entities",
		"wall_s", "rpm_achieved", "tokens_per_call", "efficiency", "rate_429", "min_limit"}, rows, out)
}

// rateLimitedRun runs one batch on a fresh engine and store.
func rateLimitedRun(mode string, prof sim.Profile, minute time.Duration, entities, conc, window int) (Row, error) {
	calls := &outcomeCounter{}
	profiles := map[string]sim.Profile{"fast": prof, "realistic": {}, "flaky": {}}
	var budgets map[string]actors.Budget
	if mode == "adaptive+budget" {
		budgets = map[string]actors.Budget{"sim::fast": {RPM: prof.RPM, TPM: prof.TPM, Per: minute}}
	}
	db, closeDB, err := openStore(false)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	cat, err := llm.NewCatalog(llm.CatalogConfig{})
	if err != nil {
		return nil, err
	}
	eng, err := actors.New(actors.Config{BatchConcurrency: window, ProviderConcurrency: conc, ProviderFixed: mode == "fixed",
		Observer: calls}, actors.Deps{Store: db, Catalog: cat,
		Providers: map[string]actors.Provider{"sim": {Impl: sim.New(sim.Config{Profiles: profiles}), Budgets: budgets}}})
	if err != nil {
		return nil, err
	}
	defer eng.Stop()
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
	minLimit := 0
	for _, l := range eng.ProviderLimits() {
		if l.Name == "sim" {
			minLimit = l.Min
		}
	}
	minutes := wall.Seconds() / minute.Seconds()
	most := float64(prof.RPM) * (1 + minutes) // a full bucket, then its refill
	if prof.TPM == 0 && prof.Refill != "continuous" {
		most = float64(prof.RPM) * math.Ceil(minutes) // a budget per window begun
	}
	return Row{"mode": mode, "entities": entities, "tries": tries, "admitted": admitted, "refused_429": refused,
		"failed_entities": failed, "wall_s": wall.Seconds(), "rpm_achieved": float64(admitted) / minutes,
		"tokens_per_call": float64(calls.tokens.Load()) / float64(max(admitted, 1)),
		"efficiency":      float64(admitted) / most,
		"rate_429":        float64(refused) / float64(max(tries, 1)), "min_limit": minLimit}, nil
}

// outcomeCounter counts provider tries and those answered 429 through the engine's observer.
type outcomeCounter struct{ tries, refused, tokens atomic.Int64 }

func (c *outcomeCounter) LLMCall(_, _, outcome string, _ time.Duration) {
	c.tries.Add(1)
	if outcome == "rate_limited" {
		c.refused.Add(1)
	}
}
func (c *outcomeCounter) LLMUsage(_ string, in, out int, _ float64) { c.tokens.Add(int64(in + out)) }
func (c *outcomeCounter) ValidationRetry(string)                    {}
func (c *outcomeCounter) ProviderLoad(string, int, int)             {}
func (c *outcomeCounter) ProviderLimit(string, int, int)            {}
func (c *outcomeCounter) JobStarted(string)                         {}
func (c *outcomeCounter) JobFinished(string, string)                {}
func (c *outcomeCounter) StreamCatchUp()                            {}
func (c *outcomeCounter) ProviderPermits(string, int, int)          {}
