package enricher

import (
	"bytes"
	"math"
	"slices"
)

// Rule-based merge. Every function takes the candidates of one value in preference
// order (see Fuse) and returns the merged value and the resolution method, "" when every
// candidate was null.

// value merges cands, values of p.
func (f *fuser) value(p *Property, cands []any) (any, string) {
	if p.Multilingual {
		return f.multilingual(p, cands)
	}
	return f.plain(p, cands)
}

// plain merges cands as values of p's own type, ignoring Multilingual.
func (f *fuser) plain(p *Property, cands []any) (any, string) {
	switch p.Type {
	case TypeObject:
		m, ok := f.object(p.Properties, "", cands, false)
		if !ok {
			return nil, ""
		}
		return m, ResolutionMajority
	case TypeArray:
		return f.array(p, cands)
	default:
		return f.scalar(p, cands)
	}
}

// fusionMethodRank orders methods from the clearest to the least clear, for multilingual
// fields (tie_break, longest, non_null, majority, least clear first). union (multilingual
// arrays of strings) and median (numbers in a multilingual field, malformed) are placed where
// their need of arbitration puts them.
var fusionMethodRank = map[string]int{
	"":                 0,
	ResolutionMajority: 1,
	ResolutionNonNull:  2,
	ResolutionUnion:    3,
	ResolutionLongest:  4,
	ResolutionMedian:   5,
	ResolutionTieBreak: 6,
}

// multilingual merges cands language by language; the method is the least clear one used by
// any language. The result is null when no candidate is an object.
func (f *fuser) multilingual(p *Property, cands []any) (any, string) {
	byLang := make([]map[string]any, len(cands))
	isObject := false
	for i, c := range cands {
		if m, ok := c.(map[string]any); ok {
			byLang[i], isObject = m, true
		}
	}
	if !isObject {
		return nil, ""
	}
	out := make(map[string]any, len(f.langs))
	method := ""
	per := make([]any, len(cands))
	for _, lang := range f.langs {
		for i, m := range byLang {
			per[i] = m[lang]
		}
		v, m := f.plain(p, per)
		out[lang] = v
		if fusionMethodRank[m] > fusionMethodRank[method] {
			method = m
		}
	}
	return out, method
}

// fusionItemGroup is the set of items of several arrays that share one identity.
type fusionItemGroup struct {
	members []any // in contributor order
	arrays  int   // number of arrays holding the identity
	last    int   // index of the last array counted in arrays
}

// array merges cands as arrays of p.Items: the union of the arrays, deduplicated by item
// identity (fuser.itemKey), in the order of the preferred contributor, new items appended. The
// items of one identity merge with the rules of their type (object items field by field).
// When every array holds the same identities the method is majority, or non_null when nulls
// were dropped; otherwise union.
func (f *fuser) array(p *Property, cands []any) (any, string) {
	var groups []*fusionItemGroup
	index := map[string]*fusionItemGroup{}
	arrays, nulls := 0, false
	for _, c := range cands {
		items, ok := c.([]any)
		if !ok {
			nulls = true
			continue
		}
		arrays++
		for _, item := range items {
			k := f.itemKey(p.Items, item)
			g := index[k]
			if g == nil {
				g = &fusionItemGroup{}
				index[k] = g
				groups = append(groups, g)
			}
			g.members = append(g.members, item)
			if g.last != arrays {
				g.arrays, g.last = g.arrays+1, arrays
			}
		}
	}
	if arrays == 0 {
		return nil, ""
	}
	out := make([]any, len(groups))
	sameSets := true
	for i, g := range groups {
		if p.Items == nil {
			out[i] = copyFusionValue(g.members[0])
		} else {
			out[i], _ = f.value(p.Items, g.members)
		}
		sameSets = sameSets && g.arrays == arrays
	}
	switch {
	case !sameSets:
		return out, ResolutionUnion
	case nulls:
		return out, ResolutionNonNull
	default:
		return out, ResolutionMajority
	}
}

