package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/entity-enricher/enricher"
)

// FreeSpaceFunc returns the bytes an unprivileged writer may still use on the filesystem that
// holds dir. It is the seam through which tests drive the free-space watchdog.
type FreeSpaceFunc func(dir string) (uint64, error)

// memTableSize is badger's MemTableSize (its default), which the free-space threshold must
// cover (see spaceFloor).
const memTableSize = 64 << 20

// spaceFloor is the least min_free_disk_mb accepted: room for what badger maps at once when
// it opens its next files, a memtable write-ahead log (2 × MemTableSize) and a value-log file
// (2 × ValueLogFileSize). With writes held once free space falls below the threshold, badger's
// own background work (a memtable flush, the files it already mapped) then still fits, so it
// never writes into a mapping with no disk behind it (SIGBUS).
func spaceFloor(valueLogFileSize int64) int64 { return 2*memTableSize + 2*valueLogFileSize }

// spaceResume is the free space at which writes resume after a low-space spell: the threshold
// plus 10 %, so a filesystem hovering at the threshold does not flap.
func spaceResume(minFree int64) int64 { return minFree + minFree/10 }

// errLowSpace is what every write answers while free space is low.
func errLowSpace() error {
	return enricher.Errorf(enricher.KindInsufficientStorage,
		"the server is low on disk space: writes are refused until space is freed on its data volume")
}

// checkStartSpace refuses to open a store whose filesystem has less than minFree bytes free
// (badger would die with SIGBUS writing into its memory-mapped files), or a threshold too small
// to protect badger. dir may not exist yet: its nearest existing parent is measured.
func checkStartSpace(cfg Config) error {
	if floor := spaceFloor(cfg.ValueLogFileSize); cfg.MinFreeBytes < floor {
		return fmt.Errorf("min_free_disk_mb is %d: it must be at least %d (room for badger's next memtable, 2 × %d MiB, and value-log file, 2 × %d MiB), or 0 to turn the check off",
			cfg.MinFreeBytes>>20, (floor+(1<<20)-1)>>20, memTableSize>>20, cfg.ValueLogFileSize>>20)
	}
	free, err := cfg.FreeSpace(existingDir(cfg.Dir))
	if err != nil {
		return fmt.Errorf("data dir %s: free space unknown: %w", cfg.Dir, err)
	}
	if int64(free) < cfg.MinFreeBytes {
		return fmt.Errorf("data dir %s: only %d MB free, min_free_disk_mb is %d", cfg.Dir, free>>20, cfg.MinFreeBytes>>20)
	}
	return nil
}

// existingDir returns dir, or its nearest existing parent.
func existingDir(dir string) string {
	d := filepath.Clean(dir)
	for {
		if _, err := os.Stat(d); err == nil || !errors.Is(err, os.ErrNotExist) {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return d
		}
		d = parent
	}
}

// checkSpace is one watchdog round: it measures free space, turns low-space on below the
// threshold and off again at spaceResume, and logs each change. A failed measure keeps the
// state. It runs in the DB's watchdog goroutine (and once in Open).
func (db *DB) checkSpace() bool {
	free, err := db.freeSpace(db.dir)
	if err != nil {
		db.log.Warn("free space unknown", "data_dir", db.dir, "err", err)
		return true
	}
	db.free.Store(int64(free))
	switch low := db.low.Load(); {
	case !low && int64(free) < db.minFree:
		db.low.Store(true)
		db.log.Error("disk space low: writes are held until space returns", "data_dir", db.dir,
			"free_mb", free>>20, "min_free_disk_mb", db.minFree>>20, "resume_mb", spaceResume(db.minFree)>>20)
	case low && int64(free) >= spaceResume(db.minFree):
		db.low.Store(false)
		db.log.Info("disk space back: writes resume", "data_dir", db.dir, "free_mb", free>>20)
	}
	return true
}

// LowSpace reports whether free space on the data directory's filesystem is below the
// threshold (until it is back above the threshold plus 10 %): writes then fail with
// KindInsufficientStorage. Always false without a watchdog (in memory, or threshold 0). Safe
// for concurrent use.
func (db *DB) LowSpace() bool { return db.low.Load() }

// FreeBytes returns the free space the watchdog last measured, and false when there is no
// watchdog. Safe for concurrent use.
func (db *DB) FreeBytes() (uint64, bool) {
	if db.freeSpace == nil {
		return 0, false
	}
	return uint64(max(db.free.Load(), 0)), true
}
