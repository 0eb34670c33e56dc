package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

// companySchema is an answer schema as the engine builds it for the example Company
// schema with languages en and fr.
const companySchema = `{
  "type": "object",
  "properties": {
    "description": {"type": ["object", "null"], "properties": {"en": {"type": "string"}, "fr": {"type": "string"}}, "required": ["en", "fr"]},
    "founded_year": {"type": ["integer", "null"]},
    "headquarters": {"type": ["object", "null"], "properties": {
      "city": {"type": ["string", "null"]}, "country": {"type": ["string", "null"]}}, "required": ["city", "country"]},
    "revenue_usd": {"type": ["number", "null"]},
    "is_listed": {"type": ["boolean", "null"]},
    "employees": {"type": "integer"},
    "sector": {"type": "string"},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    "subsidiaries": {"type": ["array", "null"], "items": {"type": "object", "properties": {
      "name": {"type": ["string", "null"]}, "country": {"type": ["string", "null"]},
      "ownership_pct": {"type": ["number", "null"]}}, "required": ["name", "country", "ownership_pct"]}}
  },
  "required": ["description", "founded_year", "headquarters", "revenue_usd", "is_listed", "employees", "sector", "tags", "subsidiaries"]
}`

// recorder is an injected Sleep that records durations instead of sleeping.
type recorder struct {
	mu    sync.Mutex
	slept []time.Duration
}

func (r *recorder) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.slept = append(r.slept, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *recorder) total() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.slept...)
}

// newTest returns a provider whose sleeps are recorded.
func newTest(cfg Config) (*Provider, *recorder) {
	rec := &recorder{}
	cfg.Sleep = rec.Sleep
	return New(cfg), rec
}

// company returns the i-th test entity.
func company(i int) map[string]any {
	return map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "FR"}
}

// enrichReq builds an enrichment request of model ("fast") for entity.
func enrichReq(model string, entity map[string]any, attempt, try int) *llm.Request {
	return &llm.Request{
		Model:    model,
		System:   "You enrich entities.",
		Messages: []llm.Message{{Role: "user", Content: "Enrich this entity."}},
		Schema:   json.RawMessage(companySchema),
		Hints: &llm.Hints{CallKind: KindEnrichment, ModelKey: "sim::" + model, Entity: entity,
			Attempt: attempt, Try: try, Languages: []string{"en", "fr"}},
	}
}

// decode parses an answer text into generic values.
func decode(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &m), text)
	return m
}

// conform checks v against a JSON Schema (the subset answer schemas use) and returns the
// problems. It is written independently of the generator so that it can catch it out.
func conform(schema map[string]any, v any, path string) []string {
	var types []string
	switch t := schema["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, e := range t {
			types = append(types, e.(string))
		}
	}
	for _, typ := range types {
		if fits(typ, v) {
			var problems []string
			switch typ {
			case "object":
				obj := v.(map[string]any)
				props, _ := schema["properties"].(map[string]any)
				req, _ := schema["required"].([]any)
				for _, r := range req {
					if _, ok := obj[r.(string)]; !ok {
						problems = append(problems, fmt.Sprintf("%s.%s: required property missing", path, r))
					}
				}
				for k, sub := range props {
					if val, ok := obj[k]; ok {
						problems = append(problems, conform(sub.(map[string]any), val, path+"."+k)...)
					}
				}
			case "array":
				items, _ := schema["items"].(map[string]any)
				arr := v.([]any)
				if len(arr) < 1 || len(arr) > 3 {
					problems = append(problems, fmt.Sprintf("%s: %d items", path, len(arr)))
				}
				for i, e := range arr {
					problems = append(problems, conform(items, e, fmt.Sprintf("%s[%d]", path, i))...)
				}
			}
			return problems
		}
	}
	return []string{fmt.Sprintf("%s: %v does not fit %v", path, v, types)}
}

func fits(typ string, v any) bool {
	switch typ {
	case "null":
		return v == nil
	case "string":
		_, ok := v.(string)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "number":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func schemaMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}
