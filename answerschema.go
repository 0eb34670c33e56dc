package enricher

import "strconv"

// defaultAnswerLanguage is the language used when a request names none.
const defaultAnswerLanguage = "en"

// AnswerSpec is what one LLM call asks for: the asked properties and the requested languages.
// Properties is a pruned copy of the schema tree: pruned objects are new
// *Property values, everything else (array items, leaves' examples) is shared with the Schema
// and must not be modified. Languages holds at least one code; the first is the primary
// language. An AnswerSpec is immutable once built and safe to share between goroutines.
type AnswerSpec struct {
	Properties []*Property
	Languages  []string
}

// NewAnswerSpec returns the asked fields of one call about input: every schema
// property except `preserve` ones and except search keys whose value input already holds
// (non-empty: not null, "" or []). Both rules apply at the root and inside nested objects,
// not inside arrays, where every item field is asked. Input keys match case-insensitively,
// path by path. Objects left without asked fields are dropped.
//
// domain "" keeps every root property; otherwise only the root properties whose Expertise is
// domain (an empty Expertise counts as GeneralDomain). languages are the requested codes,
// first primary, already validated and lower-cased; an empty list means "en".
// The result may be Empty: such a call is not made.
func NewAnswerSpec(s *Schema, input map[string]any, domain string, languages []string) *AnswerSpec {
	var roots []*Property
	for _, p := range s.Root.Properties {
		expertise := p.Expertise
		if expertise == "" {
			expertise = GeneralDomain
		}
		if domain == "" || expertise == domain {
			roots = append(roots, p)
		}
	}
	langs := append([]string(nil), languages...)
	if len(langs) == 0 {
		langs = []string{defaultAnswerLanguage}
	}
	return &AnswerSpec{Properties: askedProperties(roots, input), Languages: langs}
}

// askedProperties prunes props (the fields of one object outside arrays) against in, the
// input object at the same path (nil when absent).
func askedProperties(props []*Property, in map[string]any) []*Property {
	var asked []*Property
	for _, p := range props {
		if p.Preserve {
			continue
		}
		if p.IsKey {
			if v, ok := fieldFold(in, p.Name); ok && holdsKeyValue(v) {
				continue
			}
		}
		if p.Type != TypeObject {
			asked = append(asked, p)
			continue
		}
		children := askedProperties(p.Properties, objectFold(in, p.Name))
		if len(children) == 0 {
			continue
		}
		pruned := *p
		pruned.Properties = children
		asked = append(asked, &pruned)
	}
	return asked
}

// Shape names what a asks: its languages and the names of its asked fields (each prefixed
// by its length, so no name can be mistaken for punctuation), the fields of nested objects
// in parentheses after their object's name. Two specs built from one schema
// with the same Shape have the same JSONSchema, so a caller may key encoded answer schemas on
// (schema, Shape).
func (a *AnswerSpec) Shape() string {
	b := make([]byte, 0, 64)
	for _, l := range a.Languages {
		b = appendName(b, l)
	}
	b = append(b, '|')
	return string(appendShape(b, a.Properties))
}

func appendShape(b []byte, props []*Property) []byte {
	for _, p := range props {
		b = appendName(b, p.Name)
		if p.Type == TypeObject {
			b = append(b, '(')
			b = appendShape(b, p.Properties)
			b = append(b, ')')
		}
	}
	return b
}

func appendName(b []byte, name string) []byte {
	b = strconv.AppendInt(b, int64(len(name)), 10)
	b = append(b, ':')
	return append(b, name...)
}

// Empty reports whether a asks for nothing.
func (a *AnswerSpec) Empty() bool { return len(a.Properties) == 0 }

// JSONSchema returns the JSON Schema (draft 2020-12 vocabulary) of the answer object, as sent to
// providers that take a response schema. Every object has `type`, `properties`, `required`
// listing all its asked fields in schema order, and `additionalProperties: false`; a nullable
// field's `type` is a pair such as ["string", "null"]; integers are "integer"; arrays carry
// `items`; a multilingual field is an object with one required property per requested
// language, each of the field's own shape (nullable when the field is); `description` and
// `examples` are carried when set. The value is built fresh on each call and owned by the
// caller; encoding/json writes it deterministically (sorted keys, order kept in `required`).
func (a *AnswerSpec) JSONSchema() map[string]any {
	return answerObjectSchema(a.Properties, a.Languages, false)
}

// answerObjectSchema returns the schema of an object with fields props.
func answerObjectSchema(props []*Property, langs []string, nullable bool) map[string]any {
	properties := make(map[string]any, len(props))
	required := make([]any, 0, len(props))
	for _, p := range props {
		properties[p.Name] = answerPropertySchema(p, langs)
		required = append(required, p.Name)
	}
	return map[string]any{
		"type":                 answerSchemaType(TypeObject, nullable),
		"properties":           properties,
		"required":             required,
		"additionalProperties": false,
	}
}

// answerPropertySchema returns the schema of the values of p, wrapped in a language object when p is
// multilingual.
func answerPropertySchema(p *Property, langs []string) map[string]any {
	var node map[string]any
	if !p.Multilingual {
		node = answerPlainSchema(p, langs)
	} else {
		properties := make(map[string]any, len(langs))
		required := make([]any, 0, len(langs))
		for _, l := range langs {
			properties[l] = answerPlainSchema(p, langs)
			required = append(required, l)
		}
		node = map[string]any{
			"type":                 answerSchemaType(TypeObject, p.Nullable),
			"properties":           properties,
			"required":             required,
			"additionalProperties": false,
		}
	}
	if p.Description != "" {
		node["description"] = p.Description
	}
	if len(p.Examples) > 0 {
		node["examples"] = append([]any(nil), p.Examples...)
	}
	return node
}

// answerPlainSchema returns the schema of one value of p, ignoring Multilingual.
func answerPlainSchema(p *Property, langs []string) map[string]any {
	switch p.Type {
	case TypeObject:
		return answerObjectSchema(p.Properties, langs, p.Nullable)
	case TypeArray:
		node := map[string]any{"type": answerSchemaType(TypeArray, p.Nullable)}
		if p.Items != nil {
			node["items"] = answerPropertySchema(p.Items, langs)
		}
		return node
	default:
		return map[string]any{"type": answerSchemaType(p.Type, p.Nullable)}
	}
}

// answerSchemaType returns the JSON Schema `type` of t: the name, or the pair [name, "null"].
func answerSchemaType(t Type, nullable bool) any {
	if nullable {
		return []any{string(t), "null"}
	}
	return string(t)
}
