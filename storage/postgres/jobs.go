package postgres

import (
	"context"
	"fmt"

	gojson "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// queueJob adds the upsert of j's snapshot (without its spec, which CreateJob stores once).
func queueJob(b *pgx.Batch, j *enricher.Job) error {
	snap := *j
	snap.Spec = nil
	doc, err := encode("job", &snap)
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO jobs (org_id, id, created_ms, active, doc, finished_ms) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id, id) DO UPDATE SET created_ms = excluded.created_ms, active = excluded.active, doc = excluded.doc,
			finished_ms = excluded.finished_ms`,
		j.OrganizationID, j.ID, j.CreatedAt.UnixMilli(), !j.Status.Terminal(), doc, finishedMS(j))
	return nil
}

// finishedMS returns when j finished (unix ms) once it is terminal, else nil: the jobs'
// finished_ms column, which PurgeJobs selects on.
func finishedMS(j *enricher.Job) *int64 {
	if !j.Status.Terminal() || j.FinishedAt == nil {
		return nil
	}
	ms := j.FinishedAt.UnixMilli()
	return &ms
}

// CreateJob stores a new job (pending). Its id is returned to the client only after this.
// With bind, the job's Idempotency-Key is remembered in the same transaction, so a stored job
// is never without its key nor a key without its job. A key already bound (and not expired)
// is KindConflict, also when another node bound it a moment before. With cluster-wide caps
// (Config.MaxJobs, MaxJobsPerOrg) a job past them is KindTooMany.
func (db *DB) CreateJob(j *enricher.Job, bind *enricher.IdempotencyBinding) error {
	var start []byte
	if bind != nil {
		s, err := bind.Start(j.ID)
		if err != nil {
			return err
		}
		if start, err = encode("idempotent start", s); err != nil {
			return err
		}
	}
	snap := *j
	snap.Spec = nil
	doc, err := encode("job", &snap)
	if err != nil {
		return err
	}
	return db.tx(func(ctx context.Context, tx pgx.Tx) error {
		if err := db.admit(ctx, tx, j); err != nil {
			return err
		}
		if bind != nil {
			if err := bindIdempotency(ctx, tx, j.OrganizationID, bind, start); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO jobs (org_id, id, created_ms, active, doc, spec, finished_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (org_id, id) DO UPDATE SET created_ms = excluded.created_ms, active = excluded.active, doc = excluded.doc, spec = excluded.spec,
				finished_ms = excluded.finished_ms`,
			j.OrganizationID, j.ID, j.CreatedAt.UnixMilli(), !j.Status.Terminal(), doc, []byte(j.Spec), finishedMS(j))
		return err
	})
}

// bindIdempotency remembers start under bind's key for org: a new key, or one whose TTL ran
// out, is taken; a live one is KindConflict. A few expired keys are purged on the way.
func bindIdempotency(ctx context.Context, tx pgx.Tx, org string, bind *enricher.IdempotencyBinding, start []byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid IN (
		SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT 64)`); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (org_id, key, expires_at, doc)
		VALUES ($1, $2, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 millisecond' END, $4)
		ON CONFLICT (org_id, key) DO UPDATE SET expires_at = excluded.expires_at, doc = excluded.doc
		WHERE idempotency_keys.expires_at IS NOT NULL AND idempotency_keys.expires_at <= now()`,
		org, bind.Key, bind.TTL.Milliseconds(), start)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return enricher.Errorf(enricher.KindConflict, "Idempotency-Key is in use by another request; retry")
	}
	return nil
}

// Idempotency returns the start remembered under key for org, or KindNotFound (also once its
// TTL ran out).
func (db *DB) Idempotency(org, key string) (*enricher.IdempotentStart, error) {
	var v enricher.IdempotentStart
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &v, "idempotency key", `SELECT doc FROM idempotency_keys
			WHERE org_id = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > now())`, org, key)
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// scanJob decodes a (doc, spec) row.
func scanJob(row pgx.Row) (*enricher.Job, error) {
	var doc, spec []byte
	if err := row.Scan(&doc, &spec); err != nil {
		return nil, err
	}
	var j enricher.Job
	if err := gojson.Unmarshal(doc, &j); err != nil {
		return nil, fmt.Errorf("decode job: %w", err)
	}
	if spec != nil {
		j.Spec = spec
	}
	return &j, nil
}

// JobWithSpec returns job id of org with its spec (recovery, idempotent replays).
func (db *DB) JobWithSpec(org, id string) (*enricher.Job, error) {
	var j *enricher.Job
	err := db.query(func(ctx context.Context, q querier) (err error) {
		j, err = scanJob(q.QueryRow(ctx, `SELECT doc, spec FROM jobs WHERE org_id = $1 AND id = $2`, org, id))
		return notFound(err, "job")
	})
	return j, err
}

