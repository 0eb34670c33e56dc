package openai

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStrictSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{
			name: "optional fields become nullable and required, order kept, examples dropped",
			in: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","title":"P",` +
				`"properties":{"z":{"type":"string","examples":["a"],"minLength":1},"a":{"type":"integer","default":3}},"required":["z"]}`,
			want: `{"type":"object","properties":{"z":{"type":"string"},"a":{"type":["integer","null"]}},"required":["z","a"],"additionalProperties":false}`,
		},
		{
			name: "nested objects, arrays, multilingual objects",
			in: `{"type":"object","additionalProperties":false,"required":["n"],"properties":{"n":{"type":["object","null"],` +
				`"properties":{"en":{"type":"string"},"fr":{"type":"string"}},"required":["en","fr"],"additionalProperties":false},` +
				`"tags":{"type":"array","items":{"type":"object","properties":{"k":{"type":"string","description":"key"}}},"maxItems":3}}}`,
			want: `{"type":"object","additionalProperties":false,"required":["n","tags"],"properties":{"n":{"type":["object","null"],` +
				`"properties":{"en":{"type":"string"},"fr":{"type":"string"}},"required":["en","fr"],"additionalProperties":false},` +
				`"tags":{"type":["array","null"],"items":{"type":"object","properties":{"k":{"type":["string","null"],"description":"key"}},` +
				`"required":["k"],"additionalProperties":false},"maxItems":3}}}`,
		},
		{
			name: "nullable keyword, enum with null, oneOf as anyOf, ref wrapped, bad format dropped",
			in: `{"type":"object","properties":{"s":{"type":"string","enum":["a","b"],"nullable":true},` +
				`"u":{"oneOf":[{"type":"string"},{"type":"number"}]},"r":{"$ref":"#/$defs/x"},` +
				`"d":{"type":"string","format":"uri"},"e":{"type":"string","format":"email"}},` +
				`"required":["s","u","d","e"],"$defs":{"x":{"type":"boolean"}}}`,
			want: `{"type":"object","properties":{"s":{"type":["string","null"],"enum":["a","b",null]},` +
				`"u":{"anyOf":[{"type":"string"},{"type":"number"}]},"r":{"anyOf":[{"$ref":"#/$defs/x"},{"type":"null"}]},` +
				`"d":{"type":"string"},"e":{"type":"string","format":"email"}},` +
				`"required":["s","u","r","d","e"],"$defs":{"x":{"type":"boolean"}},"additionalProperties":false}`,
		},
		{name: "root not an object", in: `{"type":"array","items":{"type":"string"}}`, wantErr: "root type"},
		{name: "root not JSON object", in: `[1]`, wantErr: "root is not an object"},
		{name: "not JSON", in: `{"type":`, wantErr: "not JSON"},
		{name: "open map", in: `{"type":"object","properties":{"m":{"type":"object","additionalProperties":{"type":"string"}}}}`,
			wantErr: "#/properties/m: open objects"},
		{name: "free-form object", in: `{"type":"object","properties":{"m":{"type":"object"}}}`, wantErr: "without properties"},
		{name: "allOf", in: `{"type":"object","properties":{"m":{"allOf":[{"type":"string"}]}}}`, wantErr: "allOf is not supported"},
		{name: "untyped", in: `{"type":"object","properties":{"m":{"description":"anything"}}}`, wantErr: "without type"},
		{name: "array without items", in: `{"type":"object","properties":{"m":{"type":"array"}}}`, wantErr: "without an items"},
		{name: "too deep", in: nested(11), wantErr: "deeper than 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := strictSchema(json.RawMessage(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestStrictSchemaDepthLimitFits(t *testing.T) {
	t.Parallel()
	_, err := strictSchema(json.RawMessage(nested(10)))
	require.NoError(t, err)
}

// nested returns a schema of depth nested objects.
func nested(depth int) string {
	s := `{"type":"string"}`
	for range depth {
		s = `{"type":"object","properties":{"a":` + s + `},"required":["a"]}`
	}
	return s
}

func TestSchemaName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"person", "person"},
		{"", "answer"},
		{"entité record", "entit_record"},
		{"///", "answer"},
		{strings.Repeat("a", 70), strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, schemaName(tt.in))
		})
	}
}
