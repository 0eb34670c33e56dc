package enricher

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// CheckSampleAgainstSchema applies the generation rules G1–G3 to a schema generated
// from sample (the decoded entity_data; numbers may be float64, json.Number or Go integers) and
// returns one "<path>: <problem>" message per problem, nil when there is none:
//
//   - G1: the domains (declared ones and those the root properties use, the implicit general
//     included) number at most max(1, floor(root properties / 6)):
//     `expertise_domains: 6 domains for 12 properties, the maximum is 2`;
//   - G2: every top-level sample field is a root property (exact name), reported in sorted
//     order: `root.properties: sample field "ticker" is missing`;
//   - G3: each property's type fits its sample value, recursively through object properties and
//     array items: `root.properties.revenue_usd: sample value is a number but the type is
//     "string"`. Null fits every type; an integral number (2.0) fits integer and number, another
//     number fits number only; a localized object (non-empty, every key a supported language
//     code, every value a string or null) counts as a string.
//
// s must come from ParseSchema; the sample is only read.
func CheckSampleAgainstSchema(s *Schema, sample map[string]any) []string {
	var problems []string
	domains := s.domainsInUse()
	for _, d := range s.Domains {
		if !slices.Contains(domains, d.Key) {
			domains = append(domains, d.Key)
		}
	}
	rootCount := len(s.Root.Properties)
	if limit := max(1, rootCount/6); len(domains) > limit {
		problems = append(problems, fmt.Sprintf("expertise_domains: %d domains for %d properties, the maximum is %d",
			len(domains), rootCount, limit))
	}
	names := make([]string, 0, len(sample))
	for name := range sample {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if s.Property(name) == nil {
			problems = append(problems, fmt.Sprintf("root.properties: sample field %q is missing", name))
		}
	}
	for _, p := range s.Root.Properties {
		if v, ok := sample[p.Name]; ok {
			problems = checkSampleValue(problems, schemaPath("root.properties", p.Name), p, v)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return dedupeProblems(problems)
}

// checkSampleValue appends the G3 problems of value v against property p at path.
func checkSampleValue(problems []string, path string, p *Property, v any) []string {
	kind, integral := sampleKind(v)
	if kind == "" {
		return problems // null, or a Go value JSON does not produce
	}
	fits := false
	switch p.Type {
	case TypeString, TypeBoolean, TypeArray, TypeObject:
		fits = kind == string(p.Type)
	case TypeNumber:
		fits = kind == "number"
	case TypeInteger:
		fits = kind == "number" && integral
	}
	if !fits {
		return append(problems, fmt.Sprintf("%s: sample value is %s %s but the type is %q",
			path, kindArticle(kind), kind, p.Type))
	}
	switch x := v.(type) {
	case []any:
		if p.Items != nil {
			for _, e := range x {
				problems = checkSampleValue(problems, schemaPath(path, "items"), p.Items, e)
			}
		}
	case map[string]any:
		for _, child := range p.Properties {
			if cv, ok := x[child.Name]; ok {
				problems = checkSampleValue(problems, schemaPath(schemaPath(path, "properties"), child.Name), child, cv)
			}
		}
	}
	return problems
}

// kindArticle returns the indefinite article of a sample kind ("an array", "a string").
func kindArticle(kind string) string {
	if kind == "array" || kind == "object" {
		return "an"
	}
	return "a"
}

// sampleKind returns the JSON kind of a sample value ("string", "number", "boolean", "array",
// "object"; "" for null and unknown Go types) and, for numbers, whether it is integral.
func sampleKind(v any) (kind string, integral bool) {
	switch x := v.(type) {
	case string:
		return "string", false
	case bool:
		return "boolean", false
	case float64:
		return "number", integralFloat(x)
	case float32:
		return "number", integralFloat(float64(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "number", true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return "number", err == nil && integralFloat(f)
	case []any:
		return "array", false
	case map[string]any:
		if isLocalizedObject(x) {
			return "string", false
		}
		return "object", false
	}
	return "", false
}

func integralFloat(f float64) bool {
	return !math.IsInf(f, 0) && !math.IsNaN(f) && f == math.Trunc(f)
}

// isLocalizedObject reports whether m is a localized text: non-empty, every key a supported
// language code (any case), every value a string or null.
func isLocalizedObject(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k, v := range m {
		if _, ok := LanguageLabel(strings.ToLower(k)); !ok {
			return false
		}
		if _, ok := v.(string); !ok && v != nil {
			return false
		}
	}
	return true
}
