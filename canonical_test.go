package enricher

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "keys sorted at every level", doc: `{"b":1,"a":[true,null,{"d":"x","c":2}]}`,
			want: `{"a":[true,null,{"c":2,"d":"x"}],"b":1}`},
		{name: "white space dropped", doc: " {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\" : { } } \n", want: `{"a":[1,2],"b":{}}`},
		{name: "numbers as written", doc: `[1.0E+2,-0,0.10,12345678901234567890123]`, want: `[1.0E+2,-0,0.10,12345678901234567890123]`},
		{name: "unicode escapes decoded", doc: `["\u00e9","\u2028","\ud83d\ude00","\/","\u0041"]`, want: "[\"é\",\"\u2028\",\"😀\",\"/\",\"A\"]"},
		{name: "html characters kept", doc: `"<a href='x'>&amp;</a>"`, want: `"<a href='x'>&amp;</a>"`},
		{name: "control characters escaped", doc: `"\u0008\f\n\r\t\u0001\u001F\"\\"`, want: `"\b\f\n\r\t\u0001\u001f\"\\"`},
		{name: "unicode keys sorted by bytes", doc: `{"é":1,"z":2,"A":3,"a":4}`, want: `{"A":3,"a":4,"z":2,"é":1}`},
		{name: "duplicate key keeps the last", doc: `{"a":1,"b":2,"a":3}`, want: `{"a":3,"b":2}`},
		{name: "scalar", doc: ` "x" `, want: `"x"`},
		{name: "empty containers", doc: `[{},[]]`, want: `[{},[]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalJSON([]byte(tt.doc))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
			again, err := CanonicalJSON(got)
			require.NoError(t, err)
			require.Equal(t, string(got), string(again), "canonical form is a fixed point")
		})
	}
}

func TestCanonicalJSONSameValueSameBytes(t *testing.T) {
	variants := []string{
		`{"name":"Café","tags":["a","b"],"n":{"y":2,"x":1}}`,
		`{ "n" : { "x" : 1 , "y" : 2 } , "tags" : [ "a" , "b" ] , "name" : "Caf\u00e9" }`,
		"{\n  \"tags\": [\"\\u0061\", \"b\"],\n  \"n\": {\"y\": 2, \"x\": 1},\n  \"name\": \"Caf\u00e9\"\n}",
	}
	want, err := CanonicalJSON([]byte(variants[0]))
	require.NoError(t, err)
	for _, v := range variants[1:] {
		got, err := CanonicalJSON([]byte(v))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
	// The same value marshalled by encoding/json (which escapes <, > and &) also agrees.
	m := map[string]any{"html": "<b>&</b>", "k": []any{"x"}}
	marshalled, err := json.Marshal(m)
	require.NoError(t, err)
	require.Contains(t, string(marshalled), `\u003c`)
	got, err := CanonicalJSON(marshalled)
	require.NoError(t, err)
	require.Equal(t, `{"html":"<b>&</b>","k":["x"]}`, string(got))
}

func TestCanonicalJSONInvalid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{name: "empty", doc: ""},
		{name: "truncated", doc: `{"a":`},
		{name: "trailing data", doc: `{"a":1} x`},
		{name: "two values", doc: `1 2`},
		{name: "trailing comma", doc: `[1,]`},
		{name: "bare word", doc: `nope`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CanonicalJSON([]byte(tt.doc))
			require.Error(t, err)
			require.True(t, IsKind(err, KindInvalid))
		})
	}
}

func TestNormalizeSchemaJSON(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{
			name: "is_key kept, white space dropped, order kept",
			doc:  `{ "root" : {"properties": {"z": {"type": "string", "is_key": true}, "a": {"type": "number"}}, "name": "C"} }`,
			want: `{"root":{"properties":{"z":{"type":"string","is_key":true},"a":{"type":"number"}},"name":"C"}}`,
		},
		{
			name: "every spelling at every depth",
			doc: `{"root":{"name":"C","properties":{` +
				`"a":{"type":"string","identifying":true,"description":"d"},` +
				`"b":{"search_key":"search","type":"string"},` +
				`"c":{"type":"object","properties":{"d":{"type":"string","search_key":true}}},` +
				`"e":{"type":"array","items":{"type":"object","properties":{"f":{"identifying":true,"type":"string"}}}}}},` +
				`"$defs":{"P":{"properties":{"g":{"type":"string","identifying":true}}}}}`,
			want: `{"root":{"name":"C","properties":{` +
				`"a":{"type":"string","is_key":true,"description":"d"},` +
				`"b":{"is_key":true,"type":"string"},` +
				`"c":{"type":"object","properties":{"d":{"type":"string","is_key":true}}},` +
				`"e":{"type":"array","items":{"type":"object","properties":{"f":{"is_key":true,"type":"string"}}}}}},` +
				`"$defs":{"P":{"properties":{"g":{"type":"string","is_key":true}}}}}`,
		},
		{
			name: "spellings folded into the first one",
			doc:  `{"root":{"properties":{"a":{"is_key":false,"type":"string","identifying":true,"search_key":"search"}}}}`,
			want: `{"root":{"properties":{"a":{"is_key":true,"type":"string"}}}}`,
		},
		{
			name: "false spellings",
			doc:  `{"root":{"properties":{"a":{"type":"string","identifying":false},"b":{"type":"string","search_key":"output"}}}}`,
			want: `{"root":{"properties":{"a":{"type":"string","is_key":false},"b":{"type":"string","is_key":false}}}}`,
		},
		{
			name: "outside properties nothing changes",
			doc:  `{"identifying":true,"root":{"name":"C","search_key":"search","properties":{"a":{"type":"string","examples":["\u00e9"]}}},"expertise_domains":{"x":{"name":"X","identifying":true}}}`,
			want: `{"identifying":true,"root":{"name":"C","search_key":"search","properties":{"a":{"type":"string","examples":["é"]}}},"expertise_domains":{"x":{"name":"X","identifying":true}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeSchemaJSON([]byte(tt.doc))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
			again, err := NormalizeSchemaJSON(got)
			require.NoError(t, err)
			require.Equal(t, string(got), string(again), "normalising is idempotent")
		})
	}
}

