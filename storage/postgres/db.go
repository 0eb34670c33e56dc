// Package postgres is the PostgreSQL storage backend of Entity Enricher: the same methods,
// semantics and errors as the embedded badger store (package storage), on a database several
// nodes can share. It is selected with the database_url setting.
//
// A *DB is safe for concurrent use, and so is one database used by several processes: every
// method is one statement or one transaction; counters and aggregates are computed by SQL
// (COUNT, SUM) over indexed columns rather than kept by read-modify-write in Go, and the
// read-modify-write methods (UpdateUser, UpdateSchema, AddKeyUsage, ...) lock the rows they
// change (SELECT ... FOR UPDATE) or take a transaction-scoped advisory lock for invariants
// that span rows (one admin per instance, the live-schema limit, the last owner). Transactions
// that lose a serialization failure or a deadlock are retried a few times.
//
// Commit notifies the followers of the jobs whose events it writes, on every node sharing the
// database (FollowEvents, notify.go): a DB's first FollowEvents starts its event listener, one
// goroutine on one extra connection, which Close stops.
//
// Errors are the domain vocabulary of package enricher: a missing object is KindNotFound, a
// broken invariant KindConflict, a full disk (SQLSTATE 53100) KindInsufficientStorage, a
// closed DB or an unreachable server KindUnavailable, anything else KindInternal.
//
// The schema is created and upgraded by Open from the migrations embedded in the binary
// (migrations/*.sql), each applied once, in order, under the version table schema_migrations.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/entity-enricher/enricher"
)

// Config holds the PostgreSQL settings. URL is required; every other zero field has a default.
type Config struct {
	// URL is the connection string (postgres://user:pass@host:port/db?sslmode=...). Query
	// parameters pgx knows (pool_max_conns, search_path, ...) are honoured.
	URL string
	// Timeout bounds each method's round trips to the server. Default 30s.
	Timeout time.Duration
	// Logger receives migration notes. Default: discard.
	Logger *slog.Logger
	// MaxJobs and MaxJobsPerOrg, when positive, make CreateJob refuse (KindTooMany) a job
	// past that many unfinished jobs in the whole database, or of its organization: the caps
	// of a cluster, whose nodes share the database. Default 0: not checked here (one node
	// checks its caps in memory).
	MaxJobs, MaxJobsPerOrg int
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DB is the store. It owns its connection pool; Close releases it.
type DB struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	log     *slog.Logger
	closed  atomic.Bool
	channel string    // the NOTIFY channel of this database and schema (notify.go)
	listen  *listener // started by the first FollowEvents, stopped by Close
	// cluster-wide admission caps (Config.MaxJobs, MaxJobsPerOrg); 0: unchecked
	maxJobs, maxJobsPerOrg int
}

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock classes (the first key of pg_advisory_xact_lock(int, int)).
const (
	lockMigrate  = 0x656e7201 // schema migrations (second key: hash of the schema name)
	lockAccounts = 0x656e7202 // registration, users and admin keys (instance-wide flags)
	lockSchemas  = 0x656e7203 // saved schemas of one organization (second key: hash of its id)
)

// Open connects to cfg.URL, applies the migrations the database lacks and returns the store.
func Open(cfg Config) (*DB, error) {
	cfg = cfg.WithDefaults()
	if cfg.URL == "" {
		return nil, errors.New("postgres: database URL is empty")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: database URL: %w", redact(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", redact(err))
	}
	db := &DB{pool: pool, timeout: cfg.Timeout, log: cfg.Logger, maxJobs: cfg.MaxJobs, maxJobsPerOrg: cfg.MaxJobsPerOrg}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", redact(err))
	}
	// Stores in different schemas of one database must not wake each other's followers.
	if err := pool.QueryRow(ctx, `SELECT 'enricher_events_' || to_hex(hashtext(current_schema()))`).Scan(&db.channel); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", redact(err))
	}
	db.listen = newListener(pcfg.ConnConfig.Copy(), db.channel, cfg.Logger)
	return db, nil
}

// redact keeps a connection error from carrying the password of the URL.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("cannot parse the database URL")
	}
	return err
}

// migrate applies, in one transaction holding an advisory lock (so nodes starting together
// wait for each other), every embedded migration not yet recorded in schema_migrations.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockMigrate); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	applied := map[int]bool{}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its version number", base)
		}
		if applied[version] {
			continue
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			return fmt.Errorf("%s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, base); err != nil {
			return err
		}
		db.log.Info("database migrated", "version", version, "migration", base)
	}
	return tx.Commit(ctx)
}

// Close stops the event listener and closes the pool. It is idempotent; methods called after it fail with KindUnavailable.
func (db *DB) Close() error {
	if db.closed.CompareAndSwap(false, true) {
		db.listen.stop()
		db.pool.Close()
	}
	return nil
}

// Ping reports whether the database answers a query (used by /health).
func (db *DB) Ping() error {
	ctx, cancel := db.ctx()
	defer cancel()
	_, err := db.pool.Exec(ctx, `SELECT 1`)
	return db.translate(err)
}

// LowSpace is always false: PostgreSQL manages its own disk. A write that finds the server's
// disk full fails with KindInsufficientStorage (SQLSTATE 53100) instead of being refused ahead.
func (db *DB) LowSpace() bool { return false }

// FreeBytes returns false: the server's free space is not visible to a client (the
// enricher_storage_free_bytes metric is then absent).
func (db *DB) FreeBytes() (uint64, bool) { return 0, false }

func (db *DB) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), db.timeout)
}

// maxRetries bounds the retries of a transaction that lost a serialization failure or a
// deadlock.
const maxRetries = 8

// tx runs fn in a read-committed transaction and commits it, retrying serialization failures
// and deadlocks. fn's domain errors come back unchanged; anything else is translated.
func (db *DB) tx(fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := db.ctx()
	defer cancel()
	for i := 0; ; i++ {
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
		if retryable(err) && i < maxRetries {
			continue
		}
		return db.translate(err)
	}
}

// query runs fn with a context bounded by the DB's timeout, outside a transaction, and
// translates its error.
func (db *DB) query(fn func(ctx context.Context, q querier) error) error {
	ctx, cancel := db.ctx()
	defer cancel()
	return db.translate(fn(ctx, db.pool))
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// translate maps driver errors to domain errors; domain errors pass through unchanged.
func (db *DB) translate(err error) error {
	var de *enricher.Error
	var pe *pgconn.PgError
	var ne net.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case db.closed.Load():
		return enricher.Wrap(enricher.KindUnavailable, err, "storage unavailable")
	case errors.As(err, &pe) && pe.Code == "53100":
		return enricher.Wrap(enricher.KindInsufficientStorage, err,
			"the database server is out of disk space: writes are refused until space is freed")
	case errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53300"):
		return enricher.Wrap(enricher.KindUnavailable, err, "storage unavailable")
	case retryable(err):
		return enricher.Wrap(enricher.KindUnavailable, err, "storage busy, retry")
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), pgconn.SafeToRetry(err):
		return enricher.Wrap(enricher.KindUnavailable, err, "storage unavailable")
	default:
		return enricher.Wrap(enricher.KindInternal, err, "storage")
	}
}

// notFound turns pgx.ErrNoRows into KindNotFound "<what> not found".
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return enricher.Errorf(enricher.KindNotFound, "%s not found", what)
	}
	return err
}

// uniqueViolation reports whether err is a unique-constraint failure on constraint (any when "").
func uniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}
