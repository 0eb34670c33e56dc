package enricher

// Type is the value type of a schema property (SPEC §4.1).
type Type string

// The six property types.
const (
	TypeString  Type = "string"
	TypeNumber  Type = "number"
	TypeInteger Type = "integer"
	TypeBoolean Type = "boolean"
	TypeArray   Type = "array"
	TypeObject  Type = "object"
)

// GeneralDomain is the key of the implicit expertise domain of properties without one.
const GeneralDomain = "general"

// Schema is a parsed, validated schema document (SPEC §4.1). It is immutable once returned by
// ParseSchema and safe to share between goroutines. Property and domain order is the order of
// the document, so prompts and outputs follow the author's order.
type Schema struct {
	Root                     EntityDefinition
	Defs                     []*EntityDefinition // in document order; Name is the $defs key
	Domains                  []Domain            // declared expertise domains, document order
	IdentificationConfidence string              // "high", "medium", "low" or ""
	IdentificationNotes      string
}

// EntityDefinition is the root entity or a reusable $defs type.
type EntityDefinition struct {
	Name        string
	Description string
	Properties  []*Property
}

// Domain is an expertise domain: a specialist area whose root properties can be asked in a
// call of their own (strategy multi_expertise).
type Domain struct {
	Key         string
	Name        string
	Description string
}

// Property is one field of an entity. For TypeObject, Properties holds the fields (copied from
// the $defs type when Ref is set, so consumers never resolve references themselves). For
// TypeArray, Items describes each element.
type Property struct {
	Name         string
	Type         Type
	Description  string
	Examples     []any
	Expertise    string // root properties only; "general" when absent
	IsKey        bool
	Preserve     bool
	Multilingual bool
	Nullable     bool // default true
	Items        *Property
	Properties   []*Property
	Ref          string // "#/$defs/<Name>" as written, "" when none
}

// Property returns the root property named name, or nil.
func (s *Schema) Property(name string) *Property {
	for _, p := range s.Root.Properties {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Domain returns the declared or implicit domain with key, and whether it exists.
func (s *Schema) Domain(key string) (Domain, bool) {
	for _, d := range s.Domains {
		if d.Key == key {
			return d, true
		}
	}
	if key == GeneralDomain {
		return Domain{Key: GeneralDomain, Name: "General"}, true
	}
	return Domain{}, false
}

// SearchKeys returns the names of the root properties marked is_key, in order. Search keys
// inside arrays identify items, not the entity, and are not listed.
func (s *Schema) SearchKeys() []string {
	var keys []string
	for _, p := range s.Root.Properties {
		if p.IsKey {
			keys = append(keys, p.Name)
		}
	}
	return keys
}
