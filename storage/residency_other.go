//go:build !linux

package storage

import "errors"

// trimSupported reports whether this platform can page out mappings.
const trimSupported = false

func pageOutColdFiles(string) error { return errors.New("not supported on this platform") }
