package enricher

import "encoding/json"

// ExtractJSONObject returns the first complete top-level JSON object in text, the extraction
// step of answer validation (SPEC §5.4 step 1). Code fences, prose before and after, and any
// complete top-level JSON array standing before the object are skipped; braces inside strings,
// including escaped quotes, do not count. A balanced `{…}` span that is not valid JSON (prose
// such as "{company}") is skipped as a whole, so an object nested inside it is never taken.
//
// The returned slice is a fresh copy that the caller owns. The error is a KindInvalid *Error
// whose message reads "answer is not valid JSON: <reason>": "unexpected end of input" when an
// object opens but never closes (a truncated answer), the decoder's syntax error when the only
// balanced candidates are not JSON, "no JSON object found" when text holds no `{` at all.
func ExtractJSONObject(text string) ([]byte, error) {
	var syntaxErr error
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '{':
			end, ok := balancedEnd(text, i, '{', '}')
			if !ok {
				return nil, invalidJSON("unexpected end of input")
			}
			candidate := []byte(text[i:end])
			if json.Valid(candidate) {
				return candidate, nil
			}
			if syntaxErr == nil {
				syntaxErr = jsonSyntaxError(candidate)
			}
			i = end - 1
		case '[':
			// A complete array before the object is skipped whole so that objects inside it
			// are not taken for the top-level one; an unbalanced or invalid '[' is prose.
			if end, ok := balancedEnd(text, i, '[', ']'); ok && json.Valid([]byte(text[i:end])) {
				i = end - 1
			}
		}
	}
	if syntaxErr != nil {
		return nil, syntaxErr
	}
	return nil, invalidJSON("no JSON object found")
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

// jsonSyntaxError returns the "answer is not valid JSON" error for data, which json.Valid
// rejected, quoting the decoder's reason.
func jsonSyntaxError(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return invalidJSON(err.Error())
	}
	return invalidJSON("malformed object")
}

// invalidJSON returns the KindInvalid error "answer is not valid JSON: <reason>".
func invalidJSON(reason string) error {
	return Errorf(KindInvalid, "answer is not valid JSON: %s", reason)
}