// Job returns job id of org (without its spec).
func (db *DB) Job(org, id string) (*enricher.Job, error) {
	var j enricher.Job
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &j, "job", `SELECT doc FROM jobs WHERE org_id = $1 AND id = $2`, org, id)
	})
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// ActiveJobs returns every non-terminal job with its spec (recovery at start), in id order.
func (db *DB) ActiveJobs() ([]*enricher.Job, error) {
	var out []*enricher.Job
	err := db.query(func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, `SELECT doc, spec FROM jobs WHERE active ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return rows.Err()
	})
	return out, err
}

// Jobs returns the jobs of org, newest first, that keep accepts.
func (db *DB) Jobs(org string, keep func(*enricher.Job) bool) ([]*enricher.Job, error) {
	var out []*enricher.Job
	err := db.query(func(ctx context.Context, q querier) error {
		return eachDoc(ctx, q, func(j *enricher.Job) error {
			if keep(j) {
				out = append(out, j)
			}
			return nil
		}, `SELECT doc FROM jobs WHERE org_id = $1 ORDER BY created_ms DESC, id`, org)
	})
	return out, err
}

// Events calls fn with each stored event of job with after < seq <= upTo (upTo 0: no bound),
// in order. The data slice is valid only during the call; fn's error stops the walk.
func (db *DB) Events(job string, after, upTo int64, fn func(seq int64, data []byte) error) error {
	return db.query(func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, `SELECT seq, data FROM events WHERE job_id = $1 AND seq > $2 AND ($3 = 0 OR seq <= $3)
			ORDER BY seq`, job, after, upTo)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var data []byte
			if err := rows.Scan(&seq, &data); err != nil {
				return err
			}
			if err := fn(seq, data); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Commit writes b in one transaction (sent as one pipelined batch of statements): records,
// events, entity marks, webhook deliveries and job snapshots, all or nothing. For each job
// whose events it writes it notifies the followers of that job (FollowEvents), on commit.
func (db *DB) Commit(b *storage.Batch) error {
	if b.Empty() {
		return nil
	}
	var batch pgx.Batch
	for _, r := range b.Records {
		if err := queueRecord(&batch, r); err != nil {
			return err
		}
	}
	if len(b.Events) > 0 {
		// One row per (job, seq), the last one winning as in a key-value store: an upsert
		// cannot touch a row twice.
		var jobs []string
		var seqs []int64
		var data [][]byte
		type eventKey struct {
			job string
			seq int64
		}
		at := make(map[eventKey]int, len(b.Events))
		for _, e := range b.Events {
			k := eventKey{e.JobID, e.Seq}
			if i, ok := at[k]; ok {
				data[i] = e.Data
				continue
			}
			at[k] = len(jobs)
			jobs, seqs, data = append(jobs, e.JobID), append(seqs, e.Seq), append(data, e.Data)
		}
		batch.Queue(`INSERT INTO events (job_id, seq, data) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])
			ON CONFLICT (job_id, seq) DO UPDATE SET data = excluded.data`, jobs, seqs, data)
		// Delivered at commit, once the events are readable: followers on other nodes read
		// the table after their last seq (notify.go).
		batch.Queue(`SELECT pg_notify($1, job_id || ':' || max(seq)) FROM unnest($2::text[], $3::bigint[]) AS e(job_id, seq)
			GROUP BY job_id`, db.channel, jobs, seqs)
	}
	queueEntityMarks(&batch, b)
	for _, d := range b.Webhooks {
		if err := queueWebhook(&batch, d); err != nil {
			return err
		}
	}
	for _, j := range b.Jobs {
		if err := queueJob(&batch, j); err != nil {
			return err
		}
	}
	return db.tx(func(ctx context.Context, tx pgx.Tx) error { return tx.SendBatch(ctx, &batch).Close() })
}

// queueEntityMarks adds the started and ended marks of b; an ended entity's started mark
// goes, so started marks name only the entities in flight.
func queueEntityMarks(batch *pgx.Batch, b *storage.Batch) {
	if len(b.Started) > 0 {
		jobs, idx := make([]string, len(b.Started)), make([]int32, len(b.Started))
		for i, m := range b.Started {
			jobs[i], idx[i] = m.JobID, int32(m.Index)
		}
		batch.Queue(`INSERT INTO entity_started (job_id, idx) SELECT * FROM unnest($1::text[], $2::int[])
			ON CONFLICT DO NOTHING`, jobs, idx)
	}
	if len(b.Finished) > 0 {
		var jobs []string
		var idx []int32
		var seqs []int64
		at := make(map[storage.EntityMark]int, len(b.Finished))
		for _, m := range b.Finished {
			k := storage.EntityMark{JobID: m.JobID, Index: m.Index}
			if i, ok := at[k]; ok {
				seqs[i] = max(m.Seq, 0)
				continue
			}
			at[k] = len(jobs)
			jobs, idx, seqs = append(jobs, m.JobID), append(idx, int32(m.Index)), append(seqs, max(m.Seq, 0))
		}
		batch.Queue(`INSERT INTO entity_ended (job_id, idx, seq) SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
			ON CONFLICT (job_id, idx) DO UPDATE SET seq = excluded.seq`, jobs, idx, seqs)
		batch.Queue(`DELETE FROM entity_started s USING unnest($1::text[], $2::int[]) AS f(job_id, idx)
			WHERE s.job_id = f.job_id AND s.idx = f.idx`, jobs, idx)
	}
}
