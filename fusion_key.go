package enricher

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Comparison keys. Two values of one property agree exactly when their keys are
// equal. A key is a compact, unambiguous text: strings are quoted after normalisation, numbers
// are printed with 6 significant digits, objects list their schema properties in order, arrays
// list the sorted, deduplicated keys of their items, multilingual values list the requested
// languages in order.

// appendKey appends the comparison key of v, a value of p, to dst.
func (f *fuser) appendKey(dst []byte, p *Property, v any) []byte {
	if !p.Multilingual {
		return f.appendPlainKey(dst, p, v)
	}
	byLang, _ := v.(map[string]any) // anything else counts as null in every language
	dst = append(dst, '<')
	for _, lang := range f.langs {
		dst = f.appendPlainKey(dst, p, byLang[lang])
		dst = append(dst, ',')
	}
	return append(dst, '>')
}

// appendPlainKey appends the key of v as one value of p's type, ignoring Multilingual. An
// object that is null or not an object has the key of an object whose fields are all null; an
// array field that is not an array is null.
func (f *fuser) appendPlainKey(dst []byte, p *Property, v any) []byte {
	switch p.Type {
	case TypeObject:
		m, _ := v.(map[string]any)
		dst = append(dst, '{')
		for _, sub := range p.Properties {
			dst = f.appendKey(dst, sub, m[sub.Name])
			dst = append(dst, ',')
		}
		return append(dst, '}')
	case TypeArray:
		items, ok := v.([]any)
		if !ok {
			return append(dst, "null"...)
		}
		keys := make([]string, len(items))
		for i, item := range items {
			keys[i] = f.itemKey(p.Items, item)
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		dst = append(dst, '[')
		for _, k := range keys {
			dst = append(dst, k...)
			dst = append(dst, ',')
		}
		return append(dst, ']')
	default:
		return appendFusionScalarKey(dst, v)
	}
}

// itemKey returns the identity of item, an element of an array whose items are described by
// it (nil when unknown): for an object item type with is_key fields, an item holding at least
// one key value (not null and not a blank string) is identified by its key values; any other
// item by its whole key.
func (f *fuser) itemKey(it *Property, item any) string {
	dst := make([]byte, 1, 64)
	if it == nil {
		dst[0] = 'W'
		return string(appendFusionScalarKey(dst, item))
	}
	if m, ok := item.(map[string]any); ok && it.Type == TypeObject && !it.Multilingual && holdsFusionKey(it, m) {
		dst[0] = 'K'
		for _, p := range it.Properties {
			if p.IsKey {
				dst = f.appendKey(dst, p, m[p.Name])
				dst = append(dst, ',')
			}
		}
		return string(dst)
	}
	dst[0] = 'W'
	return string(f.appendKey(dst, it, item))
}

// holdsFusionKey reports whether m, an item of type it, holds a value for one of its is_key
// fields: not null and, for strings, not blank.
func holdsFusionKey(it *Property, m map[string]any) bool {
	for _, p := range it.Properties {
		if !p.IsKey {
			continue
		}
		switch v := m[p.Name].(type) {
		case nil:
		case string:
			if fusionStringLen(v) > 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// appendFusionScalarKey appends the key of a scalar value by its JSON type: strings trimmed,
// inner whitespace collapsed, lower-cased, quoted; numbers rounded to 6 significant digits
// (negative zero is zero); booleans as is. Objects and arrays in a scalar field (malformed)
// get a canonical key of their own.
func appendFusionScalarKey(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendFusionString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case map[string]any:
		dst = append(dst, '{')
		for _, k := range slices.Sorted(maps.Keys(x)) {
			dst = strconv.AppendQuote(dst, k)
			dst = append(dst, ':')
			dst = appendFusionScalarKey(dst, x[k])
			dst = append(dst, ',')
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '(')
		for _, e := range x {
			dst = appendFusionScalarKey(dst, e)
			dst = append(dst, ',')
		}
		return append(dst, ')')
	}
	if n, ok := fusionNumber(v); ok {
		if n == 0 {
			n = 0 // -0 becomes 0
		}
		return strconv.AppendFloat(dst, n, 'g', 6, 64)
	}
	return strconv.AppendQuote(append(dst, '?'), fmt.Sprintf("%T:%v", v, v))
}

// appendFusionString appends s normalised and quoted: leading and trailing white space
// dropped, inner runs of white space as one space, every rune lower-cased.
func appendFusionString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	started, space := false, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = started
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		started = true
		r = unicode.ToLower(r)
		if r == '"' || r == '\\' {
			dst = append(dst, '\\')
		}
		dst = utf8.AppendRune(dst, r)
	}
	return append(dst, '"')
}

// fusionStringLen returns the length in Unicode code points of s normalised as by
// appendFusionString (lower-casing maps each rune to one rune, so it does not change it).
func fusionStringLen(s string) int {
	n, pending, started := 0, 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if started {
				pending = 1
			}
			continue
		}
		n += pending + 1
		pending, started = 0, true
	}
	return n
}

// fusionNumber returns v as a float64 when it is a number: float64 as encoding/json decodes,
// or any Go integer or float type (values built in code).
func fusionNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}
