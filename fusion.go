package enricher

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FusionInput is one model's successful output for one entity.
type FusionInput struct {
	Model  string         // model key, e.g. "openai::gpt-4o"
	Price  float64        // input_price + output_price of the model, for tie-breaks
	Output map[string]any // the model's structured output
}

// FieldConflict is one leaf on which the models disagreed (SPEC §6.3).
type FieldConflict struct {
	Path             string         `json:"path"`
	FieldType        string         `json:"field_type"` // scalar | multilingual | array
	NeedsArbitration bool           `json:"needs_arbitration"`
	ValuesByModel    map[string]any `json:"values_by_model"`
	ResolvedValue    any            `json:"resolved_value"`
	ResolutionMethod string         `json:"resolution_method"`
}

// ConflictReport is the audit trail of a fusion.
type ConflictReport struct {
	TotalFields      int             `json:"total_fields"`
	AgreedFields     int             `json:"agreed_fields"`
	ConflictedFields int             `json:"conflicted_fields"`
	Conflicts        []FieldConflict `json:"conflicts"`
}

// Resolution methods (SPEC §6.2).
const (
	MethodMajority = "majority"
	MethodNonNull  = "non_null"
	MethodLongest  = "longest"
	MethodMedian   = "median"
	MethodTieBreak = "tie_break"
	MethodUnion    = "union"
	MethodLLM      = "llm"
)

// Fuse merges the outputs of several models for one entity with the rules of SPEC §6.1–§6.2.
// The result holds every schema property at every depth (null when no model knows it; an
// object no model gave is null). Inputs are ranked by price (higher first) then model key;
// that rank breaks remaining ties and picks which spelling represents a group, so the order of
// inputs never changes the result.
func Fuse(s *Schema, inputs []FusionInput, languages []string) (map[string]any, ConflictReport) {
	ranked := slices.Clone(inputs)
	sort.SliceStable(ranked, func(i, j int) bool {
		if ranked[i].Price != ranked[j].Price {
			return ranked[i].Price > ranked[j].Price
		}
		return ranked[i].Model < ranked[j].Model
	})
	f := &fuser{langs: languages, report: ConflictReport{Conflicts: []FieldConflict{}}}
	models := make([]string, len(ranked))
	objs := make([]map[string]any, len(ranked))
	for i, in := range ranked {
		models[i], objs[i] = in.Model, in.Output
	}
	merged := f.object(s.Root.Properties, models, objs, "")
	f.report.ConflictedFields = len(f.report.Conflicts)
	f.report.AgreedFields = f.report.TotalFields - f.report.ConflictedFields
	return merged, f.report
}

type fuser struct {
	langs  []string
	report ConflictReport
}

// object fuses the properties of objects given by models (nil when a model has none).
func (f *fuser) object(props []*Property, models []string, objs []map[string]any, prefix string) map[string]any {
	out := make(map[string]any, len(props))
	for _, p := range props {
		path := p.Name
		if prefix != "" {
			path = prefix + "." + p.Name
		}
		vals := make([]any, len(objs))
		for i, o := range objs {
			if o != nil {
				vals[i] = o[p.Name]
			}
		}
		out[p.Name] = f.field(p, models, vals, path)
	}
	return out
}

func (f *fuser) field(p *Property, models []string, vals []any, path string) any {
	if p.Type == TypeObject && !p.Multilingual {
		subs := make([]map[string]any, len(vals))
		given := false
		for i, v := range vals {
			if m, ok := v.(map[string]any); ok {
				subs[i], given = m, true
			}
		}
		merged := f.object(p.Properties, models, subs, path)
		if !given {
			return nil
		}
		return merged
	}
	f.report.TotalFields++
	kind := "scalar"
	switch {
	case p.Multilingual:
		kind = "multilingual"
	case p.Type == TypeArray:
		kind = "array"
	}
	keys := make([]string, len(vals))
	for i, v := range vals {
		keys[i] = f.norm(p, v)
	}
	agree := true
	for _, k := range keys[1:] {
		agree = agree && k == keys[0]
	}
	if agree {
		return copyJSONValue(firstNonNull(vals))
	}
	var value any
	var method string
	switch kind {
	case "multilingual":
		value, method = f.multilingual(p, vals)
	case "array":
		value, method = f.array(p, models, vals, path), MethodUnion
	default:
		value, method = resolveScalar(p.Type, vals, keys)
	}
	byModel := make(map[string]any, len(models))
	for i, m := range models {
		byModel[m] = copyJSONValue(vals[i])
	}
	f.report.Conflicts = append(f.report.Conflicts, FieldConflict{
		Path: path, FieldType: kind, ValuesByModel: byModel, ResolvedValue: copyJSONValue(value),
		ResolutionMethod: method, NeedsArbitration: method == MethodLongest || method == MethodMedian || method == MethodTieBreak,
	})
	return value
}

