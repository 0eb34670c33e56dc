// Package codectest checks a storage backend's JSON codec against encoding/json, for the
// tests of both backends (storage and storage/postgres). It imports neither.
package codectest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// MatchesEncodingJSON checks a backend's JSON codec (marshal, unmarshal) against
// encoding/json for each value (a pointer to a zero value of a stored type): with every field
// set, marshal writes the very bytes encoding/json writes, and each reads the other's bytes
// back to the same value, so data written by either reads the same.
func MatchesEncodingJSON(t *testing.T, marshal func(any) ([]byte, error), unmarshal func([]byte, any) error, values ...any) {
	t.Helper()
	for _, v := range values {
		name := reflect.TypeOf(v).Elem().Name()
		t.Run(name, func(t *testing.T) {
			fill(reflect.ValueOf(v).Elem(), 0)
			std, err := json.Marshal(v)
			require.NoError(t, err)
			fast, err := marshal(v)
			require.NoError(t, err)
			require.Equal(t, string(std), string(fast), "the same bytes")
			require.Greater(t, len(std), 20, "fields were set")

			fromStd, fromFast := reflect.New(reflect.TypeOf(v).Elem()), reflect.New(reflect.TypeOf(v).Elem())
			require.NoError(t, unmarshal(std, fromStd.Interface()))
			require.NoError(t, json.Unmarshal(fast, fromFast.Interface()))
			again, err := json.Marshal(fromStd.Interface())
			require.NoError(t, err)
			require.Equal(t, string(std), string(again), "decoded by the codec, the value is what was written")
			require.Equal(t, fromFast.Interface(), fromStd.Interface())
		})
	}
}

// fill sets every settable field of v to a value that is not its zero value, with numbers and
// strings that test the encoders' edge cases (escapes, HTML, exponents, fractions).
func fill(v reflect.Value, depth int) {
	if depth > 6 || !v.CanSet() {
		return
	}
	if v.Type() == reflect.TypeOf(enricher.Time{}) {
		v.Set(reflect.ValueOf(enricher.NewTime(time.Date(2026, 12, 3, 15, 4, 5, 123456789, time.UTC))))
		return
	}
	if v.Type() == reflect.TypeOf(json.RawMessage(nil)) {
		v.SetBytes([]byte(`{"a":[1,2.5,"x<y>&"],"b":null}`))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x \"q\" <b>&amp; é \u2028 \\ /")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.1 + 0.2)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i, k := range []string{"b", "a"} {
			key := reflect.New(v.Type().Key()).Elem()
			if key.Kind() != reflect.String {
				return
			}
			key.SetString(k)
			val := reflect.New(v.Type().Elem()).Elem()
			fill(val, depth+1)
			if val.Kind() == reflect.Float64 {
				val.SetFloat([]float64{1e21, 1.5e-7}[i])
			}
			m.SetMapIndex(key, val)
		}
		v.Set(m)
	case reflect.Interface:
		v.Set(reflect.ValueOf(map[string]any{"n": 1e21, "s": "<x>", "l": []any{1.5e-7, true, nil}}))
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), depth+1)
		}
	}
}

// Fill sets every field of *v (a pointer to a struct) as MatchesEncodingJSON does: nothing is
// zero, and the strings, numbers and raw values test the encoders' edge cases.
func Fill(v any) { fill(reflect.ValueOf(v).Elem(), 0) }
