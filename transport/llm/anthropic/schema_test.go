package anthropic

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestToolSchema(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		want        string
		wantWrapped bool
		wantErr     string
	}{
		{name: "object kept, $schema dropped, keys sorted",
			in:   `{"$schema":"x","$id":"y","type":"object","required":["b","a"],"properties":{"b":{"type":"number","minimum":0.10},"a":{"type":["string","null"]}}}`,
			want: `{"properties":{"a":{"type":["string","null"]},"b":{"minimum":0.10,"type":"number"}},"required":["b","a"],"type":"object"}`},
		{name: "nullable object root", in: `{"type":["object","null"],"properties":{}}`, want: `{"properties":{},"type":"object"}`},
		{name: "untyped root with properties", in: `{"properties":{"a":{"type":"string"}}}`,
			want: `{"properties":{"a":{"type":"string"}},"type":"object"}`},
		{name: "array root wrapped, $defs moved up",
			in:          `{"type":"array","items":{"$ref":"#/$defs/p"},"$defs":{"p":{"type":"string"}}}`,
			want:        `{"$defs":{"p":{"type":"string"}},"additionalProperties":false,"properties":{"answer":{"items":{"$ref":"#/$defs/p"},"type":"array"}},"required":["answer"],"type":"object"}`,
			wantWrapped: true},
		{name: "scalar root wrapped", in: `{"type":"string"}`,
			want:        `{"additionalProperties":false,"properties":{"answer":{"type":"string"}},"required":["answer"],"type":"object"}`,
			wantWrapped: true},
		{name: "not an object", in: `[1]`, wantErr: "not a JSON object"},
		{name: "null", in: `null`, wantErr: "not a JSON object"},
		{name: "bad type", in: `{"type":3}`, wantErr: "invalid type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, wrapped, err := toolSchema([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
			require.Equal(t, tt.wantWrapped, wrapped)
		})
	}
}

func TestAnswerText(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wrapped bool
		want    string
		wantErr string
	}{
		{name: "compacted", input: "{ \"a\" : [1, 2] }", want: `{"a":[1,2]}`},
		{name: "unwrapped", input: `{"answer": ["x"]}`, wrapped: true, want: `["x"]`},
		{name: "wrapped without answer", input: `{"other":1}`, wrapped: true, wantErr: `no "answer"`},
		{name: "wrapped not an object", input: `[1]`, wrapped: true, wantErr: "not a JSON object"},
		{name: "invalid", input: `{`, wantErr: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := answerText([]byte(tt.input), tt.wrapped)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
