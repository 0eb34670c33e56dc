package actors

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// TestAnswerSchemasCache: a spec of the same schema and shape gets the very bytes encoded
// first; another shape or another schema gets its own encoding, equal to a fresh one; a
// full cache starts over.
func TestAnswerSchemasCache(t *testing.T) {
	doc := []byte(`{"root": {"name": "Company", "type": "object", "properties": {
		"name": {"type": "string", "is_key": true}, "ceo": {"type": "string"}, "founded": {"type": "integer"}}}}`)
	s1, err := enricher.ParseSchema(doc)
	require.NoError(t, err)
	s2, err := enricher.ParseSchema(doc)
	require.NoError(t, err)
	c := newAnswerSchemas(2)
	fresh := func(spec *enricher.AnswerSpec) string {
		b, err := json.Marshal(spec.JSONSchema())
		require.NoError(t, err)
		return string(b)
	}
	all := enricher.NewAnswerSpec(s1, nil, "", nil)
	named := enricher.NewAnswerSpec(s1, map[string]any{"name": "Acme"}, "", nil)

	first, err := c.get(s1, all)
	require.NoError(t, err)
	require.Equal(t, fresh(all), string(first))
	again, err := c.get(s1, enricher.NewAnswerSpec(s1, map[string]any{"ceo": "x"}, "", nil))
	require.NoError(t, err)
	require.Same(t, &first[0], &again[0], "same schema and shape: the cached bytes")

	other, err := c.get(s1, named)
	require.NoError(t, err)
	require.Equal(t, fresh(named), string(other), "the key field is not asked")
	require.NotEqual(t, string(first), string(other))
	require.Len(t, c.m, 2)

	third, err := c.get(s2, all)
	require.NoError(t, err)
	require.NotSame(t, &first[0], &third[0], "another parsed schema has entries of its own")
	require.Equal(t, string(first), string(third))
	require.Len(t, c.m, 1, "a full cache starts over")
}