func TestNormalizeSchemaJSONRoundTrip(t *testing.T) {
	doc := exampleSchema(t)
	withSpellings := strings.Replace(string(doc), `"is_key": true, "expertise": "profile",`, `"identifying": true, "expertise": "profile",`, 1)
	withSpellings = strings.Replace(withSpellings, `"is_key": true, "expertise": "profile"}`, `"search_key": "search", "expertise": "profile"}`, 1)
	require.NotEqual(t, string(doc), withSpellings)

	original, err := ParseSchema(doc)
	require.NoError(t, err)
	normalized, err := NormalizeSchemaJSON([]byte(withSpellings))
	require.NoError(t, err)
	require.NotContains(t, string(normalized), "identifying")
	require.NotContains(t, string(normalized), "search_key")
	reparsed, err := ParseSchema(normalized)
	require.NoError(t, err)
	require.Equal(t, original, reparsed, "the stored form parses to the same schema")

	fromOriginal, err := NormalizeSchemaJSON(doc)
	require.NoError(t, err)
	require.Equal(t, string(fromOriginal), string(normalized), "spellings normalise to the same content")
	require.True(t, json.Valid(normalized))
	require.NotContains(t, string(normalized), "\n")
	require.Less(t, strings.Index(string(normalized), `"root"`), strings.Index(string(normalized), `"expertise_domains"`))
}

func TestNormalizeSchemaJSONInvalid(t *testing.T) {
	for _, doc := range []string{``, `[]`, `{"root":`, `"x"`} {
		_, err := NormalizeSchemaJSON([]byte(doc))
		require.True(t, IsKind(err, KindInvalid), "doc %q", doc)
	}
}

func TestSchemaContentHash(t *testing.T) {
	a, err := NormalizeSchemaJSON([]byte(`{"root":{"name":"C","properties":{"a":{"type":"string","identifying":true}}}}`))
	require.NoError(t, err)
	b, err := NormalizeSchemaJSON([]byte("{\n \"root\": {\"properties\": {\"a\": {\"is_key\": true, \"type\": \"string\"}}, \"name\": \"C\"}\n}"))
	require.NoError(t, err)
	c, err := NormalizeSchemaJSON([]byte(`{"root":{"name":"D","properties":{"a":{"type":"string","is_key":true}}}}`))
	require.NoError(t, err)

	ha, err := SchemaContentHash(a)
	require.NoError(t, err)
	hb, err := SchemaContentHash(b)
	require.NoError(t, err)
	hc, err := SchemaContentHash(c)
	require.NoError(t, err)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, ha)
	require.Equal(t, ha, hb, "same content, other order and spelling")
	require.NotEqual(t, ha, hc)

	sum := sha256.Sum256([]byte(`{"root":{"name":"C","properties":{"a":{"is_key":true,"type":"string"}}}}`))
	require.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), ha)

	_, err = SchemaContentHash([]byte(`{`))
	require.True(t, IsKind(err, KindInvalid))
}
