package sim

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	enricher "github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// languages holds the supported language codes. An object schema whose properties are all
// language codes is a multilingual text.
var languages = map[string]bool{}

func init() {
	for _, c := range strings.Fields("en fr de es it pt nl sv da nb fi pl cs hu ro el tr ru uk ar he hi zh ja ko th vi id") {
		languages[c] = true
	}
}

// node is the subset of a JSON Schema (draft 2020-12) that answer schemas use: type (a name
// or a list with "null"), properties in document order, items, enum, $ref into $defs or
// definitions, and anyOf/oneOf (the first non-null branch is generated), plus what makes values
// plausible and keeps them valid: description, format, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum and maxLength. Anything else is ignored.
type node struct {
	types []string
	props []field
	items *node
	enum  []json.RawMessage
	ref   string
	alts  []*node // anyOf or oneOf
	defs  map[string]*node

	desc             string
	format           string
	minimum          *float64
	maximum          *float64
	exclusiveMinimum *float64
	exclusiveMaximum *float64
	maxLength        *int
}

// field is a named property of an object node.
type field struct {
	name string
	node *node
}

// kind is the JSON type to generate for n: the first non-null type, else what its keywords
// imply, else string. "null" means only null is allowed.
func (n *node) kind() string {
	for _, t := range n.types {
		if t != "null" {
			return t
		}
	}
	switch {
	case len(n.types) > 0:
		return "null"
	case n.props != nil:
		return "object"
	case n.items != nil:
		return "array"
	}
	return "string"
}

// nullable reports whether n's own type list allows null.
func (n *node) nullable() bool {
	for _, t := range n.types {
		if t == "null" {
			return true
		}
	}
	return false
}

// multilingual reports whether n is an object whose properties are all language codes.
func (n *node) multilingual() bool {
	if len(n.props) == 0 {
		return false
	}
	for _, f := range n.props {
		if !languages[f.name] {
			return false
		}
	}
	return true
}

// pos is the hash state of a field path, with and without the model key. Paths are written
// as fusion writes them: `headquarters.city`, `subsidiaries[0].name`.
type pos struct {
	consensus, own uint64
	root           bool
}

func (p pos) child(name string) pos {
	if !p.root {
		p.consensus, p.own = addString(p.consensus, "."), addString(p.own, ".")
	}
	return pos{consensus: addString(p.consensus, name), own: addString(p.own, name)}
}

func (p pos) index(i int) pos {
	s := "[" + strconv.Itoa(i) + "]"
	return pos{consensus: addString(p.consensus, s), own: addString(p.own, s)}
}

// generator writes an enrichment answer for an answer schema.
type generator struct {
	buf       []byte
	defs      map[string]*node
	threshold uint64  // deviate when hash mod 100 < threshold
	nullRate  float64 // Profile.NullRate of the model
	corrupt   int     // root property given a wrong type; -1 for none
	entity    string  // the entity's name, "the entity" when it has none
	domain    string  // the first part of the entity's simulated domain name ("moderna")
	root      string  // the schema root's name ("Company"), "entity" when unknown
}

// enrichment generates the answer of an enrichment call from the request's answer schema.
// With invalid set, one root property gets a value of the wrong type (fault schema_invalid).
func (p *Provider) enrichment(c *call, invalid bool) (string, error) {
	root := &node{types: []string{"object"}, props: []field{}}
	if len(bytes.TrimSpace(c.req.Schema)) > 0 {
		var err error
		if root, err = p.schemas.Get(c.req.Schema, parseSchema); err != nil {
			return "", &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: "sim: answer schema is not a JSON Schema", Err: err}
		}
	}
	g := &generator{buf: make([]byte, 0, 512), defs: root.defs, threshold: p.threshold, nullRate: c.nullRate, corrupt: -1,
		entity: entityName(c.hints.Entity), domain: "example", root: "entity"}
	if g.entity != "the entity" {
		g.domain = domainBase(g.entity)
	}
	if c.hints.RootName != "" {
		g.root = c.hints.RootName
	}
	if invalid {
		if r, _ := g.resolve(root); r.kind() == "object" && len(r.props) > 0 {
			g.corrupt = int(mix(c.perTry, saltCorrupt) % uint64(len(r.props)))
		} else {
			return "[]", nil
		}
	}
	g.value(root, pos{consensus: c.consensus, own: c.own, root: true}, "", 0)
	return string(g.buf), nil
}

