package enricher

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// SimDirectiveKey is the entity_data key of the sim provider's directive.
const SimDirectiveKey = "_sim"

// EntityNamespace is the UUIDv5 namespace of entity ids.
const EntityNamespace = "5c2e3a4f-8b1d-4e6a-9f07-3d5b2c1a0e98"

// entityNamespace holds the 16 bytes of EntityNamespace.
var entityNamespace = parseEntityUUID(EntityNamespace)

// entityKeyPath is a search key of the entity: an is_key property outside arrays and outside
// preserve subtrees (preserve wins over every other flag).
type entityKeyPath struct {
	path []string // property names from the root
	name string   // the path joined with "."
}

// entityKeyPaths returns the search keys of s in schema order (depth first, document order).
// Root keys come out as their plain names; keys inside nested objects as dotted paths.
func entityKeyPaths(s *Schema) []entityKeyPath {
	var keys []entityKeyPath
	var walk func(props []*Property, prefix []string)
	walk = func(props []*Property, prefix []string) {
		for _, p := range props {
			if p.Preserve {
				continue
			}
			path := append(slices.Clip(prefix), p.Name)
			if p.IsKey {
				keys = append(keys, entityKeyPath{path: path, name: strings.Join(path, ".")})
			}
			if p.Type == TypeObject {
				walk(p.Properties, path)
			}
		}
	}
	walk(s.Root.Properties, nil)
	return keys
}

// fieldFold returns the value of obj's key equal to name; failing that, of the key equal to
// name under Unicode case folding (the smallest such key when several fold alike).
func fieldFold(obj map[string]any, name string) (any, bool) {
	if v, ok := obj[name]; ok {
		return v, true
	}
	best, found := "", false
	for k := range obj {
		if strings.EqualFold(k, name) && (!found || k < best) {
			best, found = k, true
		}
	}
	if !found {
		return nil, false
	}
	return obj[best], true
}

// objectFold returns the object held by obj under name (matched as by fieldFold), or nil.
func objectFold(obj map[string]any, name string) map[string]any {
	v, _ := fieldFold(obj, name)
	m, _ := v.(map[string]any)
	return m
}

// entityValueAt returns the value at path in obj, matching every key case-insensitively, and
// whether it exists.
func entityValueAt(obj map[string]any, path []string) (any, bool) {
	for _, name := range path[:len(path)-1] {
		obj = objectFold(obj, name)
		if obj == nil {
			return nil, false
		}
	}
	return fieldFold(obj, path[len(path)-1])
}

// holdsKeyValue reports whether v counts as given for a search key: not null, "" or [].
func holdsKeyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	}
	return true
}

// CheckSearchKeys applies the search-key rule to entity, which must already be
// free of the `_sim` directive. It returns a KindInvalid error when entity is empty, or when
// the schema has search keys and entity holds a non-empty value (not null, "" or []) for none
// of them: "entity_data has none of the search keys: name, country", keys listed in schema
// order. Keys inside nested objects (outside arrays) count too, listed as dotted paths and
// matched path by path; every key name matches case-insensitively.
func CheckSearchKeys(s *Schema, entity map[string]any) error {
	if len(entity) == 0 {
		return Errorf(KindInvalid, "entity_data: at least one field is required")
	}
	keys := entityKeyPaths(s)
	if len(keys) == 0 {
		return nil
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		if v, ok := entityValueAt(entity, k.path); ok && holdsKeyValue(v) {
			return nil
		}
		names = append(names, k.name)
	}
	return Errorf(KindInvalid, "entity_data has none of the search keys: %s", strings.Join(names, ", "))
}

// EntityID returns the entity id of records: the UUIDv5 (SHA-1, RFC 9562) in EntityNamespace
// of "<orgID>|<canonical JSON>". The canonical JSON is the compact JSON of an object mapping
// each search key that entity holds (non-empty, matched as by CheckSearchKeys) to its value as
// given, names lower-cased (dotted paths for nested keys); when entity holds none, the whole
// entity. Canonical means: no insignificant whitespace, object keys sorted by bytes at every
// depth, no HTML escaping (`<` stays `<`), numbers as encoding/json writes float64.
func EntityID(orgID string, s *Schema, entity map[string]any) string {
	present := map[string]any{}
	for _, k := range entityKeyPaths(s) {
		if v, ok := entityValueAt(entity, k.path); ok && holdsKeyValue(v) {
			present[strings.ToLower(k.name)] = v
		}
	}
	var doc any = present
	if len(present) == 0 {
		doc = entity
	}
	return entityUUIDv5(entityNamespace, orgID+"|"+compactSortedJSON(doc))
}

