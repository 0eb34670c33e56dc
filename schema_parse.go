package enricher

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Schema limits of SPEC §4.3 (S9).
const (
	MaxSchemaProperties = 500
	MaxSchemaDepth      = 8
)

var (
	propertyNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	domainKeyRE    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
)

// ParseSchema decodes and validates a schema document (SPEC §4.1, rules S1–S9 of §4.3). The
// search-key spellings is_key, identifying and search_key (true or "search") all set IsKey.
// Properties with $ref are resolved: their Properties are copies of the $defs type's, so
// consumers never follow references. On failure the error is KindInvalid and lists every
// problem, each phrased "<path>: <problem>".
func ParseSchema(doc []byte) (*Schema, error) {
	tree, err := decodeOrdered(doc)
	if err != nil {
		return nil, Invalid("schema", []string{"schema is not valid JSON: " + err.Error()})
	}
	top, ok := tree.(*object)
	if !ok {
		return nil, Invalid("schema", []string{"schema is not a JSON object"})
	}
	p := &schemaParser{defs: map[string]*EntityDefinition{}, refs: map[string][]string{}}
	s := p.parse(top)
	if len(p.problems) > 0 {
		return nil, Invalid("schema", p.problems)
	}
	resolveRefs(s.Root.Properties, p.defs)
	for _, d := range s.Defs {
		resolveRefs(d.Properties, p.defs)
	}
	return s, nil
}

// schemaParser collects problems while building a Schema.
type schemaParser struct {
	problems []string
	defs     map[string]*EntityDefinition
	domains  map[string]bool
	count    int                 // properties counted for S9
	refs     map[string][]string // $defs name -> names it references (cycle check)
	curDef   string              // $defs type being parsed, "" for root
}

func (p *schemaParser) add(path, format string, args ...any) {
	p.problems = append(p.problems, path+": "+fmt.Sprintf(format, args...))
}

func (p *schemaParser) parse(top *object) *Schema {
	s := &Schema{}
	p.domains = map[string]bool{}
	if v, ok := top.get("expertise_domains"); ok && v != nil {
		if o, ok := v.(*object); !ok {
			p.add("expertise_domains", "expected object")
		} else {
			for _, k := range o.keys {
				path := "expertise_domains." + k
				if !domainKeyRE.MatchString(k) {
					p.add(path, "invalid domain key (lower-case letters, digits and _, starting with a letter)")
					continue
				}
				d := Domain{Key: k}
				if dv, ok := o.vals[k].(*object); !ok {
					p.add(path, "expected object")
				} else {
					d.Name = p.str(dv, path, "name", true)
					d.Description = p.str(dv, path, "description", false)
				}
				p.domains[k] = true
				s.Domains = append(s.Domains, d)
			}
		}
	}
	if v, ok := top.get("identification_confidence"); ok && v != nil {
		switch v {
		case "high", "medium", "low":
			s.IdentificationConfidence = v.(string)
		default:
			p.add("identification_confidence", "must be high, medium or low")
		}
	}
	s.IdentificationNotes = p.str(top, "", "identification_notes", false)

	// $defs first, so references from root can be checked.
	var defOrder []string
	if v, ok := top.get("$defs"); ok && v != nil {
		if o, ok := v.(*object); !ok {
			p.add("$defs", "expected object")
		} else {
			defOrder = o.keys
			for _, name := range o.keys {
				p.defs[name] = nil // declared; filled below
			}
			for _, name := range o.keys {
				p.curDef = name
				d := p.entity(o.vals[name], "$defs."+name, false)
				if d != nil {
					if d.Name == "" {
						d.Name = name
					}
					p.defs[name] = d
					s.Defs = append(s.Defs, d)
				}
			}
			p.curDef = ""
		}
	}
	root, ok := top.get("root")
	if !ok || root == nil {
		p.add("root", "required")
	} else if d := p.entity(root, "root", true); d != nil {
		s.Root = *d
	}
	if p.count > MaxSchemaProperties {
		p.add("root", "%d properties, the maximum is %d", p.count, MaxSchemaProperties)
	}
	p.checkCycles(defOrder)
	return s
}

