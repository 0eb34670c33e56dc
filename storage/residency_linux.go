package storage

import (
	"os"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4+): reclaim these pages now.
const madvPageout = 21

// trimSupported reports whether this platform can page out mappings.
const trimSupported = true

// pageOutColdFiles asks the kernel to reclaim the pages of the cold value-log and table
// mappings of dir (see residency.go).
func pageOutColdFiles(dir string) error {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer f.Close()
	for _, m := range coldFiles(f, dir) {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, madvPageout); errno != 0 {
			if errno == syscall.EINVAL { // unknown advice: an older kernel
				return errno
			}
			// ENOMEM: the range was unmapped meanwhile (badger closed the file); skip it.
		}
	}
	return nil
}
