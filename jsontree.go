package enricher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// object is a JSON object that remembers its key order. Decoded documents use it where order
// matters (schema properties); values inside are object, []any, json.Number, string, bool or nil.
type object struct {
	keys []string
	vals map[string]any
	dups []string // keys that appeared more than once
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// decodeOrdered decodes one JSON value, keeping object key order. Duplicate keys keep the
// last value at the first position, as encoding/json does for the value.
func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				if _, dup := o.vals[k]; dup {
					o.dups = append(o.dups, k)
				} else {
					o.keys = append(o.keys, k)
				}
				o.vals[k] = v
			}
			_, err := dec.Token() // '}'
			return o, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token() // ']'
			return arr, err
		}
		return nil, fmt.Errorf("unexpected delimiter %v", t)
	default:
		return tok, nil
	}
}

// encodeOrdered appends the compact JSON of v (as built by decodeOrdered) to buf. With sorted
// set, object keys are written in byte order (canonical form); otherwise in their own order.
func encodeOrdered(buf *bytes.Buffer, v any, sorted bool) error {
	switch t := v.(type) {
	case *object:
		keys := t.keys
		if sorted {
			keys = append([]string(nil), keys...)
			sort.Strings(keys)
		}
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			if err := encodeOrdered(buf, t.vals[k], sorted); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeOrdered(buf, e, sorted); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	return nil
}

// CanonicalJSON returns the canonical form of a JSON document: object keys sorted, no
// insignificant whitespace, numbers as written, strings re-encoded the way encoding/json
// encodes them. Equal values give equal bytes whatever the input's key order or spacing.
// It is used for content hashes and idempotency fingerprints.
func CanonicalJSON(doc []byte) ([]byte, error) {
	v, err := decodeOrdered(doc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := encodeOrdered(&buf, v, true); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// plain converts an ordered tree to encoding/json's generic values (map[string]any, float64).
func plain(v any) any {
	switch t := v.(type) {
	case *object:
		m := make(map[string]any, len(t.keys))
		for _, k := range t.keys {
			m[k] = plain(t.vals[k])
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	case json.Number:
		f, _ := t.Float64()
		return f
	default:
		return t
	}
}
