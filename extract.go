package enricher

import "encoding/json"

// ExtractJSONObject returns the first complete top-level JSON object in text, the extraction
// step of answer validation (its first step). Code fences, prose before and after, and any
// complete top-level JSON array standing before the object are skipped; braces inside strings,
// including escaped quotes, do not count. A balanced `{…}` span that is not valid JSON (prose
// such as "{company}") is skipped as a whole, so an object nested inside it is never taken.
//
// The returned slice is newly allocated and owned by the caller. The error is a KindInvalid
// *Error whose message reads "answer is not valid JSON: <reason>": "unexpected end of input"
// when an object opens but never closes (a truncated answer), the decoder's syntax error when
// the only balanced candidates are not JSON, "no JSON object found" otherwise.
func ExtractJSONObject(text string) ([]byte, error) {
	var buf []byte     // text as bytes, converted once on first need
	invalidStart := -1 // the first balanced object candidate that is not JSON
	invalidEnd := 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '{':
			end, ok := balancedEnd(text, i, '{', '}')
			if !ok {
				return nil, notValidJSON("unexpected end of input")
			}
			if buf == nil {
				buf = []byte(text)
			}
			if mayStartJSON(text, i) && json.Valid(buf[i:end]) {
				return buf[i:end:end], nil
			}
			if invalidStart < 0 {
				invalidStart, invalidEnd = i, end
			}
			i = end - 1
		case '[':
			// A complete array before the object is skipped whole so that objects inside it
			// are not taken for the top-level one; an unbalanced or invalid '[' is prose.
			if !mayStartJSON(text, i) {
				continue
			}
			if end, ok := balancedEnd(text, i, '[', ']'); ok {
				if buf == nil {
					buf = []byte(text)
				}
				if json.Valid(buf[i:end]) {
					i = end - 1
				}
			}
		}
	}
	if invalidStart >= 0 {
		return nil, notValidJSONSyntax(buf[invalidStart:invalidEnd])
	}
	return nil, notValidJSON("no JSON object found")
}

// mayStartJSON reports whether the '{' or '[' at text[i] can open a JSON value, judging by the
// next non-space byte; it cheaply rules out prose such as "{company}" or "[note]".
func mayStartJSON(text string, i int) bool {
	open := text[i]
	for j := i + 1; j < len(text); j++ {
		switch c := text[j]; c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			return true
		case '}':
			return open == '{'
		case ']', '{', '[', '-', 't', 'f', 'n', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return open == '['
		default:
			return false
		}
	}
	return false
}

// balancedEnd returns the index just past the bracket closing the one at text[start], counting
// only open/close outside JSON strings, and false when text ends first.
func balancedEnd(text string, start int, open, close byte) (int, bool) {
	depth := 0
	inString := false
	for i := start; i < len(text); i++ {
		c := text[i]
		if inString {
			switch c {
			case '\\':
				i++ // skip the escaped character, whatever it is
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// notValidJSONSyntax returns the "answer is not valid JSON" error for data, which json.Valid
// rejected, quoting the decoder's reason.
func notValidJSONSyntax(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return notValidJSON(err.Error())
	}
	return notValidJSON("malformed object")
}

// notValidJSON returns the KindInvalid error "answer is not valid JSON: <reason>".
func notValidJSON(reason string) error {
	return Errorf(KindInvalid, "answer is not valid JSON: %s", reason)
}
