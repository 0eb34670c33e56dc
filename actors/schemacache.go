package actors

import (
	"sync"

	"github.com/entity-enricher/enricher"
)

// schemaCache keeps the parsed form and content hash of recently used schema documents,
// keyed by their exact bytes, so that a stream of jobs on the same schema (every batch
// client, every benchmark) parses it once. Parsed schemas are read-only once built, so
// jobs share them. It holds at most max entries and forgets the oldest; it is safe for
// concurrent use.
type schemaCache struct {
	mu    sync.Mutex
	max   int
	byDoc map[string]parsedSchema
	order []string // insertion order, for eviction
}

type parsedSchema struct {
	schema *enricher.Schema
	hash   string
}

func newSchemaCache(max int) *schemaCache {
	return &schemaCache{max: max, byDoc: make(map[string]parsedSchema, max)}
}

// get returns the parsed schema and content hash of doc, parsing it on a miss. Parse errors
// are returned and not cached.
func (c *schemaCache) get(doc []byte) (*enricher.Schema, string, error) {
	c.mu.Lock()
	p, ok := c.byDoc[string(doc)]
	c.mu.Unlock()
	if ok {
		return p.schema, p.hash, nil
	}
	schema, err := enricher.ParseSchema(doc)
	if err != nil {
		return nil, "", err
	}
	hash, err := enricher.SchemaContentHash(doc)
	if err != nil {
		return nil, "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byDoc[string(doc)]; !ok {
		if len(c.order) >= c.max {
			delete(c.byDoc, c.order[0])
			c.order = c.order[1:]
		}
		key := string(doc)
		c.byDoc[key] = parsedSchema{schema: schema, hash: hash}
		c.order = append(c.order, key)
	}
	return schema, hash, nil
}
