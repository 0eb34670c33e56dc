package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

const benchSchema = `{"root": {"name": "Company", "description": "A business", "type": "object", "properties": {
	"name": {"type": "string", "is_key": true, "expertise": "profile"},
	"country": {"type": "string", "is_key": true, "expertise": "profile"},
	"founded_year": {"type": "integer", "expertise": "profile"},
	"description": {"type": "string", "expertise": "profile"},
	"ceo": {"type": "string", "expertise": "people"},
	"employees": {"type": "integer", "expertise": "people"},
	"revenue_usd": {"type": "number", "expertise": "financial"},
	"is_listed": {"type": "boolean", "expertise": "financial"},
	"ticker": {"type": "string", "expertise": "market"},
	"competitors": {"type": "array", "items": {"type": "string"}, "expertise": "market"}}},
	"expertise_domains": {"profile": {"name": "Profile", "description": "Identity"}, "people": {"name": "People", "description": "Leaders"},
	"financial": {"name": "Financial", "description": "Money"}, "market": {"name": "Market", "description": "Markets"}}}`

// runEngine starts jobs through the engine facade with sim::fast (no latency) on an on-disk
// store and reports jobs/s, LLM calls/s, CPU per call, events and event-log bytes per job.
func runEngine(args []string) error {
	var jobs, conc int
	var out, only string
	if err := flags("engine", args, func(fs *flag.FlagSet) {
		fs.IntVar(&jobs, "jobs", 2000, "jobs per configuration")
		fs.StringVar(&only, "only", "", "run one configuration, strategy/models (e.g. multi_expertise/1)")
		fs.IntVar(&conc, "concurrency", 64, "jobs in flight")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	var rows []Row
	for _, c := range []struct {
		strategy enricher.Strategy
		models   []string
	}{
		{enricher.StrategySinglePass, []string{"sim::fast"}},
		{enricher.StrategySinglePass, []string{"sim::fast", "sim::realistic", "sim::flaky"}},
		{enricher.StrategyMultiExpertise, []string{"sim::fast"}},
		{enricher.StrategyMultiExpertise, []string{"sim::fast", "sim::realistic", "sim::flaky"}},
	} {
		if only != "" && only != fmt.Sprintf("%s/%d", c.strategy, len(c.models)) {
			continue
		}
		disk := c.strategy == enricher.StrategySinglePass && len(c.models) == 1
		row, err := engineRun(c.strategy, c.models, jobs, conc, false, disk)
		if err != nil {
			return err
		}
		if disk {
			fmt.Printf("disk (%s/1, %d enrichments, allocated bytes net of an empty store): %.0f B per enrichment before value-log GC, %.0f B after (%.0f B apparent); after GC vlog %.0f B, sst %.0f B, other %.0f B; GC rounds that freed space: %.0f; live entries %.0f B per enrichment (by key family: %s); after a forced full compaction and GC %.0f B per enrichment (vlog %.0f B)\n",
				c.strategy, jobs, row["disk_bytes_per_enrichment_pre_gc"], row["disk_bytes_per_enrichment"], row["disk_apparent_bytes_per_enrichment"],
				row["disk_vlog_bytes"], row["disk_sst_bytes"], row["disk_other_bytes"], row["disk_gc_rounds_that_freed_space"],
				row["disk_live_bytes_per_enrichment"], row["disk_live_by_family"], row["disk_bytes_per_enrichment_forced_gc"], row["disk_vlog_bytes_forced_gc"])
		}
		rows = append(rows, row)
	}
	fmt.Println("limit: a 0-latency simulator; figures are the engine's own cost (2 cores)")
	return report("engine", []string{"strategy", "models", "jobs_per_s", "calls_per_s", "cpu_us_per_call",
		"allocs_per_call", "p50_ms", "p99_ms", "events_per_job", "log_bytes_per_job"}, rows, out)
}

// zeroLatency makes every sim model answer at once, keeping the model names.
func zeroLatency() map[string]sim.Profile {
	return map[string]sim.Profile{"fast": {}, "realistic": {}, "flaky": {}}
}

// engineRun runs n jobs, conc at a time, on a fresh on-disk store (fsync on every commit
// with syncWrites). With disk (single-model jobs), the row also holds the store's bytes on
// disk per enrichment before and after value-log GC (diskFigures).
func engineRun(strategy enricher.Strategy, models []string, n, conc int, syncWrites, disk bool) (Row, error) {
	calls := &callCounter{}
	// The provider's admission bound is sized to the jobs in flight (up to 4 domains × 3 models
	// plus classification and arbitration each): this measures the engine's cost, not admission.
	cfg := actors.Config{MaxJobs: conc * 2, MaxJobsPerOrg: conc * 2, ProviderConcurrency: 64,
		ProviderQueue: conc * 2 * 16, Observer: calls}
	var eng *actors.Engine
	var db *storage.DB
	var dir string
	var stop func()
	var err error
	if disk {
		eng, db, dir, stop, err = diskEngine(cfg, syncWrites)
		if err == nil {
			defer removeAll(dir)
		}
	} else {
		eng, db, stop, err = simEngine(cfg, zeroLatency(), syncWrites)
	}
	if err != nil {
		return nil, err
	}
	defer stop()

	// Events, log bytes and records per job are read back for the first jobs only, so the
	// harness's own reads stay out of the CPU and allocation figures.
	const sampled = 50
	var mu sync.Mutex
	var lat, startLat []time.Duration
	var events, bytes, records, sampledJobs int64
	var firstErr error
	job := func(i int) {
		t0 := time.Now()
		spec := &enricher.EnrichSpec{EntityData: map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"},
			SchemaContent: []byte(benchSchema), Models: models, Languages: []string{"en"}, Strategy: strategy, OnMismatch: "pause"}
		job, err := eng.Start("bench", enricher.CreatedBy{}, spec)
		started := time.Since(t0)
		if err == nil {
			err = waitJob(eng, job.ID)
		}
		if err != nil {
			mu.Lock()
			firstErr = err
			mu.Unlock()
			return
		}
		done := time.Since(t0)
		mu.Lock()
		defer mu.Unlock()
		lat = append(lat, done)
		startLat = append(startLat, started)
		if i < sampled {
			j, _ := db.Job("bench", job.ID)
			recs, _ := db.RecordsOfJob("bench", job.ID)
			events += j.LastSeq
			bytes += j.EventBytes
			records += int64(len(recs))
			sampledJobs++
		}
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, start := cpuTime(), time.Now()
	// conc clients start jobs one after the other, each on its own goroutine, as a server's
	// request workers do: a new goroutine per job would add the growth of each new stack in
	// the engine's first calls, a cost of the harness that no server pays.
	var wg sync.WaitGroup
	var next atomic.Int64
	for range conc {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				job(i)
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	runtime.ReadMemStats(&ms1)
	if firstErr != nil {
		return nil, firstErr
	}
	nCalls := float64(calls.n.Load())
	perJob := func(v int64) float64 { return float64(v) / float64(max(sampledJobs, 1)) }
	row := Row{
		"strategy": string(strategy), "models": len(models),
		"jobs_per_s":        float64(n) / elapsed.Seconds(),
		"calls_per_s":       nCalls / elapsed.Seconds(),
		"cpu_us_per_call":   float64(cpu.Microseconds()) / nCalls,
		"allocs_per_call":   float64(ms1.Mallocs-ms0.Mallocs) / nCalls,
		"p50_ms":            float64(percentile(lat, 50).Microseconds()) / 1000,
		"p99_ms":            float64(percentile(lat, 99).Microseconds()) / 1000,
		"events_per_job":    perJob(events),
		"log_bytes_per_job": perJob(bytes),
		"records_per_s":     perJob(records) * float64(n) / elapsed.Seconds(),
		"start_p50_ms":      ms(percentile(startLat, 50)),
		"start_p99_ms":      ms(percentile(startLat, 99)),
	}
	if disk {
		figs, err := diskFigures(dir, n, stop)
		if err != nil {
			return nil, err
		}
		maps.Copy(row, figs)
	}
	return row, nil
}

// simEngine starts the engine with the sim provider (profiles) on a fresh on-disk store
// (fsync per commit with syncWrites); stop stops the engine and removes the store.
func simEngine(cfg actors.Config, profiles map[string]sim.Profile, syncWrites bool) (eng *actors.Engine, db *storage.DB, stop func(), err error) {
	db, closeDB, err := openStore(syncWrites)
	if err != nil {
		return nil, nil, nil, err
	}
	if eng, err = simEngineOn(db, cfg, profiles); err != nil {
		closeDB()
		return nil, nil, nil, err
	}
	return eng, db, func() { eng.Stop(); closeDB() }, nil
}

// simEngineOn starts the engine with the sim provider (profiles) on db, which the caller
// keeps owning (it closes db after stopping the engine).
func simEngineOn(db *storage.DB, cfg actors.Config, profiles map[string]sim.Profile) (*actors.Engine, error) {
	cat, err := llm.NewCatalog(llm.CatalogConfig{})
	if err != nil {
		return nil, err
	}
	return actors.New(cfg, actors.Deps{Store: db, Catalog: cat,
		Providers: map[string]actors.Provider{"sim": {Impl: sim.New(sim.Config{Profiles: profiles})}}})
}

// batchSpec is a single_pass batch of n companies on models.
func batchSpec(n int, models ...string) *enricher.EnrichSpec {
	spec := &enricher.EnrichSpec{SchemaContent: []byte(benchSchema), Models: models,
		Languages: []string{"en"}, Strategy: enricher.StrategySinglePass, OnMismatch: enricher.MismatchSkip}
	for i := range n {
		spec.Entities = append(spec.Entities, map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"})
	}
	return spec
}

// waitJob follows a job's stream until its terminal event.
func waitJob(eng *actors.Engine, id string) error {
	s, err := eng.Subscribe("bench", id, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		if _, _, err := s.Next(context.Background(), time.Minute); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
	}
	j, err := eng.Job("bench", id)
	if err != nil {
		return err
	}
	if j.Status != enricher.JobCompleted {
		return fmt.Errorf("job %s ended %s", id, j.Status)
	}
	return nil
}

// callCounter counts LLM calls (provider tries) through the engine's observer hook.
type callCounter struct{ n atomic.Int64 }

func (c *callCounter) LLMCall(string, string, string, time.Duration) { c.n.Add(1) }
func (c *callCounter) LLMUsage(string, int, int, float64)            {}
func (c *callCounter) ValidationRetry(string)                        {}
func (c *callCounter) ProviderLoad(string, int, int)                 {}
func (c *callCounter) ProviderLimit(string, int, int)                {}
func (c *callCounter) JobStarted(string)                             {}
func (c *callCounter) JobFinished(string, string)                    {}
func (c *callCounter) StreamCatchUp()                                {}
func (c *callCounter) ProviderPermits(string, int, int)              {}
