package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/entity-enricher/enricher"
)

// SchemaField values of Config.SchemaField: which generationConfig field carries the answer schema.
const (
	// SchemaFieldJSON sends the schema verbatim as responseJsonSchema (standard JSON Schema).
	SchemaFieldJSON = "responseJsonSchema"
	// SchemaFieldOpenAPI sends the schema translated to Gemini's OpenAPI subset as responseSchema.
	SchemaFieldOpenAPI = "responseSchema"
)

// maxRefDepth caps $ref inlining, so a recursive schema fails instead of growing forever.
const maxRefDepth = 32

// openAPISchema translates a JSON Schema object to the OpenAPI 3.0 subset of responseSchema:
// `type` in upper case (STRING, INTEGER...), a type pair with "null" becomes
// `nullable: true`, several non-null types become `anyOf`, oneOf becomes anyOf, const becomes a
// one-value enum, local `$ref`s (#/$defs/X, #/definitions/X) are inlined, and keywords the subset
// lacks (additionalProperties, $schema, examples, ...) are dropped. `propertyOrdering` is added to
// every object: the `required` order first, then the remaining properties in document order, so
// the model writes keys in schema order. It returns an error for a schema that is not an object
// or holds an unresolvable $ref.
func openAPISchema(schema json.RawMessage) (json.RawMessage, error) {
	var root map[string]any
	if err := json.Unmarshal(schema, &root); err != nil {
		return nil, fmt.Errorf("answer schema is not a JSON object: %v", err)
	}
	t := translator{root: root, raw: schema}
	out, err := t.node(root, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// translator holds the root document, for $ref lookups.
type translator struct {
	root map[string]any
	raw  json.RawMessage
}

// node translates one schema node.
func (t translator) node(in map[string]any, depth int) (map[string]any, error) {
	if depth > maxRefDepth {
		return nil, fmt.Errorf("answer schema nests deeper than %d levels (recursive $ref?)", maxRefDepth)
	}
	if ref, ok := in["$ref"].(string); ok {
		target, err := t.resolve(ref)
		if err != nil {
			return nil, err
		}
		return t.node(target, depth+1)
	}
	out := map[string]any{}
	if err := t.types(in, out, depth); err != nil {
		return nil, err
	}
	for _, k := range []string{"format", "description", "title", "pattern", "minItems", "maxItems",
		"minimum", "maximum", "minLength", "maxLength", "minProperties", "maxProperties"} {
		if v, ok := in[k]; ok {
			out[k] = v
		}
	}
	if enum, ok := in["enum"].([]any); ok {
		if strs := stringValues(enum); strs != nil {
			out["enum"] = strs
		}
	}
	if c, ok := in["const"].(string); ok {
		out["enum"] = []any{c}
	}
	if items, ok := in["items"].(map[string]any); ok {
		sub, err := t.node(items, depth+1)
		if err != nil {
			return nil, err
		}
		out["items"] = sub
	}
	if props, ok := in["properties"].(map[string]any); ok {
		outProps := make(map[string]any, len(props))
		for name, p := range props {
			pm, ok := p.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("answer schema: property %q is not a schema object", name)
			}
			sub, err := t.node(pm, depth+1)
			if err != nil {
				return nil, err
			}
			outProps[name] = sub
		}
		out["properties"] = outProps
		out["propertyOrdering"] = t.ordering(in)
	}
	if req, ok := in["required"].([]any); ok {
		out["required"] = req
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		alts, ok := in[k].([]any)
		if !ok {
			continue
		}
		var outAlts []any
		for _, a := range alts {
			am, ok := a.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("answer schema: %s holds a non-object", k)
			}
			sub, err := t.node(am, depth+1)
			if err != nil {
				return nil, err
			}
			outAlts = append(outAlts, sub)
		}
		out["anyOf"] = outAlts
	}
	return out, nil
}

// types sets type, nullable or anyOf in out from the JSON Schema `type` of in.
func (t translator) types(in, out map[string]any, depth int) error {
	var names []string
	switch v := in["type"].(type) {
	case nil:
		return nil
	case string:
		names = []string{v}
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("answer schema: type array holds a non-string")
			}
			names = append(names, s)
		}
	default:
		return fmt.Errorf("answer schema: type is neither a string nor an array")
	}
	var nonNull []string
	for _, n := range names {
		if n == "null" {
			out["nullable"] = true
			continue
		}
		nonNull = append(nonNull, strings.ToUpper(n))
	}
	switch len(nonNull) {
	case 0:
		out["type"] = "NULL"
		delete(out, "nullable")
	case 1:
		out["type"] = nonNull[0]
	default:
		alts := make([]any, 0, len(nonNull))
		for _, n := range nonNull {
			alts = append(alts, map[string]any{"type": n})
		}
		out["anyOf"] = alts
	}
	return nil
}

// ordering returns the propertyOrdering of the object node in: required names first (in their
// order), then the other properties in document order.
func (t translator) ordering(in map[string]any) []any {
	props, _ := in["properties"].(map[string]any)
	seen := map[string]bool{}
	var order []any
	if req, ok := in["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok && props[s] != nil && !seen[s] {
				seen[s] = true
				order = append(order, s)
			}
		}
	}
	var rest []string
	for name := range props {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	for _, name := range documentOrder(t.raw, rest) {
		order = append(order, name)
	}
	return order
}

// documentOrder sorts names by their first occurrence as a JSON string in raw (a good proxy for
// the order properties were written), falling back to name order on ties.
func documentOrder(raw json.RawMessage, names []string) []string {
	pos := func(n string) int {
		if i := bytes.Index(raw, append(enricher.AppendJSONString(nil, n), ':')); i >= 0 {
			return i
		}
		return len(raw)
	}
	out := append([]string(nil), names...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0; j-- {
			pj, pk := pos(out[j]), pos(out[j-1])
			if pj > pk || (pj == pk && out[j] > out[j-1]) {
				break
			}
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// resolve returns the target of a local $ref.
func (t translator) resolve(ref string) (map[string]any, error) {
	for _, prefix := range []string{"#/$defs/", "#/definitions/"} {
		name, ok := strings.CutPrefix(ref, prefix)
		if !ok {
			continue
		}
		defs, _ := t.root[strings.Trim(prefix[1:], "/")].(map[string]any)
		if target, ok := defs[name].(map[string]any); ok {
			return target, nil
		}
	}
	if ref == "#" {
		return t.root, nil
	}
	return nil, fmt.Errorf("answer schema: cannot resolve $ref %q", ref)
}

// stringValues returns vs as strings when every value is a string, nil otherwise (the subset's
// enum holds strings only).
func stringValues(vs []any) []any {
	for _, v := range vs {
		if _, ok := v.(string); !ok {
			return nil
		}
	}
	return vs
}
