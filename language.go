package enricher

import (
	"strings"
)

// Language is a supported language: its code and label "English name (native name)".
type Language struct {
	Code  string
	Label string
}

var languages = []Language{
	{"en", "English"}, {"fr", "French (Français)"}, {"de", "German (Deutsch)"}, {"es", "Spanish (Español)"},
	{"it", "Italian (Italiano)"}, {"pt", "Portuguese (Português)"}, {"nl", "Dutch (Nederlands)"},
	{"sv", "Swedish (Svenska)"}, {"da", "Danish (Dansk)"}, {"nb", "Norwegian Bokmål (Norsk bokmål)"},
	{"fi", "Finnish (Suomi)"}, {"pl", "Polish (Polski)"}, {"cs", "Czech (Čeština)"}, {"hu", "Hungarian (Magyar)"},
	{"ro", "Romanian (Română)"}, {"el", "Greek (Ελληνικά)"}, {"tr", "Turkish (Türkçe)"}, {"ru", "Russian (Русский)"},
	{"uk", "Ukrainian (Українська)"}, {"ar", "Arabic (العربية)"}, {"he", "Hebrew (עברית)"}, {"hi", "Hindi (हिन्दी)"},
	{"zh", "Chinese (中文)"}, {"ja", "Japanese (日本語)"}, {"ko", "Korean (한국어)"}, {"th", "Thai (ไทย)"},
	{"vi", "Vietnamese (Tiếng Việt)"}, {"id", "Indonesian (Bahasa Indonesia)"},
}

var languageIndex = func() map[string]string {
	m := make(map[string]string, len(languages))
	for _, l := range languages {
		m[l.Code] = l.Label
	}
	return m
}()

// SupportedLanguages returns the supported languages in their documented order (en fr de es it pt nl sv da nb fi pl cs hu ro el tr ru uk ar he hi zh ja ko th vi id).
func SupportedLanguages() []Language { return append([]Language(nil), languages...) }

// LanguageLabel returns the label of a (lower-case) language code.
func LanguageLabel(code string) (string, bool) {
	l, ok := languageIndex[code]
	return l, ok
}

// NormalizeLanguages lower-cases and checks requested language codes: 1..max distinct
// supported codes. The caller applies the default ["en"] to an absent list.
func NormalizeLanguages(codes []string, max int) ([]string, error) {
	if len(codes) == 0 {
		return nil, Errorf(KindInvalid, "languages: at least one language is required")
	}
	if len(codes) > max {
		return nil, Errorf(KindInvalid, "languages: at most %d languages", max)
	}
	out := make([]string, 0, len(codes))
	seen := map[string]bool{}
	for _, c := range codes {
		lc := strings.ToLower(strings.TrimSpace(c))
		if _, ok := languageIndex[lc]; !ok {
			return nil, Errorf(KindInvalid, "languages: unknown language %q", c)
		}
		if seen[lc] {
			return nil, Errorf(KindInvalid, "languages: duplicate language %q", lc)
		}
		seen[lc] = true
		out = append(out, lc)
	}
	return out, nil
}
