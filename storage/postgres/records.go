package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
)

// recordDoc is the stored form of a record: the record's JSON, its organization, and its
// entity's _expected object (kept for the model report, never part of the record's JSON).
type recordDoc struct {
	enricher.Record
	Org      string          `json:"org"`
	Expected json.RawMessage `json:"expected,omitempty"`
}

func (d *recordDoc) record() *enricher.Record {
	r := d.Record
	r.OrganizationID, r.Expected = d.Org, d.Expected
	return &r
}

// confidenceUnits returns a confidence in ten-thousandths, clamped to 0..10000 (the precision
// the confidence filters compare at); nil stays nil.
func confidenceUnits(c *float64) *int32 {
	if c == nil {
		return nil
	}
	u := int32(math.Round(math.Max(0, math.Min(1, *c)) * 10000))
	return &u
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// encodeRecord returns the stored forms of r: its document and its summary.
func encodeRecord(r *enricher.Record) (doc, summary []byte, err error) {
	if doc, err = encode("record", &recordDoc{Record: *r, Org: r.OrganizationID, Expected: r.Expected}); err != nil {
		return nil, nil, err
	}
	sum := r.Summary()
	if summary, err = encode("record summary", &sum); err != nil {
		return nil, nil, err
	}
	return doc, summary, nil
}

// queueRecord adds the upsert of r (its columns, summary and document) and of its billed
// responses per model.
func queueRecord(b *pgx.Batch, r *enricher.Record) error {
	doc, summary, err := encodeRecord(r)
	if err != nil {
		return err
	}
	var entityIndex *int32
	if r.EntityIndex != nil {
		v := int32(*r.EntityIndex)
		entityIndex = &v
	}
	b.Queue(`INSERT INTO records (org_id, id, job_id, type, entity_id, entity_index, name_lower, model, schema_id, success,
			is_deleted, min_conf, created_ms, cost_usd, input_tokens, output_tokens, processing_ms, summary, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (org_id, id) DO UPDATE SET job_id = excluded.job_id, type = excluded.type, entity_id = excluded.entity_id,
			entity_index = excluded.entity_index, name_lower = excluded.name_lower, model = excluded.model,
			schema_id = excluded.schema_id, success = excluded.success, is_deleted = excluded.is_deleted,
			min_conf = excluded.min_conf, created_ms = excluded.created_ms, cost_usd = excluded.cost_usd,
			input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
			processing_ms = excluded.processing_ms, summary = excluded.summary, doc = excluded.doc`,
		r.OrganizationID, r.ID, r.JobID, string(r.Type), r.EntityID, entityIndex, strings.ToLower(deref(r.EntityName)),
		deref(r.Model), r.SchemaID, r.Success, r.IsDeleted, confidenceUnits(r.MinConfidence), r.CreatedAt.UnixMilli(),
		r.CostUSD, r.InputTokens, r.OutputTokens, max(r.ProcessingTimeMS, 0), summary, doc)
	b.Queue(`DELETE FROM record_costs WHERE org_id = $1 AND record_id = $2`, r.OrganizationID, r.ID)
	costs := r.CostsByModel()
	if len(costs) == 0 {
		return nil
	}
	var models []string
	var requests, in, out []int64
	var usd []float64
	for m, c := range costs {
		models = append(models, m)
		requests, usd = append(requests, int64(c.Requests)), append(usd, c.CostUSD)
		in, out = append(in, int64(c.InputTokens)), append(out, int64(c.OutputTokens))
	}
	b.Queue(`INSERT INTO record_costs (org_id, record_id, created_ms, model, requests, cost_usd, input_tokens, output_tokens)
		SELECT $1, $2, $3, * FROM unnest($4::text[], $5::bigint[], $6::float8[], $7::bigint[], $8::bigint[])`,
		r.OrganizationID, r.ID, r.CreatedAt.UnixMilli(), models, requests, usd, in, out)
	return nil
}

// Record returns record id of org.
func (db *DB) Record(org, id string) (*enricher.Record, error) {
	var d recordDoc
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &d, "record", `SELECT doc FROM records WHERE org_id = $1 AND id = $2`, org, id)
	})
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// where builds the WHERE clause of a records query: the arguments start at $1 = org.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args))))
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

