package enricher

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
)

// orderedKind is the JSON type of an orderedValue.
type orderedKind uint8

const (
	orderedNull orderedKind = iota
	orderedBool
	orderedNumber
	orderedString
	orderedArray
	orderedObject
)

// orderedValue is a decoded JSON value that keeps what encoding/json's maps lose: the order of
// object members and duplicate keys. Numbers keep their literal text. It is the working form of
// schema documents (parsing, normalisation) and of canonical JSON.
type orderedValue struct {
	kind    orderedKind
	text    string // string value, or the number literal as written
	truth   bool   // bool value
	elems   []*orderedValue
	members []orderedMember
}

// orderedMember is one member of a JSON object, in document order.
type orderedMember struct {
	key   string
	value *orderedValue
}

// maxOrderedNesting bounds the nesting of arrays and objects, like encoding/json's decoder.
const maxOrderedNesting = 10000

var errTrailingData = errors.New("invalid data after the top-level value")

// parseOrdered decodes one JSON value from doc. Anything but white space after the value is an
// error; so is a value nested deeper than maxOrderedNesting.
func parseOrdered(doc []byte) (*orderedValue, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readOrdered(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailingData
	}
	return v, nil
}

// readOrdered reads the next value from dec; depth is the nesting of its container.
func readOrdered(dec *json.Decoder, depth int) (*orderedValue, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &orderedValue{kind: orderedNull}, nil
	case bool:
		return &orderedValue{kind: orderedBool, truth: t}, nil
	case json.Number:
		return &orderedValue{kind: orderedNumber, text: string(t)}, nil
	case string:
		return &orderedValue{kind: orderedString, text: t}, nil
	case json.Delim:
		if depth >= maxOrderedNesting {
			return nil, errors.New("exceeded max nesting depth")
		}
		if t == '[' {
			return readOrderedArray(dec, depth)
		}
		return readOrderedObject(dec, depth)
	}
	return nil, errors.New("unexpected JSON token")
}

func readOrderedArray(dec *json.Decoder, depth int) (*orderedValue, error) {
	v := &orderedValue{kind: orderedArray}
	for dec.More() {
		e, err := readOrdered(dec, depth+1)
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, e)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, err
	}
	return v, nil
}

func readOrderedObject(dec *json.Decoder, depth int) (*orderedValue, error) {
	v := &orderedValue{kind: orderedObject}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		e, err := readOrdered(dec, depth+1)
		if err != nil {
			return nil, err
		}
		v.members = append(v.members, orderedMember{key: key, value: e})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	return v, nil
}

// get returns the value of the first member named key, or nil when v is not an object or has
// no such member.
func (v *orderedValue) get(key string) *orderedValue {
	if v == nil || v.kind != orderedObject {
		return nil
	}
	for _, m := range v.members {
		if m.key == key {
			return m.value
		}
	}
	return nil
}

// isNull reports whether v is absent (nil) or JSON null.
func (v *orderedValue) isNull() bool { return v == nil || v.kind == orderedNull }

// appendOrdered appends the compact encoding of v to dst. With sorted, object members are
// sorted by key (byte order of their UTF-8 encoding) and, of duplicate keys, only the last one
// is kept, as encoding/json would decode it; otherwise members keep document order.
func appendOrdered(dst []byte, v *orderedValue, sorted bool) []byte {
	switch v.kind {
	case orderedNull:
		return append(dst, "null"...)
	case orderedBool:
		if v.truth {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case orderedNumber:
		return append(dst, v.text...)
	case orderedString:
		return appendQuoted(dst, v.text)
	case orderedArray:
		dst = append(dst, '[')
		for i, e := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendOrdered(dst, e, sorted)
		}
		return append(dst, ']')
	}
	members := v.members
	if sorted {
		members = sortedMembers(members)
	}
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendQuoted(dst, m.key)
		dst = append(dst, ':')
		dst = appendOrdered(dst, m.value, sorted)
	}
	return append(dst, '}')
}

// sortedMembers returns a sorted copy of members without duplicate keys (the last one wins).
func sortedMembers(members []orderedMember) []orderedMember {
	out := slices.Clone(members)
	slices.SortStableFunc(out, func(a, b orderedMember) int { return strings.Compare(a.key, b.key) })
	kept := out[:0]
	for i, m := range out {
		if i+1 < len(out) && out[i+1].key == m.key {
			continue // a later duplicate follows; stable sort keeps document order
		}
		kept = append(kept, m)
	}
	return kept
}

// appendQuoted appends s as a JSON string. Only '"', '\\' and control characters are escaped
// (\b \f \n \r \t, else \u00XX); every other character is written as UTF-8, so one string has
// exactly one encoding. s must be valid UTF-8 (the decoder guarantees it).
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = appendEscapedByte(append(dst, s[start:i]...), c)
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
