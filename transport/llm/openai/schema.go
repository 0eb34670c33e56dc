package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Limits of OpenAI's strict structured outputs.
const (
	strictMaxDepth      = 10
	strictMaxProperties = 5000
	strictMaxEnumValues = 1000
	strictMaxChars      = 120000
)

// strictKept are the keywords kept in a strict schema; every other keyword is dropped, except
// those in strictUnsupported, which make the schema unfit.
var strictKept = map[string]bool{
	"type": true, "properties": true, "required": true, "additionalProperties": true, "items": true,
	"enum": true, "const": true, "anyOf": true, "description": true, "pattern": true, "format": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
	"multipleOf": true, "minItems": true, "maxItems": true, "$ref": true, "$defs": true,
	"definitions": true,
}

// strictUnsupported are keywords whose meaning strict mode cannot express.
var strictUnsupported = []string{"allOf", "not", "if", "then", "else", "dependentRequired",
	"dependentSchemas", "patternProperties"}

// strictFormats are the string formats strict mode accepts; others are dropped.
var strictFormats = map[string]bool{"date-time": true, "time": true, "date": true, "duration": true,
	"email": true, "hostname": true, "ipv4": true, "ipv6": true, "uuid": true}

// object is a JSON object that keeps its key order, so properties reach the model (and its
// answer) in schema order.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) get(k string) (any, bool) { v, ok := o.vals[k]; return v, ok }

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// MarshalJSON writes the members in order.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decodeOrdered parses a JSON document into any, with objects as *object and numbers as
// json.Number.
func decodeOrdered(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data after the schema")
	}
	return v, nil
}

func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &object{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(kt.(string), v)
		}
		_, err = dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err = dec.Token()
		return a, err
	}
	return tok, nil
}

// strictCounter tallies the size limits over a whole schema.
type strictCounter struct {
	properties, enumValues, chars int
}

// strictSchema translates a JSON Schema into OpenAI's strict subset: every object lists all
// its properties in `required` (those that were optional become nullable, as a "null" type or
// an anyOf null branch), gets `additionalProperties: false`, `nullable: true` becomes a type
// union, `oneOf` becomes `anyOf`, and keywords strict mode does not know (examples, default,
// title, minLength, ...) are dropped; the server validates answers anyway. It returns an
// error naming the first construct strict mode cannot express (root not an object, open or
// free-form objects, allOf/not/if, untyped nodes, arrays without items, size limits).
func strictSchema(raw json.RawMessage) (json.RawMessage, error) {
	doc, err := decodeOrdered(raw)
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	root, ok := doc.(*object)
	if !ok {
		return nil, errors.New("schema root is not an object")
	}
	if t, _ := root.get("type"); t != "object" {
		return nil, errors.New(`schema root type is not "object"`)
	}
	var c strictCounter
	out, err := strictNode(root, "#", 1, &c)
	if err != nil {
		return nil, err
	}
	switch {
	case c.properties > strictMaxProperties:
		return nil, fmt.Errorf("more than %d properties", strictMaxProperties)
	case c.enumValues > strictMaxEnumValues:
		return nil, fmt.Errorf("more than %d enum values", strictMaxEnumValues)
	case c.chars > strictMaxChars:
		return nil, fmt.Errorf("names and enum values exceed %d characters", strictMaxChars)
	}
	return json.Marshal(out)
}

