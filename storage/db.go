package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/entity-enricher/enricher"
)

// Config holds the storage settings. The zero value is usable: it opens ./data.
type Config struct {
	// Dir is the data directory. Default "./data". Ignored when InMemory is set.
	Dir string
	// InMemory keeps everything in memory (tests). Default false.
	InMemory bool
	// SyncWrites fsyncs every commit so data survives power loss. Default false: data
	// survives a process crash (the write-ahead log is in the page cache) but not power loss.
	SyncWrites bool
	// GCInterval is how often value-log GC runs. Default 5m; negative disables it.
	GCInterval time.Duration
	// ValueLogFileSize is the size of one value-log file. Default 64 MiB (badger allows 1 MiB
	// to 2 GiB); the file being written stays resident (residency.go), so it bounds the value
	// log's share of the resident set. A data directory written with another size opens as is.
	ValueLogFileSize int64
	// TrimInterval is the longest time between two passes that hand the resident pages of the
	// files badger no longer writes (value-log files but the newest, tables) back to the
	// kernel (residency.go; Linux only); a pass also runs within 250 ms of badger creating or
	// removing a file. Default 5s; negative disables trimming.
	TrimInterval time.Duration
	// Logger receives badger's own warnings and errors. Default: discard.
	Logger *slog.Logger
	// MinFreeBytes is the free space the data directory's filesystem must keep
	// (min_free_disk_mb). Open refuses to start below it; a watchdog then measures it every
	// SpaceInterval, and below it every write fails with KindInsufficientStorage until free
	// space is back above it plus 10 %. It must be at least 2 × 64 MiB + 2 × ValueLogFileSize
	// (what badger maps for its next files). Default 0: no check, no watchdog (always so in
	// memory).
	MinFreeBytes int64
	// SpaceInterval is how often the watchdog measures free space. Default 1s.
	SpaceInterval time.Duration
	// FreeSpace measures free space (tests substitute it). Default: statfs.
	FreeSpace FreeSpaceFunc
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Dir == "" {
		c.Dir = "./data"
	}
	if c.GCInterval == 0 {
		c.GCInterval = 5 * time.Minute
	}
	if c.ValueLogFileSize == 0 {
		c.ValueLogFileSize = 64 << 20
	}
	if c.TrimInterval == 0 {
		c.TrimInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SpaceInterval <= 0 {
		c.SpaceInterval = time.Second
	}
	if c.FreeSpace == nil {
		c.FreeSpace = statfsFree
	}
	return c
}

// DB is the store. It owns the badger handle and its background goroutines (value-log GC,
// residency trimming, the free-space watchdog); Close stops them all.
type DB struct {
	bdb    *badger.DB
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	// Free-space watchdog (space.go); freeSpace is nil without one.
	dir       string
	minFree   int64
	freeSpace FreeSpaceFunc
	free      atomic.Int64
	low       atomic.Bool

	finishedIndexed atomic.Bool // the finished-job index covers every job (purge.go)
}

// Open opens (creating if needed) the database described by cfg and starts its GC loop.
func Open(cfg Config) (*DB, error) {
	cfg = cfg.WithDefaults()
	opts := badger.DefaultOptions(cfg.Dir).
		WithLogger(badgerLogger{cfg.Logger}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(cfg.SyncWrites).
		WithMetricsEnabled(false).
		WithNumVersionsToKeep(1).
		// Bounded memory on small machines: the defaults (5 × 64 MiB memtables, 1 GiB value-log
		// files mapped into memory, 256 MiB block cache) make the resident set grow past 3 GiB
		// under load.
		WithNumMemtables(3).
		WithMemTableSize(memTableSize). // the free-space floor counts on it (space.go)
		WithValueLogFileSize(cfg.ValueLogFileSize).
		// No block compression: the table builder allocates a compression buffer beside every
		// block it holds, which doubled its share of the Go heap (issue 17: 328 of 514 MB of
		// builder buffers at the peak of batch-100k); tables hold keys, index entries and value
		// pointers, so they grow by less than the value log's share of the disk.
		WithCompression(options.None).
		WithBlockCacheSize(64 << 20).
		WithIndexCacheSize(64 << 20)
	if !cfg.InMemory {
		// Values over 256 bytes (records, record summaries, most events, job snapshots) go to
		// the value log: the LSM tree keeps keys, index entries and counters, so compactions
		// stay small, and cold values leave the resident set with the value logs (residency.go).
		opts = opts.WithValueThreshold(256)
	} else {
		opts = opts.WithDir("").WithValueDir("").WithInMemory(true).
			WithMemTableSize(8 << 20).WithBlockCacheSize(4 << 20).WithNumMemtables(2)
	}
	watch := !cfg.InMemory && cfg.MinFreeBytes > 0
	if watch { // before badger maps anything: on a full disk its Open dies with SIGBUS
		if err := checkStartSpace(cfg); err != nil {
			return nil, err
		}
	}
	bdb, err := badger.Open(opts)
	if err != nil {
		if dirLocked(cfg.Dir) { // badger's error does not wrap the flock failure
			return nil, lockedError(cfg.Dir)
		}
		return nil, fmt.Errorf("storage: open %s: %w", cfg.Dir, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	db := &DB{bdb: bdb, log: cfg.Logger, cancel: cancel}
	if watch {
		db.dir, db.minFree, db.freeSpace = cfg.Dir, cfg.MinFreeBytes, cfg.FreeSpace
		db.checkSpace()
		db.wg.Add(1)
		go db.every(ctx, cfg.SpaceInterval, db.checkSpace)
	}
	if !cfg.InMemory && cfg.GCInterval > 0 {
		db.wg.Add(1)
		go db.every(ctx, cfg.GCInterval, func() bool { return db.collectGarbage(ctx) })
	}
	if !cfg.InMemory && cfg.TrimInterval > 0 && trimSupported {
		dir, err := filepath.Abs(cfg.Dir)
		if err == nil { // /proc/self/maps names files by their resolved path
			dir, err = filepath.EvalSymlinks(dir)
		}
		if err != nil {
			dir = cfg.Dir
		}
		db.wg.Add(1)
		go db.trimLoop(ctx, dir, cfg.TrimInterval)
	}
	return db, nil
}

// LockedError is Open's error when another process holds the data directory (badger's
// exclusive lock on Dir). PID is the holder's process id, read from the LOCK file badger writes
// into the directory; 0 when it cannot be read.
type LockedError struct {
	Dir string
	PID int
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("data dir %s is locked by another enricher (pid %d)", e.Dir, e.PID)
	}
	return fmt.Sprintf("data dir %s is locked by another enricher", e.Dir)
}

// lockedError names the process holding dir: badger writes its holder's pid into dir/LOCK.
func lockedError(dir string) error {
	e := &LockedError{Dir: dir}
	if b, err := os.ReadFile(filepath.Join(dir, "LOCK")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			e.PID = pid
		}
	}
	return e
}

// Close stops the GC loop and closes the database. It is idempotent.
func (db *DB) Close() error {
	var err error
	db.once.Do(func() {
		db.cancel()
		db.wg.Wait()
		err = db.bdb.Close()
	})
	return err
}

// Ping reports whether the database accepts reads (used by /health).
func (db *DB) Ping() error {
	return db.view(func(txn *badger.Txn) error {
		_, err := txn.Get(keyMeta("token_secret"))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		return err
	})
}

// every runs fn every interval until ctx ends or fn returns false; the DB's WaitGroup owns
// the goroutine that calls it.
func (db *DB) every(ctx context.Context, interval time.Duration, fn func() bool) {
	defer db.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !fn() {
				return
			}
		}
	}
}