// resolve follows $ref and anyOf/oneOf to the node to generate, and reports whether null is
// allowed on the way.
func (g *generator) resolve(n *node) (*node, bool) {
	nullable := false
	for range 32 {
		nullable = nullable || n.nullable()
		switch {
		case n.ref != "":
			name := n.ref[strings.LastIndexByte(n.ref, '/')+1:]
			target := g.defs[name]
			if target == nil {
				return &node{types: []string{"string"}}, nullable
			}
			n = target
		case len(n.alts) > 0 && len(n.types) == 0:
			var pick *node
			for _, a := range n.alts {
				if a.kind() == "null" {
					nullable = true
				} else if pick == nil {
					pick = a
				}
			}
			if pick == nil {
				return &node{types: []string{"null"}}, true
			}
			n = pick
		default:
			return n, nullable
		}
	}
	return &node{types: []string{"string"}}, nullable
}

// leaf returns the value hash of the field at p: the consensus hash, or the model's own when
// hash(model, entity, path) mod 100 falls under the disagreement threshold.
func (g *generator) leaf(p pos) uint64 {
	if g.threshold > 0 && mix(p.own, saltDeviate)%100 < g.threshold {
		return mix(p.own, saltValue)
	}
	return mix(p.consensus, saltValue)
}

// isNull decides the ~10 % of nullable leaves that are null.
func isNull(h uint64) bool { return h%10 == 0 }

// null decides whether the nullable leaf at p with value hash h is null: by the model's null
// rate when it has one (a draw of its own per model and path), else by isNull.
func (g *generator) null(p pos, h uint64) bool {
	switch {
	case g.nullRate == 0:
		return isNull(h)
	case g.nullRate < 0:
		return false
	}
	return float64(mix(p.own, saltNull)%10000) < g.nullRate*10000
}

// value writes the value of schema n at path p; name is the field's name ("" at the root; array
// items take their array's), from which, with n's description and format, the kind of value
// is guessed.
func (g *generator) value(n *node, p pos, name string, depth int) {
	n, nullable := g.resolve(n)
	if depth > 64 {
		g.buf = append(g.buf, "null"...)
		return
	}
	h := g.leaf(p)
	if len(n.enum) > 0 {
		g.buf = append(g.buf, n.enum[(h>>8)%uint64(len(n.enum))]...)
		return
	}
	kind := n.kind()
	if kind != "object" && kind != "null" && nullable && g.null(p, h) {
		g.buf = append(g.buf, "null"...)
		return
	}
	switch kind {
	case "null":
		g.buf = append(g.buf, "null"...)
	case "object":
		if n.multilingual() {
			if nullable && g.null(p, h) {
				g.buf = append(g.buf, "null"...)
				return
			}
			g.multilingual(n, p, h, name, depth)
			return
		}
		g.buf = append(g.buf, '{')
		for i, f := range n.props {
			if i > 0 {
				g.buf = append(g.buf, ',')
			}
			g.buf = appendString(g.buf, f.name)
			g.buf = append(g.buf, ':')
			if depth == 0 && i == g.corrupt {
				r, _ := g.resolve(f.node)
				g.buf = appendWrong(g.buf, r)
				continue
			}
			g.value(f.node, p.child(f.name), f.name, depth+1)
		}
		g.buf = append(g.buf, '}')
	case "array":
		g.buf = append(g.buf, '[')
		items := n.items
		if items == nil {
			items = &node{types: []string{"string"}}
		}
		for i := range int(1 + (h>>8)%3) {
			if i > 0 {
				g.buf = append(g.buf, ',')
			}
			g.value(items, p.index(i), name, depth+1)
		}
		g.buf = append(g.buf, ']')
	case "integer":
		g.buf = appendNumber(g.buf, n.number(classify(name, n.desc, n.format), name, draw(h), true), true)
	case "number":
		g.buf = appendNumber(g.buf, n.number(classify(name, n.desc, n.format), name, draw(h), false), false)
	case "boolean":
		g.buf = strconv.AppendBool(g.buf, (h>>8)&1 == 1)
	default:
		g.buf = appendString(g.buf, g.str(n, name, h, ""))
	}
}

