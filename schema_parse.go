package enricher

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MaxSchemaProperties is the largest number of properties a schema may hold (rule S9),
// counted as PropertyCount does and also with every $ref expanded.
const MaxSchemaProperties = 500

// MaxSchemaDepth is the deepest nesting a schema may have (rule S9). Depth is the nesting
// of a value in the output document: root properties are at depth 1, and every object level
// (the properties of an object property or of a $ref type) and every array level (the items of
// an array) adds one. In the example Company schema, subsidiaries is at depth 1, its items at 2 and
// subsidiaries[].name at 3.
const MaxSchemaDepth = 8

const (
	schemaNotObject      = "schema is not a JSON object"
	refPrefix            = "#/$defs/"
	searchKeyLegacyValue = "search"
)

// ParseSchema decodes and validates a schema document with the rules S1–S9 (every problem is
// reported, each with its path), and returns the parsed schema. Properties, $defs and expertise
// domains keep the document's order. Defaults are filled in: Nullable is true unless written false, root
// properties without expertise are in GeneralDomain, and the search-key spellings `is_key`,
// `identifying` (true) and `search_key` (true or "search"; another string means no) all set
// IsKey. A property with `$ref` gets Type TypeObject, the Properties of the $defs type (the same
// immutable *Property values, shared by every reference) and, when it has no description of its
// own, the type's description. Unknown fields are ignored and null reads as absent.
//
// On failure it returns a KindInvalid error made by Invalid("schema", problems) whose Problems
// list every problem at once, each phrased "<path>: <problem>" with the document's own paths
// (`root.properties.revenue_usd.type: unknown type "money"`): root first, then $defs,
// expertise_domains and the identification fields, each in document order, then reference
// cycles, nesting through references and the property count. A document that is not JSON
// gives the single problem "schema is not valid JSON: <reason>", one that is not an object
// "schema is not a JSON object". The returned schema is immutable and safe for concurrent use.
func ParseSchema(doc []byte) (*Schema, error) {
	v, err := parseOrdered(doc)
	if err != nil {
		return nil, Invalid("schema", []string{"schema is not valid JSON: " + err.Error()})
	}
	if v.kind != orderedObject {
		return nil, Invalid("schema", []string{schemaNotObject})
	}
	p := &schemaParser{}
	s := p.parse(v)
	if len(p.problems) > 0 {
		return nil, Invalid("schema", dedupeProblems(p.problems))
	}
	return s, nil
}

// schemaParser collects the problems of one document while it decodes it.
type schemaParser struct {
	problems   []string
	domainKeys map[string]bool // keys written under expertise_domains, valid or not
	defIndex   map[string]int  // $defs names in document order
	refSites   []refSite
	expanded   int  // root properties at every depth with references expanded
	expandedOK bool // every reference resolved, so expanded is meaningful
}

// refSite is a property with a $ref to a defined $defs type, kept for resolution.
type refSite struct {
	path  string // document path of the property
	depth int    // depth of the property within its entity (root or $defs type)
	owner string // "" for the root entity, else the $defs type it belongs to
	def   string // referenced type
	prop  *Property
}

func (p *schemaParser) add(path, problem string) {
	p.problems = append(p.problems, path+": "+problem)
}

func (p *schemaParser) addf(path, format string, args ...any) {
	p.add(path, fmt.Sprintf(format, args...))
}

// parse decodes the document object doc; problems accumulate in p.
func (p *schemaParser) parse(doc *orderedValue) *Schema {
	p.checkDuplicateKeys(doc, "")
	p.prescan(doc)
	s := &Schema{}
	switch root := doc.get("root"); {
	case root.isNull():
		p.add("root", "required field missing")
	case root.kind != orderedObject:
		p.add("root", "must be an object")
	default:
		s.Root = p.entity(root, "root", "")
	}
	if defs := doc.get("$defs"); !defs.isNull() {
		s.Defs = p.defs(defs)
	}
	if domains := doc.get("expertise_domains"); !domains.isNull() {
		s.Domains = p.domains(domains)
	}
	if c := doc.get("identification_confidence"); !c.isNull() {
		if c.kind == orderedString && (c.text == "high" || c.text == "medium" || c.text == "low") {
			s.IdentificationConfidence = c.text
		} else {
			p.add("identification_confidence", `must be "high", "medium" or "low"`)
		}
	}
	s.IdentificationNotes, _ = p.optString(doc, "identification_notes", "")
	p.resolve(s)
	p.checkCount(s)
	return s
}