func firstNonNull(vals []any) any {
	for _, v := range vals {
		if v != nil {
			return v
		}
	}
	return nil
}

// resolveScalar applies the scalar rules to ranked values with their normalised keys.
func resolveScalar(t Type, vals []any, keys []string) (any, string) {
	type group struct {
		key   string
		rep   any // the value of the highest-ranked member
		first int // rank of the highest-ranked member
		count int
	}
	var groups []*group
	index := map[string]*group{}
	dropped := false
	for i, v := range vals {
		if v == nil {
			dropped = true
			continue
		}
		g := index[keys[i]]
		if g == nil {
			g = &group{key: keys[i], rep: v, first: i}
			index[keys[i]] = g
			groups = append(groups, g)
		}
		g.count++
	}
	if len(groups) == 0 {
		return nil, MethodMajority
	}
	if len(groups) == 1 {
		if dropped {
			return groups[0].rep, MethodNonNull
		}
		return groups[0].rep, MethodMajority
	}
	best := 0
	for _, g := range groups {
		best = max(best, g.count)
	}
	var top []*group
	for _, g := range groups {
		if g.count == best {
			top = append(top, g)
		}
	}
	if len(top) == 1 {
		return top[0].rep, MethodMajority
	}
	switch t {
	case TypeNumber, TypeInteger:
		var nums []float64
		for _, v := range vals {
			if n, ok := v.(float64); ok {
				nums = append(nums, n)
			}
		}
		if len(nums) == 0 {
			break
		}
		sort.Float64s(nums)
		mid := len(nums) / 2
		m := nums[mid]
		if len(nums)%2 == 0 {
			m = (nums[mid-1] + nums[mid]) / 2
		}
		if t == TypeInteger {
			m = math.Round(m) // half away from zero
		}
		return m, MethodMedian
	case TypeBoolean:
		return true, MethodTieBreak
	case TypeString:
		longest, n := []*group(nil), -1
		for _, g := range top {
			s, _ := g.rep.(string)
			switch l := utf8.RuneCountInString(s); {
			case l > n:
				longest, n = []*group{g}, l
			case l == n:
				longest = append(longest, g)
			}
		}
		if len(longest) == 1 {
			return longest[0].rep, MethodLongest
		}
		top = longest
	}
	// Remaining ties go to the group holding the highest-ranked model.
	win := top[0]
	for _, g := range top[1:] {
		if g.first < win.first {
			win = g
		}
	}
	return win.rep, MethodTieBreak
}

// multilingual resolves each language by the string rules; the method is the least clear one.
func (f *fuser) multilingual(p *Property, vals []any) (any, string) {
	rank := map[string]int{MethodMajority: 0, MethodNonNull: 1, MethodLongest: 2, MethodTieBreak: 3}
	out := map[string]any{}
	method := MethodMajority
	allNull := true
	for _, lang := range f.langs {
		lv := make([]any, len(vals))
		keys := make([]string, len(vals))
		for i, v := range vals {
			if m, ok := v.(map[string]any); ok {
				lv[i] = m[lang]
			}
			keys[i] = normScalar(lv[i])
		}
		agree := true
		for _, k := range keys[1:] {
			agree = agree && k == keys[0]
		}
		var val any
		if agree {
			val = firstNonNull(lv)
		} else {
			var m string
			val, m = resolveScalar(TypeString, lv, keys)
			if rank[m] > rank[method] {
				method = m
			}
		}
		if val != nil {
			allNull = false
		}
		out[lang] = val
	}
	if allNull {
		return nil, method
	}
	return out, method
}

