package actors

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSchemaCache(t *testing.T) {
	doc := func(i int) []byte {
		return fmt.Appendf(nil, `{"root": {"name": "E%d", "type": "object", "properties": {"name": {"type": "string", "is_key": true}}}}`, i)
	}
	c := newSchemaCache(2)
	a, hashA, err := c.get(doc(1))
	require.NoError(t, err)
	again, hashAgain, err := c.get(doc(1))
	require.NoError(t, err)
	require.Same(t, a, again, "a hit returns the parsed schema")
	require.Equal(t, hashA, hashAgain)

	_, _, err = c.get([]byte(`{"root": 1}`))
	require.Error(t, err, "an invalid document fails")
	require.Len(t, c.byDoc, 1, "and is not cached")

	_, _, err = c.get(doc(2))
	require.NoError(t, err)
	_, _, err = c.get(doc(3)) // evicts doc 1, the oldest
	require.NoError(t, err)
	require.Len(t, c.byDoc, 2)
	b, _, err := c.get(doc(1))
	require.NoError(t, err)
	require.NotSame(t, a, b, "an evicted schema is parsed again")
	require.Equal(t, "E1", b.Root.Name)
}