// str reads an optional (or required) string field of o.
func (p *schemaParser) str(o *object, path, key string, required bool) string {
	full := key
	if path != "" {
		full = path + "." + key
	}
	v, ok := o.get(key)
	if !ok || v == nil {
		if required {
			p.add(full, "required")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.add(full, "expected string")
	}
	return s
}

// boolField reads an optional boolean field of o, def when absent.
func (p *schemaParser) boolField(o *object, path, key string, def bool) bool {
	v, ok := o.get(key)
	if !ok || v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		p.add(path+"."+key, "expected boolean")
		return def
	}
	return b
}

// entity parses an EntityDefinition.
func (p *schemaParser) entity(v any, path string, isRoot bool) *EntityDefinition {
	o, ok := v.(*object)
	if !ok {
		p.add(path, "expected object")
		return nil
	}
	d := &EntityDefinition{
		Name:        p.str(o, path, "name", isRoot),
		Description: p.str(o, path, "description", false),
	}
	if t, ok := o.get("type"); ok && t != nil && t != "object" {
		p.add(path+".type", `must be "object"`)
	}
	d.Properties = p.properties(o, path, 1, isRoot)
	if isRoot && len(d.Properties) == 0 {
		if pv, ok := o.get("properties"); !ok || pv == nil || isEmptyObject(pv) {
			p.add(path+".properties", "at least one property is required")
		}
	}
	return d
}

func isEmptyObject(v any) bool {
	o, ok := v.(*object)
	return ok && len(o.keys) == 0
}

// properties parses the "properties" object of o; depth is the depth of the properties.
func (p *schemaParser) properties(o *object, path string, depth int, isRoot bool) []*Property {
	v, ok := o.get("properties")
	if !ok || v == nil {
		return nil
	}
	po, ok := v.(*object)
	if !ok {
		p.add(path+".properties", "expected object")
		return nil
	}
	for _, k := range po.dups {
		p.add(path+".properties."+k, "duplicate property name")
	}
	var out []*Property
	for _, name := range po.keys {
		ppath := path + ".properties." + name
		if !propertyNameRE.MatchString(name) {
			p.add(ppath, "invalid property name")
			continue
		}
		if prop := p.property(po.vals[name], ppath, name, depth, isRoot); prop != nil {
			out = append(out, prop)
		}
	}
	return out
}

var validTypes = map[Type]bool{TypeString: true, TypeNumber: true, TypeInteger: true, TypeBoolean: true, TypeArray: true, TypeObject: true}