// compactSortedJSON returns the canonical compact JSON of v (see EntityID): what a
// json.Encoder with SetEscapeHTML(false) writes, without its newline.
func compactSortedJSON(v any) string {
	b, err := appendJSONValue(nil, v, 0, 0)
	if err != nil {
		// Only values decoded from JSON reach here; they always encode. Fall back to a stable
		// marker rather than panicking.
		return "null"
	}
	return string(b)
}

// entityUUIDv5 returns the name-based SHA-1 UUID of name in namespace ns, in canonical form.
func entityUUIDv5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return formatEntityUUID(u)
}

// formatEntityUUID returns u as lower-case 8-4-4-4-12 hex.
func formatEntityUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// parseEntityUUID parses a canonical UUID literal; it panics on a malformed one (package
// constants only).
func parseEntityUUID(s string) [16]byte {
	var u [16]byte
	if !ValidUUID(s) {
		panic("enricher: malformed UUID literal " + s)
	}
	if _, err := hex.Decode(u[:], []byte(strings.ReplaceAll(s, "-", ""))); err != nil {
		panic("enricher: malformed UUID literal " + s)
	}
	return u
}

// ValidUUID reports whether s is a UUID in lower-case canonical form: 8-4-4-4-12 hexadecimal
// digits. Upper-case digits, braces and the "urn:uuid:" prefix are rejected; version and
// variant bits are not checked.
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// EntityName returns the display name of entity: the first non-blank string among
// its top-level fields `name`, `title` and `label` (in that order, keys matched
// case-insensitively), else the first non-blank string value of a search key (schema order),
// else "entity <index>" when index is non-nil (batch entities; the index is printed as given)
// or "entity". The value is returned as given, untrimmed.
func EntityName(s *Schema, entity map[string]any, index *int) string {
	for _, field := range [...]string{"name", "title", "label"} {
		if v, ok := fieldFold(entity, field); ok {
			if str, ok := v.(string); ok && strings.TrimSpace(str) != "" {
				return str
			}
		}
	}
	for _, k := range entityKeyPaths(s) {
		if v, ok := entityValueAt(entity, k.path); ok {
			if str, ok := v.(string); ok && strings.TrimSpace(str) != "" {
				return str
			}
		}
	}
	if index != nil {
		return "entity " + strconv.Itoa(*index)
	}
	return "entity"
}

// ExpectedKey is the entity_data key of an entity's known values: an object the job's model
// report compares answers with. It is never sent to a model (StripSimDirective drops it) and
// never stored in a record's entity_input (WithoutExpected); records keep it apart (Record.Expected).
const ExpectedKey = "_expected"

// WithoutExpected returns entity without its top-level `_expected` key: entity itself when it
// has none, else a new map sharing entity's values. entity is never modified.
func WithoutExpected(entity map[string]any) map[string]any {
	if _, ok := entity[ExpectedKey]; !ok {
		return entity
	}
	clean := make(map[string]any, len(entity))
	for k, v := range entity {
		if k != ExpectedKey {
			clean[k] = v
		}
	}
	return clean
}

// ExpectedOf returns the JSON of entity's `_expected` object, or nil when it has none or it is
// not an object.
func ExpectedOf(entity map[string]any) json.RawMessage {
	m, ok := entity[ExpectedKey].(map[string]any)
	if !ok {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil // a decoded JSON object always marshals
	}
	return b
}

// StripSimDirective returns entity without its top-level `_sim` and `_expected` keys and the
// directive object `_sim` held (nil when absent or not an object). entity is never modified:
// clean is a new map sharing entity's values (nil when entity is nil), so callers may add or
// delete keys of clean freely but must not mutate nested values.
func StripSimDirective(entity map[string]any) (clean map[string]any, directive map[string]any) {
	if entity == nil {
		return nil, nil
	}
	clean = make(map[string]any, len(entity))
	for k, v := range entity {
		if k == SimDirectiveKey {
			directive, _ = v.(map[string]any)
			continue
		}
		if k == ExpectedKey {
			continue
		}
		clean[k] = v
	}
	return clean, directive
}