// strictNode translates one schema node found at path; depth counts nested objects.
func strictNode(n *object, path string, depth int, c *strictCounter) (*object, error) {
	for _, k := range strictUnsupported {
		if _, ok := n.get(k); ok {
			return nil, fmt.Errorf("%s: %s is not supported in strict mode", path, k)
		}
	}
	out := &object{vals: map[string]any{}}
	for _, k := range n.keys {
		v := n.vals[k]
		switch k {
		case "oneOf":
			k = "anyOf"
		case "format":
			if s, _ := v.(string); !strictFormats[s] {
				continue
			}
		case "enum":
			if a, ok := v.([]any); ok {
				c.enumValues += len(a)
				for _, e := range a {
					if s, ok := e.(string); ok {
						c.chars += len(s)
					}
				}
			}
		}
		if strictKept[k] {
			out.set(k, v)
		}
	}
	if nb, _ := n.get("nullable"); nb == true {
		if err := makeNullable(out); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := strictChildren(out, path, depth, c); err != nil {
		return nil, err
	}
	_, hasType := out.get("type")
	_, hasAny := out.get("anyOf")
	_, hasRef := out.get("$ref")
	_, hasEnum := out.get("enum")
	_, hasConst := out.get("const")
	if !hasType && !hasAny && !hasRef && !hasEnum && !hasConst {
		return nil, fmt.Errorf("%s: a schema without type is not supported in strict mode", path)
	}
	return out, nil
}

// strictChildren translates the sub-schemas of out in place.
func strictChildren(out *object, path string, depth int, c *strictCounter) error {
	types := typeNames(out)
	if slices.Contains(types, "object") {
		if depth > strictMaxDepth {
			return fmt.Errorf("%s: objects nested deeper than %d levels", path, strictMaxDepth)
		}
		if ap, ok := out.get("additionalProperties"); ok && ap != false {
			return fmt.Errorf("%s: open objects (additionalProperties) are not supported in strict mode", path)
		}
		props, _ := out.get("properties")
		po, ok := props.(*object)
		if !ok {
			return fmt.Errorf("%s: an object without properties is not supported in strict mode", path)
		}
		required := map[string]bool{}
		if r, ok := out.get("required"); ok {
			list, _ := r.([]any)
			for _, name := range list {
				if s, ok := name.(string); ok {
					required[s] = true
				}
			}
		}
		newProps := &object{vals: map[string]any{}}
		all := make([]any, 0, len(po.keys))
		for _, name := range po.keys {
			child, ok := po.vals[name].(*object)
			if !ok {
				return fmt.Errorf("%s/properties/%s: not a schema object", path, name)
			}
			tc, err := strictNode(child, path+"/properties/"+name, depth+1, c)
			if err != nil {
				return err
			}
			if !required[name] {
				if err := makeNullable(tc); err != nil {
					return fmt.Errorf("%s/properties/%s: %w", path, name, err)
				}
			}
			newProps.set(name, tc)
			all = append(all, name)
			c.properties++
			c.chars += len(name)
		}
		out.set("properties", newProps)
		out.set("required", all)
		out.set("additionalProperties", false)
	}
	if slices.Contains(types, "array") {
		items, ok := out.get("items")
		io, isObj := items.(*object)
		if !ok || !isObj {
			return fmt.Errorf("%s: an array without an items schema is not supported in strict mode", path)
		}
		ti, err := strictNode(io, path+"/items", depth, c)
		if err != nil {
			return err
		}
		out.set("items", ti)
	}
	if a, ok := out.get("anyOf"); ok {
		list, _ := a.([]any)
		branches := make([]any, 0, len(list))
		for i, b := range list {
			bo, ok := b.(*object)
			if !ok {
				return fmt.Errorf("%s/anyOf/%d: not a schema object", path, i)
			}
			tb, err := strictNode(bo, fmt.Sprintf("%s/anyOf/%d", path, i), depth, c)
			if err != nil {
				return err
			}
			branches = append(branches, tb)
		}
		out.set("anyOf", branches)
	}
	for _, defsKey := range []string{"$defs", "definitions"} {
		d, ok := out.get(defsKey)
		if !ok {
			continue
		}
		do, ok := d.(*object)
		if !ok {
			return fmt.Errorf("%s/%s: not an object", path, defsKey)
		}
		for _, name := range do.keys {
			so, ok := do.vals[name].(*object)
			if !ok {
				return fmt.Errorf("%s/%s/%s: not a schema object", path, defsKey, name)
			}
			ts, err := strictNode(so, path+"/"+defsKey+"/"+name, depth, c)
			if err != nil {
				return err
			}
			do.set(name, ts)
			c.chars += len(name)
		}
	}
	return nil
}

// typeNames returns the `type` of n as a list ("string" or ["string","null"]).
func typeNames(n *object) []string {
	switch t := n.vals["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var names []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				names = append(names, s)
			}
		}
		return names
	}
	return nil
}

// makeNullable lets n also accept null.
func makeNullable(n *object) error {
	if t, ok := n.get("type"); ok {
		names := typeNames(n)
		if len(names) == 0 {
			return fmt.Errorf("bad type %v", t)
		}
		if slices.Contains(names, "null") {
			return nil
		}
		list := make([]any, 0, len(names)+1)
		for _, s := range names {
			list = append(list, s)
		}
		n.set("type", append(list, "null"))
		if e, ok := n.get("enum"); ok {
			if a, ok := e.([]any); ok && !slices.ContainsFunc(a, func(x any) bool { return x == nil }) {
				n.set("enum", append(slices.Clone(a), nil))
			}
		}
		return nil
	}
	if a, ok := n.get("anyOf"); ok {
		list, _ := a.([]any)
		n.set("anyOf", append(slices.Clone(list), &object{keys: []string{"type"}, vals: map[string]any{"type": "null"}}))
		return nil
	}
	// $ref, enum or const alone: wrap the node in an anyOf with a null branch.
	inner := &object{keys: n.keys, vals: n.vals}
	null := &object{keys: []string{"type"}, vals: map[string]any{"type": "null"}}
	n.keys = []string{"anyOf"}
	n.vals = map[string]any{"anyOf": []any{inner, null}}
	return nil
}
