package storage

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestColdFiles(t *testing.T) {
	maps := `55d0a0000000-55d0a0001000 r--p 00000000 fd:01 123 /usr/bin/enricher
7f0000000000-7f0008000000 rw-s 00000000 fd:01 201 /data/000001.vlog
7f0008000000-7f0010000000 rw-s 00000000 fd:01 202 /data/000002.vlog
7f0010000000-7f0018000000 rw-s 00000000 fd:01 203 /data/000010.vlog
7f0018000000-7f0019000000 rw-s 00000000 fd:01 204 /data/000003.sst
7f0019000000-7f001a000000 rw-s 00000000 fd:01 205 /other/000001.vlog
7f001a000000-7f001b000000 rw-p 00000000 00:00 0
garbage line
`
	got := coldFiles(strings.NewReader(maps), "/data")
	var paths []string
	for _, m := range got {
		paths = append(paths, m.path)
		require.Greater(t, m.end, m.start)
	}
	require.Equal(t, []string{"/data/000003.sst", "/data/000001.vlog", "/data/000002.vlog"}, paths,
		"every table and every value log of the dir but the newest")
	require.Empty(t, coldFiles(strings.NewReader("7f0010000000-7f0018000000 rw-s 0 fd:01 203 /data/000010.vlog\n"+
		"7f0018000000-7f0019000000 rw-s 00000000 fd:01 204 /data/000003.mem\n"), "/data"),
		"the value log being written and the memtables stay resident")
}
