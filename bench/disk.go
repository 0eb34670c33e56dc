package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/storage"
)

// diskUse is what a closed data directory holds, by kind of file: its value logs (*.vlog),
// its LSM tables (*.sst) and the rest (MANIFEST, KEYREGISTRY, DISCARD, ...). Apparent sizes
// are the files' lengths; allocated sizes are the blocks the filesystem gave them (st_blocks
// × 512, what du reports), which is less for sparse files and more for a partial last block.
type diskUse struct {
	vlog, sst, other          int64 // apparent bytes
	vlogBlk, sstBlk, otherBlk int64 // allocated bytes
}

func (u diskUse) apparent() int64  { return u.vlog + u.sst + u.other }
func (u diskUse) allocated() int64 { return u.vlogBlk + u.sstBlk + u.otherBlk }

// measureDir sums the files under dir by kind.
func measureDir(dir string) (diskUse, error) {
	var u diskUse
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size, blk := info.Size(), allocatedBytes(info)
		switch {
		case strings.HasSuffix(path, ".vlog"):
			u.vlog, u.vlogBlk = u.vlog+size, u.vlogBlk+blk
		case strings.HasSuffix(path, ".sst"):
			u.sst, u.sstBlk = u.sst+size, u.sstBlk+blk
		default:
			u.other, u.otherBlk = u.other+size, u.otherBlk+blk
		}
		return nil
	})
	return u, err
}

// allocatedBytes is the bytes allocated to a file (st_blocks is in 512-byte units on Linux).
func allocatedBytes(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}

// gcRounds bounds how often collectAfterClose reopens the store for value-log GC.
const gcRounds = 4

// collectAfterClose runs value-log GC the way the server does, on the closed store in dir:
// it opens the store with a short GC interval (storage's GC loop calls badger's
// RunValueLogGC(0.5) until it finds nothing to rewrite), leaves the loop a moment, closes the
// store and measures the directory, until a round frees nothing (at most gcRounds). It
// returns the last measure and the rounds that shrank the directory.
func collectAfterClose(dir string, before diskUse) (diskUse, int, error) {
	last, shrank := before, 0
	for range gcRounds {
		db, err := storage.Open(storage.Config{Dir: dir, GCInterval: 20 * time.Millisecond, TrimInterval: -1})
		if err != nil {
			return diskUse{}, shrank, err
		}
		time.Sleep(300 * time.Millisecond)
		if err := db.Close(); err != nil {
			return diskUse{}, shrank, err
		}
		u, err := measureDir(dir)
		if err != nil {
			return diskUse{}, shrank, err
		}
		if u.allocated() >= last.allocated() {
			return u, shrank, nil
		}
		last, shrank = u, shrank+1
	}
	return last, shrank, nil
}

// diskEngine is simEngine with zero-latency profiles on a store in dir, which the caller
// removes; stop (idempotent) stops the engine and closes the store, which flushes badger's
// memtables to disk.
func diskEngine(cfg actors.Config, syncWrites bool) (eng *actors.Engine, db *storage.DB, dir string, stop func(), err error) {
	if dir, err = tempDir(); err != nil {
		return nil, nil, "", nil, err
	}
	if db, err = storage.Open(storage.Config{Dir: dir, SyncWrites: syncWrites}); err != nil {
		removeAll(dir)
		return nil, nil, "", nil, err
	}
	if eng, err = simEngineOn(db, cfg, zeroLatency()); err != nil {
		_ = db.Close()
		removeAll(dir)
		return nil, nil, "", nil, err
	}
	return eng, db, dir, sync.OnceFunc(func() { eng.Stop(); _ = db.Close() }), nil
}