// prescan records the declared domain keys and $defs names, so references to them can be
// checked wherever they appear.
func (p *schemaParser) prescan(doc *orderedValue) {
	p.domainKeys = map[string]bool{}
	if d := doc.get("expertise_domains"); d != nil && d.kind == orderedObject {
		for _, m := range d.members {
			p.domainKeys[m.key] = true
		}
	}
	p.defIndex = map[string]int{}
	if d := doc.get("$defs"); d != nil && d.kind == orderedObject {
		for _, m := range d.members {
			if _, dup := p.defIndex[m.key]; !dup {
				p.defIndex[m.key] = len(p.defIndex)
			}
		}
	}
}

// schemaPath returns the path of member name under path.
func schemaPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// checkDuplicateKeys reports every repeated member key of the structural object obj.
func (p *schemaParser) checkDuplicateKeys(obj *orderedValue, path string) {
	for i, repeated := range repeatedKeys(obj.members) {
		if repeated {
			p.add(schemaPath(path, obj.members[i].key), "duplicate key")
		}
	}
}

// repeatedKeys reports, for each member, whether an earlier member has the same key; nil when
// no key repeats. It is linear in the number of members.
func repeatedKeys(members []orderedMember) []bool {
	var out []bool
	mark := func(i int) {
		if out == nil {
			out = make([]bool, len(members))
		}
		out[i] = true
	}
	if len(members) <= 16 {
		for i, m := range members {
			for _, prev := range members[:i] {
				if prev.key == m.key {
					mark(i)
					break
				}
			}
		}
		return out
	}
	seen := make(map[string]struct{}, len(members))
	for i, m := range members {
		if _, dup := seen[m.key]; dup {
			mark(i)
		}
		seen[m.key] = struct{}{}
	}
	return out
}

// optString returns the string member key of obj; absent and null give ("", false), another
// type is a problem.
func (p *schemaParser) optString(obj *orderedValue, key, path string) (string, bool) {
	v := obj.get(key)
	if v.isNull() {
		return "", false
	}
	if v.kind != orderedString {
		p.add(schemaPath(path, key), "must be a string")
		return "", false
	}
	return v.text, true
}

// optBool returns the boolean member key of obj, or def when it is absent or null.
func (p *schemaParser) optBool(obj *orderedValue, key, path string, def bool) bool {
	v := obj.get(key)
	if v.isNull() {
		return def
	}
	if v.kind != orderedBool {
		p.add(schemaPath(path, key), "must be a boolean")
		return def
	}
	return v.truth
}

// entity decodes the root entity (owner "") or the $defs type owner at path.
func (p *schemaParser) entity(obj *orderedValue, path, owner string) EntityDefinition {
	p.checkDuplicateKeys(obj, path)
	var e EntityDefinition
	name, ok := p.optString(obj, "name", path)
	switch {
	case owner != "":
		e.Name = owner // the $defs key names the type; its name field is optional
	case !ok && obj.get("name").isNull():
		p.add(schemaPath(path, "name"), "required field missing")
	case ok && name == "":
		p.add(schemaPath(path, "name"), "must not be empty")
	default:
		e.Name = name
	}
	e.Description, _ = p.optString(obj, "description", path)
	if t := obj.get("type"); !t.isNull() && (t.kind != orderedString || t.text != string(TypeObject)) {
		p.add(schemaPath(path, "type"), `must be "object"`)
	}
	propsPath := schemaPath(path, "properties")
	switch props := obj.get("properties"); {
	case props.isNull(), props.kind == orderedObject && len(props.members) == 0:
		p.add(propsPath, "at least one property is required")
	default:
		e.Properties = p.properties(props, propsPath, 1, owner == "", owner)
	}
	return e
}

// properties decodes the properties object at path whose members are at depth. rootLevel is
// true for the properties of the root entity.
func (p *schemaParser) properties(obj *orderedValue, path string, depth int, rootLevel bool, owner string) []*Property {
	if obj.kind != orderedObject {
		p.add(path, "must be an object")
		return nil
	}
	props := make([]*Property, 0, len(obj.members))
	repeated := repeatedKeys(obj.members)
	for i, m := range obj.members {
		propPath := schemaPath(path, m.key)
		if repeated != nil && repeated[i] {
			p.add(propPath, "duplicate property name")
			continue
		}
		if !validPropertyName(m.key) {
			p.add(propPath, "invalid property name")
		}
		prop := p.property(m.value, propPath, depth, rootLevel, owner)
		prop.Name = m.key
		props = append(props, prop)
	}
	return props
}

