package postgres

import (
	"context"
	"fmt"
	"time"
)

// purgeRows is how many rows one statement of a purge deletes, so no statement runs long
// against the Timeout however large the job.
const purgeRows = 10000

// PurgeJobs deletes up to limit jobs that finished (terminal status, with a finished time)
// before finishedBefore, oldest first, and returns how many it deleted: a caller loops while
// it returns limit. The contract is storage.DB.PurgeJobs': of each job it deletes the row
// (snapshot and spec), the events, the stored batch entities, the entity started/ended marks
// and the webhook deliveries; the job's records stay (GET /api/records?job_id= still lists
// them). A job with a delivery still pending is left for a later call. It also deletes a
// bounded number of idempotency keys whose TTL ran out (they answer as absent already).
//
// Several nodes may run it at once on one database: every delete is idempotent, a job's
// dependent rows go first, in statements of at most purgeRows rows, and its row last, so a
// job is counted by the one node whose delete removed its row, and a purge cut short is
// finished by the next call. No advisory lock is taken.
func (db *DB) PurgeJobs(finishedBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	type jobRef struct{ org, id string }
	var due []jobRef
	err := db.query(func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, `SELECT j.org_id, j.id FROM jobs j WHERE j.finished_ms < $1 AND NOT EXISTS (
			SELECT 1 FROM webhooks w WHERE w.org_id = j.org_id AND w.job_id = j.id
				AND (w.due_ms IS NOT NULL OR convert_from(w.doc, 'UTF8')::jsonb->>'status' = 'pending'))
			ORDER BY j.finished_ms, j.id LIMIT $2`, finishedBefore.UnixMilli(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r jobRef
			if err := rows.Scan(&r.org, &r.id); err != nil {
				return err
			}
			due = append(due, r)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	purged := 0
	for _, j := range due {
		for _, stmt := range []struct {
			table, where string
			args         []any
		}{
			{"events", "job_id = $1", []any{j.id}},
			{"entities", "job_id = $1", []any{j.id}},
			{"entity_started", "job_id = $1", []any{j.id}},
			{"entity_ended", "job_id = $1", []any{j.id}},
			{"webhooks", "org_id = $1 AND job_id = $2", []any{j.org, j.id}},
		} {
			if err := db.deleteChunked(stmt.table, stmt.where, stmt.args...); err != nil {
				return purged, fmt.Errorf("purge job %s: %w", j.id, err)
			}
		}
		var deleted bool
		if err := db.query(func(ctx context.Context, q querier) error {
			tag, err := q.Exec(ctx, `DELETE FROM jobs WHERE org_id = $1 AND id = $2`, j.org, j.id)
			deleted = tag.RowsAffected() == 1
			return err
		}); err != nil {
			return purged, fmt.Errorf("purge job %s: %w", j.id, err)
		}
		if deleted {
			purged++
		}
	}
	err = db.query(func(ctx context.Context, q querier) error {
		_, err := q.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid IN (
			SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT $1)`, purgeRows)
		return err
	})
	return purged, err
}

// deleteChunked deletes the rows of table matching where (with args), purgeRows at a time.
func (db *DB) deleteChunked(table, where string, args ...any) error {
	sql := fmt.Sprintf(`DELETE FROM %s WHERE ctid IN (SELECT ctid FROM %s WHERE %s LIMIT %d)`, table, table, where, purgeRows)
	for {
		var n int64
		err := db.query(func(ctx context.Context, q querier) error {
			tag, err := q.Exec(ctx, sql, args...)
			n = tag.RowsAffected()
			return err
		})
		if err != nil || n < purgeRows {
			return err
		}
	}
}
