package enricher

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMemo: the same bytes derive once; derive works on a private copy; errors are
// not kept; a full memo starts over.
func TestMemo(t *testing.T) {
	var m Memo[[]byte]
	calls := 0
	derive := func(b []byte) ([]byte, error) {
		calls++
		if len(b) == 0 {
			return nil, errors.New("empty")
		}
		return b[:1], nil // keeps a slice of its input
	}
	buf := []byte(`{"type":"object"}`)
	first, err := m.Get(buf, derive)
	require.NoError(t, err)
	buf[0] = '#' // the caller reuses its buffer
	again, err := m.Get([]byte(`{"type":"object"}`), derive)
	require.NoError(t, err)
	require.Equal(t, 1, calls, "derived once")
	require.Equal(t, "{", string(first))
	require.Same(t, &first[0], &again[0])

	for range 2 {
		_, err = m.Get(nil, derive)
		require.Error(t, err)
	}
	require.Equal(t, 3, calls, "an error is not kept")

	for i := range MemoSize {
		_, err := m.Get(fmt.Appendf(nil, `{"n":%d}`, i), derive)
		require.NoError(t, err)
	}
	require.Len(t, m.m, 1, "the first entry and MemoSize-1 more filled it: the last one found it full, cleared it and was kept")
}