func recordFilter(org string, q enricher.RecordQuery) *where {
	w := &where{}
	w.add("org_id = ?", org)
	if !q.IncludeDeleted {
		w.conds = append(w.conds, "NOT is_deleted")
	}
	for _, f := range []struct{ col, v string }{{"type", q.Type}, {"model", q.Model}, {"entity_id", q.EntityID},
		{"job_id", q.JobID}, {"schema_id", q.SchemaID}} {
		if f.v != "" {
			w.add(f.col+" = ?", f.v)
		}
	}
	if q.Success != nil {
		w.add("success = ?", *q.Success)
	}
	if q.Search != "" {
		w.add("strpos(name_lower, ?) > 0", q.Search)
	}
	if q.Since > 0 {
		w.add("created_ms >= ?", q.Since)
	}
	if q.Until > 0 {
		w.add("created_ms < ?", q.Until)
	}
	if q.MinConfidence != nil {
		w.add("min_conf >= ?", *confidenceUnits(q.MinConfidence))
	}
	if q.BelowConfidence != nil {
		w.add("min_conf < ?", *confidenceUnits(q.BelowConfidence))
	}
	return w
}

// Records returns one page of the records of org that match q, and how many match in all.
// Filters are columns with an index each (ordered by creation time); the sort orders have
// their own indexes; ties are broken by record id, in the direction of the sort.
func (db *DB) Records(org string, q enricher.RecordQuery) ([]enricher.RecordSummary, int, error) {
	out := []enricher.RecordSummary{}
	total := 0
	w := recordFilter(org, q)
	col := "created_ms"
	switch q.SortBy {
	case "cost_usd":
		col = "cost_usd"
	case "processing_time_ms":
		col = "processing_ms"
	}
	dir := "DESC"
	if q.Asc {
		dir = "ASC"
	}
	limit, offset := max(q.Limit, 0), max(q.Offset, 0)
	page := fmt.Sprintf(`SELECT summary FROM records WHERE %s ORDER BY %s %s, id %s LIMIT %d OFFSET %d`,
		w.sql(), col, dir, dir, limit, offset)
	err := db.query(func(ctx context.Context, qr querier) error {
		if err := eachDoc(ctx, qr, func(s *enricher.RecordSummary) error { out = append(out, *s); return nil }, page, w.args...); err != nil {
			return err
		}
		return qr.QueryRow(ctx, `SELECT count(*) FROM records WHERE `+w.sql(), w.args...).Scan(&total)
	})
	return out, total, err
}

// DeleteRecords soft-deletes (or, with hard, removes) records of org by id, and returns how
// many it deleted and the ids it did not find (unknown or of another organization). Deleting
// a soft-deleted record again counts as deleted. A hard-deleted record's costs leave the cost
// aggregates; a soft-deleted one's stay.
func (db *DB) DeleteRecords(org string, ids []string, hard bool, now enricher.Time) (int, []string, error) {
	return db.changeRecords(org, ids, func(ctx context.Context, tx pgx.Tx, r *enricher.Record) (bool, error) {
		if hard {
			if _, err := tx.Exec(ctx, `DELETE FROM records WHERE org_id = $1 AND id = $2`, org, r.ID); err != nil {
				return false, err
			}
			_, err := tx.Exec(ctx, `DELETE FROM record_costs WHERE org_id = $1 AND record_id = $2`, org, r.ID)
			return true, err
		}
		if r.IsDeleted {
			return true, nil
		}
		r.IsDeleted, r.DeletedAt = true, &now
		return true, rewriteRecord(ctx, tx, r)
	})
}

