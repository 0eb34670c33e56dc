//go:build unix

package storage

import (
	"errors"
	"os"
	"syscall"
)

// dirLocked reports whether another open file holds the exclusive flock badger takes on dir.
// The probe takes and drops the lock at once, so it never holds the directory.
func dirLocked(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	return errors.Is(err, syscall.EWOULDBLOCK)
}