// collectGarbage runs value-log GC until it finds nothing to rewrite (one file per call). It
// skips rounds while space is low: GC writes the live values again before it frees a file.
func (db *DB) collectGarbage(ctx context.Context) bool {
	for ctx.Err() == nil && !db.LowSpace() && db.bdb.RunValueLogGC(0.5) == nil {
	}
	return true
}

// maxConflictRetries bounds the retries of a transaction that lost a conflict.
const maxConflictRetries = 8

// update runs fn in a read-write transaction, retrying on conflicts. While space is low it
// writes nothing and fails with KindInsufficientStorage.
func (db *DB) update(fn func(txn *badger.Txn) error) error {
	if db.LowSpace() {
		return errLowSpace()
	}
	return db.write(fn)
}

// write is update without the free-space check, for a commit already checked.
func (db *DB) write(fn func(txn *badger.Txn) error) error {
	for i := 0; ; i++ {
		err := db.bdb.Update(fn)
		if errors.Is(err, badger.ErrConflict) && i < maxConflictRetries {
			continue
		}
		return translate(err)
	}
}

// view runs fn in a read-only transaction.
func (db *DB) view(fn func(txn *badger.Txn) error) error {
	return translate(db.bdb.View(fn))
}

// translate maps badger errors to domain errors; domain errors pass through unchanged.
func translate(err error) error {
	var de *enricher.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case errors.Is(err, badger.ErrDBClosed):
		return enricher.Wrap(enricher.KindUnavailable, err, "storage unavailable")
	case errors.Is(err, badger.ErrConflict):
		return enricher.Wrap(enricher.KindUnavailable, err, "storage busy, retry")
	default:
		return enricher.Wrap(enricher.KindInternal, err, "storage")
	}
}

// badgerLogger routes badger's logs to slog. Info and debug are dropped: badger is chatty.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Infof(string, ...any)  {}
func (b badgerLogger) Debugf(string, ...any) {}