// str draws the string of a leaf: a value of its kind, or "<Label> <6 hex>" when the kind is
// unknown, suffixed " (<lang>)" when lang is set, and cut to maxLength.
func (g *generator) str(n *node, name string, h uint64, lang string) string {
	s, ok := g.text(n, classify(name, n.desc, n.format), name, draw(h))
	if !ok {
		s = genericText(name, h)
	}
	if lang != "" {
		s += " (" + lang + ")"
	}
	if n.maxLength != nil {
		s = truncateRunes(s, *n.maxLength)
	}
	return s
}

// multilingual writes a multilingual text: one value per language, sharing the field's hash
// so that the languages read as translations of one another, each suffixed " (<code>)".
// Arrays of texts have the same length in every language.
func (g *generator) multilingual(n *node, p pos, h uint64, name string, depth int) {
	g.buf = append(g.buf, '{')
	for i, f := range n.props {
		if i > 0 {
			g.buf = append(g.buf, ',')
		}
		g.buf = appendString(g.buf, f.name)
		g.buf = append(g.buf, ':')
		sub, _ := g.resolve(f.node)
		switch sub.kind() {
		case "string":
			g.buf = appendString(g.buf, g.str(sub, name, h, f.name))
		case "array":
			item := &node{}
			if sub.items != nil {
				item, _ = g.resolve(sub.items)
			}
			g.buf = append(g.buf, '[')
			for j := range int(1 + (h>>8)%3) {
				if j > 0 {
					g.buf = append(g.buf, ',')
				}
				g.buf = appendString(g.buf, g.str(item, name, mix(h, uint64(j)+1), f.name))
			}
			g.buf = append(g.buf, ']')
		default:
			g.value(sub, p.child(f.name), name, depth+1)
		}
	}
	g.buf = append(g.buf, '}')
}

// genericText is "<Label> <6 hex>" for a field whose kind is unknown ("Value" at the root).
func genericText(name string, h uint64) string {
	const hexDigits = "0123456789abcdef"
	var hex [6]byte
	v := h >> 8
	for i := 5; i >= 0; i-- {
		hex[i] = hexDigits[v&0xf]
		v >>= 4
	}
	label := fieldLabel(name)
	if label == "" {
		label = "Value"
	}
	return label + " " + string(hex[:])
}

// appendWrong appends a value whose JSON type n does not allow (fault schema_invalid).
func appendWrong(buf []byte, n *node) []byte {
	switch {
	case len(n.enum) > 0:
		return append(buf, `{"sim":"wrong type"}`...)
	case n.kind() == "string":
		return append(buf, "12345"...)
	}
	return append(buf, `"sim: wrong type"`...)
}

// fieldLabel turns a property name into the label of its strings: underscores become
// spaces (trimmed at both ends) and the first letter is upper-cased ("founded_year" →
// "Founded year").
func fieldLabel(name string) string {
	s := strings.TrimSpace(strings.ReplaceAll(name, "_", " "))
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return strings.ToUpper(string(r)) + s[size:]
}

// appendString appends s as a JSON string.
func appendString(buf []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		buf = append(buf, '"')
		buf = append(buf, s...)
		return append(buf, '"')
	}
	return enricher.AppendJSONString(buf, s)
}
