package storage

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// TestPageOutColdValueLogs writes several 1 MiB value-log files and checks that trimming
// lowers the resident size of all but the newest, and that the data reads back intact.
func TestPageOutColdValueLogs(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	db, err := Open(Config{Dir: dir, ValueLogFileSize: 1 << 20, TrimInterval: -1, GCInterval: -1})
	require.NoError(t, err)
	defer db.Close()
	value := []byte(strings.Repeat("x", 4096)) // above the 1 KiB value threshold: into the value log
	for i := range 1000 {
		require.NoError(t, db.update(func(txn *badger.Txn) error { return txn.Set(fmt.Appendf(nil, "t/%04d", i), value) }))
	}
	before := coldResidentKB(t, dir)
	require.Greater(t, before, 1024, "written value logs are resident")
	require.NoError(t, pageOutColdFiles(dir))
	after := coldResidentKB(t, dir)
	require.Less(t, after, before/2, "trimming hands the cold pages back")
	for _, i := range []int{0, 500, 999} {
		v, ok, err := func() (v []byte, ok bool, err error) {
			err = db.view(func(txn *badger.Txn) error { v, ok, err = getRaw(txn, fmt.Appendf(nil, "t/%04d", i)); return err })
			return
		}()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, value, v)
	}
}

// coldResidentKB sums the resident size of the cold value-log mappings of dir.
func coldResidentKB(t *testing.T, dir string) int {
	f, err := os.Open("/proc/self/maps")
	require.NoError(t, err)
	cold := coldFiles(f, dir)
	f.Close()
	require.NotEmpty(t, cold)
	isCold := map[string]bool{}
	for _, m := range cold {
		isCold[fmt.Sprintf("%x", m.start)] = true
	}
	sm, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer sm.Close()
	total, in := 0, false
	sc := bufio.NewScanner(sm)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = isCold[strings.SplitN(f[0], "-", 2)[0]]
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			total += kb
		}
	}
	return total
}

// TestTrimOnNewFile checks that the trimmer does not wait for its interval: once badger opens
// a new value-log file, the full ones are paged out within a few polls.
func TestTrimOnNewFile(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	db, err := Open(Config{Dir: dir, ValueLogFileSize: 1 << 20, TrimInterval: time.Hour, GCInterval: -1})
	require.NoError(t, err)
	defer db.Close()
	value := []byte(strings.Repeat("y", 4096))
	for i := range 1000 {
		require.NoError(t, db.update(func(txn *badger.Txn) error { return txn.Set(fmt.Appendf(nil, "t/%04d", i), value) }))
	}
	require.Eventually(t, func() bool { return coldResidentKB(t, dir) < 1024 }, 5*time.Second, 50*time.Millisecond,
		"the full value logs are paged out long before the hourly pass")
}
