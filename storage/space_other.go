//go:build !unix

package storage

import "errors"

// statfsFree is the default FreeSpaceFunc; this platform has none, so a threshold above 0
// fails at Open.
func statfsFree(string) (uint64, error) {
	return 0, errors.New("free space not measurable on this platform")
}