// property parses one PropertySchema at path; name is "" for array items.
func (p *schemaParser) property(v any, path, name string, depth int, isRoot bool) *Property {
	o, ok := v.(*object)
	if !ok {
		p.add(path, "expected object")
		return nil
	}
	if name != "" {
		p.count++
		if depth > MaxSchemaDepth {
			p.add(path, "nesting depth %d, the maximum is %d", depth, MaxSchemaDepth)
			return nil
		}
	}
	prop := &Property{Name: name, Nullable: true}
	prop.Ref = p.str(o, path, "$ref", false)
	typ := p.str(o, path, "type", false)
	prop.Type = Type(typ)
	switch {
	case prop.Ref != "":
		if typ != "" && prop.Type != TypeObject {
			p.add(path+".type", `must be "object" with $ref`)
		}
		prop.Type = TypeObject
		p.checkRef(path, prop.Ref)
	case typ == "":
		if _, present := o.get("type"); !present {
			p.add(path+".type", "required")
		}
	case !validTypes[prop.Type]:
		p.add(path+".type", "unknown type %q", typ)
	}
	prop.Description = p.str(o, path, "description", false)
	if ex, ok := o.get("examples"); ok && ex != nil {
		arr, ok := ex.([]any)
		if !ok {
			p.add(path+".examples", "expected array")
		}
		for i, e := range arr {
			switch e.(type) {
			case *object, []any:
				p.add(fmt.Sprintf("%s.examples[%d]", path, i), "examples must be scalars")
			default:
				prop.Examples = append(prop.Examples, plain(e))
			}
		}
	}
	if isRoot && name != "" {
		prop.Expertise = p.str(o, path, "expertise", false)
		if prop.Expertise == "" {
			prop.Expertise = GeneralDomain
		} else if prop.Expertise != GeneralDomain && !p.domains[prop.Expertise] {
			p.add(path+".expertise", "unknown domain %q", prop.Expertise)
		}
	}
	prop.IsKey = p.isKey(o, path)
	prop.Preserve = p.boolField(o, path, "preserve", false)
	prop.Multilingual = p.boolField(o, path, "multilingual", false)
	prop.Nullable = p.boolField(o, path, "nullable", true)

	switch prop.Type {
	case TypeArray:
		if iv, ok := o.get("items"); !ok || iv == nil {
			p.add(path, "array has no items")
		} else {
			prop.Items = p.property(iv, path+".items", "", depth, false)
		}
	case TypeObject:
		if prop.Ref == "" {
			if pv, ok := o.get("properties"); !ok || pv == nil {
				p.add(path, "object has no properties")
			} else {
				prop.Properties = p.properties(o, path, depth+1, false)
			}
		}
	}
	if prop.IsKey && !(prop.Type == TypeString || prop.Type == TypeNumber || prop.Type == TypeInteger) && validTypes[prop.Type] {
		p.add(path+".is_key", "a search key must be a scalar")
	}
	if prop.Multilingual && validTypes[prop.Type] && !(prop.Type == TypeString ||
		prop.Type == TypeArray && prop.Items != nil && prop.Items.Type == TypeString) {
		p.add(path+".multilingual", "only text can be multilingual")
	}
	return prop
}

// isKey reads the search-key flag in any of its spellings.
func (p *schemaParser) isKey(o *object, path string) bool {
	key := p.boolField(o, path, "is_key", false) || p.boolField(o, path, "identifying", false)
	if v, ok := o.get("search_key"); ok && v != nil {
		switch v {
		case true, "search":
			key = true
		case false:
		default:
			p.add(path+".search_key", `must be true, false or "search"`)
		}
	}
	return key
}

// checkRef checks that ref names a declared $defs type and records the edge for cycle checks.
func (p *schemaParser) checkRef(path, ref string) {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if _, declared := p.defs[name]; !ok || !declared {
		p.add(path+".$ref", "%q is not defined", ref)
		return
	}
	if p.curDef != "" {
		p.refs[p.curDef] = append(p.refs[p.curDef], name)
	}
}

// checkCycles reports each reference cycle among $defs once, at its first type in document order.
func (p *schemaParser) checkCycles(order []string) {
	reported := map[string]bool{}
	for _, start := range order {
		if reported[start] {
			continue
		}
		var path []string
		onPath := map[string]bool{}
		var visit func(n string) bool
		visit = func(n string) bool {
			if n == start && len(path) > 0 {
				path = append(path, n)
				return true
			}
			if onPath[n] {
				return false
			}
			onPath[n] = true
			path = append(path, n)
			for _, next := range p.refs[n] {
				if visit(next) {
					return true
				}
			}
			path = path[:len(path)-1]
			return false
		}
		if visit(start) {
			for _, n := range path {
				reported[n] = true
			}
			p.add("$defs."+start, "reference cycle %s", strings.Join(path, " → "))
		}
	}
}

// resolveRefs fills the Properties of every $ref property with copies of its type's.
func resolveRefs(props []*Property, defs map[string]*EntityDefinition) {
	for _, prop := range props {
		resolveProperty(prop, defs)
	}
}

