package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
)

// Permits is one node's share of the cluster-wide caps of calls in flight per provider
// (cluster_provider_concurrency): a cap of N is N permits, and permit i of provider p is the
// PostgreSQL session-level advisory lock (hash of p, i). A node holds a permit while it may
// run one call; PostgreSQL grants each lock to one session at a time, so the nodes together
// never hold more than N, whatever each node believes about the others, and the permits of a
// node that dies are free again as soon as the server notices its session is gone. A node
// that wants more permits than it holds also holds the provider's shared "want" lock, which
// the others see (Others) and answer by giving back what they hold above their fair share.
//
// The locks live on a connection of their own, outside the pool. Should that session be lost
// while the node lives, the next call opens another and takes the held permits again; those
// another node took meanwhile are dropped from the held set (Held shows it) and logged. Safe
// for concurrent use: calls are serialized on the connection. Errors are KindUnavailable.
type Permits struct {
	mu      sync.Mutex
	conn    *pgx.Conn
	cfg     *pgx.ConnConfig
	held    map[string][]int32 // permit numbers held, by provider
	wanting map[string]bool    // providers whose want lock is held
	timeout time.Duration
	log     *slog.Logger
}

// wantSlot is the second key of a provider's want lock; permits are numbered from 0 up.
const wantSlot = 1 << 30

// permitClass is the first key of provider's permit locks: a 32-bit hash of its name.
func permitClass(provider string) int32 {
	h := fnv.New32a()
	h.Write([]byte("enricher-permits:" + provider))
	return int32(h.Sum32())
}

// OpenPermits opens the dedicated connection of this node's provider permits. Close gives
// them back.
func (db *DB) OpenPermits() (*Permits, error) {
	ctx, cancel := db.ctx()
	defer cancel()
	cfg := db.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, enricher.Wrap(enricher.KindUnavailable, redact(err), "provider permits: connect")
	}
	return &Permits{conn: conn, cfg: cfg, held: map[string][]int32{}, wanting: map[string]bool{}, timeout: db.timeout, log: db.log}, nil
}

// session returns the connection, opening another one that takes the held permits (and want
// locks) again when the last one was lost; p.mu is held.
func (p *Permits) session(ctx context.Context) (*pgx.Conn, error) {
	if !p.conn.IsClosed() {
		return p.conn, nil
	}
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return nil, enricher.Wrap(enricher.KindUnavailable, redact(err), "provider permits: reconnect")
	}
	p.conn = conn
	for provider, slots := range p.held {
		kept := slots[:0]
		for _, s := range slots {
			var got bool
			if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::int4, $2::int4)`, permitClass(provider), s).Scan(&got); err != nil {
				return nil, enricher.Wrap(enricher.KindUnavailable, err, "provider permits: take again")
			}
			if got {
				kept = append(kept, s)
			}
		}
		if lost := len(slots) - len(kept); lost > 0 {
			p.log.Error("provider permits lost with their database session; other nodes hold them now", "provider", provider, "lost", lost)
		}
		p.held[provider] = kept
	}
	clear(p.wanting) // the next Want takes it again
	p.log.Warn("provider permits: session lost and opened again")
	return conn, nil
}

// Take takes up to n more of provider's permits numbered below limit, without waiting, and
// returns how many it took (0 when the others hold them all).
func (p *Permits) Take(provider string, limit, n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	conn, err := p.session(ctx)
	if err != nil {
		return 0, err
	}
	held := p.held[provider]
	if held == nil {
		held = []int32{} // an empty array, not NULL (s <> ALL(NULL) holds for no s)
	}
	// The scan stops at the LIMIT: slots past the n-th taken are not tried (a function scan
	// under a filter and a limit yields one row at a time).
	rows, err := conn.Query(ctx, `SELECT s FROM generate_series(0, $1::int4 - 1) s
		WHERE s <> ALL($2::int4[]) AND pg_try_advisory_lock($3::int4, s) LIMIT $4`, limit, held, permitClass(provider), n)
	if err != nil {
		return 0, enricher.Wrap(enricher.KindUnavailable, err, "provider permits: take")
	}
	slots, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, enricher.Wrap(enricher.KindUnavailable, err, "provider permits: take")
	}
	p.held[provider] = append(held, slots...)
	return len(slots), nil
}

// Give gives back n of the permits of provider this node holds (all it holds when fewer).
func (p *Permits) Give(provider string, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	held := p.held[provider]
	n = min(n, len(held))
	if n <= 0 {
		return nil
	}
	slots := slices.Clone(held[len(held)-n:])
	p.held[provider] = held[:len(held)-n]
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	conn, err := p.session(ctx)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1::int4, s) FROM unnest($2::int4[]) s`, permitClass(provider), slots); err != nil {
		return enricher.Wrap(enricher.KindUnavailable, err, "provider permits: give back")
	}
	return nil
}

// Held returns the number of provider's permits this node holds.
func (p *Permits) Held(provider string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held[provider])
}

// Want holds (on) or gives back (off) provider's want lock: this node wants more permits
// than it holds. Many nodes hold it at once (a shared lock).
func (p *Permits) Want(provider string, on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wanting[provider] == on {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	conn, err := p.session(ctx)
	if err != nil {
		return err
	}
	q := `SELECT pg_advisory_unlock_shared($1::int4, $2::int4)`
	if on {
		q = `SELECT pg_advisory_lock_shared($1::int4, $2::int4)` // shared: never waits on another shared holder
	}
	if _, err := conn.Exec(ctx, q, permitClass(provider), wantSlot); err != nil {
		return enricher.Wrap(enricher.KindUnavailable, err, "provider permits: want")
	}
	p.wanting[provider] = on
	return nil
}

// Others reports how many other nodes hold provider's permits or want some, and whether any
// of them wants more than it holds. One read of pg_locks.
func (p *Permits) Others(provider string) (nodes int, wanting bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	conn, err := p.session(ctx)
	if err != nil {
		return 0, false, err
	}
	class := int64(uint32(permitClass(provider)))
	err = conn.QueryRow(ctx, `SELECT count(DISTINCT pid), coalesce(bool_or(objid::int8 = $2), false) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid::int8 = $1 AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, class, int64(wantSlot)).Scan(&nodes, &wanting)
	if err != nil {
		return 0, false, enricher.Wrap(enricher.KindUnavailable, err, "provider permits: others")
	}
	return nodes, wanting, nil
}

// Close gives back every permit and want lock and ends the session: once it returns, the
// other nodes can take them.
func (p *Permits) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.held)
	clear(p.wanting)
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	if !p.conn.IsClosed() {
		if _, err := p.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
			p.log.Warn("provider permits: unlock at close failed; the session's end frees them", "err", redact(err))
		}
	}
	if err := p.conn.Close(ctx); err != nil {
		return fmt.Errorf("provider permits: %w", err)
	}
	return nil
}
