package postgres

import (
	"context"

	"github.com/entity-enricher/enricher"
)

// Stats sums the live records of org created in [since, until) (unix ms; 0 = unbounded) of
// type typ ("" = all), by type and model: one GROUP BY over the creation-time index, so it is
// exact whatever other nodes commit meanwhile, at a cost that grows with the records in range.
func (db *DB) Stats(org string, typ string, since, until int64) (map[enricher.StatsKey]enricher.StatsRow, error) {
	w := rangeFilter(org, since, until)
	w.conds = append(w.conds, "NOT is_deleted")
	if typ != "" {
		w.add("type = ?", typ)
	}
	out := map[enricher.StatsKey]enricher.StatsRow{}
	err := db.query(func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, `SELECT type, model, count(*), count(*) FILTER (WHERE success), sum(cost_usd),
			sum(input_tokens), sum(output_tokens), sum(processing_ms) FROM records WHERE `+w.sql()+` GROUP BY type, model`, w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k enricher.StatsKey
			var row enricher.StatsRow
			var in, out64 int64
			if err := rows.Scan(&k.Type, &k.Model, &row.Records, &row.Successful, &row.CostUSD, &in, &out64, &row.TimeMS); err != nil {
				return err
			}
			row.InputTokens, row.OutputTokens = int(in), int(out64)
			out[k] = row
		}
		return rows.Err()
	})
	return out, err
}

// Costs sums the billed responses of org's records created in [since, until), by the model
// that answered them; soft-deleted records count, hard-deleted ones do not.
func (db *DB) Costs(org string, since, until int64) (map[string]enricher.CostRow, error) {
	w := rangeFilter(org, since, until)
	out := map[string]enricher.CostRow{}
	err := db.query(func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, `SELECT model, sum(requests), sum(cost_usd), sum(input_tokens), sum(output_tokens)
			FROM record_costs WHERE `+w.sql()+` GROUP BY model`, w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var model string
			var c enricher.CostRow
			var req, in, out64 int64
			if err := rows.Scan(&model, &req, &c.CostUSD, &in, &out64); err != nil {
				return err
			}
			c.Requests, c.InputTokens, c.OutputTokens = int(req), int(in), int(out64)
			out[model] = c
		}
		return rows.Err()
	})
	return out, err
}

// rangeFilter selects the rows of org created in [since, until) (0 = unbounded).
func rangeFilter(org string, since, until int64) *where {
	w := &where{}
	w.add("org_id = ?", org)
	if since > 0 {
		w.add("created_ms >= ?", since)
	}
	if until > 0 {
		w.add("created_ms < ?", until)
	}
	return w
}