// property decodes the property schema at path and depth (the items of an array too).
func (p *schemaParser) property(obj *orderedValue, path string, depth int, rootLevel bool, owner string) *Property {
	prop := &Property{Nullable: true}
	if depth > MaxSchemaDepth {
		p.addf(path, "nesting depth %d, the maximum is %d", depth, MaxSchemaDepth)
		return prop
	}
	if obj.kind != orderedObject {
		p.add(path, "must be an object")
		return prop
	}
	p.checkDuplicateKeys(obj, path)
	p.ref(obj, path, depth, owner, prop)
	typeOK := p.propertyType(obj, path, prop)
	prop.Description, _ = p.optString(obj, "description", path)
	prop.Examples = p.examples(obj, path)
	prop.Preserve = p.optBool(obj, "preserve", path, false)
	prop.Multilingual = p.optBool(obj, "multilingual", path, false)
	prop.Nullable = p.optBool(obj, "nullable", path, true)
	keyPath := p.searchKey(obj, path, prop)
	if rootLevel {
		p.expertise(obj, path, prop)
	}
	switch prop.Type {
	case TypeArray:
		if items := obj.get("items"); items.isNull() {
			p.add(path, "array has no items")
		} else {
			prop.Items = p.property(items, schemaPath(path, "items"), depth+1, false, owner)
		}
	case TypeObject:
		props, hasRef := obj.get("properties"), !obj.get("$ref").isNull()
		switch {
		case hasRef && !props.isNull():
			p.add(path, "$ref and properties cannot be combined")
		case hasRef:
		case props.isNull(), props.kind == orderedObject && len(props.members) == 0:
			p.add(path, "object has no properties")
		default:
			prop.Properties = p.properties(props, schemaPath(path, "properties"), depth+1, false, owner)
		}
	}
	if !typeOK {
		return prop
	}
	if prop.IsKey && prop.Type != TypeString && prop.Type != TypeNumber && prop.Type != TypeInteger {
		p.add(keyPath, "a search key must be a scalar")
	}
	if prop.Multilingual && prop.Type != TypeString &&
		(prop.Type != TypeArray || prop.Items == nil || prop.Items.Type != TypeString) {
		p.add(schemaPath(path, "multilingual"), "only text can be multilingual")
	}
	return prop
}

// propertyType sets prop.Type and reports whether the type is known (S2).
func (p *schemaParser) propertyType(obj *orderedValue, path string, prop *Property) bool {
	typePath := schemaPath(path, "type")
	t := obj.get("type")
	switch {
	case t.isNull() && prop.Ref != "":
		prop.Type = TypeObject
		return true
	case t.isNull():
		if obj.get("$ref").isNull() {
			p.add(typePath, "required field missing")
		}
		return false
	case t.kind != orderedString:
		p.add(typePath, "must be a string")
		return false
	}
	switch typ := Type(t.text); typ {
	case TypeString, TypeNumber, TypeInteger, TypeBoolean, TypeArray, TypeObject:
		if prop.Ref != "" && typ != TypeObject {
			p.add(typePath, `must be "object" with $ref`)
			return false
		}
		prop.Type = typ
		return true
	}
	p.addf(typePath, "unknown type %q", t.text)
	return false
}

// ref decodes $ref (S6, first half: the reference names a $defs type).
func (p *schemaParser) ref(obj *orderedValue, path string, depth int, owner string, prop *Property) {
	ref, ok := p.optString(obj, "$ref", path)
	if !ok {
		return
	}
	refPath := schemaPath(path, "$ref")
	name, found := strings.CutPrefix(ref, refPrefix)
	if !found || name == "" {
		p.addf(refPath, "%q must have the form \"#/$defs/<Name>\"", ref)
		return
	}
	if _, defined := p.defIndex[name]; !defined {
		p.addf(refPath, "%q is not defined", ref)
		return
	}
	prop.Ref = ref
	p.refSites = append(p.refSites, refSite{path: path, depth: depth, owner: owner, def: name, prop: prop})
}

