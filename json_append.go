package enricher

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Hand-written JSON encoding of the engine's hot values: event payloads, the enrichment
// outcome, the stored spec, and values decoded from JSON.
//
// Contract: every append function in this file and every payloadAppender writes bytes
// identical to encoding/json.Marshal of the same value, and fails exactly when json.Marshal
// fails (a NaN or infinite float, a json.RawMessage that is empty or not valid JSON). Two
// variants are named as such: without jsonHTML the bytes are a json.Encoder's with
// SetEscapeHTML(false) (without its newline); with jsonIndent, json.MarshalIndent(v, "", "  ").
// On error the returned slice is dst truncated to its length on entry. The functions are
// pure: safe for concurrent use, they only append to dst. The property tests in
// json_append_test.go and event_append_test.go compare them with encoding/json on random
// values; a field added to one of the encoded structs fails TestAppendersCoverEveryField until
// its appender writes it.

// payloadAppender is implemented by the event payloads that encode themselves without
// reflection; AppendEvent prefers it to json.Marshal. appendJSON appends the payload's JSON
// object to dst.
type payloadAppender interface {
	appendJSON(dst []byte) ([]byte, error)
}

// maxJSONDepth is encoding/json's nesting limit for the JSON it validates.
const maxJSONDepth = 10000

const jsonHex = "0123456789abcdef"

// appendEscapedByte appends the escape of the ASCII byte b that may not stand as itself in a
// JSON string: \" \\ \b \f \n \r \t, else \u00XX (the other control bytes, and < > & where
// HTML escaping is on). The escapes both encoders here write (encoding/json's and the
// canonical one, ordered_json.go).
func appendEscapedByte(dst []byte, b byte) []byte {
	switch b {
	case '\\', '"':
		return append(dst, '\\', b)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', jsonHex[b>>4], jsonHex[b&0xF])
}

// jsonSafe[b] is true for the ASCII bytes encoding/json writes unescaped inside a string
// with HTML escaping on (json.Marshal); jsonSafeNoHTML with it off.
var jsonSafe, jsonSafeNoHTML = func() (t, u [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		u[b] = b != '"' && b != '\\'
		t[b] = u[b] && b != '<' && b != '>' && b != '&'
	}
	return t, u
}()

// AppendJSONString appends s as json.Marshal writes a string; it cannot fail.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// appendJSONString appends s as a JSON string with encoding/json's escaping: \" \\ \b \f \n
// \r \t, \u00XX for the other control bytes and for < > &, \ufffd for each invalid UTF-8 byte,
// \u2028 and \u2029 for those two characters.
func appendJSONString(dst []byte, s string) []byte { return appendJSONStringEsc(dst, s, true) }

// appendJSONStringEsc is appendJSONString with HTML escaping (of < > &) on or off, as
// json.Encoder.SetEscapeHTML sets it.
func appendJSONStringEsc(dst []byte, s string, html bool) []byte {
	safe := &jsonSafe
	if !html {
		safe = &jsonSafeNoHTML
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = appendEscapedByte(append(dst, s[start:i]...), b)
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', jsonHex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64: the shortest representation,
// in exponent form below 1e-6 and from 1e21 on (with e-09 written e-9). NaN and ±Inf are an
// error, as for json.Marshal.
func appendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, Errorf(KindInternal, "json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// appendJSONInt appends n in decimal.
func appendJSONInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// appendJSONBool appends true or false.
func appendJSONBool(dst []byte, b bool) []byte { return strconv.AppendBool(dst, b) }

// appendNullableString appends *s, or null when s is nil.
func appendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, *s)
}

// appendNullableInt appends *n, or null when n is nil.
func appendNullableInt(dst []byte, n *int) []byte {
	if n == nil {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, int64(*n), 10)
}

// appendStringSlice appends ss as a JSON array; a nil slice is null, an empty one [].
func appendStringSlice(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// appendSortedMap appends m as a JSON object with its keys in encoding/json's order (sorted
// by byte value), each value written by appendValue; a nil map is null.
func appendSortedMap[V any](dst []byte, m map[string]V, appendValue func([]byte, V) ([]byte, error)) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	mark := len(dst)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, m[k]); err != nil {
			return dst[:mark], err
		}
	}
	return append(dst, '}'), nil
}

// appendRawJSON appends raw as encoding/json writes a json.RawMessage: null when raw is nil,
// otherwise raw without the whitespace between tokens and with < > & U+2028 U+2029 escaped.
// Raw bytes that are empty or not valid JSON are an error, as for json.Marshal.
func appendRawJSON(dst, raw []byte) ([]byte, error) {
	if raw == nil {
		return append(dst, "null"...), nil
	}
	mark := len(dst)
	dst, ok := appendCompactJSON(dst, raw)
	if !ok {
		return dst[:mark], Errorf(KindInternal, "json: a raw JSON value is not valid JSON")
	}
	return dst, nil
}

