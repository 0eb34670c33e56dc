package enricher

import "testing"

// BenchmarkParseSchema parses and validates the example Company schema.
func BenchmarkParseSchema(b *testing.B) {
	doc := exampleSchema(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := ParseSchema(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSchemaContentHash normalises and hashes the example Company schema, as a save does.
func BenchmarkSchemaContentHash(b *testing.B) {
	doc := exampleSchema(b)
	b.ReportAllocs()
	for b.Loop() {
		normalized, err := NormalizeSchemaJSON(doc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SchemaContentHash(normalized); err != nil {
			b.Fatal(err)
		}
	}
}
