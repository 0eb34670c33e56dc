package enricher

// AssembleOutput returns the output of one model run about input: answers (the
// checked answers of the run's calls, e.g. one per expertise domain) are deep-merged in order,
// then shaped to the schema.
//
// Merging: objects merge key by key, recursively; for any other value a later answer wins,
// except that a null never replaces a value.
//
// Shaping: the result holds exactly the schema's properties at every depth, every unknown or
// mistyped value being null. An object none of whose fields is known is null itself. Outside
// arrays, a `preserve` field holds the input value at the same path, unchanged (null when
// absent), and a search key that input holds (not null, "" or []) holds the input value,
// unchanged; input keys match case-insensitively, path by path. Multilingual values hold
// exactly the requested languages ("en" when languages is empty). Arrays are
// shaped item by item; arrays of objects whose item type has `is_key` fields are
// deduplicated on the values of those fields, compared exactly: the first occurrence is kept,
// and items with no key value are all kept.
//
// The result is a new value owned by the caller: it shares nothing mutable with input or
// answers, which are not modified.
func AssembleOutput(s *Schema, input map[string]any, answers []map[string]any, languages []string) map[string]any {
	var merged map[string]any
	for _, a := range answers {
		merged = mergeAnswerObjects(merged, a)
	}
	langs := languages
	if len(langs) == 0 {
		langs = []string{defaultAnswerLanguage}
	}
	o := outputShaper{langs: langs}
	return o.object(s.Root.Properties, merged, input, true)
}

// mergeAnswerObjects returns a new object holding dst deep-merged with src; neither is modified.
func mergeAnswerObjects(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		old, ok := out[k]
		if !ok {
			out[k] = v
			continue
		}
		out[k] = mergeAnswerValue(old, v)
	}
	return out
}

// mergeAnswerValue returns old merged with v: objects merge, null keeps old, anything else is v.
func mergeAnswerValue(old, v any) any {
	if v == nil {
		return old
	}
	om, ok1 := old.(map[string]any)
	vm, ok2 := v.(map[string]any)
	if ok1 && ok2 {
		return mergeAnswerObjects(om, vm)
	}
	return v
}

// outputShaper shapes merged answers to the schema.
type outputShaper struct {
	langs []string
}

// object returns a new object with exactly the fields props, built from ans (the answer object
// at this path, nil when unknown) and, outside arrays, in (the input object at the same path,
// nil when absent).
func (o *outputShaper) object(props []*Property, ans, in map[string]any, outside bool) map[string]any {
	out := make(map[string]any, len(props))
	for _, p := range props {
		out[p.Name] = o.field(p, ans[p.Name], in, outside)
	}
	return out
}

// field returns the output value of p, whose answer value is v; in is the input object that
// holds p (nil inside arrays or when absent).
func (o *outputShaper) field(p *Property, v any, in map[string]any, outside bool) any {
	if outside {
		given, ok := fieldFold(in, p.Name)
		if p.Preserve {
			return copyAnswerValue(given)
		}
		if p.IsKey && ok && holdsKeyValue(given) {
			return copyAnswerValue(given)
		}
	}
	var sub map[string]any
	if outside {
		sub = objectFold(in, p.Name)
	}
	return o.value(p, v, sub, outside)
}

// value shapes v as a value of p, multilingual or not; in is the input value at the same path
// when it is an object and outside arrays.
func (o *outputShaper) value(p *Property, v any, in map[string]any, outside bool) any {
	if !p.Multilingual {
		return o.plain(p, v, in, outside)
	}
	byLang, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]any, len(o.langs))
	for _, lang := range o.langs {
		out[lang] = o.plain(p, byLang[lang], nil, false)
	}
	return out
}

// plain shapes v as one value of p's own type, ignoring Multilingual.
func (o *outputShaper) plain(p *Property, v any, in map[string]any, outside bool) any {
	switch p.Type {
	case TypeObject:
		ans, isObject := v.(map[string]any)
		out := o.object(p.Properties, ans, in, outside)
		if !isObject && allNullValues(out) {
			return nil
		}
		return out
	case TypeArray:
		items, ok := v.([]any)
		if !ok || p.Items == nil {
			return nil
		}
		out := make([]any, 0, len(items))
		for _, item := range items {
			out = append(out, o.value(p.Items, item, nil, false))
		}
		return dedupKeyedItems(p.Items, out)
	}
	if v == nil || !answerTypeMatches(p.Type, v) {
		return nil
	}
	return v
}

// allNullValues reports whether every value of m is null.
func allNullValues(m map[string]any) bool {
	for _, v := range m {
		if v != nil {
			return false
		}
	}
	return true
}

// dedupKeyedItems removes from items (shaped values of the item type it) every object whose is_key
// field values equal those of an earlier object. Objects without any key value, and non-objects,
// are kept. items is filtered in place.
func dedupKeyedItems(it *Property, items []any) []any {
	if it.Type != TypeObject || it.Multilingual {
		return items
	}
	var keys []string
	for _, p := range it.Properties {
		if p.IsKey {
			keys = append(keys, p.Name)
		}
	}
	if len(keys) == 0 {
		return items
	}
	seen := make(map[string]bool, len(items))
	kept := items[:0]
	for _, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			kept = append(kept, item)
			continue
		}
		values := make([]any, len(keys))
		hasKey := false
		for i, k := range keys {
			values[i] = obj[k]
			hasKey = hasKey || holdsKeyValue(obj[k])
		}
		if hasKey {
			sig := compactSortedJSON(values)
			if seen[sig] {
				continue
			}
			seen[sig] = true
		}
		kept = append(kept, item)
	}
	return kept
}

// copyAnswerValue returns a deep copy of the JSON value v (maps and slices copied; scalars shared).
func copyAnswerValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = copyAnswerValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyAnswerValue(e)
		}
		return out
	}
	return v
}
