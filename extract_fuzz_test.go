package enricher

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzExtractJSONObject checks that extraction never panics and that whatever it returns is a
// JSON object found verbatim in the text.
func FuzzExtractJSONObject(f *testing.F) {
	seeds := []string{
		``,
		`{}`,
		`{"a":1}`,
		"```json\n{\"a\": [1, {\"b\": \"}\"}]}\n```",
		`prose {x} then {"a": "\"}\\"} after`,
		`[{"a":1}] {"b":2}`,
		`{"a": {"b": 1}`,
		`{"a": "unterminated`,
		`[[[[{`,
		`{"a": 1,}`,
		`\"{"}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := ExtractJSONObject(text)
		if err != nil {
			if got != nil {
				t.Fatalf("bytes %q returned with error %v", got, err)
			}
			return
		}
		if len(got) == 0 || got[0] != '{' || !json.Valid(got) {
			t.Fatalf("returned %q, not a JSON object", got)
		}
		// UseNumber keeps numbers out of float64 range (1e400) from failing the decode.
		dec := json.NewDecoder(bytes.NewReader(got))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("returned %q, which does not decode as an object: %v", got, err)
		}
		if !bytes.Contains([]byte(text), got) {
			t.Fatalf("returned %q, not a span of the text", got)
		}
	})
}
