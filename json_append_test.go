package enricher

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// marshalOrErr returns json.Marshal(v), or nil and whether it failed.
func marshalOrErr(v any) ([]byte, bool) {
	b, err := json.Marshal(v)
	return b, err != nil
}

// requireSameAsMarshal fails unless got/gotErr equal json.Marshal(v) and its failing.
func requireSameAsMarshal(t *testing.T, v any, got []byte, gotErr error) {
	t.Helper()
	want, wantErr := marshalOrErr(v)
	if wantErr != (gotErr != nil) {
		t.Fatalf("error mismatch for %#v: json.Marshal failed=%v, appender err=%v", v, wantErr, gotErr)
	}
	if !wantErr && !bytes.Equal(got, want) {
		t.Fatalf("bytes differ for %#v\n got: %s\nwant: %s", v, got, want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `a"b\c`, "<script>&amp;</script>", "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
		"\u2028\u2029", "é日本🙂", "bad\xffutf8\xc3", "\xe2\x80", "\xe2\x80\xa8x", "\xed\xa0\x80",
	} {
		t.Run(s, func(t *testing.T) {
			requireSameAsMarshal(t, s, appendJSONString(nil, s), nil)
		})
	}
}

func TestAppendJSONFloat(t *testing.T) {
	for _, f := range []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, 1e-6, 9.99e-7, 1e-7, -1e-7, 1e-9, 1.234e-10, 1e20,
		1e21, 1.5e21, -1e21, 123456789012345680000, 1 << 53, 1e300, 5e-324, math.MaxFloat64,
		0.000001234, 0.30000000000000004,
	} {
		got, err := appendJSONFloat([]byte("x"), f)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		want, _ := json.Marshal(f)
		if string(got) != "x"+string(want) {
			t.Fatalf("%v: got %s, want %s", f, got[1:], want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		got, err := appendJSONFloat([]byte("x"), f)
		if _, merr := json.Marshal(f); merr == nil || err == nil || string(got) != "x" {
			t.Fatalf("%v: want an error and dst unchanged like json.Marshal (%v), got %q, %v", f, merr, got, err)
		}
	}
}

func TestAppendRawJSON(t *testing.T) {
	for _, raw := range []string{
		"null", "true", "false", "0", "-0", "1.5e+10", "-12.5E-3", `"x"`, `{}`, `[]`, ` { "a" : [ 1 , 2 ] , "b" : { } } `,
		"{\"a<b\":\"x&y>z\u2028\u2029\"}", `"\u00e9\n\\\"\/"`, "\"\xff\xfe\"", `[[[]],{"a":[{}]}]`, "\n\t\r 7 \n",
		// invalid
		"", " ", "nul", "nulll", "01", "1.", ".5", "-", "1e", "1e+", "+1", `"abc`, `"a\x"`, `"\u12g4"`, "\"a\x01\"",
		`{"a"}`, `{"a":}`, `{a:1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1 "b":2}`, `[}`, `{]`, `]`, `1 2`, `[`, `{"a":1`,
		"'x'", "tru", "True", `"\u2028`,
	} {
		t.Run(raw, func(t *testing.T) {
			got, err := appendRawJSON([]byte("x"), []byte(raw))
			if err != nil && string(got) != "x" {
				t.Fatalf("dst changed on error: %q", got)
			}
			if err == nil {
				got = got[1:]
			}
			requireSameAsMarshal(t, json.RawMessage(raw), got, err)
		})
	}
	t.Run("nil", func(t *testing.T) {
		got, err := appendRawJSON(nil, nil)
		requireSameAsMarshal(t, json.RawMessage(nil), got, err)
	})
	t.Run("depth", func(t *testing.T) {
		for _, n := range []int{maxJSONDepth, maxJSONDepth + 1} {
			for _, open := range []string{"[", `{"k":`} {
				closing := "]"
				if open != "[" {
					closing = "}"
				}
				raw := strings.Repeat(open, n-1) + "[]" + strings.Repeat(closing, n-1)
				got, err := appendRawJSON(nil, []byte(raw))
				requireSameAsMarshal(t, json.RawMessage(raw), got, err)
			}
		}
	})
}

// TestAppendRawJSONProperty compares appendRawJSON with json.Marshal on random JSON texts with
// random whitespace, nasty strings and random one-byte corruptions.
func TestAppendRawJSONProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	invalid := 0
	for range 4000 {
		raw := randRawJSON(r)
		got, err := appendRawJSON(nil, raw)
		if err != nil {
			invalid++
		}
		requireSameAsMarshal(t, json.RawMessage(raw), got, err)
	}
	if invalid < 200 || invalid > 3800 {
		t.Fatalf("the generator gave %d invalid texts of 4000: it tests too little of one side", invalid)
	}
}

// randRawJSON returns a random JSON text, often with whitespace, sometimes corrupted.
func randRawJSON(r *rand.Rand) []byte {
	var b []byte
	b = writeRandJSON(r, b, 0)
	if r.IntN(3) == 0 && len(b) > 0 { // corrupt one byte
		i := r.IntN(len(b))
		corrupt := []byte(`{}[]:,"\ x0-.eE+` + "\x01\xe2")
		switch r.IntN(3) {
		case 0:
			b = append(b[:i], b[i+1:]...)
		case 1:
			b[i] = corrupt[r.IntN(len(corrupt))]
		default:
			b = append(b[:i], append([]byte{corrupt[r.IntN(len(corrupt))]}, b[i:]...)...)
		}
	}
	return b
}

func randSpace(r *rand.Rand, b []byte) []byte {
	for r.IntN(4) == 0 {
		b = append(b, " \t\n\r"[r.IntN(4)])
	}
	return b
}

func writeRandJSON(r *rand.Rand, b []byte, depth int) []byte {
	b = randSpace(r, b)
	k := r.IntN(8)
	if depth > 3 && k >= 6 {
		k = r.IntN(6)
	}
	switch k {
	case 0:
		b = append(b, []string{"null", "true", "false"}[r.IntN(3)]...)
	case 1, 2:
		b = append(b, []string{"0", "-0", "12", "-3.25", "1e9", "2.5E-7", "1E+2", "123456789012345678901234567890"}[r.IntN(8)]...)
	case 3, 4, 5:
		b = writeRandRawString(r, b)
	case 6:
		b = append(b, '[')
		for i := range r.IntN(4) {
			if i > 0 {
				b = append(randSpace(r, b), ',')
			}
			b = writeRandJSON(r, b, depth+1)
		}
		b = append(randSpace(r, b), ']')
	default:
		b = append(b, '{')
		for i := range r.IntN(4) {
			if i > 0 {
				b = append(randSpace(r, b), ',')
			}
			b = writeRandRawString(r, randSpace(r, b))
			b = append(randSpace(r, b), ':')
			b = writeRandJSON(r, b, depth+1)
		}
		b = append(randSpace(r, b), '}')
	}
	return randSpace(r, b)
}

// writeRandRawString writes a JSON string literal with valid escapes and raw bytes that
// encoding/json's compaction treats specially (<, >, &, U+2028, invalid UTF-8).
func writeRandRawString(r *rand.Rand, b []byte) []byte {
	pieces := []string{"a", "Z", " ", "<", ">", "&", "\u2028", "\u2029", "é", "\xff", "\xe2\x80", `\"`, `\\`, `\/`, `\n`, `\u00e9`, `\uD83D`, "日"}
	b = append(b, '"')
	for range r.IntN(6) {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return append(b, '"')
}

// randString returns a string of pieces encoding/json escapes or replaces.
func randString(r *rand.Rand) string {
	pieces := []string{"a", "model-1", " ", `"`, `\`, "<", ">", "&", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "\u2029", "é", "🙂", "\xff", "\xe2\x80", "\xed\xa0\x80", "/"}
	var sb strings.Builder
	for range r.IntN(7) {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

// randFloat returns floats across magnitudes, around the exponent-form cutoffs, and
// (when special) NaN or an infinity.
func randFloat(r *rand.Rand, special bool) float64 {
	switch r.IntN(10) {
	case 0:
		return []float64{0, math.Copysign(0, -1), 1e-6, 1e-7, 1e21, 1e20, 1 << 60, -1e-9}[r.IntN(8)]
	case 1:
		if special {
			return []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[r.IntN(3)]
		}
		return 0.25
	case 2:
		return float64(r.Int64()) // a large integer as a float
	default:
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(60)-30))
	}
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[Time]()
	randZones      = []*time.Location{time.UTC, time.FixedZone("east", 5*3600+1800), time.FixedZone("west", -8*3600), time.Local}
)

// randTime returns an enricher.Time (Time.MarshalJSON writes it in UTC with milliseconds):
// zero (unless full), or any instant from year -150 to year 4000 or past 9999, with
// nanoseconds, in one of several zones.
func randTime(r *rand.Rand, full bool) Time {
	if !full && r.IntN(4) == 0 {
		return Time{}
	}
	sec := r.Int64N(130e9) - 67e9
	if r.IntN(20) == 0 {
		sec = 253402300800 + r.Int64N(1e9) // after 9999-12-31
	}
	return Time{time.Unix(sec, r.Int64N(1e9)).In(randZones[r.IntN(len(randZones))])}
}

// randFill sets v (settable) to a random value of its type: nil or set pointers, nil, empty
// or filled slices and maps, nasty strings, floats of every magnitude and, when special, NaN
// and invalid raw JSON. With full, every field, pointer, slice and map is non-zero.
func randFill(r *rand.Rand, v reflect.Value, special, full bool) {
	if v.Type() == timeType { // its fields are unexported; MarshalJSON writes it
		v.Set(reflect.ValueOf(randTime(r, full)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		s := randString(r)
		if full && s == "" {
			s = "x"
		}
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(full || r.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		if !full && r.IntN(5) == 0 {
			v.SetInt(0)
			return
		}
		v.SetInt(r.Int64N(1<<40) - 1<<39 + 1)
	case reflect.Float64:
		f := randFloat(r, special)
		if full && f == 0 {
			f = 0.5
		}
		v.SetFloat(f)
	case reflect.Pointer:
		if !full && r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		randFill(r, p.Elem(), special, full)
		v.Set(p)
	case reflect.Slice:
		if v.Type() == rawMessageType {
			switch {
			case !full && r.IntN(5) == 0:
				v.SetZero()
			case special && r.IntN(8) == 0:
				v.SetBytes(randRawJSON(r)) // often invalid
			case full: // never null
				v.SetBytes(writeRandJSON(r, []byte(`{"v":`), 0))
				v.SetBytes(append(v.Bytes(), '}'))
			default:
				v.SetBytes(writeRandJSON(r, nil, 0))
			}
			return
		}
		n := r.IntN(4)
		if full {
			n = 1 + r.IntN(3)
		} else if r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			randFill(r, s.Index(i), special, full)
		}
		v.Set(s)
	case reflect.Map:
		if !full && r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		m := reflect.MakeMap(v.Type())
		n := r.IntN(4)
		if full {
			n = 1 + r.IntN(3)
		}
		for range n {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			randFill(r, k, special, full)
			randFill(r, e, special, full)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Interface: // the values decoded from JSON
		d := randDecoded(r, 2, special)
		if full && d == nil {
			d = "x"
		}
		if d != nil {
			v.Set(reflect.ValueOf(d))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue // not encoded
			}
			randFill(r, v.Field(i), special, full)
		}
	default:
		panic("randFill: unhandled kind " + v.Kind().String() + " of " + v.Type().String())
	}
}

// randDecoded returns a random value of the kinds AppendJSON writes itself, with (when mixed)
// NaN, ints and types it hands to json.Marshal nested inside.
func randDecoded(r *rand.Rand, depth int, mixed bool) any {
	k := r.IntN(9)
	if depth > 3 && k >= 7 {
		k = r.IntN(7)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2, 3:
		return randString(r)
	case 4:
		return randFloat(r, mixed)
	case 5:
		if !mixed {
			return float64(r.IntN(100))
		}
		return []any{r.IntN(1000) - 500, r.Int64(), json.Number("12.5"), []string{"<a>"}, json.RawMessage(` [1, "&"] `),
			struct{ A string }{"<"}, map[string]int{"b": 1, "a": 2}, (map[string]any)(nil), ([]any)(nil)}[r.IntN(9)]
	case 6:
		var raw any
		if json.Unmarshal(writeRandJSON(r, nil, 0), &raw) == nil {
			return raw
		}
		return "x"
	case 7:
		n := r.IntN(4)
		s := make([]any, n)
		for i := range s {
			s[i] = randDecoded(r, depth+1, mixed)
		}
		return s
	default:
		m := map[string]any{}
		for range r.IntN(5) {
			m[randString(r)] = randDecoded(r, depth+1, mixed)
		}
		return m
	}
}

func TestAppendJSONProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 5))
	failed := 0
	for i := range 3000 {
		v := randDecoded(r, 0, i%2 == 1)
		got, err := AppendJSON(nil, v)
		if err != nil {
			failed++
		}
		requireSameAsMarshal(t, v, got, err)
	}
	if failed == 0 {
		t.Fatal("no value failed: the error path is not exercised")
	}
}

// TestCompactSortedJSONProperty compares the canonical entity JSON with a json.Encoder
// without HTML escaping.
func TestCompactSortedJSONProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 6))
	for range 2000 {
		v := randDecoded(r, 0, false)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if got, want := compactSortedJSON(v), strings.TrimSuffix(buf.String(), "\n"); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
}

func TestAppendJSONCycle(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	got, err := AppendJSON([]byte("x"), m)
	if _, merr := json.Marshal(m); merr == nil || err == nil || string(got) != "x" {
		t.Fatalf("a cyclic map must fail like json.Marshal (%v) and leave dst unchanged: %q, %v", merr, got, err)
	}
}

// TestAppendJSONIndentProperty compares the prompt's entity JSON with json.MarshalIndent(v,
// "", "  "), nested fallbacks (types encoding/json writes) included.
func TestAppendJSONIndentProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 7))
	for i := range 2000 {
		v := randDecoded(r, 0, i%2 == 1)
		got, err := appendJSONIndent(nil, v)
		want, merr := json.MarshalIndent(v, "", "  ")
		if (err != nil) != (merr != nil) || err == nil && !bytes.Equal(got, want) {
			t.Fatalf("got  %s (%v)\nwant %s (%v)", got, err, want, merr)
		}
	}
}

// TestAppendPromptJSON: a prompt's JSON is json.Marshal's (or MarshalIndent's) for every value
// that encodes, and null, never a failure or a fragment, for one that does not.
func TestAppendPromptJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 8))
	failed := 0
	for i := range 2000 {
		v := randDecoded(r, 0, i%2 == 1)
		indent := i%3 == 0
		got := appendPromptJSON([]byte("x"), v, indent)
		want, err := json.Marshal(v)
		if indent {
			want, err = json.MarshalIndent(v, "", "  ")
		}
		if err != nil {
			failed++
			want = []byte("null")
		}
		if string(got) != "x"+string(want) {
			t.Fatalf("got  %s\nwant x%s", got, want)
		}
	}
	if failed == 0 {
		t.Fatal("no value failed: the null path is not exercised")
	}
}