// RestoreRecords brings soft-deleted records back. Hard-deleted and unknown ids are not found.
func (db *DB) RestoreRecords(org string, ids []string) (int, []string, error) {
	return db.changeRecords(org, ids, func(ctx context.Context, tx pgx.Tx, r *enricher.Record) (bool, error) {
		if !r.IsDeleted {
			return true, nil
		}
		r.IsDeleted, r.DeletedAt = false, nil
		return true, rewriteRecord(ctx, tx, r)
	})
}

// rewriteRecord stores r's deletion state, summary and document.
func rewriteRecord(ctx context.Context, tx pgx.Tx, r *enricher.Record) error {
	doc, summary, err := encodeRecord(r)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE records SET is_deleted = $3, summary = $4, doc = $5 WHERE org_id = $1 AND id = $2`,
		r.OrganizationID, r.ID, r.IsDeleted, summary, doc)
	return err
}

// changeRecords applies fn to each record of org named in ids (locking its row), in one
// transaction; ids not found, or refused by fn, come back as missing.
func (db *DB) changeRecords(org string, ids []string, fn func(context.Context, pgx.Tx, *enricher.Record) (bool, error)) (int, []string, error) {
	var done int
	var missing []string
	err := db.tx(func(ctx context.Context, tx pgx.Tx) error {
		done, missing = 0, nil
		for _, id := range ids {
			var d recordDoc
			err := getDoc(ctx, tx, &d, "record", `SELECT doc FROM records WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id)
			if enricher.IsKind(err, enricher.KindNotFound) {
				missing = append(missing, id)
				continue
			}
			if err != nil {
				return err
			}
			r := d.record()
			r.OrganizationID = org
			ok, err := fn(ctx, tx, r)
			if err != nil {
				return err
			}
			if !ok {
				missing = append(missing, id)
				continue
			}
			done++
		}
		return nil
	})
	if missing == nil {
		missing = []string{}
	}
	return done, missing, err
}

// recordsWhere returns the records sql selects (its one column is the document), in order.
func (db *DB) recordsWhere(sql string, args ...any) ([]*enricher.Record, error) {
	out := []*enricher.Record{}
	err := db.query(func(ctx context.Context, q querier) error {
		return eachDoc(ctx, q, func(d *recordDoc) error { out = append(out, d.record()); return nil }, sql, args...)
	})
	return out, err
}

// RecordsOfOpenEntities returns the records of the entities of batch job that have not ended
// (recovery: an entity that was in flight reuses the runs it stored), by entity and id.
func (db *DB) RecordsOfOpenEntities(org, job string) ([]*enricher.Record, error) {
	return db.recordsWhere(`SELECT doc FROM records r WHERE org_id = $1 AND job_id = $2 AND entity_index IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM entity_ended e WHERE e.job_id = r.job_id AND e.idx = r.entity_index)
		ORDER BY entity_index, id`, org, job)
}

// RecordsOfJob returns every record written by job (recovery), in id order.
func (db *DB) RecordsOfJob(org, job string) ([]*enricher.Record, error) {
	return db.recordsWhere(`SELECT doc FROM records WHERE org_id = $1 AND job_id = $2 ORDER BY id`, org, job)
}

// recordWindow is how many records EachRecordOfJob reads per query.
const recordWindow = 512

// EachRecordOfJob calls fn with every record job wrote, in id order, reading them in windows
// of a few hundred per query (keyset paging on the id) so that memory does not grow with the
// job. fn runs outside any query. Records written while it runs may or may not be seen. fn's
// error stops the walk and is returned; fn may keep the records.
func (db *DB) EachRecordOfJob(org, job string, fn func(*enricher.Record) error) error {
	after := ""
	for {
		window, err := db.recordsWhere(`SELECT doc FROM records WHERE org_id = $1 AND job_id = $2 AND id > $3
			ORDER BY id LIMIT `+strconv.Itoa(recordWindow), org, job, after)
		if err != nil {
			return err
		}
		for _, r := range window {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(window) < recordWindow {
			return nil
		}
		after = window[len(window)-1].ID
	}
}
