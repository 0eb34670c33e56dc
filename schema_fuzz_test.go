package enricher

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseSchema checks that ParseSchema never panics, fails only with KindInvalid problems,
// and that every schema it accepts survives normalisation unchanged in meaning.
func FuzzParseSchema(f *testing.F) {
	f.Add(exampleSchema(f))
	f.Add([]byte(rootDoc(`"a":{"type":"string","identifying":true},"b":{"type":"array","items":{"type":"string"},"multilingual":true}`)))
	f.Add([]byte(defsDoc(`"ceo":{"$ref":"#/$defs/Person"},"board":{"type":"array","items":{"$ref":"#/$defs/Person"}}`,
		`"Person":{"properties":{"name":{"type":"string","search_key":"search"},"boss":{"$ref":"#/$defs/Person"}}}`)))
	f.Add([]byte(rootDoc(chain(10))))
	f.Add([]byte(`{"root":{"properties":{"a":{"type":"money","is_key":1}}},"expertise_domains":{"X":2},"$defs":[]}`))
	f.Add([]byte(`{"root":[],"identification_confidence":true}`))
	f.Add([]byte(`[{"a":1},"\u00e9"]`))
	f.Add([]byte(`{"a":`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := ParseSchema(doc)
		if err != nil {
			require.Nil(t, s)
			problemsOf(t, err)
			return
		}
		require.True(t, json.Valid(doc))
		require.NotEmpty(t, s.Root.Properties)
		count := s.PropertyCount()
		require.LessOrEqual(t, count, MaxSchemaProperties)
		require.GreaterOrEqual(t, s.ExpertiseCount(), 1)
		for _, path := range s.SearchKeyPaths() {
			require.NotEmpty(t, path)
		}
		normalized, err := NormalizeSchemaJSON(doc)
		require.NoError(t, err)
		again, err := ParseSchema(normalized)
		require.NoError(t, err)
		require.Equal(t, count, again.PropertyCount())
		require.Equal(t, s.SearchKeyPaths(), again.SearchKeyPaths())
		_, err = SchemaContentHash(normalized)
		require.NoError(t, err)
	})
}

// FuzzCanonicalJSON checks that CanonicalJSON accepts exactly valid JSON, never panics, keeps
// the value and is a fixed point.
func FuzzCanonicalJSON(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[true,null,{"d":"x","c":2}]}`))
	f.Add([]byte(`"\ud83d\ude00\u0001\n<>&"`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`[1.5e3, -0, 01]`))
	f.Add([]byte(`{"a" 1}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := CanonicalJSON(doc)
		require.Equal(t, json.Valid(doc), err == nil, "accepts exactly valid JSON")
		if err != nil {
			return
		}
		require.True(t, json.Valid(got))
		require.Equal(t, decodeWithNumbers(t, doc), decodeWithNumbers(t, got), "same value")
		again, err := CanonicalJSON(got)
		require.NoError(t, err)
		require.Equal(t, got, again)
	})
}

// decodeWithNumbers decodes doc keeping numbers as written (1e700 does not fit a float64).
func decodeWithNumbers(t *testing.T, doc []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}
