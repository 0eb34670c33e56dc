//go:build !unix

package storage

// dirLocked reports false where badger's directory lock is not a flock: Open then reports
// badger's own error.
func dirLocked(string) bool { return false }
