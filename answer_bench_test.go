package enricher

import (
	"strings"
	"testing"
)

// benchAnswerText is a typical fenced, prose-wrapped answer to the full company spec.
func benchAnswerText(b *testing.B) string {
	return "Here is what I found:\n```json\n" + companyAnswer(b, nil) + "\n```\nAll values verified."
}

func BenchmarkCheckAnswer(b *testing.B) {
	spec := NewAnswerSpec(answerTestSchema(), map[string]any{"name": "Moderna Inc"}, "", []string{"en", "fr"})
	text := benchAnswerText(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, problems := CheckAnswer(spec, text); problems != nil {
			b.Fatal(problems)
		}
	}
}

func BenchmarkExtractJSONObject(b *testing.B) {
	text := strings.Repeat("Some reasoning {with braces} and [brackets]. ", 20) + benchAnswerText(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := ExtractJSONObject(text); err != nil {
			b.Fatal(err)
		}
	}
}
