package postgres

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPermitsAcrossSessions: two nodes share a cap of 3 permits of one provider: what one
// holds the other cannot take; a provider's permits are its own; Others sees the other node
// and its want; Give and Close free permits for the other node at once.
func TestPermitsAcrossSessions(t *testing.T) {
	t.Parallel()
	db, err := Open(Config{URL: testDatabase(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	open := func() *Permits {
		p, err := db.OpenPermits()
		require.NoError(t, err)
		return p
	}
	a, b := open(), open()
	t.Cleanup(func() { _ = b.Close() })

	got, err := a.Take("sim", 3, 2)
	require.NoError(t, err)
	require.Equal(t, 2, got)
	got, err = b.Take("sim", 3, 5)
	require.NoError(t, err)
	require.Equal(t, 1, got, "one permit of 3 is left")
	got, err = a.Take("sim", 3, 1)
	require.NoError(t, err)
	require.Zero(t, got, "none left, and a's own are not taken twice")
	got, err = a.Take("openai", 3, 3)
	require.NoError(t, err)
	require.Equal(t, 3, got, "another provider's cap is its own")
	require.Equal(t, 2, a.Held("sim"))

	nodes, wanting, err := a.Others("sim")
	require.NoError(t, err)
	require.Equal(t, 1, nodes)
	require.False(t, wanting)
	require.NoError(t, b.Want("sim", true))
	_, wanting, err = a.Others("sim")
	require.NoError(t, err)
	require.True(t, wanting, "b wants more")
	nodes, _, err = a.Others("openai")
	require.NoError(t, err)
	require.Zero(t, nodes, "nobody else uses openai")

	require.NoError(t, a.Give("sim", 1))
	require.Equal(t, 1, a.Held("sim"))
	got, err = b.Take("sim", 3, 5)
	require.NoError(t, err)
	require.Equal(t, 1, got, "the permit a gave back")

	require.NoError(t, a.Close())
	got, err = b.Take("sim", 3, 5)
	require.NoError(t, err)
	require.Equal(t, 1, got, "a's last permit came back when it closed")
	require.Equal(t, 3, b.Held("sim"))
	require.NoError(t, b.Want("sim", false))
	nodes, wanting, err = b.Others("sim")
	require.NoError(t, err)
	require.Zero(t, nodes)
	require.False(t, wanting)
}
