package enricher

import "slices"

// Type is the value type of a schema property.
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

// Schema is a parsed, validated schema document. It is immutable once returned by
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

// Property is one field of an entity. For TypeObject, Properties holds the fields (those of the
// $defs type when Ref is set, so consumers never resolve references themselves; the slice is the
// property's own but its *Property values are shared, read-only, by every reference to the
// type). For TypeArray, Items describes each element (its Name is empty).
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

// SearchKeyPaths returns the search keys of the entity: every property marked
// is_key outside arrays, that is among the root properties and inside object properties
// (including $ref types) at any depth, but never inside array items, where is_key identifies an
// item. Each path lists the property names from the root, in document order (depth first).
// The result is freshly allocated.
func (s *Schema) SearchKeyPaths() [][]string {
	var paths [][]string
	var walk func(props []*Property, prefix []string)
	walk = func(props []*Property, prefix []string) {
		for _, p := range props {
			path := append(prefix[:len(prefix):len(prefix)], p.Name)
			if p.IsKey {
				paths = append(paths, path)
			}
			if p.Type == TypeObject {
				walk(p.Properties, path)
			}
		}
	}
	walk(s.Root.Properties, nil)
	return paths
}

// SearchKeys returns the names of the search keys outside arrays (the last element of each
// SearchKeyPaths path), without repeats, in order of appearance. These are the names quoted in
// "entity_data has none of the search keys: name, country".
func (s *Schema) SearchKeys() []string {
	var keys []string
	for _, path := range s.SearchKeyPaths() {
		if name := path[len(path)-1]; !slices.Contains(keys, name) {
			keys = append(keys, name)
		}
	}
	return keys
}

// PropertyCount returns the property_count of a saved schema: the number of named properties written
// in the document, at every depth. It counts every member of every properties object (root
// properties, properties of nested objects, of array items, of items of items, …) under the
// root and under each $defs type, so each $defs type is counted once however often it is
// referenced (a property with $ref counts as one; the type's properties are not counted again
// through it). Array items are not named properties and are not counted themselves. The example Company
// schema has 14: 9 root properties, 2 in headquarters and 3 in the subsidiaries' items.
func (s *Schema) PropertyCount() int {
	n := countProperties(s.Root.Properties)
	for _, d := range s.Defs {
		n += countProperties(d.Properties)
	}
	return n
}

func countProperties(props []*Property) int {
	n := 0
	for _, p := range props {
		n += 1 + countBelow(p)
	}
	return n
}

// countBelow counts the properties written under p, not following references.
func countBelow(p *Property) int {
	if p.Ref != "" {
		return 0
	}
	n := countProperties(p.Properties)
	if p.Items != nil {
		n += countBelow(p.Items)
	}
	return n
}

// ExpertiseCount returns the expertise_count of a saved schema: the number of distinct domains the
// root properties are in, the implicit GeneralDomain included when a property uses it. Declared
// domains no property uses are not counted. It is the number of calls per model of the
// multi_expertise strategy.
func (s *Schema) ExpertiseCount() int {
	return len(s.domainsInUse())
}

// domainsInUse returns the distinct expertise keys of the root properties, in order.
func (s *Schema) domainsInUse() []string {
	var keys []string
	for _, p := range s.Root.Properties {
		if !slices.Contains(keys, p.Expertise) {
			keys = append(keys, p.Expertise)
		}
	}
	return keys
}
