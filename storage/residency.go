package storage

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Badger maps its value-log and table files into memory and writes them through the mapping,
// so every byte written stays resident in this process (as page cache charged to its RSS) for
// as long as the file is open: a 100,000-entity batch leaves gigabytes of cold event and
// record data resident. The trimmer asks the kernel to reclaim the pages of the files badger
// no longer writes, with madvise(MADV_PAGEOUT): every value-log file but the newest (the one
// being appended to) and every table (SST) file. It runs a pass within trimPoll of badger
// creating or removing a file in the directory (a value-log file is full, a memtable was
// flushed to a table, a compaction finished), so the resident value log stays near one
// file's size whatever the write rate, and at least every TrimInterval (to reclaim what reads
// faulted back in). The advice is only a hint: the data stays in the files, later reads fault
// it back in, dirty pages (a file still being written or not yet synced) are left for a later
// pass, and a range that was unmapped and reused meanwhile loses nothing (anonymous pages
// without swap are left alone). Where the kernel lacks MADV_PAGEOUT (before Linux 5.4) or the
// platform is not Linux, trimming is off.
//
// The price: reading a value or a table block whose pages were trimmed is a disk read instead
// of a memory access (bench records: soft-deleting 100 old records, which reads each, 330 ms
// instead of 5 ms). The server's trim_value_logs setting turns trimming off where memory is
// plentiful.

// keepResident is how many of the newest value-log files trimming spares: the one badger
// appends to.
const keepResident = 1

// trimPoll is how often the trimmer looks for a change in the data directory (one stat).
const trimPoll = 250 * time.Millisecond

// mapping is one line of /proc/self/maps: an address range and the file behind it.
type mapping struct {
	start, end uintptr
	path       string
	fid        int // the file's number
}

// coldFiles returns the mappings in dir of every table file and of the value-log files except
// the keepResident newest (badger appends only to the value-log file with the highest number;
// tables are written once, synced, and then only read).
func coldFiles(maps io.Reader, dir string) []mapping {
	var logs, cold []mapping
	var fids []int
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || filepath.Dir(f[5]) != dir {
			continue
		}
		ext := filepath.Ext(f[5])
		if ext != ".vlog" && ext != ".sst" {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		fid, err3 := strconv.Atoi(strings.TrimSuffix(filepath.Base(f[5]), ext))
		if !ok || err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		m := mapping{start: uintptr(start), end: uintptr(end), path: f[5], fid: fid}
		if ext == ".sst" {
			cold = append(cold, m)
			continue
		}
		logs = append(logs, m)
		fids = append(fids, fid)
	}
	slices.Sort(fids)
	fids = slices.Compact(fids)
	if len(fids) <= keepResident {
		return cold
	}
	oldestKept := fids[len(fids)-keepResident]
	for _, m := range logs {
		if m.fid < oldestKept {
			cold = append(cold, m)
		}
	}
	return cold
}

// trimLoop runs a trimming pass whenever dir's modification time changes (badger created or
// removed a file) and at least every interval, until ctx ends or the kernel refuses the
// advice. The DB's WaitGroup owns the goroutine that calls it.
func (db *DB) trimLoop(ctx context.Context, dir string, interval time.Duration) {
	defer db.wg.Done()
	t := time.NewTicker(min(trimPoll, interval))
	defer t.Stop()
	var seen time.Time
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fi, err := os.Stat(dir)
			changed := err == nil && !fi.ModTime().Equal(seen)
			if !changed && now.Sub(last) < interval {
				continue
			}
			if err == nil {
				seen = fi.ModTime()
			}
			last = now
			if !db.trim(dir) {
				return
			}
		}
	}
}

// trim pages out dir's cold files; it reports false (stop trying) when the kernel refuses
// the advice.
func (db *DB) trim(dir string) bool {
	if err := pageOutColdFiles(dir); err != nil {
		db.log.Info("storage: trimming off", "error", err)
		return false
	}
	return true
}
