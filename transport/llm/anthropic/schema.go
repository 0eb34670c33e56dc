package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// wrapKey is the property under which a non-object answer schema is wrapped, because a tool's
// input_schema must be of type "object".
const wrapKey = "answer"

// droppedRootKeywords are root keywords left out of input_schema: they identify the document and
// do not constrain the answer.
var droppedRootKeywords = []string{"$schema", "$id"}

// toolSchema translates the answer schema s (a JSON Schema object) into a tool input_schema.
// Anthropic accepts JSON Schema as is for non-strict tools, so the translation only makes the
// root an object: "$schema"/"$id" are dropped; a root whose type lists "object" with "null" becomes
// "object"; a root without type but with properties gets type "object"; any other root (an array,
// a scalar) is wrapped as the required property "answer" of an object, with "$defs" and
// "definitions" moved up so local references still resolve. wrapped reports the wrapping, which
// answerText undoes. Keys are written sorted (deterministic output).
func toolSchema(s json.RawMessage) (out json.RawMessage, wrapped bool, err error) {
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil || root == nil {
		return nil, false, errors.New("answer schema is not a JSON object")
	}
	for _, k := range droppedRootKeywords {
		delete(root, k)
	}
	switch t := root["type"].(type) {
	case string:
		wrapped = t != "object"
	case []any:
		wrapped = true
		for _, v := range t {
			if v == "object" {
				root["type"], wrapped = "object", false
			}
		}
	case nil:
		if _, ok := root["properties"]; ok {
			root["type"] = "object"
		} else {
			wrapped = true
		}
	default:
		return nil, false, fmt.Errorf("answer schema has an invalid type %v", t)
	}
	if wrapped {
		outer := map[string]any{
			"type":                 "object",
			"properties":           map[string]any{wrapKey: root},
			"required":             []any{wrapKey},
			"additionalProperties": false,
		}
		for _, k := range []string{"$defs", "definitions"} {
			if v, ok := root[k]; ok {
				outer[k] = v
				delete(root, k)
			}
		}
		root = outer
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, false, fmt.Errorf("answer schema: %w", err)
	}
	return b, wrapped, nil
}

// answerText returns the answer JSON of a tool_use input: the compacted input itself, or its
// "answer" property when the schema was wrapped.
func answerText(input json.RawMessage, wrapped bool) (string, error) {
	if wrapped {
		var outer map[string]json.RawMessage
		if err := json.Unmarshal(input, &outer); err != nil {
			return "", fmt.Errorf("tool input is not a JSON object: %w", err)
		}
		v, ok := outer[wrapKey]
		if !ok {
			return "", fmt.Errorf("tool input has no %q property", wrapKey)
		}
		input = v
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, input); err != nil {
		return "", fmt.Errorf("tool input is not valid JSON: %w", err)
	}
	return buf.String(), nil
}
