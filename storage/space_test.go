package storage

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

const mb = 1 << 20

// fakeDisk is a FreeSpaceFunc whose figure the test sets.
type fakeDisk struct{ free atomic.Int64 }

func (d *fakeDisk) measure(string) (uint64, error) { return uint64(d.free.Load()), nil }

func openWatched(t *testing.T, disk *fakeDisk, minFree int64) (*DB, error) {
	t.Helper()
	return Open(Config{Dir: filepath.Join(t.TempDir(), "data"), MinFreeBytes: minFree, FreeSpace: disk.measure,
		SpaceInterval: 5 * time.Millisecond, ValueLogFileSize: 1 * mb, GCInterval: -1, TrimInterval: -1})
}

func TestSpaceWatchdog(t *testing.T) {
	t.Parallel()
	disk := &fakeDisk{}
	disk.free.Store(1000 * mb)
	db, err := openWatched(t, disk, 200*mb)
	require.NoError(t, err)
	defer db.Close()
	write := func() error { return db.Commit(&Batch{Events: []EventEntry{{JobID: "j", Seq: 1, Data: []byte("{}")}}}) }

	require.False(t, db.LowSpace())
	require.NoError(t, write())
	free, ok := db.FreeBytes()
	require.True(t, ok)
	require.EqualValues(t, 1000*mb, free)

	steps := []struct {
		name string
		free int64
		low  bool
	}{
		{"below the threshold: low", 150 * mb, true},
		{"back at the threshold: still low (hysteresis)", 210 * mb, true},
		{"threshold plus 10 %: writes resume", 220 * mb, false},
		{"between threshold and resume point while ok: stays ok", 205 * mb, false},
		{"low again", 199 * mb, true},
	}
	for _, s := range steps {
		disk.free.Store(s.free)
		require.Eventually(t, func() bool {
			f, _ := db.FreeBytes()
			return int64(f) == s.free
		}, 2*time.Second, time.Millisecond, s.name)
		time.Sleep(10 * time.Millisecond) // one more round: the state follows the figure
		require.Equal(t, s.low, db.LowSpace(), s.name)
		err := write()
		if s.low {
			require.True(t, enricher.IsKind(err, enricher.KindInsufficientStorage), "%s: %v", s.name, err)
			err = db.DeleteRefreshToken("h")
			require.True(t, enricher.IsKind(err, enricher.KindInsufficientStorage), "%s: every write is refused: %v", s.name, err)
			require.NoError(t, db.Ping(), "%s: reads go on", s.name)
		} else {
			require.NoError(t, err, s.name)
		}
	}
}

func TestOpenRefusesLowSpace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		free    int64
		minFree int64
		want    string
	}{
		{"below the threshold", 300 * mb, 1024 * mb, "only 300 MB free, min_free_disk_mb is 1024"},
		{"threshold too small for badger", 10000 * mb, 100 * mb, "min_free_disk_mb is 100: it must be at least 130"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disk := &fakeDisk{}
			disk.free.Store(tt.free)
			dir := filepath.Join(t.TempDir(), "data")
			_, err := Open(Config{Dir: dir, MinFreeBytes: tt.minFree, FreeSpace: disk.measure, ValueLogFileSize: 1 * mb})
			require.ErrorContains(t, err, tt.want)
			require.NoDirExists(t, dir, "nothing is created before the check")
		})
	}
	failing := func(string) (uint64, error) { return 0, errors.New("statfs: boom") }
	_, err := Open(Config{Dir: t.TempDir(), MinFreeBytes: 200 * mb, FreeSpace: failing, ValueLogFileSize: 1 * mb})
	require.ErrorContains(t, err, "free space unknown")
}

func TestNoWatchdogInMemory(t *testing.T) {
	t.Parallel()
	db, err := Open(Config{InMemory: true, MinFreeBytes: 200 * mb, FreeSpace: func(string) (uint64, error) { return 0, nil }})
	require.NoError(t, err)
	defer db.Close()
	require.False(t, db.LowSpace())
	_, ok := db.FreeBytes()
	require.False(t, ok)
}