// array unions the arrays of every model: items deduplicated as in §6.1, the first
// contributor's order, new items appended; object items with equal keys merge field by field.
func (f *fuser) array(p *Property, models []string, vals []any, path string) any {
	type item struct {
		key      string
		values   []any // one per contributing model, in rank order
		contribs []string
	}
	var items []*item
	index := map[string]*item{}
	for i, v := range vals {
		arr, _ := v.([]any)
		seen := map[string]bool{}
		for _, e := range arr {
			k := f.itemKey(p.Items, e)
			if seen[k] {
				continue
			}
			seen[k] = true
			it := index[k]
			if it == nil {
				it = &item{key: k}
				index[k] = it
				items = append(items, it)
			}
			it.values = append(it.values, e)
			it.contribs = append(it.contribs, models[i])
		}
	}
	out := make([]any, 0, len(items))
	for _, it := range items {
		if p.Items != nil && p.Items.Type == TypeObject && len(it.values) > 1 {
			objs := make([]map[string]any, len(it.values))
			for i, v := range it.values {
				objs[i], _ = v.(map[string]any)
			}
			sub := &fuser{langs: f.langs, report: ConflictReport{Conflicts: []FieldConflict{}}}
			out = append(out, sub.object(p.Items.Properties, it.contribs, objs, path))
			continue
		}
		out = append(out, copyJSONValue(it.values[0]))
	}
	return out
}

// norm returns the comparison key of a leaf value (SPEC §6.1).
func (f *fuser) norm(p *Property, v any) string {
	if v == nil {
		return "\x00null"
	}
	switch {
	case p.Multilingual:
		m, ok := v.(map[string]any)
		if !ok {
			return normScalar(v)
		}
		var b strings.Builder
		for _, l := range f.langs {
			b.WriteString(l)
			b.WriteByte('=')
			b.WriteString(normScalar(m[l]))
			b.WriteByte('\x01')
		}
		return b.String()
	case p.Type == TypeArray:
		arr, _ := v.([]any)
		keys := make([]string, 0, len(arr))
		for _, e := range arr {
			keys = append(keys, f.itemKey(p.Items, e))
		}
		sort.Strings(keys)
		keys = slices.Compact(keys)
		if len(keys) == 0 {
			return "\x00null" // an empty array is no value
		}
		return "[" + strings.Join(keys, "\x02") + "]"
	}
	return normScalar(v)
}

// itemKey identifies an array item: by its is_key fields when its schema has some, else by the
// whole normalised item.
func (f *fuser) itemKey(items *Property, e any) string {
	m, ok := e.(map[string]any)
	if !ok || items == nil {
		return normValue(e)
	}
	var keyFields []string
	for _, c := range items.Properties {
		if c.IsKey {
			keyFields = append(keyFields, c.Name)
		}
	}
	if len(keyFields) == 0 {
		return normValue(e)
	}
	var b strings.Builder
	empty := true
	for _, k := range keyFields {
		if m[k] != nil {
			empty = false
		}
		b.WriteString(normScalar(m[k]))
		b.WriteByte('\x03')
	}
	if empty {
		return normValue(e)
	}
	return b.String()
}

// normScalar normalises a scalar: strings trimmed, whitespace collapsed, lower-cased; numbers
// rounded to 6 significant digits.
func normScalar(v any) string {
	switch t := v.(type) {
	case nil:
		return "\x00null"
	case string:
		return "s:" + strings.ToLower(strings.Join(strings.Fields(t), " "))
	case float64:
		return "n:" + strconv.FormatFloat(t, 'g', 6, 64)
	case bool:
		return "b:" + strconv.FormatBool(t)
	}
	return normValue(v)
}

// normValue normalises any JSON value (objects by sorted keys, scalars by normScalar).
func normValue(v any) string {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for _, k := range keys {
			b.WriteString(k)
			b.WriteByte(':')
			b.WriteString(normValue(t[k]))
			b.WriteByte(',')
		}
		b.WriteByte('}')
		return b.String()
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = normValue(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		return normScalar(v)
	}
}

// copyJSONValue deep-copies a JSON value so results share nothing with inputs.
func copyJSONValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = copyJSONValue(e)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = copyJSONValue(e)
		}
		return out
	}
	return v
}

// ApplyDecisions replaces conflicted values with an arbiter's decisions (path → value) and
// marks those conflicts resolved by "llm". Paths that are not conflicts are ignored.
func ApplyDecisions(merged map[string]any, report *ConflictReport, decisions map[string]any) {
	for i := range report.Conflicts {
		c := &report.Conflicts[i]
		v, ok := decisions[c.Path]
		if !ok {
			continue
		}
		setPath(merged, strings.Split(c.Path, "."), copyJSONValue(v))
		c.ResolvedValue, c.ResolutionMethod = copyJSONValue(v), MethodLLM
	}
}

func setPath(m map[string]any, path []string, v any) {
	for len(path) > 1 {
		next, ok := m[path[0]].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[path[0]] = next
		}
		m, path = next, path[1:]
	}
	m[path[0]] = v
}
