package actors

import (
	"encoding/json"
	"sync"

	"github.com/entity-enricher/enricher"
)

// answerSchemas keeps the encoded answer schemas of recent calls, so that a stream of jobs on
// one schema (every batch, every benchmark) builds and encodes each answer schema once
// instead of once per call. Entries are keyed by the parsed schema, which the jobs on one
// document share (schemacache.go), and the spec's Shape; the bytes are shared and must not
// be modified (a provider never modifies its Request). At most max entries: a full cache is
// cleared and fills again. Safe for concurrent use.
type answerSchemas struct {
	mu  sync.Mutex
	max int
	m   map[answerKey]json.RawMessage
}

type answerKey struct {
	schema *enricher.Schema
	shape  string
}

func newAnswerSchemas(max int) *answerSchemas {
	return &answerSchemas{max: max, m: make(map[answerKey]json.RawMessage)}
}

// get returns the encoded JSON Schema of spec, which was built from s. An encoding error is
// returned and not cached.
func (c *answerSchemas) get(s *enricher.Schema, spec *enricher.AnswerSpec) (json.RawMessage, error) {
	key := answerKey{schema: s, shape: spec.Shape()}
	c.mu.Lock()
	doc, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return doc, nil
	}
	doc, err := json.Marshal(spec.JSONSchema())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = doc
	return doc, nil
}