// examples decodes the examples array; numbers become json.Number with their literal text.
func (p *schemaParser) examples(obj *orderedValue, path string) []any {
	v := obj.get("examples")
	if v.isNull() {
		return nil
	}
	bad := v.kind != orderedArray
	out := make([]any, 0, len(v.elems))
	for _, e := range v.elems {
		switch e.kind {
		case orderedNull:
			out = append(out, nil)
		case orderedBool:
			out = append(out, e.truth)
		case orderedNumber:
			out = append(out, json.Number(e.text))
		case orderedString:
			out = append(out, e.text)
		default:
			bad = true
		}
	}
	if bad {
		p.add(schemaPath(path, "examples"), "must be an array of scalars")
		return nil
	}
	return out
}

// searchKey sets prop.IsKey from every spelling and returns the path of the first spelling
// that marks the key (the path S7 reports on).
func (p *schemaParser) searchKey(obj *orderedValue, path string, prop *Property) string {
	keyPath := ""
	for _, m := range obj.members {
		if m.key != "is_key" && m.key != "identifying" && m.key != "search_key" {
			continue
		}
		v := m.value
		switch {
		case v.kind == orderedNull:
			continue
		case v.kind == orderedBool, m.key == "search_key" && v.kind == orderedString:
		case m.key == "search_key":
			p.add(schemaPath(path, m.key), `must be a boolean or "search"`)
			continue
		default:
			p.add(schemaPath(path, m.key), "must be a boolean")
			continue
		}
		if searchKeyTrue(m.key, v) && !prop.IsKey {
			prop.IsKey = true
			keyPath = schemaPath(path, m.key)
		}
	}
	return keyPath
}

// expertise decodes the domain of a root property (S5).
func (p *schemaParser) expertise(obj *orderedValue, path string, prop *Property) {
	prop.Expertise = GeneralDomain
	key, ok := p.optString(obj, "expertise", path)
	if !ok {
		return
	}
	if key != GeneralDomain && !p.domainKeys[key] {
		p.addf(schemaPath(path, "expertise"), "unknown domain %q", key)
		return
	}
	prop.Expertise = key
}

// defs decodes $defs in document order.
func (p *schemaParser) defs(obj *orderedValue) []*EntityDefinition {
	if obj.kind != orderedObject {
		p.add("$defs", "must be an object")
		return nil
	}
	defs := make([]*EntityDefinition, 0, len(obj.members))
	repeated := repeatedKeys(obj.members)
	for i, m := range obj.members {
		path := schemaPath("$defs", m.key)
		if repeated != nil && repeated[i] {
			p.add(path, "duplicate type name")
			continue
		}
		if !validPropertyName(m.key) {
			p.add(path, "invalid type name")
		}
		if m.value.kind != orderedObject {
			p.add(path, "must be an object")
			defs = append(defs, &EntityDefinition{Name: m.key})
			continue
		}
		e := p.entity(m.value, path, m.key)
		defs = append(defs, &e)
	}
	return defs
}

// domains decodes expertise_domains in document order.
func (p *schemaParser) domains(obj *orderedValue) []Domain {
	if obj.kind != orderedObject {
		p.add("expertise_domains", "must be an object")
		return nil
	}
	domains := make([]Domain, 0, len(obj.members))
	repeated := repeatedKeys(obj.members)
	for i, m := range obj.members {
		path := schemaPath("expertise_domains", m.key)
		if repeated != nil && repeated[i] {
			p.add(path, "duplicate domain")
			continue
		}
		if !validDomainKey(m.key) {
			p.add(path, "invalid domain key")
		}
		if m.value.kind != orderedObject {
			p.add(path, "must be an object")
			continue
		}
		p.checkDuplicateKeys(m.value, path)
		d := Domain{Key: m.key}
		var ok bool
		if d.Name, ok = p.optString(m.value, "name", path); !ok && m.value.get("name").isNull() {
			p.add(schemaPath(path, "name"), "required field missing")
		}
		d.Description, _ = p.optString(m.value, "description", path)
		domains = append(domains, d)
	}
	return domains
}

// validPropertyName reports whether s matches ^[A-Za-z_][A-Za-z0-9_]{0,63}$ (S4).
func validPropertyName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// validDomainKey reports whether s matches ^[a-z][a-z0-9_]{0,39}$.
func validDomainKey(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// dedupeProblems returns problems without repeats, first occurrence kept.
func dedupeProblems(problems []string) []string {
	seen := make(map[string]bool, len(problems))
	out := problems[:0]
	for _, pr := range problems {
		if !seen[pr] {
			seen[pr] = true
			out = append(out, pr)
		}
	}
	return out
}
