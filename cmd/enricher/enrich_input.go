package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Input formats of `enricher enrich -in`.
const (
	formatJSON   = "json"
	formatNDJSON = "ndjson"
	formatCSV    = "csv"
)

// readEntities reads the entities of path ("-" for stdin) in format (json, ndjson or csv;
// empty: by extension, else by the first non-blank byte). Numbers keep their JSON text; CSV
// values are strings and empty cells are left out, as in a batch fetch.
func readEntities(path, format string, stdin io.Reader) ([]map[string]any, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if format == "" {
		format = formatOf(path, raw)
	}
	var out []map[string]any
	switch format {
	case formatJSON:
		out, err = decodeJSONEntities(raw)
	case formatNDJSON:
		out, err = decodeNDJSON(raw)
	case formatCSV:
		out, err = decodeCSV(raw)
	default:
		return nil, fmt.Errorf("-format: %q is not json, ndjson or csv", format)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no entities", path)
	}
	return out, nil
}

// formatOf guesses the format from the file extension, else from the content.
func formatOf(path string, raw []byte) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return formatJSON
	case ".ndjson", ".jsonl":
		return formatNDJSON
	case ".csv":
		return formatCSV
	}
	switch t := bytes.TrimSpace(raw); {
	case len(t) > 0 && t[0] == '[':
		return formatJSON
	case len(t) > 0 && t[0] == '{':
		var obj map[string]json.RawMessage // one object holding the list, or NDJSON
		if json.Unmarshal(t, &obj) == nil {
			for _, k := range []string{"data", "results", "items", "entities", "records"} {
				if v := bytes.TrimSpace(obj[k]); len(v) > 0 && v[0] == '[' {
					return formatJSON
				}
			}
		}
		return formatNDJSON
	}
	return formatCSV
}

// decodeJSONEntities reads an array of objects, or an object holding one under the first of
// data, results, items, entities, records.
func decodeJSONEntities(raw []byte) ([]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, err
	}
	if obj, ok := top.(map[string]any); ok {
		top = nil
		for _, k := range []string{"data", "results", "items", "entities", "records"} {
			if v, ok := obj[k].([]any); ok {
				top = v
				break
			}
		}
	}
	items, ok := top.([]any)
	if !ok {
		return nil, errors.New("not a JSON array of objects")
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		if out[i], ok = it.(map[string]any); !ok {
			return nil, fmt.Errorf("item %d is not an object", i)
		}
	}
	return out, nil
}

// decodeNDJSON reads one object per non-empty line.
func decodeNDJSON(raw []byte) ([]map[string]any, error) {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []map[string]any
	for line := 1; sc.Scan(); line++ {
		t := bytes.TrimSpace(sc.Bytes())
		if len(t) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || m == nil {
			return nil, fmt.Errorf("line %d is not a JSON object", line)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// decodeCSV reads a header row of field names, then one entity per row.
func decodeCSV(raw []byte) ([]map[string]any, error) {
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	header := rows[0]
	out := make([]map[string]any, 0, len(rows)-1)
	for _, row := range rows[1:] {
		m := make(map[string]any, len(header))
		for i, v := range row {
			if v != "" {
				m[header[i]] = v
			}
		}
		out = append(out, m)
	}
	return out, nil
}
