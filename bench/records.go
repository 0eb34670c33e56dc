package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// runRecords fills a store with n records and times GET /api/records queries at the storage
// layer (first page, a deep page, each filter, cost sort) and batch deletes.
func runRecords(args []string) error {
	var n, reps int
	var out string
	if err := flags("records", args, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "n", 1_000_000, "records in the store")
		fs.IntVar(&reps, "reps", 20, "repetitions of each query")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	db, closeDB, err := openStore(false)
	if err != nil {
		return err
	}
	defer closeDB()
	models := []string{"sim::fast", "sim::realistic", "openai::gpt-4o", "anthropic::claude-sonnet-4-5-20250514"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	var ids []string
	for i := 0; i < n; i += 1000 {
		var b storage.Batch
		for j := i; j < min(i+1000, n); j++ {
			r := &enricher.Record{OrganizationID: "org"}
			r.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", j)
			r.Type = enricher.RecordEnrichment
			if j%3 == 2 {
				r.Type = enricher.RecordFusion
			}
			m := models[j%len(models)]
			name := fmt.Sprintf("Company %d", j/3)
			r.Model, r.EntityName, r.JobID = &m, &name, fmt.Sprintf("job-%d", j/30)
			r.Success = j%7 != 0
			r.CostUSD = float64(j%1000) / 1e5
			r.ProcessingTimeMS = int64(j % 5000)
			r.CreatedAt = enricher.NewTime(t0.Add(time.Duration(j) * time.Second))
			b.Records = append(b.Records, r)
			if j%5000 == 0 {
				ids = append(ids, r.ID)
			}
		}
		if err := db.Commit(&b); err != nil {
			return err
		}
	}
	fill := time.Since(start)
	queries := []struct {
		name string
		q    enricher.RecordQuery
	}{
		{"first page", enricher.RecordQuery{Limit: 100}},
		{"page 500", enricher.RecordQuery{Limit: 100, Offset: 49_900}},
		{"type=fusion", enricher.RecordQuery{Limit: 100, Type: "fusion"}},
		{"model", enricher.RecordQuery{Limit: 100, Model: "openai::gpt-4o"}},
		{"job_id", enricher.RecordQuery{Limit: 100, JobID: "job-1234"}},
		{"success=false", enricher.RecordQuery{Limit: 100, Success: ptrBool(false)}},
		{"search", enricher.RecordQuery{Limit: 100, Search: "company 12345"}},
		{"since (last day)", enricher.RecordQuery{Limit: 100, Since: t0.Add(time.Duration(n-86400) * time.Second).UnixMilli()}},
		{"sort cost asc", enricher.RecordQuery{Limit: 100, SortBy: "cost_usd", Asc: true}},
	}
	var rows []Row
	for _, qq := range queries {
		var lat []time.Duration
		total := 0
		for range reps {
			t := time.Now()
			_, tot, err := db.Records("org", qq.q)
			if err != nil {
				return err
			}
			lat = append(lat, time.Since(t))
			total = tot
		}
		rows = append(rows, Row{"query": qq.name, "total": total, "p50_ms": ms(percentile(lat, 50)), "max_ms": ms(percentile(lat, 100))})
	}
	t := time.Now()
	deleted := 0
	for i := 0; i+100 <= len(ids); i += 100 {
		d, _, err := db.DeleteRecords("org", ids[i:i+100], false, enricher.NewTime(t0))
		if err != nil {
			return err
		}
		deleted += d
	}
	if deleted > 0 {
		rows = append(rows, Row{"query": "batch-delete (100 ids)", "total": deleted,
			"p50_ms": ms(time.Since(t)) / float64(max(1, deleted/100)), "max_ms": 0.0})
	}
	fmt.Printf("records: %d written in %s (%.0f records/s)\n", n, fill.Round(time.Millisecond), float64(n)/fill.Seconds())
	return report("records", []string{"query", "total", "p50_ms", "max_ms"}, rows, out)
}

func ptrBool(b bool) *bool { return &b }
