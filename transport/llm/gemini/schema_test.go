package gemini

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpenAPISchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{
			name: "nullable pair, no additionalProperties, order from required",
			in:   `{"type":"object","additionalProperties":false,"properties":{"b":{"type":["string","null"],"description":"B"},"a":{"type":"integer"}},"required":["b","a"]}`,
			want: `{"type":"OBJECT","properties":{"b":{"type":"STRING","nullable":true,"description":"B"},"a":{"type":"INTEGER"}},"propertyOrdering":["b","a"],"required":["b","a"]}`,
		},
		{
			name: "unrequired properties follow in document order",
			in:   `{"type":"object","properties":{"z":{"type":"string"},"y":{"type":"string"},"x":{"type":"string"}},"required":["x"]}`,
			want: `{"type":"OBJECT","properties":{"z":{"type":"STRING"},"y":{"type":"STRING"},"x":{"type":"STRING"}},"propertyOrdering":["x","z","y"],"required":["x"]}`,
		},
		{
			name: "arrays, nullable objects, examples and $schema dropped",
			in:   `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":["array","null"],"items":{"type":"object","properties":{"n":{"type":"number","examples":[1]}},"required":["n"],"additionalProperties":false},"minItems":1}`,
			want: `{"type":"ARRAY","nullable":true,"minItems":1,"items":{"type":"OBJECT","properties":{"n":{"type":"NUMBER"}},"propertyOrdering":["n"],"required":["n"]}}`,
		},
		{
			name: "several types become anyOf, oneOf becomes anyOf",
			in:   `{"type":"object","properties":{"v":{"type":["string","integer"]},"w":{"oneOf":[{"type":"boolean"},{"type":"string"}]}}}`,
			want: `{"type":"OBJECT","properties":{"v":{"anyOf":[{"type":"STRING"},{"type":"INTEGER"}]},"w":{"anyOf":[{"type":"BOOLEAN"},{"type":"STRING"}]}},"propertyOrdering":["v","w"]}`,
		},
		{
			name: "enum of strings kept, mixed enum dropped, const becomes enum",
			in:   `{"type":"object","properties":{"e":{"type":"string","enum":["a","b"]},"m":{"type":"integer","enum":[1,2]},"c":{"type":"string","const":"k"}},"required":["e","m","c"]}`,
			want: `{"type":"OBJECT","properties":{"e":{"type":"STRING","enum":["a","b"]},"m":{"type":"INTEGER"},"c":{"type":"STRING","enum":["k"]}},"propertyOrdering":["e","m","c"],"required":["e","m","c"]}`,
		},
		{
			name: "local refs inlined",
			in:   `{"$defs":{"P":{"type":"object","properties":{"s":{"type":"string"}}}},"type":"object","properties":{"p":{"$ref":"#/$defs/P"},"q":{"$ref":"#/definitions/Q"}},"definitions":{"Q":{"type":"boolean"}}}`,
			want: `{"type":"OBJECT","properties":{"p":{"type":"OBJECT","properties":{"s":{"type":"STRING"}},"propertyOrdering":["s"]},"q":{"type":"BOOLEAN"}},"propertyOrdering":["p","q"]}`,
		},
		{name: "recursive ref", in: `{"$defs":{"N":{"type":"object","properties":{"next":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}`, wantErr: "deeper"},
		{name: "remote ref", in: `{"$ref":"https://example.com/s.json"}`, wantErr: "cannot resolve"},
		{name: "not an object", in: `[1]`, wantErr: "not a JSON object"},
		{name: "bad type", in: `{"type":7}`, wantErr: "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := openAPISchema(json.RawMessage(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
			// propertyOrdering is order-sensitive; JSONEq already compares arrays in order.
		})
	}
}