// appendCompactJSON validates src with encoding/json's grammar (including its nesting
// limit) while copying it to dst compacted and HTML-escaped. It reports false when src is not
// one valid JSON value; dst then holds partial output.
func appendCompactJSON(dst, src []byte) ([]byte, bool) {
	var stackBuf [32]byte
	stack := stackBuf[:0] // the open containers, '{' or '['
	i := skipJSONSpace(src, 0)
	var ok bool
	for {
		// A value starts at i.
		if i >= len(src) {
			return dst, false
		}
		switch c := src[i]; c {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return dst, false
			}
			stack = append(stack, c)
			dst = append(dst, c)
			i = skipJSONSpace(src, i+1)
			if i < len(src) && src[i] == c+2 { // } or ]: empty; the closing is read below
				break
			}
			if c == '{' {
				if dst, i, ok = appendJSONKey(dst, src, i); !ok {
					return dst, false
				}
			}
			continue
		case '"':
			if dst, i, ok = appendRawString(dst, src, i); !ok {
				return dst, false
			}
		case 't', 'f', 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if len(src)-i < len(lit) || string(src[i:i+len(lit)]) != lit {
				return dst, false
			}
			dst = append(dst, lit...)
			i += len(lit)
		default:
			end := scanJSONNumber(src, i)
			if end < 0 {
				return dst, false
			}
			dst = append(dst, src[i:end]...)
			i = end
		}
		// A value ended before i: close containers until one continues.
		for {
			i = skipJSONSpace(src, i)
			if len(stack) == 0 {
				return dst, i == len(src)
			}
			if i >= len(src) {
				return dst, false
			}
			top, c := stack[len(stack)-1], src[i]
			if c == top+2 {
				dst = append(dst, c)
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if c != ',' {
				return dst, false
			}
			dst = append(dst, ',')
			i = skipJSONSpace(src, i+1)
			if top == '{' {
				if dst, i, ok = appendJSONKey(dst, src, i); !ok {
					return dst, false
				}
			}
			break
		}
	}
}

// appendJSONKey copies an object key at src[i:] and its colon; i returned is past the colon
// and the space after it.
func appendJSONKey(dst, src []byte, i int) ([]byte, int, bool) {
	if i >= len(src) || src[i] != '"' {
		return dst, i, false
	}
	dst, i, ok := appendRawString(dst, src, i)
	if !ok {
		return dst, i, false
	}
	i = skipJSONSpace(src, i)
	if i >= len(src) || src[i] != ':' {
		return dst, i, false
	}
	return append(dst, ':'), skipJSONSpace(src, i+1), true
}

// appendRawString copies the JSON string starting at src[i] (a quote), escaping < > & U+2028
// U+2029 as encoding/json's compaction does; it returns the index past the closing quote.
func appendRawString(dst, src []byte, i int) ([]byte, int, bool) {
	start := i
	for i++; i < len(src); i++ {
		for i < len(src) && rawPlain[src[i]] { // the common bytes, copied as they are
			i++
		}
		if i >= len(src) {
			break
		}
		switch c := src[i]; {
		case c == '"':
			return append(dst, src[start:i+1]...), i + 1, true
		case c == '\\':
			i++
			if i >= len(src) {
				return dst, i, false
			}
			switch src[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(src)-i <= 4 || !isHex(src[i+1]) || !isHex(src[i+2]) || !isHex(src[i+3]) || !isHex(src[i+4]) {
					return dst, i, false
				}
				i += 4
			default:
				return dst, i, false
			}
		case c < 0x20:
			return dst, i, false
		case c == '<' || c == '>' || c == '&':
			dst = appendEscapedByte(append(dst, src[start:i]...), c)
			start = i + 1
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8:
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', jsonHex[src[i+2]&0xF])
			i += 2
			start = i + 1
		}
	}
	return dst, i, false
}

