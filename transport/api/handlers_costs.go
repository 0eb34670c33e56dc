package api

import (
	"math"
	"sort"
	"time"

	"github.com/entity-enricher/enricher"
)

type modelStats struct {
	Records      int     `json:"records"`
	Successful   int     `json:"successful"`
	CostUSD      float64 `json:"cost_usd"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
}

func handleRecordStats(c *call) error {
	args := c.ctx.QueryArgs()
	typ := string(args.Peek("type"))
	switch enricher.RecordType(typ) {
	case "", enricher.RecordEnrichment, enricher.RecordFusion, enricher.RecordSchemaGeneration, enricher.RecordSchemaEdit:
	default:
		return enricher.Errorf(enricher.KindInvalid, "type: unknown value %q", typ)
	}
	since, err := parseTime(args, "since")
	if err != nil {
		return err
	}
	until, err := parseTime(args, "until")
	if err != nil {
		return err
	}
	rows, err := c.s.deps.Records.Stats(c.p.org.ID, typ, since, until)
	if err != nil {
		return err
	}
	var total enricher.StatsRow
	byType := map[string]int{}
	byModel := map[string]*modelStats{}
	for k, r := range rows {
		if r.Records == 0 {
			continue
		}
		total.Add(r, 1)
		byType[string(k.Type)] += r.Records
		if k.Model == "" {
			continue
		}
		m := byModel[k.Model]
		if m == nil {
			m = &modelStats{}
			byModel[k.Model] = m
		}
		m.Records += r.Records
		m.Successful += r.Successful
		m.CostUSD += r.CostUSD
		m.InputTokens += r.InputTokens
		m.OutputTokens += r.OutputTokens
	}
	avg := int64(0) // *_ms values are integers
	if total.Records > 0 {
		avg = int64(math.Round(float64(total.TimeMS) / float64(total.Records)))
	}
	return c.ok(map[string]any{
		"total_records": total.Records, "successful_records": total.Successful, "failed_records": total.Records - total.Successful,
		"total_cost_usd": total.CostUSD, "total_input_tokens": total.InputTokens, "total_output_tokens": total.OutputTokens,
		"avg_processing_time_ms": avg, "by_type": byType, "by_model": byModel,
	})
}

// costRange reads start_date (inclusive, default 30 days ago) and end_date (exclusive,
// default now).
func (c *call) costRange() (time.Time, time.Time, error) {
	args := c.ctx.QueryArgs()
	now := c.s.now()
	start, end := now.AddDate(0, 0, -30), now
	if ms, err := parseTime(args, "start_date"); err != nil {
		return start, end, err
	} else if ms != 0 {
		start = time.UnixMilli(ms).UTC()
	}
	if ms, err := parseTime(args, "end_date"); err != nil {
		return start, end, err
	} else if ms != 0 {
		end = time.UnixMilli(ms).UTC()
	}
	if start.After(end) {
		return start, end, enricher.Errorf(enricher.KindInvalid, "start_date is after end_date")
	}
	return start, end, nil
}

type modelCost struct {
	Model             string  `json:"model"`
	DisplayName       string  `json:"display_name"`
	TotalCost         float64 `json:"total_cost"`
	TotalRequests     int     `json:"total_requests"`
	TotalInputTokens  int     `json:"total_input_tokens"`
	TotalOutputTokens int     `json:"total_output_tokens"`
}

// modelCosts returns the range's costs by model, highest cost first (ties by name).
func (c *call) modelCosts(start, end time.Time) ([]modelCost, error) {
	rows, err := c.s.deps.Records.Costs(c.p.org.ID, start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, m := range c.s.deps.Models.Models() {
		names[m.Key] = m.DisplayName
	}
	out := []modelCost{}
	for model, r := range rows {
		if r.Requests == 0 && r.CostUSD == 0 {
			continue
		}
		name := names[model]
		if name == "" {
			name = model
		}
		out = append(out, modelCost{Model: model, DisplayName: name, TotalCost: r.CostUSD, TotalRequests: r.Requests,
			TotalInputTokens: r.InputTokens, TotalOutputTokens: r.OutputTokens})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TotalCost != out[j].TotalCost {
			return out[i].TotalCost > out[j].TotalCost
		}
		return out[i].Model < out[j].Model
	})
	return out, nil
}

func handleCostsByModel(c *call) error {
	start, end, err := c.costRange()
	if err != nil {
		return err
	}
	models, err := c.modelCosts(start, end)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"start_date": enricher.NewTime(start), "end_date": enricher.NewTime(end), "models": models})
}

func handleCostSummary(c *call) error {
	start, end, err := c.costRange()
	if err != nil {
		return err
	}
	models, err := c.modelCosts(start, end)
	if err != nil {
		return err
	}
	var cost float64
	var requests, in, out int
	var mostUsed, mostExpensive *string
	bestUse, bestCost := -1, -1.0
	for i := range models {
		m := &models[i]
		cost += m.TotalCost
		requests += m.TotalRequests
		in += m.TotalInputTokens
		out += m.TotalOutputTokens
		if m.TotalRequests > bestUse || (m.TotalRequests == bestUse && m.Model < *mostUsed) {
			bestUse, mostUsed = m.TotalRequests, &m.Model
		}
		if m.TotalCost > bestCost || (m.TotalCost == bestCost && m.Model < *mostExpensive) {
			bestCost, mostExpensive = m.TotalCost, &m.Model
		}
	}
	avg := 0.0
	if requests > 0 {
		avg = cost / float64(requests)
	}
	return c.ok(map[string]any{
		"start_date": enricher.NewTime(start), "end_date": enricher.NewTime(end), "total_cost": cost,
		"total_requests": requests, "total_input_tokens": in, "total_output_tokens": out,
		"avg_cost_per_request": avg, "most_used_model": mostUsed, "most_expensive_model": mostExpensive,
	})
}
