package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
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
	var out string
	if err := flags("engine", args, func(fs *flag.FlagSet) {
		fs.IntVar(&jobs, "jobs", 2000, "jobs per configuration")
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
		row, err := engineRun(c.strategy, c.models, jobs, conc, false)
		if err != nil {
			return err
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
// with syncWrites).
func engineRun(strategy enricher.Strategy, models []string, n, conc int, syncWrites bool) (Row, error) {
	db, closeDB, err := openStore(syncWrites)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	cat, err := llm.NewCatalog(llm.CatalogConfig{})
	if err != nil {
		return nil, err
	}
	eng, err := actors.New(actors.Config{MaxJobs: conc * 2, MaxJobsPerOrg: conc * 2, ProviderConcurrency: 64},
		actors.Deps{Store: db, Catalog: cat, Providers: map[string]actors.Provider{"sim": {Impl: sim.New(sim.Config{Profiles: zeroLatency()})}}})
	if err != nil {
		return nil, err
	}
	defer eng.Stop()

	var mu sync.Mutex
	var lat, startLat []time.Duration
	var events, bytes, calls, records int64
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var firstErr error
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, start := cpuTime(), time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
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
			j, _ := db.Job("bench", job.ID)
			recs, _ := db.RecordsOfJob("bench", job.ID)
			c := 0
			for _, r := range recs {
				for _, p := range r.Prompts {
					c += p.Attempts
				}
			}
			mu.Lock()
			lat = append(lat, time.Since(t0))
			startLat = append(startLat, started)
			records += int64(len(recs))
			events += j.LastSeq
			bytes += j.EventBytes
			calls += int64(c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	runtime.ReadMemStats(&ms1)
	if firstErr != nil {
		return nil, firstErr
	}
	return Row{
		"strategy": string(strategy), "models": len(models),
		"jobs_per_s":        float64(n) / elapsed.Seconds(),
		"calls_per_s":       float64(calls) / elapsed.Seconds(),
		"cpu_us_per_call":   float64(cpu.Microseconds()) / float64(calls),
		"allocs_per_call":   float64(ms1.Mallocs-ms0.Mallocs) / float64(calls),
		"p50_ms":            float64(percentile(lat, 50).Microseconds()) / 1000,
		"p99_ms":            float64(percentile(lat, 99).Microseconds()) / 1000,
		"events_per_job":    float64(events) / float64(n),
		"log_bytes_per_job": float64(bytes) / float64(n),
		"records_per_s":     float64(records) / elapsed.Seconds(),
		"start_p50_ms":      ms(percentile(startLat, 50)),
		"start_p99_ms":      ms(percentile(startLat, 99)),
	}, nil
}

// waitJob follows a job's stream until its terminal event.
func waitJob(eng *actors.Engine, id string) error {
	s, err := eng.Subscribe("bench", id)
	if err != nil {
		return err
	}
	defer s.Close()
	for live := s.Live(); live != nil; {
		if _, ok := <-live; !ok {
			break
		}
	}
	j, err := eng.Job("bench", id)
	if err != nil {
		return err
	}
	if !j.Status.Terminal() { // dropped subscriber: wait again
		return waitJob(eng, id)
	}
	if j.Status != enricher.JobCompleted {
		return fmt.Errorf("job %s ended %s", id, j.Status)
	}
	return nil
}
