package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// waterfallModels are the bench's models, cheapest first, at their built-in catalog prices
// (USD per million input/output tokens): sim::fast 0.10/0.40, sim::flaky 1/4, sim::realistic
// 3/15. Their sim profiles are replaced (no latency, no faults) by null rates: the cheaper a
// model, the more fields it leaves null.
var waterfallModels = []string{"sim::fast", "sim::flaky", "sim::realistic"}

// runWaterfall runs the same batch of companies twice on the same three sim models: with the
// default strategy (every model on every entity, in parallel, then fusion) and with the
// waterfall strategy (cheapest first, each later model asked only the fields still null). It
// reports the cost and the field coverage (share of the asked leaves of the final results
// that hold a value) of both; the target is waterfall cost <= 60 % of parallel at equal or
// better coverage.
func runWaterfall(args []string) error {
	var entities int
	var nullFast, nullMid, nullTop float64
	var out string
	if err := flags("waterfall", args, func(fs *flag.FlagSet) {
		fs.IntVar(&entities, "entities", 300, "entities in the batch")
		fs.Float64Var(&nullFast, "null-fast", 0.30, "null rate of sim::fast (cheapest)")
		fs.Float64Var(&nullMid, "null-flaky", 0.15, "null rate of sim::flaky")
		fs.Float64Var(&nullTop, "null-realistic", 0.05, "null rate of sim::realistic (dearest)")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	profiles := map[string]sim.Profile{"fast": {NullRate: nullFast}, "flaky": {NullRate: nullMid}, "realistic": {NullRate: nullTop}}
	var rows []Row
	for _, strategy := range []enricher.Strategy{enricher.StrategySinglePass, enricher.StrategyWaterfall} {
		row, err := waterfallRun(strategy, entities, profiles)
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	ratio := rows[1]["cost_usd"].(float64) / rows[0]["cost_usd"].(float64)
	fmt.Printf("models %v, null rates %.2f/%.2f/%.2f; waterfall cost = %.1f %% of parallel (target <= 60 %%), coverage %.4f vs %.4f (target >=)\n",
		waterfallModels, nullFast, nullMid, nullTop, 100*ratio, rows[1]["coverage"], rows[0]["coverage"])
	rows[1]["cost_ratio"] = ratio
	rows[0]["cost_ratio"] = 1.0
	return report("waterfall", []string{"strategy", "entities", "calls", "cost_usd", "cost_ratio", "coverage",
		"null_fields", "escalated_entities", "wall_s"}, rows, out)
}

// waterfallRun runs one batch on a fresh engine and store and measures it.
func waterfallRun(strategy enricher.Strategy, entities int, profiles map[string]sim.Profile) (Row, error) {
	eng, db, stop, err := simEngine(actors.Config{BatchConcurrency: 16}, profiles, false)
	if err != nil {
		return nil, err
	}
	defer stop()
	spec := batchSpec(entities, waterfallModels...)
	spec.Strategy = strategy
	start := time.Now()
	job, err := eng.Start("bench", enricher.CreatedBy{}, spec)
	if err != nil {
		return nil, err
	}
	if err := waitJob(eng, job.ID); err != nil {
		return nil, err
	}
	wall := time.Since(start)
	recs, err := db.RecordsOfJob("bench", job.ID)
	if err != nil {
		return nil, err
	}
	schema, err := enricher.ParseSchema([]byte(benchSchema))
	if err != nil {
		return nil, err
	}
	var asked []string // every leaf but the search keys the entities hold
	for _, p := range schema.LeafPaths() {
		if p != "name" && p != "country" {
			asked = append(asked, p)
		}
	}
	var cost float64
	calls, filled, nulls, fused := 0, 0, 0, 0
	runs := map[int]int{} // model runs per entity
	for _, r := range recs {
		cost += r.CostUSD
		calls += r.PromptCount
		if r.Type != enricher.RecordFusion {
			runs[*r.EntityIndex]++
			continue
		}
		fused++
		var out map[string]any
		if err := json.Unmarshal(r.StructuredOutput, &out); err != nil {
			return nil, err
		}
		for _, p := range asked {
			if out[p] != nil {
				filled++
			} else {
				nulls++
			}
		}
	}
	if fused != entities {
		return nil, fmt.Errorf("%s: %d fused results for %d entities", strategy, fused, entities)
	}
	escalated := 0
	for _, n := range runs {
		if n > 1 && strategy == enricher.StrategyWaterfall {
			escalated++
		}
	}
	name := "parallel (single_pass)"
	if strategy == enricher.StrategyWaterfall {
		name = "waterfall"
	}
	return Row{"strategy": name, "entities": entities, "calls": calls, "cost_usd": cost,
		"coverage": float64(filled) / float64(filled+nulls), "null_fields": nulls, "escalated_entities": escalated,
		"wall_s": wall.Seconds()}, nil
}
