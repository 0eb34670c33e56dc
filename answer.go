package enricher

import (
	"encoding/json"
	"math"
	"strconv"
)

// CheckAnswer validates the raw text of a model's answer against a: it extracts
// the first top-level JSON object (ExtractJSONObject), parses it and checks it. Every asked
// property must be present; null is allowed unless the property is not Nullable; types are
// exact, except that an integral number such as 2.0 is accepted as an integer; arrays and
// objects are checked recursively; a multilingual value is an object holding every requested
// language. Unasked properties and extra languages are dropped, not reported.
//
// It returns the cleaned answer (a new value the caller owns, holding exactly the asked
// properties) and no problems, or nil and the problems in schema order, each phrased
// "<path>: <problem>" as in "headquarters.city: expected string, got number",
// "description: missing language \"fr\"", "founded_year: required property missing",
// "subsidiaries[0].name: expected string, got null", or the single extraction or parse
// problem "answer is not valid JSON: unexpected end of input".
func CheckAnswer(a *AnswerSpec, text string) (map[string]any, []string) {
	data, err := ExtractJSONObject(text)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, []string{notValidJSON(err.Error()).Error()}
	}
	c := answerChecker{langs: a.Languages}
	clean := c.object(a.Properties, root, "")
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return clean, nil
}

// answerChecker collects the problems of one answer.
type answerChecker struct {
	langs    []string
	problems []string
}

// problem records "<path>: <msg>".
func (c *answerChecker) problem(path, msg string) {
	c.problems = append(c.problems, path+": "+msg)
}

// object checks the fields props of obj found at path ("" for the answer itself) and returns
// the cleaned object.
func (c *answerChecker) object(props []*Property, obj map[string]any, path string) map[string]any {
	clean := make(map[string]any, len(props))
	for _, p := range props {
		fieldPath := p.Name
		if path != "" {
			fieldPath = path + "." + p.Name
		}
		v, ok := obj[p.Name]
		if !ok {
			c.problem(fieldPath, "required property missing")
			continue
		}
		clean[p.Name] = c.value(p, v, fieldPath)
	}
	return clean
}

// value checks v, the value of p at path, and returns it cleaned.
func (c *answerChecker) value(p *Property, v any, path string) any {
	if !p.Multilingual {
		return c.plain(p, v, path)
	}
	if v == nil {
		if !p.Nullable {
			c.problem(path, "expected object keyed by language, got null")
		}
		return nil
	}
	byLang, ok := v.(map[string]any)
	if !ok {
		c.problem(path, "expected object keyed by language, got "+answerTypeName(v))
		return nil
	}
	clean := make(map[string]any, len(c.langs))
	for _, lang := range c.langs {
		lv, ok := byLang[lang]
		if !ok {
			c.problem(path, "missing language "+strconv.Quote(lang))
			continue
		}
		clean[lang] = c.plain(p, lv, path+"."+lang)
	}
	return clean
}

// plain checks one value of p's own type (ignoring Multilingual) and returns it cleaned.
func (c *answerChecker) plain(p *Property, v any, path string) any {
	if v == nil {
		if !p.Nullable {
			c.problem(path, "expected "+string(p.Type)+", got null")
		}
		return nil
	}
	if !answerTypeMatches(p.Type, v) {
		c.problem(path, "expected "+string(p.Type)+", got "+answerTypeName(v))
		return nil
	}
	switch p.Type {
	case TypeObject:
		return c.object(p.Properties, v.(map[string]any), path)
	case TypeArray:
		items := v.([]any)
		clean := make([]any, len(items))
		if p.Items == nil {
			copy(clean, items) // unreachable for a validated schema (S3)
			return clean
		}
		for i, item := range items {
			clean[i] = c.value(p.Items, item, path+"["+strconv.Itoa(i)+"]")
		}
		return clean
	}
	return v
}

// answerTypeMatches reports whether the non-null JSON value v has type t. An integral float64 is an
// integer; nothing else is coerced.
func answerTypeMatches(t Type, v any) bool {
	switch t {
	case TypeString:
		_, ok := v.(string)
		return ok
	case TypeNumber:
		_, ok := v.(float64)
		return ok
	case TypeInteger:
		f, ok := v.(float64)
		return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
	case TypeBoolean:
		_, ok := v.(bool)
		return ok
	case TypeArray:
		_, ok := v.([]any)
		return ok
	case TypeObject:
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

// answerTypeName returns the JSON type name of v: null, string, number, boolean, array or object.
func answerTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}