// rawPlain[b] is true for the bytes a JSON string holds and compaction copies unchanged.
var rawPlain = func() (t [256]bool) {
	for b := 0x20; b < 256; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' && b != 0xE2
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanJSONNumber returns the end of the JSON number starting at src[i], or -1 when none
// starts there.
func scanJSONNumber(src []byte, i int) int {
	if i < len(src) && src[i] == '-' {
		i++
	}
	switch {
	case i >= len(src):
		return -1
	case src[i] == '0':
		i++
	case '1' <= src[i] && src[i] <= '9':
		i = skipDigits(src, i+1)
	default:
		return -1
	}
	if i < len(src) && src[i] == '.' {
		j := skipDigits(src, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		j := skipDigits(src, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(src []byte, i int) int {
	for i < len(src) && '0' <= src[i] && src[i] <= '9' {
		i++
	}
	return i
}

func skipJSONSpace(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// maxValueDepth bounds the nesting appendJSONValue follows itself; a deeper value (or a
// cyclic one) is handed to encoding/json, which reports cycles.
const maxValueDepth = 512

// AppendJSON appends the JSON of v to dst, byte-identical to json.Marshal(v) and failing
// exactly when it fails (dst is then returned unchanged). The values decoded from JSON
// (map[string]any, []any, string, float64, bool, nil, plus int and int64) are written
// without reflection; any other type goes through json.Marshal.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	return appendJSONValue(dst, v, jsonHTML, 0)
}

// appendJSONIndent appends v as json.MarshalIndent(v, "", "  ") writes it.
func appendJSONIndent(dst []byte, v any) ([]byte, error) {
	return appendJSONValue(dst, v, jsonHTML|jsonIndent, 0)
}

// appendPromptJSON appends v, a value decoded from JSON (entity data, schema examples, the
// models' values), for the text of a prompt: as json.Marshal writes it, or with indent as
// json.MarshalIndent(v, "", "  ") does. It cannot fail: a value JSON cannot hold (a NaN or
// infinite number, a type no JSON decoder produces) is written as null as a whole, so the
// prompt says plainly that the value is unknown rather than losing the sentence around it.
func appendPromptJSON(dst []byte, v any, indent bool) []byte {
	mode := jsonHTML
	if indent {
		mode |= jsonIndent
	}
	out, err := appendJSONValue(dst, v, mode, 0)
	if err != nil {
		return append(dst, "null"...)
	}
	return out
}

// jsonMode selects the encoding/json variant appendJSONValue reproduces.
type jsonMode uint8

const (
	jsonHTML   jsonMode = 1 << iota // escape < > & in strings (json.Marshal); off: SetEscapeHTML(false)
	jsonIndent                      // json.MarshalIndent with prefix "" and indent "  " (with jsonHTML only)
)

// appendJSONValue appends v, at nesting depth depth, as the encoding/json variant mode
// selects writes it (a json.Encoder without its trailing newline when !jsonHTML). On error
// dst is returned unchanged.
func appendJSONValue(dst []byte, v any, mode jsonMode, depth int) (_ []byte, err error) {
	mark := len(dst)
	html := mode&jsonHTML != 0
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONStringEsc(dst, x, html), nil
	case float64:
		return appendJSONFloat(dst, x)
	case bool:
		return appendJSONBool(dst, x), nil
	case int:
		return appendJSONInt(dst, int64(x)), nil
	case int64:
		return appendJSONInt(dst, x), nil
	case map[string]any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if depth >= maxValueDepth {
			break
		}
		var buf [16]string
		keys := buf[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONNewline(dst, mode, depth+1)
			dst = appendJSONStringEsc(dst, k, html)
			dst = append(dst, ':')
			if mode&jsonIndent != 0 {
				dst = append(dst, ' ')
			}
			if dst, err = appendJSONValue(dst, x[k], mode, depth+1); err != nil {
				return dst[:mark], err
			}
		}
		if len(keys) > 0 {
			dst = appendJSONNewline(dst, mode, depth)
		}
		return append(dst, '}'), nil
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if depth >= maxValueDepth {
			break
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONNewline(dst, mode, depth+1)
			if dst, err = appendJSONValue(dst, e, mode, depth+1); err != nil {
				return dst[:mark], err
			}
		}
		if len(x) > 0 {
			dst = appendJSONNewline(dst, mode, depth)
		}
		return append(dst, ']'), nil
	}
	return appendMarshalled(dst, v, mode, depth)
}

// appendJSONNewline starts a new line at depth when mode indents.
func appendJSONNewline(dst []byte, mode jsonMode, depth int) []byte {
	if mode&jsonIndent == 0 {
		return dst
	}
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, "  "...)
	}
	return dst
}

// appendMarshalled appends v, at nesting depth depth, through encoding/json in the variant
// mode selects.
func appendMarshalled(dst []byte, v any, mode jsonMode, depth int) ([]byte, error) {
	var b []byte
	var err error
	switch {
	case mode&jsonIndent != 0:
		b, err = json.MarshalIndent(v, strings.Repeat("  ", depth), "  ")
	case mode&jsonHTML != 0:
		b, err = json.Marshal(v)
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		err = enc.Encode(v)
		b = bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	}
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
