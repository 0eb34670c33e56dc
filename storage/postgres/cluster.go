package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
)

// What several nodes sharing one database need beyond the store: cluster-wide admission caps
// (checked in CreateJob, see Config.MaxJobs), the job locks that keep a job from running on
// two nodes at once (Locks) and the list of unfinished jobs nobody runs (UnclaimedJobs).

// lockAdmission is the advisory lock class that serializes admissions (CreateJob with caps).
const lockAdmission = 0x656e7204

// admit refuses j when the cluster-wide caps are reached: it takes the admission lock (held
// until the transaction ends, so concurrent admissions on every node count one after the
// other) and counts the unfinished jobs. No-op when both caps are 0.
func (db *DB) admit(ctx context.Context, tx pgx.Tx, j *enricher.Job) error {
	if db.maxJobs <= 0 && db.maxJobsPerOrg <= 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockAdmission); err != nil {
		return err
	}
	var total, org int
	if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE org_id = $1) FROM jobs WHERE active AND id <> $2`,
		j.OrganizationID, j.ID).Scan(&total, &org); err != nil {
		return err
	}
	switch {
	case db.maxJobs > 0 && total >= db.maxJobs:
		return enricher.Errorf(enricher.KindTooMany, "the server already runs %d jobs, the maximum", db.maxJobs)
	case db.maxJobsPerOrg > 0 && org >= db.maxJobsPerOrg:
		return enricher.Errorf(enricher.KindTooMany, "your organization already has %d unfinished jobs, the maximum", db.maxJobsPerOrg)
	}
	return nil
}

// UnclaimedJobs calls fn with the organization and id of every unfinished job whose lock no
// session holds (see Locks): jobs of a node that died, or stored and not yet started. The
// list is read first, fn is called after, outside any transaction.
func (db *DB) UnclaimedJobs(fn func(org, id string)) error {
	type ref struct{ org, id string }
	var refs []ref
	err := db.query(func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, `SELECT j.org_id, j.id FROM jobs j WHERE j.active AND NOT EXISTS (
			SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND ((l.classid::int8 << 32) | l.objid::int8) = hashtextextended(j.id, 0)) ORDER BY j.id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r ref
			if err := rows.Scan(&r.org, &r.id); err != nil {
				return err
			}
			refs = append(refs, r)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for _, r := range refs {
		fn(r.org, r.id)
	}
	return nil
}

// Locks is one node's job locks: PostgreSQL session-level advisory locks (key: the 64-bit
// hash of the job id) held on a connection of their own, outside the pool. PostgreSQL
// releases them when that session ends, so the locks of a node that dies are free again as
// soon as the server notices the connection is gone. Should the session be lost while the node
// lives, the next call opens another and takes the held locks again; one another node took
// meanwhile is dropped from the held set and logged (its job may then run on two nodes until
// it stops here). Safe for concurrent use: calls are serialized on the connection. Errors are
// KindUnavailable.
type Locks struct {
	mu      sync.Mutex
	conn    *pgx.Conn
	cfg     *pgx.ConnConfig
	held    map[string]bool
	timeout time.Duration
	log     *slog.Logger
}

// OpenLocks opens the dedicated connection of this node's job locks. Close releases them.
func (db *DB) OpenLocks() (*Locks, error) {
	ctx, cancel := db.ctx()
	defer cancel()
	cfg := db.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, enricher.Wrap(enricher.KindUnavailable, redact(err), "job locks: connect")
	}
	return &Locks{conn: conn, cfg: cfg, held: map[string]bool{}, timeout: db.timeout, log: db.log}, nil
}

// session returns the connection, opening another one that takes the held locks again when
// the last one was lost; l.mu is held.
func (l *Locks) session(ctx context.Context) (*pgx.Conn, error) {
	if !l.conn.IsClosed() {
		return l.conn, nil
	}
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, enricher.Wrap(enricher.KindUnavailable, redact(err), "job locks: reconnect")
	}
	l.conn = conn
	for key := range l.held {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&got); err != nil {
			return nil, enricher.Wrap(enricher.KindUnavailable, err, "job locks: take again")
		}
		if !got {
			delete(l.held, key)
			l.log.Error("a lock was lost with its database session and another node holds it now", "key", key)
		}
	}
	l.log.Warn("job locks: session lost and opened again", "held", len(l.held))
	return conn, nil
}

// Claim takes the lock of job id without waiting: true when this call took it, false when
// another session holds it or this node already did (a lock is taken once per node).
func (l *Locks) Claim(id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[id] {
		// Asked again for a job it runs: other nodes see it unclaimed, so this node's session
		// may be gone. Check it; a lost one is replaced and its locks taken again.
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		defer cancel()
		if _, err := l.conn.Exec(ctx, `SELECT 1`); err != nil && l.conn.IsClosed() {
			_, err = l.session(ctx)
			return false, err
		}
		return false, nil
	}
	return l.take(id)
}

// take tries the lock of key on the session; l.mu is held.
func (l *Locks) take(key string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	conn, err := l.session(ctx)
	if err != nil {
		return false, err
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&got); err != nil {
		return false, enricher.Wrap(enricher.KindUnavailable, err, "job lock")
	}
	if got {
		l.held[key] = true
	}
	return got, nil
}

// Hold returns true when this node holds the lock key (any name outside the job ids): held
// already, or taken now without waiting. It stays held until Release or Close.
func (l *Locks) Hold(key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] {
		return true, nil
	}
	return l.take(key)
}

// Release gives the lock of job id back (no-op when this node does not hold it).
func (l *Locks) Release(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held[id] {
		return nil
	}
	delete(l.held, id)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	conn, err := l.session(ctx)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, id); err != nil {
		return enricher.Wrap(enricher.KindUnavailable, err, "job unlock")
	}
	return nil
}

// Held returns the number of job locks this node holds.
func (l *Locks) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// Close releases every lock it holds and ends the session. The locks are given back by an
// explicit unlock before the session ends, so once Close returns another node can claim them:
// a closed connection alone frees them only when its server process has exited, a moment later.
func (l *Locks) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.held)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if !l.conn.IsClosed() {
		if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
			l.log.Warn("job locks: unlock at close failed; the session's end frees them", "err", redact(err))
		}
	}
	if err := l.conn.Close(ctx); err != nil {
		return fmt.Errorf("job locks: %w", err)
	}
	return nil
}
