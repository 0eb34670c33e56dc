package fetch

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
)

// Decode turns a body into entities by its Content-Type, else by its content: a JSON array
// of objects; a JSON object with that array under data, results, items, entities or records;
// NDJSON (one object per non-empty line); CSV with a header row (values are strings, empty
// cells left out). More than max items, or an item that is not an object, is an error.
func Decode(body []byte, contentType string, max int) ([]map[string]any, string, error) {
	ct := strings.ToLower(contentType)
	trimmed := bytes.TrimSpace(body)
	switch {
	case strings.Contains(ct, "csv"):
		return decodeCSV(trimmed, max)
	case strings.Contains(ct, "ndjson"), strings.Contains(ct, "jsonl"), strings.Contains(ct, "json-seq"):
		return decodeNDJSON(trimmed, max)
	case len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{'):
		if json.Valid(trimmed) {
			return decodeJSON(trimmed, max)
		}
		if trimmed[0] == '{' {
			return decodeNDJSON(trimmed, max)
		}
		return nil, "", invalid("the response is not valid JSON")
	case strings.Contains(ct, "json"):
		return nil, "", invalid("the response is not valid JSON")
	}
	return decodeCSV(trimmed, max)
}

var wrapperKeys = []string{"data", "results", "items", "entities", "records"}

func decodeJSON(b []byte, max int) ([]map[string]any, string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, "", invalid("the response is not valid JSON")
	}
	if obj, ok := v.(map[string]any); ok {
		found := false
		for _, k := range wrapperKeys {
			if arr, ok := obj[k].([]any); ok {
				v, found = arr, true
				break
			}
		}
		if !found {
			return nil, "", invalid("the JSON object has no array under data, results, items, entities or records")
		}
	}
	arr, _ := v.([]any)
	out, err := objects(arr, max)
	return out, "json", err
}

func objects(arr []any, max int) ([]map[string]any, error) {
	if len(arr) > max {
		return nil, invalid("%d items, the maximum is %d", len(arr), max)
	}
	out := make([]map[string]any, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, invalid("item %d is not an object", i)
		}
		out[i] = numbersToFloats(m).(map[string]any)
	}
	return out, nil
}

// numbersToFloats turns json.Number values into float64, as the rest of the server expects.
func numbersToFloats(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = numbersToFloats(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbersToFloats(e)
		}
	case json.Number:
		f, _ := t.Float64()
		return f
	}
	return v
}

func decodeNDJSON(b []byte, max int) ([]map[string]any, string, error) {
	var arr []any
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, "", invalid("line %d is not valid JSON", i+1)
		}
		arr = append(arr, v)
		if len(arr) > max {
			return nil, "", invalid("more than %d items", max)
		}
	}
	out, err := objects(arr, max)
	return out, "ndjson", err
}

func decodeCSV(b []byte, max int) ([]map[string]any, string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, "", invalid("the response is not valid CSV: %v", err)
	}
	if len(rows) == 0 {
		return nil, "", invalid("the CSV has no header row")
	}
	header := rows[0]
	if len(rows)-1 > max {
		return nil, "", invalid("%d items, the maximum is %d", len(rows)-1, max)
	}
	out := make([]map[string]any, 0, len(rows)-1)
	for _, row := range rows[1:] {
		m := map[string]any{}
		for i, cell := range row {
			if i < len(header) && cell != "" && header[i] != "" {
				m[header[i]] = cell
			}
		}
		out = append(out, m)
	}
	return out, "csv", nil
}
