package storage

import (
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// A second Open of a directory in use fails with a LockedError naming the holder's pid, and the
// directory opens again once the holder closes it.
func TestOpenLockedDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Open(Config{Dir: dir, GCInterval: -1, TrimInterval: -1})
	require.NoError(t, err)

	_, err = Open(Config{Dir: dir, GCInterval: -1, TrimInterval: -1})
	var locked *LockedError
	require.True(t, errors.As(err, &locked), "got %v", err)
	require.Equal(t, dir, locked.Dir)
	require.Equal(t, os.Getpid(), locked.PID, "flock is per open file, so the same process conflicts too")
	require.Equal(t, "data dir "+dir+" is locked by another enricher (pid "+strconv.Itoa(os.Getpid())+")", err.Error())

	require.NoError(t, first.Close())
	again, err := Open(Config{Dir: dir, GCInterval: -1, TrimInterval: -1})
	require.NoError(t, err)
	require.NoError(t, again.Close())
}