// diskFigures stops the engine (stop) and measures dir, the store of n single-model
// enrichments: allocated bytes per enrichment before and after value-log GC, net of an empty
// store's directory, the value-log, table and other bytes after GC, then the live entries per
// enrichment (by key family) and the bytes after a forced compaction and GC (liveAndForced).
func diskFigures(dir string, n int, stop func()) (Row, error) {
	stop()
	empty, err := emptyStore()
	if err != nil {
		return nil, err
	}
	before, err := measureDir(dir)
	if err != nil {
		return nil, err
	}
	after, rounds, err := collectAfterClose(dir, before)
	if err != nil {
		return nil, err
	}
	live, families, forced, err := liveAndForced(dir)
	if err != nil {
		return nil, err
	}
	per := func(total int64) float64 { return float64(total) / float64(n) }
	var split []string
	for _, f := range slices.SortedFunc(maps.Keys(families), func(a, b string) int { return cmp.Compare(families[b], families[a]) }) {
		if per(families[f]) >= 1 {
			split = append(split, fmt.Sprintf("%s=%.0f", f, per(families[f])))
		}
	}
	return Row{
		"disk_live_by_family":                 strings.Join(split, " "),
		"disk_live_bytes_per_enrichment":      per(live),
		"disk_bytes_per_enrichment_forced_gc": per(forced.allocated() - empty.allocated()),
		"disk_vlog_bytes_forced_gc":           float64(forced.vlogBlk),
		"disk_bytes_per_enrichment_pre_gc":    per(before.allocated() - empty.allocated()),
		"disk_bytes_per_enrichment":           per(after.allocated() - empty.allocated()),
		"disk_apparent_bytes_per_enrichment":  per(after.apparent() - empty.apparent()),
		"disk_vlog_bytes":                     float64(after.vlogBlk),
		"disk_sst_bytes":                      float64(after.sstBlk),
		"disk_other_bytes":                    float64(after.otherBlk),
		"disk_empty_store_bytes":              float64(empty.allocated()),
		"disk_gc_rounds_that_freed_space":     float64(rounds),
	}, nil
}

// emptyStore measures the directory of a store opened and closed with nothing written.
func emptyStore() (diskUse, error) {
	dir, err := tempDir()
	if err != nil {
		return diskUse{}, err
	}
	defer removeAll(dir)
	db, err := storage.Open(storage.Config{Dir: dir, GCInterval: -1, TrimInterval: -1})
	if err != nil {
		return diskUse{}, err
	}
	if err := db.Close(); err != nil {
		return diskUse{}, err
	}
	return measureDir(dir)
}

// liveAndForced opens the closed store in dir with badger itself (storage does not expose
// compaction) and returns the bytes of its live entries (the newest version of every key:
// key plus value length, what a perfect compaction and GC could at best come down to), then
// forces what the server leaves to time: a full compaction (Flatten), which records how much of
// each value-log file is garbage, and value-log GC until it finds nothing to rewrite; it
// closes the store and measures dir. families splits the live bytes by key family (the key
// up to its first "/", see storage/keys.go).
func liveAndForced(dir string) (live int64, families map[string]int64, forced diskUse, err error) {
	opts := badger.DefaultOptions(dir).WithLogger(nil).WithNumVersionsToKeep(1).WithValueThreshold(256).
		WithNumMemtables(3).WithMemTableSize(64 << 20).WithValueLogFileSize(128 << 20)
	bdb, err := badger.Open(opts)
	if err != nil {
		return 0, nil, diskUse{}, err
	}
	families = map[string]int64{}
	err = bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			size := int64(len(k)) + it.Item().ValueSize()
			family, _, _ := bytes.Cut(k, []byte("/"))
			families[string(family)] += size
			live += size
		}
		return nil
	})
	if err == nil {
		err = bdb.Flatten(1)
	}
	for err == nil {
		if gcErr := bdb.RunValueLogGC(0.5); gcErr != nil {
			break // badger.ErrNoRewrite: nothing left over the ratio
		}
	}
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, nil, diskUse{}, err
	}
	forced, err = measureDir(dir)
	return live, families, forced, err
}
