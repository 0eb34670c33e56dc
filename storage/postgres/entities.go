package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// entityChunk bounds the entities written by one statement of PutEntities.
const entityChunk = 1000

// PutEntities stores entities as indices from, from+1, ... of batch job (replacing what those
// indices held). Each item must be the compact JSON of one entity object; the caller checked
// it. Large chunks are written by several statements in one transaction. Safe for concurrent
// use on different jobs.
func (db *DB) PutEntities(job string, from int, entities [][]byte) error {
	if len(entities) == 0 {
		return nil
	}
	return db.tx(func(ctx context.Context, tx pgx.Tx) error {
		for start := 0; start < len(entities); start += entityChunk {
			chunk := entities[start:min(start+entityChunk, len(entities))]
			idx := make([]int32, len(chunk))
			for i := range chunk {
				idx[i] = int32(from + start + i)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO entities (job_id, idx, data) SELECT $1, * FROM unnest($2::int[], $3::bytea[])
				ON CONFLICT (job_id, idx) DO UPDATE SET data = excluded.data`, job, idx, chunk); err != nil {
				return err
			}
		}
		return nil
	})
}

// EntitiesAt returns the stored entities of batch job at the given indices, in that order.
// A missing entity is an error (KindInternal): the batch's entity list is incomplete.
func (db *DB) EntitiesAt(job string, indices []int) ([][]byte, error) {
	idx := make([]int32, len(indices))
	for i, v := range indices {
		idx[i] = int32(v)
	}
	found := make(map[int][]byte, len(indices))
	err := db.query(func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, `SELECT idx, data FROM entities WHERE job_id = $1 AND idx = ANY($2::int[])`, job, idx)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var i int32
			var data []byte
			if err := rows.Scan(&i, &data); err != nil {
				return err
			}
			found[int(i)] = data
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(indices))
	for _, i := range indices {
		data, ok := found[i]
		if !ok {
			return nil, enricher.Errorf(enricher.KindInternal, "entity %d of batch %s is not stored", i, job)
		}
		out = append(out, data)
	}
	return out, nil
}

// CountEntities returns the number of entities stored for job, or for every batch and upload
// when job is empty (tests, diagnostics).
func (db *DB) CountEntities(job string) (int, error) {
	n := 0
	err := db.query(func(ctx context.Context, q querier) error {
		return q.QueryRow(ctx, `SELECT count(*) FROM entities WHERE $1 = '' OR job_id = $1`, job).Scan(&n)
	})
	return n, err
}

// DeleteEntities removes every stored entity of job (an upload that did not become a job), a
// slice at a time so no transaction grows with the batch.
func (db *DB) DeleteEntities(job string) error {
	for {
		var n int64
		err := db.query(func(ctx context.Context, q querier) error {
			tag, err := q.Exec(ctx, `DELETE FROM entities WHERE job_id = $1 AND idx IN (
				SELECT idx FROM entities WHERE job_id = $1 ORDER BY idx LIMIT 10000)`, job)
			n = tag.RowsAffected()
			return err
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// intsOf returns the first (integer) column of every row sql selects.
func (db *DB) intsOf(sql string, args ...any) ([]int, error) {
	var out []int
	err := db.query(func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v int32
			if err := rows.Scan(&v); err != nil {
				return err
			}
			out = append(out, int(v))
		}
		return rows.Err()
	})
	return out, err
}

// StartedEntities returns the indices of the entities of batch job that started and did not
// end (recovery: they do not announce their start again), in order.
func (db *DB) StartedEntities(job string) ([]int, error) {
	return db.intsOf(`SELECT idx FROM entity_started WHERE job_id = $1 ORDER BY idx`, job)
}

// FinishedEntities returns the indices of the entities of batch job that ended, in order.
func (db *DB) FinishedEntities(job string) ([]int, error) {
	return db.intsOf(`SELECT idx FROM entity_ended WHERE job_id = $1 ORDER BY idx`, job)
}

// entityEndsWindow bounds one read of EntityEnds: at most this many entities, and about
// entityEndsWindowBytes of events.
const (
	entityEndsWindow      = 256
	entityEndsWindowBytes = 1 << 20
)

// EntityEnds calls fn with each ended entity of batch job, in index order, with its
// entity_completed event. It reads them in windows (one query each, entityEndsWindow entities
// or about entityEndsWindowBytes of events) and calls fn outside any query: a slow fn holds
// neither a connection nor more than one window in memory. fn's error stops the iteration.
func (db *DB) EntityEnds(job string, fn func(storage.EntityEnd) error) error {
	next := 0
	var window []storage.EntityEnd
	for {
		window = window[:0]
		err := db.query(func(ctx context.Context, q querier) error {
			rows, err := q.Query(ctx, `SELECT m.idx, m.seq, e.data FROM entity_ended m
				LEFT JOIN events e ON m.seq > 0 AND e.job_id = m.job_id AND e.seq = m.seq
				WHERE m.job_id = $1 AND m.idx >= $2 ORDER BY m.idx LIMIT $3`, job, next, entityEndsWindow)
			if err != nil {
				return err
			}
			defer rows.Close()
			size := 0
			for rows.Next() && size < entityEndsWindowBytes {
				var idx int32
				var e storage.EntityEnd
				if err := rows.Scan(&idx, &e.Seq, &e.Event); err != nil {
					return err
				}
				e.Index = int(idx)
				size += len(e.Event)
				window = append(window, e)
			}
			return rows.Err()
		})
		if err != nil {
			return err
		}
		for _, e := range window {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(window) == 0 {
			return nil
		}
		next = window[len(window)-1].Index + 1
	}
}
