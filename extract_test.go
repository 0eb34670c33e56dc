package enricher

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExtractJSONObject(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    string
		wantErr string
	}{
		{name: "bare object", text: `{"a":1}`, want: `{"a":1}`},
		{name: "empty object", text: ` {} `, want: `{}`},
		{
			name: "json code fence",
			text: "```json\n{\"a\": {\"b\": [1, 2]}}\n```",
			want: `{"a": {"b": [1, 2]}}`,
		},
		{
			name: "plain code fence with prose around",
			text: "Here is the answer:\n```\n{\"a\": 1}\n```\nLet me know if you need more.",
			want: `{"a": 1}`,
		},
		{
			name: "prose before and after without fence",
			text: `Sure! {"name": "Moderna"} Hope this helps {really}.`,
			want: `{"name": "Moderna"}`,
		},
		{
			name: "braces inside strings",
			text: `{"a": "x { y } z }}", "b": "{"}`,
			want: `{"a": "x { y } z }}", "b": "{"}`,
		},
		{
			name: "escaped quotes inside strings",
			text: `{"a": "say \"}\" now", "b": 2} trailing`,
			want: `{"a": "say \"}\" now", "b": 2}`,
		},
		{
			name: "escaped backslash before closing quote",
			text: `{"path": "C:\\", "x": "}"} tail`,
			want: `{"path": "C:\\", "x": "}"}`,
		},
		{
			name: "first of two objects",
			text: `{"a": 1}{"b": 2}`,
			want: `{"a": 1}`,
		},
		{
			name: "array of objects before the object is skipped",
			text: `[{"x": 1}, {"y": "]"}] then {"a": 1}`,
			want: `{"a": 1}`,
		},
		{
			name: "prose brackets and braces before the object",
			text: `[note] Filling {company} for you: {"a": 1}`,
			want: `{"a": 1}`,
		},
		{
			name: "unbalanced bracket in prose",
			text: `[draft {"a": 1}`,
			want: `{"a": 1}`,
		},
		{
			name: "unicode and escapes",
			text: `{"d": "Société \u00e9 \n ok"}`,
			want: `{"d": "Société \u00e9 \n ok"}`,
		},
		{
			name:    "truncated object",
			text:    "```json\n{\"a\": {\"b\": 1}",
			wantErr: "answer is not valid JSON: unexpected end of input",
		},
		{
			name:    "truncated inside a string",
			text:    `{"a": "unterminated }`,
			wantErr: "answer is not valid JSON: unexpected end of input",
		},
		{
			name:    "no object at all",
			text:    "I cannot find this company.",
			wantErr: "answer is not valid JSON: no JSON object found",
		},
		{
			name:    "empty text",
			text:    "",
			wantErr: "answer is not valid JSON: no JSON object found",
		},
		{
			name:    "top-level array only",
			text:    `[{"a": 1}]`,
			wantErr: "answer is not valid JSON: no JSON object found",
		},
		{
			name:    "trailing comma",
			text:    `{"a": 1,}`,
			wantErr: "answer is not valid JSON: invalid character '}' looking for beginning of object key string",
		},
		{
			name:    "invalid object never yields its nested object",
			text:    `{"a": {"b": 1}, oops}`,
			wantErr: "answer is not valid JSON: invalid character 'o' looking for beginning of object key string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExtractJSONObject(tt.text)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.True(t, IsKind(err, KindInvalid))
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}
