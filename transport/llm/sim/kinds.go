package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	enricher "github.com/entity-enricher/enricher"
)

// doc is a JSON object that keeps its key order when marshalled.
type doc []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the object in its order.
func (d doc) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, e := range d {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, e.k)
		buf = append(buf, ':')
		b, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		buf = append(buf, b...)
	}
	return append(buf, '}'), nil
}

// wrongFor returns a value whose JSON type differs from v's (fault schema_invalid).
func wrongFor(v any) any {
	if _, ok := v.(string); ok {
		return 12345
	}
	return "sim: wrong type"
}

// rootName is the schema root name of the hints, "Entity" when unknown.
func rootName(c *call) string {
	if c.hints.RootName != "" {
		return c.hints.RootName
	}
	return "Entity"
}

// classification answers a classification call: status "match" with confidence
// 0.9 and expected_type = the root name, "mismatch" under the classification_mismatch fault,
// or the status the directive's `classification` names.
func classification(c *call, mismatch bool) doc {
	status := "match"
	if mismatch {
		status = "mismatch"
	}
	if c.dir.classification != "" {
		status = c.dir.classification
	}
	root := rootName(c)
	name := entityName(c.hints.Entity)
	var (
		confidence   float64
		description  string
		reasoning    string
		alternatives = []string{}
	)
	switch status {
	case "match":
		confidence = 0.9
		description = fmt.Sprintf("%s, %s", name, withArticle(root))
		reasoning = fmt.Sprintf("The data describes %s as %s.", name, withArticle(root))
	case "mismatch":
		confidence = 0.85
		description = fmt.Sprintf("%s, which is not %s", name, withArticle(root))
		reasoning = fmt.Sprintf("The data does not describe %s.", withArticle(root))
		alternatives = []string{"something other than " + withArticle(root)}
	case "ambiguous":
		confidence = 0.5
		description = fmt.Sprintf("%s, possibly %s", name, withArticle(root))
		reasoning = fmt.Sprintf("The data fits %s and other kinds of entity.", withArticle(root))
		alternatives = []string{root, "something other than " + withArticle(root)}
	default: // unknown
		confidence = 0.2
		description = name
		reasoning = "The data is too thin to tell what the entity is."
	}
	return doc{
		{"status", status},
		{"expected_type", root},
		{"entity_description", description},
		{"confidence", confidence},
		{"reasoning", "Simulated classification. " + reasoning},
		{"alternative_interpretations", alternatives},
	}
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// entityName is the first non-empty string among the fields name, title and label
// (case-insensitive), else "the entity".
func entityName(entity map[string]any) string {
	for _, want := range []string{"name", "title", "label"} {
		keys := make([]string, 0, len(entity))
		for k := range entity {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s, ok := entity[k].(string); ok && s != "" && strings.EqualFold(k, want) {
				return s
			}
		}
	}
	return "the entity"
}

// arbitration answers an arbitration call: for each conflict, the value of the
// model whose key sorts first.
func arbitration(c *call) doc {
	decisions := make([]doc, 0, len(c.hints.Conflicts))
	for _, cf := range c.hints.Conflicts {
		keys := make([]string, 0, len(cf.ValuesByModel))
		for k := range cf.ValuesByModel {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var chosen string
		var value any
		if len(keys) > 0 {
			chosen, value = keys[0], cf.ValuesByModel[keys[0]]
		}
		decisions = append(decisions, doc{
			{"path", cf.Path},
			{"value", value},
			{"chosen_model", chosen},
			{"reasoning", "Simulated arbitration: the value of the model whose key sorts first."},
		})
	}
	return doc{{"decisions", decisions}}
}

// suggestions are the five fixed improvement suggestions of schema generation and edit.
func suggestions() []string {
	return []string{
		"Add a description to every property so that models know what to look for.",
		"Mark the fields that identify an entity with is_key.",
		"Give examples for fields with a specific format, such as dates or codes.",
		"Split the fields into expertise domains when the schema grows past a dozen fields.",
		"Set nullable to false only on fields every entity is sure to have.",
	}
}

// keyNames are the field names that become search keys in generated schemas.
var keyNames = map[string]bool{"name": true, "title": true, "id": true, "website": true, "domain": true}

// sampleSchema builds a schema document from a sample.
type sampleSchema struct {
	count int // named properties so far (S9)
}

// generation answers a schema_generation call: a schema with one property per top-level
// sample field (sorted by name, since the sample arrives as a map), all in the single
// expertise domain "general", and the five suggestions.
func generation(c *call) doc {
	g := &sampleSchema{}
	props := g.properties(c.hints.Sample, 1, true, true)
	if len(props) == 0 {
		props = doc{{"name", doc{{"type", "string"}, {"description", "Name"}, {"is_key", true}, {"expertise", enricher.GeneralDomain}}}}
	}
	root := rootName(c)
	schema := doc{
		{"root", doc{
			{"name", root},
			{"description", fmt.Sprintf("%s, as described by the sample", capitalize(withArticle(root)))},
			{"type", "object"},
			{"properties", props},
		}},
		{"expertise_domains", doc{{enricher.GeneralDomain, doc{
			{"name", "General"},
			{"description", "Every field of the entity"},
		}}}},
	}
	return doc{{"schema", schema}, {"suggestions", suggestions()}}
}

// properties builds the properties of an object sample whose fields sit at depth. Root
// fields carry expertise "general"; keyable says whether key-named scalar fields become
// search keys (root fields and fields of array items; nested objects identify nothing).
func (g *sampleSchema) properties(sample map[string]any, depth int, root, keyable bool) doc {
	keys := make([]string, 0, len(sample))
	for k := range sample {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	props := doc{}
	taken := map[string]bool{}
	for _, k := range keys {
		if g.count >= enricher.MaxSchemaProperties {
			break
		}
		name := propertyName(k, taken)
		g.count++
		prop := g.property(sample[k], name, depth, keyable)
		if root {
			prop = append(prop, kv{"expertise", enricher.GeneralDomain})
		}
		props = append(props, kv{name, prop})
	}
	return props
}

// property builds the PropertySchema of one sample value at depth; name is "" for array
// items. Search keys go on scalar fields named name, title, id, website or domain when keyable
// (never on multilingual ones).
func (g *sampleSchema) property(v any, name string, depth int, keyable bool) doc {
	typ := "string"
	var extra doc
	switch t := v.(type) {
	case bool:
		typ = "boolean"
	case float64:
		typ = numberType(t)
	case float32:
		typ = numberType(float64(t))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		typ = "integer"
	case json.Number:
		if _, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			typ = "integer"
		} else {
			typ = "number"
		}
	case map[string]any:
		if localized(t) {
			extra = doc{{"multilingual", true}}
		} else {
			props := doc{}
			if depth < enricher.MaxSchemaDepth {
				props = g.properties(t, depth+1, false, false)
			}
			// An object with no room for properties (too deep, or empty in the sample) is
			// asked as text: schemas need at least one property per object.
			if len(props) > 0 {
				typ = "object"
				extra = doc{{"properties", props}}
			}
		}
	case []any:
		typ = "array"
		items, multilingual := g.items(t, depth)
		if multilingual {
			extra = doc{{"multilingual", true}}
		}
		extra = append(extra, kv{"items", items})
	}
	d := doc{{"type", typ}}
	if name != "" {
		d = append(d, kv{"description", fieldLabel(name)})
		if keyable && extra == nil && keyNames[strings.ToLower(name)] && (typ == "string" || typ == "integer" || typ == "number") {
			d = append(d, kv{"is_key", true})
		}
	}
	return append(d, extra...)
}

// items builds the items schema of an array sample at depth. Object items merge the fields
// of every item (the first non-null value decides a type, a fractional number widens an
// integer one); their key-named scalar fields identify items.
// An array of localized texts becomes a multilingual array of strings.
func (g *sampleSchema) items(arr []any, depth int) (doc, bool) {
	var objs []map[string]any
	var first any
	allLocalized := true
	for _, e := range arr {
		if e == nil {
			continue
		}
		if first == nil || wider(first, e) {
			first = e
		}
		m, ok := e.(map[string]any)
		if ok {
			objs = append(objs, m)
		}
		allLocalized = allLocalized && ok && localized(m)
	}
	switch {
	case first == nil:
		return doc{{"type", "string"}}, false
	case allLocalized:
		return doc{{"type", "string"}}, true
	case len(objs) > 0:
		merged := map[string]any{}
		for _, m := range objs {
			for k, v := range m {
				if merged[k] == nil || wider(merged[k], v) {
					merged[k] = v
				}
			}
		}
		props := doc{}
		if depth < enricher.MaxSchemaDepth {
			props = g.properties(merged, depth+1, false, true)
		}
		if len(props) == 0 {
			return doc{{"type", "string"}}, false
		}
		return doc{{"type", "object"}, {"properties", props}}, false
	}
	return g.property(first, "", depth, false), false
}

// wider reports whether sample value b should decide a type instead of a: a is null, or a is
// an integral number and b a fractional one.
func wider(a, b any) bool {
	if a == nil {
		return b != nil
	}
	fa, okA := a.(float64)
	fb, okB := b.(float64)
	return okA && okB && numberType(fa) == "integer" && numberType(fb) == "number"
}

// numberType is "integer" for integral values, else "number".
func numberType(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return "integer"
	}
	return "number"
}

// localized reports whether m is a localized text: every key a supported language code
// (case-insensitive) and every value a string or null. A lone "id" key is taken for an
// identifier, not for Indonesian.
func localized(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	if _, ok := m["id"]; ok && len(m) == 1 {
		return false
	}
	for k, v := range m {
		if !languages[strings.ToLower(k)] {
			return false
		}
		if _, ok := v.(string); !ok && v != nil {
			return false
		}
	}
	return true
}

var invalidNameChar = regexp.MustCompile(`[^A-Za-z0-9_]`)

// propertyName turns a sample field name into a valid, unused property name (rule S4) and
// marks it taken.
func propertyName(k string, taken map[string]bool) string {
	name := invalidNameChar.ReplaceAllString(k, "_")
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	if len(name) > 64 {
		name = name[:64]
	}
	base := name
	for i := 2; taken[name]; i++ {
		suffix := "_" + strconv.Itoa(i)
		name = base[:min(len(base), 64-len(suffix))] + suffix
	}
	taken[name] = true
	return name
}

// editRE finds the instructions a schema edit understands.
var editRE = regexp.MustCompile("(?i)\\b(add|remove)\\s+field\\s+[\"'`]?([A-Za-z_][A-Za-z0-9_]{0,63})\\b")

// edit answers a schema_edit call: the current schema with every "add field <name>" (a
// nullable string root property) and "remove field <name>" of the prompt applied in order,
// and the five suggestions. Other prompts leave the schema unchanged.
func edit(c *call) doc {
	return doc{{"schema", editSchema(c.hints.Schema, c.hints.Prompt)}, {"suggestions", suggestions()}}
}

// editSchema applies the prompt's instructions to a schema document. A document that is not
// a JSON object comes back as an empty object (its validation fails, as it should).
func editSchema(raw json.RawMessage, prompt string) any {
	var top rawObject
	if err := json.Unmarshal(raw, &top); err != nil {
		return doc{}
	}
	ops := editRE.FindAllStringSubmatch(prompt, -1)
	if len(ops) == 0 {
		return top
	}
	var root, props rawObject
	if err := json.Unmarshal(top.get("root"), &root); err != nil {
		return top
	}
	if p := root.get("properties"); p != nil {
		if err := json.Unmarshal(p, &props); err != nil {
			return top
		}
	}
	for _, op := range ops {
		name := op[2]
		if strings.EqualFold(op[1], "add") {
			if props.get(name) == nil {
				b, err := json.Marshal(doc{{"type", "string"}, {"description", fieldLabel(name)}, {"nullable", true}})
				if err != nil {
					return top
				}
				props.set(name, b)
			}
		} else {
			props.del(name)
		}
	}
	pb, err := json.Marshal(props)
	if err != nil {
		return top
	}
	root.set("properties", pb)
	rb, err := json.Marshal(root)
	if err != nil {
		return top
	}
	top.set("root", rb)
	return top
}

// rawObject is a JSON object kept as raw member values in document order.
type rawObject struct {
	keys []string
	vals map[string]json.RawMessage
}

func (o *rawObject) get(k string) json.RawMessage { return o.vals[k] }

func (o *rawObject) set(k string, v json.RawMessage) {
	if o.vals == nil {
		o.vals = map[string]json.RawMessage{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *rawObject) del(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

// UnmarshalJSON decodes an object, keeping member order.
func (o *rawObject) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errors.New("expected a JSON object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		o.set(kt.(string), v)
	}
	return nil
}

// MarshalJSON writes the object in its order.
func (o rawObject) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, k := range o.keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, k)
		buf = append(buf, ':')
		buf = append(buf, o.vals[k]...)
	}
	return append(buf, '}'), nil
}
