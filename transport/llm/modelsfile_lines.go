package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// fileLines holds the 1-based line on which each entry of a models file starts, so that an error
// about an entry can say where it is.
type fileLines struct {
	providers []int
	models    []int
	sim       map[string]int // by model key
}

// provider, model and simKey return the line of an entry, or 0 when it is not known.
func (l fileLines) provider(i int) int { return at(l.providers, i) }
func (l fileLines) model(i int) int    { return at(l.models, i) }
func (l fileLines) simKey(k string) int {
	return l.sim[k]
}

func at(lines []int, i int) int {
	if i < len(lines) {
		return lines[i]
	}
	return 0
}

// linePrefix is "line N: ", or empty when the line is not known.
func linePrefix(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf("line %d: ", line)
}

// locateEntries walks a models file that already decoded without error and records where each
// entry of "providers", "models" and "sim" starts.
func locateEntries(data []byte) fileLines {
	l := fileLines{sim: map[string]int{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return l
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return l
		}
		switch t {
		case "providers", "models":
			lines, ok := arrayLines(dec, data)
			if !ok {
				return l
			}
			if t == "providers" {
				l.providers = lines
			} else {
				l.models = lines
			}
		case "sim":
			if t, err := dec.Token(); err != nil || t != json.Delim('{') {
				continue // null: nothing to locate
			}
			for dec.More() {
				line := lineAt(data, dec.InputOffset())
				k, err := dec.Token()
				if err != nil || skipValue(dec) != nil {
					return l
				}
				if key, ok := k.(string); ok {
					l.sim[key] = line
				}
			}
			if _, err := dec.Token(); err != nil {
				return l
			}
		default:
			if skipValue(dec) != nil {
				return l
			}
		}
	}
	return l
}

// arrayLines reads one array value and returns the line of each element.
func arrayLines(dec *json.Decoder, data []byte) ([]int, bool) {
	t, err := dec.Token()
	if err != nil {
		return nil, false
	}
	if t != json.Delim('[') {
		return nil, true // null
	}
	var lines []int
	for dec.More() {
		lines = append(lines, lineAt(data, dec.InputOffset()))
		if skipValue(dec) != nil {
			return lines, false
		}
	}
	_, err = dec.Token()
	return lines, err == nil
}

func skipValue(dec *json.Decoder) error {
	var skip json.RawMessage
	return dec.Decode(&skip)
}

// lineAt returns the line of the first byte at or after off that is neither white space nor a
// comma (the decoder's offset can sit before the separator of the next value).
func lineAt(data []byte, off int64) int {
	i := int(off)
	for i < len(data) && bytes.IndexByte([]byte(" \t\r\n,"), data[i]) >= 0 {
		i++
	}
	return 1 + bytes.Count(data[:min(i, len(data))], []byte("\n"))
}

// decodeError turns a decoding error of the models file into "line N: what is wrong".
func decodeError(data []byte, err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("line %d: not valid JSON: %s", lineOf(data, syntax.Offset), syntax.Error())
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("line %d: %s must be %s, not a JSON %s", lineOf(data, typ.Offset), typ.Field, jsonKind(typ.Type), typ.Value)
	}
	return fmt.Errorf("not valid: %w", err)
}

// lineOf is the line of byte offset off (the line of the last byte read for an error offset).
func lineOf(data []byte, off int64) int {
	end := min(max(int(off), 0), len(data))
	if end > 0 && data[end-1] == '\n' {
		end-- // an error after a value that ends its line belongs to that line
	}
	return 1 + bytes.Count(data[:end], []byte("\n"))
}

// jsonKind names the JSON shape a Go type of the models file takes.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array"
	default:
		return "an object"
	}
}
