package enricher

import (
	"crypto/sha256"
	"encoding/hex"
)

// CanonicalJSON returns the canonical encoding of the JSON value in doc: no insignificant white
// space; object members sorted by key (byte order of the UTF-8 key) and, when a key is
// repeated, only its last member kept (the member encoding/json would decode); numbers exactly
// as written; strings re-encoded with the minimal escapes (`\"`, `\\`, `\b \f \n \r \t`, else
// `\u00XX` for control characters) and every other character as UTF-8, so `"\u00e9"` and `"é"`
// encode alike. Equal values written with other member orders, white space or string escapes
// give the same bytes; `1.0` and `1` stay different. Any JSON value is accepted, not only
// objects. It returns a KindInvalid error when doc is not one JSON value. The result is a new
// slice owned by the caller.
func CanonicalJSON(doc []byte) ([]byte, error) {
	v, err := parseOrdered(doc)
	if err != nil {
		return nil, Wrap(KindInvalid, err, "invalid JSON")
	}
	return appendOrdered(make([]byte, 0, len(doc)), v, true), nil
}

// SchemaContentHash returns the content_hash of a normalised schema document:
// "sha256:" followed by the lower-case hex SHA-256 of CanonicalJSON(normalized). Pass the output
// of NormalizeSchemaJSON. It returns a KindInvalid error when normalized is not valid JSON.
func SchemaContentHash(normalized []byte) (string, error) {
	canonical, err := CanonicalJSON(normalized)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// NormalizeSchemaJSON returns the stored form of a schema document: compact JSON in
// the document's own member order where, on every property (root, $defs, nested properties and
// array items), the search-key spellings `identifying` and `search_key` are folded into
// `is_key`. The first spelling written takes the place of `"is_key": <flag>`, where flag is true
// when any spelling says so (is_key or identifying true, search_key true or "search"), and the
// other spellings are dropped. A property that only has `is_key`, and everything else, is left
// as written. It does not validate the schema (call ParseSchema for that); it returns a
// KindInvalid error when doc is not a JSON object. The result is a new slice owned by the caller.
func NormalizeSchemaJSON(doc []byte) ([]byte, error) {
	v, err := parseOrdered(doc)
	if err != nil {
		return nil, Invalid("schema", []string{"schema is not valid JSON: " + err.Error()})
	}
	if v.kind != orderedObject {
		return nil, Invalid("schema", []string{schemaNotObject})
	}
	for _, m := range v.members {
		switch m.key {
		case "root":
			normalizeEntity(m.value)
		case "$defs":
			if m.value.kind == orderedObject {
				for _, d := range m.value.members {
					normalizeEntity(d.value)
				}
			}
		}
	}
	return appendOrdered(make([]byte, 0, len(doc)), v, false), nil
}

// normalizeEntity normalises the properties of a root or $defs entity definition.
func normalizeEntity(e *orderedValue) {
	if e.kind != orderedObject {
		return
	}
	for _, m := range e.members {
		if m.key == "properties" {
			normalizeProperties(m.value)
		}
	}
}

func normalizeProperties(props *orderedValue) {
	if props.kind != orderedObject {
		return
	}
	for _, m := range props.members {
		normalizeProperty(m.value)
	}
}

// normalizeProperty folds the search-key spellings of one property and recurses into its
// nested properties and items.
func normalizeProperty(p *orderedValue) {
	if p.kind != orderedObject {
		return
	}
	first, legacy, isKey := -1, false, false
	for i, m := range p.members {
		switch m.key {
		case "is_key", "identifying", "search_key":
			if first < 0 {
				first = i
			}
			legacy = legacy || m.key != "is_key"
			isKey = isKey || searchKeyTrue(m.key, m.value)
		case "properties":
			normalizeProperties(m.value)
		case "items":
			normalizeProperty(m.value)
		}
	}
	if !legacy {
		return
	}
	members := make([]orderedMember, 0, len(p.members))
	for i, m := range p.members {
		switch {
		case i == first:
			members = append(members, orderedMember{key: "is_key", value: &orderedValue{kind: orderedBool, truth: isKey}})
		case m.key == "is_key" || m.key == "identifying" || m.key == "search_key":
			// folded into the first spelling
		default:
			members = append(members, m)
		}
	}
	p.members = members
}

// searchKeyTrue reports whether the member key: v marks a search key.
func searchKeyTrue(key string, v *orderedValue) bool {
	switch v.kind {
	case orderedBool:
		return v.truth
	case orderedString:
		return key == "search_key" && v.text == searchKeyLegacyValue
	}
	return false
}