// fusionGroup is the set of candidates of a scalar that share one comparison key.
type fusionGroup struct {
	start, end int // the key, in fuser.scratch
	first      any // the preferred candidate's value: the group's spelling
	count      int
}

// scalar merges scalar candidates: nulls dropped; one largest group wins (non_null when it is
// the only group and nulls were dropped, majority otherwise); else numbers take the median of
// all values, strings the longest largest group, booleans true; any remaining tie goes to the
// group of the preferred candidate (tie_break).
func (f *fuser) scalar(p *Property, cands []any) (any, string) {
	groups := make([]fusionGroup, 0, 8)
	nulls, numbers := false, true
	keys := f.scratch[:0]
	for _, c := range cands {
		if c == nil {
			nulls = true
			continue
		}
		if _, ok := fusionNumber(c); !ok {
			numbers = false
		}
		start := len(keys)
		keys = appendFusionScalarKey(keys, c)
		found := false
		for i := range groups {
			if bytes.Equal(keys[groups[i].start:groups[i].end], keys[start:]) {
				groups[i].count++
				keys, found = keys[:start], true
				break
			}
		}
		if !found {
			groups = append(groups, fusionGroup{start: start, end: len(keys), first: c, count: 1})
		}
	}
	f.scratch = keys
	switch len(groups) {
	case 0:
		return nil, ""
	case 1:
		if nulls {
			return copyFusionValue(groups[0].first), ResolutionNonNull
		}
		return copyFusionValue(groups[0].first), ResolutionMajority
	}
	largest := largestFusionGroups(groups)
	if len(largest) == 1 {
		return copyFusionValue(largest[0].first), ResolutionMajority
	}
	if numbers {
		return fusionMedian(cands, p.Type == TypeInteger), ResolutionMedian
	}
	if v, method, ok := longestFusionString(largest); ok {
		return v, method
	}
	if allFusionBools(largest) {
		return true, ResolutionTieBreak
	}
	// Groups are in order of their first candidate, so the first largest group holds the
	// preferred candidate among the tied ones.
	return copyFusionValue(largest[0].first), ResolutionTieBreak
}

// largestFusionGroups returns the groups with the highest count, in their order. It reuses
// the memory of groups.
func largestFusionGroups(groups []fusionGroup) []fusionGroup {
	most := 0
	for _, g := range groups {
		most = max(most, g.count)
	}
	out := groups[:0]
	for _, g := range groups {
		if g.count == most {
			out = append(out, g)
		}
	}
	return out
}

// longestFusionString applies the string rule when every group is a string: the value of the
// group whose normalised string is longest (longest), or, when several are longest, of the first
// of them, which holds the preferred candidate (tie_break). ok is false when a group is not a
// string.
func longestFusionString(groups []fusionGroup) (v string, method string, ok bool) {
	bestLen, ties := -1, 0
	for _, g := range groups {
		s, isString := g.first.(string)
		if !isString {
			return "", "", false
		}
		switch n := fusionStringLen(s); {
		case n > bestLen:
			v, bestLen, ties = s, n, 1
		case n == bestLen:
			ties++
		}
	}
	if ties > 1 {
		return v, ResolutionTieBreak, true
	}
	return v, ResolutionLongest, true
}

// allFusionBools reports whether every group is a boolean.
func allFusionBools(groups []fusionGroup) bool {
	for _, g := range groups {
		if _, ok := g.first.(bool); !ok {
			return false
		}
	}
	return true
}

// fusionMedian returns the median of the non-null candidates, all numbers: the middle value,
// or the mean of the two middle values for an even count, rounded half away from zero when
// integer is set.
func fusionMedian(cands []any, integer bool) float64 {
	nums := make([]float64, 0, len(cands))
	for _, c := range cands {
		if n, ok := fusionNumber(c); ok {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	mid := len(nums) / 2
	m := nums[mid]
	if len(nums)%2 == 0 {
		m = nums[mid-1]/2 + nums[mid]/2
	}
	if integer {
		m = math.Round(m)
	}
	return m
}
