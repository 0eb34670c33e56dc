package llmtest

import "strings"

// sampleValue invents a value valid for the JSON Schema node (root resolves "#/..." $refs):
// const, then the first enum value, then the first non-null branch of anyOf/oneOf/allOf,
// then by type ("x", 1, 1.5, true, one sample item, every property; type names in any case,
// as Gemini's OpenAPI-style schemas write them). Every fake answers with it.
func sampleValue(node, root map[string]any, depth int) any {
	if depth > 32 || node == nil {
		return nil
	}
	if ref, ok := node["$ref"].(string); ok {
		return sampleValue(resolveRef(root, ref), root, depth+1)
	}
	if c, ok := node["const"]; ok {
		return c
	}
	if e, ok := node["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		branches, ok := node[key].([]any)
		if !ok || len(branches) == 0 {
			continue
		}
		for _, b := range branches {
			if bm, ok := b.(map[string]any); ok && !contains(schemaTypes(bm), "null") {
				return sampleValue(bm, root, depth+1)
			}
		}
		return nil
	}
	typ := ""
	for _, t := range schemaTypes(node) {
		if t != "null" {
			typ = strings.ToLower(t)
			break
		}
	}
	if typ == "" && node["properties"] != nil {
		typ = "object"
	}
	switch typ {
	case "string":
		return "x"
	case "integer":
		return 1
	case "number":
		return 1.5
	case "boolean":
		return true
	case "array":
		items, _ := node["items"].(map[string]any)
		if items == nil {
			return []any{"x"}
		}
		return []any{sampleValue(items, root, depth+1)}
	case "object":
		props, _ := node["properties"].(map[string]any)
		out := make(map[string]any, len(props))
		for name, p := range props {
			pm, _ := p.(map[string]any)
			out[name] = sampleValue(pm, root, depth+1)
		}
		return out
	}
	return nil
}

// schemaTypes returns the `type` of a schema node as a list.
func schemaTypes(n map[string]any) []string {
	switch t := n["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
