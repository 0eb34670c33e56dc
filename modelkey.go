package enricher

import (
	"strings"
	"unicode"
)

// ModelKey names a model as "<provider>::<model>".
type ModelKey struct {
	Provider string
	Model    string
}

// String returns the key's text form.
func (k ModelKey) String() string { return k.Provider + "::" + k.Model }

// ParseModelKey splits and checks a model key: provider ^[a-z][a-z0-9_-]{0,31}$, model 1..200
// characters without whitespace (it may hold ':', '/', '.'). Errors are KindInvalid.
func ParseModelKey(s string) (ModelKey, error) {
	provider, model, ok := strings.Cut(s, "::")
	if !ok {
		return ModelKey{}, Errorf(KindInvalid, "invalid model key %q: expected provider::model", s)
	}
	if !validProvider(provider) {
		return ModelKey{}, Errorf(KindInvalid, "invalid model key %q: bad provider name", s)
	}
	if n := len([]rune(model)); n < 1 || n > 200 || strings.IndexFunc(model, unicode.IsSpace) >= 0 {
		return ModelKey{}, Errorf(KindInvalid, "invalid model key %q: the model name must be 1 to 200 characters without spaces", s)
	}
	return ModelKey{Provider: provider, Model: model}, nil
}

func validProvider(p string) bool {
	if len(p) < 1 || len(p) > 32 || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
