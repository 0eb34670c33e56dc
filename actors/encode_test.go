package actors

import (
	"encoding/json"
	"math"
	"testing"
)

func TestEncodeJSONOwnsItsBytes(t *testing.T) {
	v := map[string]any{"b": []any{1.5, "<x>"}, "a": nil}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	first, err := encodeJSON(v)
	if err != nil || string(first) != string(want) || cap(first) != len(first) {
		t.Fatalf("got %q (cap %d), %v; want %q in an exactly sized slice", first, cap(first), err, want)
	}
	// the pooled buffer is reused: a later encoding must not change the first result
	if _, err := encodeJSON(map[string]any{"zzzzzzzzzzzzzzzzzzzzzz": "yyyyyyyyyyyyyyyyyyyyyyyyyyyy"}); err != nil {
		t.Fatal(err)
	}
	if string(first) != string(want) {
		t.Fatalf("the first result changed to %q", first)
	}
	if out, err := encodeJSON(math.NaN()); err == nil || out != nil {
		t.Fatalf("NaN: want an error and no bytes, got %q, %v", out, err)
	}
}