func resolveProperty(prop *Property, defs map[string]*EntityDefinition) {
	if prop == nil {
		return
	}
	if name, ok := strings.CutPrefix(prop.Ref, "#/$defs/"); ok && defs[name] != nil {
		prop.Properties = copyProperties(defs[name].Properties, defs)
	}
	resolveProperty(prop.Items, defs)
	for _, c := range prop.Properties {
		resolveProperty(c, defs)
	}
}

func copyProperties(props []*Property, defs map[string]*EntityDefinition) []*Property {
	out := make([]*Property, len(props))
	for i, p := range props {
		c := *p
		if p.Items != nil {
			c.Items = copyProperties([]*Property{p.Items}, defs)[0]
		}
		c.Properties = copyProperties(p.Properties, defs)
		resolveProperty(&c, defs)
		out[i] = &c
	}
	return out
}

// PropertyCount counts the properties of the schema at every depth: the root's tree (a $ref
// property counts once, without its type's properties) plus each $defs type's tree once.
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
		n++
		if p.Ref == "" {
			n += countProperties(p.Properties)
		}
		for it := p.Items; it != nil; it = it.Items {
			if it.Ref == "" {
				n += countProperties(it.Properties)
			}
		}
	}
	return n
}

// ExpertiseCount counts the expertise domains used by root properties, the implicit general
// domain included when used.
func (s *Schema) ExpertiseCount() int {
	used := map[string]bool{}
	for _, p := range s.Root.Properties {
		used[p.Expertise] = true
	}
	return len(used)
}

// NormalizeSchemaJSON returns the document compacted, with every search-key spelling
// (identifying, search_key) rewritten to "is_key": true and everything else unchanged, in the
// document's own key order. This is the stored form of a schema.
func NormalizeSchemaJSON(doc []byte) ([]byte, error) {
	tree, err := decodeOrdered(doc)
	if err != nil {
		return nil, err
	}
	top, ok := tree.(*object)
	if !ok {
		return nil, fmt.Errorf("schema is not a JSON object")
	}
	if root, ok := top.vals["root"].(*object); ok {
		normalizeProps(root)
	}
	if defs, ok := top.vals["$defs"].(*object); ok {
		for _, k := range defs.keys {
			if d, ok := defs.vals[k].(*object); ok {
				normalizeProps(d)
			}
		}
	}
	var buf bytes.Buffer
	if err := encodeOrdered(&buf, top, false); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// normalizeProps rewrites the key spellings of every property under o.properties.
func normalizeProps(o *object) {
	props, ok := o.vals["properties"].(*object)
	if !ok {
		return
	}
	for _, k := range props.keys {
		if p, ok := props.vals[k].(*object); ok {
			normalizeProperty(p)
		}
	}
}

func normalizeProperty(p *object) {
	key := p.vals["is_key"] == true || p.vals["identifying"] == true || p.vals["search_key"] == true || p.vals["search_key"] == "search"
	pos := -1
	keys := p.keys[:0:0]
	for _, k := range p.keys {
		if k == "identifying" || k == "search_key" || k == "is_key" {
			if pos < 0 {
				pos = len(keys)
			}
			delete(p.vals, k)
			continue
		}
		keys = append(keys, k)
	}
	if key {
		keys = append(keys[:pos], append([]string{"is_key"}, keys[pos:]...)...)
		p.vals["is_key"] = true
	} else if pos >= 0 {
		keys = append(keys[:pos], append([]string{"is_key"}, keys[pos:]...)...)
		p.vals["is_key"] = false
	}
	p.keys = keys
	if items, ok := p.vals["items"].(*object); ok {
		normalizeProperty(items)
	}
	normalizeProps(p)
}

// SchemaContentHash returns "sha256:<hex>" of the canonical JSON of a (normalised) schema.
func SchemaContentHash(normalized []byte) (string, error) {
	c, err := CanonicalJSON(normalized)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
