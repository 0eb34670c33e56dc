package storage

import (
	"bufio"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Badger maps its value-log files into memory and writes through the mapping, so every byte
// written stays resident in this process (as page cache charged to its RSS) for as long as
// the file is open: a 100,000-entity batch leaves gigabytes of cold event and record data
// resident. The trimmer periodically asks the kernel to reclaim the pages of the value-log
// files badger wrote before the newest two (recent values, the ones most likely read back,
// stay), with madvise(MADV_PAGEOUT). The
// advice is only a hint: the data stays in the files, later reads fault it back in, and a
// range that was unmapped and reused meanwhile loses nothing (anonymous pages without swap
// are left alone, other file pages are written back first). Where the kernel lacks
// MADV_PAGEOUT (before Linux 5.4) or the platform is not Linux, trimming is off.
//
// The price: reading a value from a trimmed file is a disk read instead of a memory access
// (bench records: soft-deleting 100 old records, which reads each, 330 ms instead of 5 ms).
// The server's trim_value_logs setting turns trimming off where memory is plentiful.

// keepResident is how many of the newest value-log files trimming spares.
const keepResident = 2

// mapping is one line of /proc/self/maps: an address range and the file behind it.
type mapping struct {
	start, end uintptr
	path       string
	fid        int // the value-log file's number
}

// coldValueLogs returns the mappings of value-log files in dir except the keepResident newest
// (badger appends only to the file with the highest number).
func coldValueLogs(maps io.Reader, dir string) []mapping {
	var logs []mapping
	var fids []int
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || filepath.Dir(f[5]) != dir || !strings.HasSuffix(f[5], ".vlog") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		fid, err3 := strconv.Atoi(strings.TrimSuffix(filepath.Base(f[5]), ".vlog"))
		if !ok || err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		logs = append(logs, mapping{start: uintptr(start), end: uintptr(end), path: f[5], fid: fid})
		fids = append(fids, fid)
	}
	slices.Sort(fids)
	fids = slices.Compact(fids)
	if len(fids) <= keepResident {
		return nil
	}
	oldestKept := fids[len(fids)-keepResident]
	cold := logs[:0]
	for _, m := range logs {
		if m.fid < oldestKept {
			cold = append(cold, m)
		}
	}
	return cold
}

// trim pages out dir's cold value logs; it reports false (stop trying) when the kernel
// refuses the advice.
func (db *DB) trim(dir string) bool {
	if err := pageOutColdValueLogs(dir); err != nil {
		db.log.Info("storage: value-log trimming off", "error", err)
		return false
	}
	return true
}
