package llm

import "sync"

// MaxSchemas bounds a SchemaMemo.
const MaxSchemas = 256

// SchemaMemo keeps what an adapter derives from an answer schema (the vendor's dialect of
// it, a parsed form), by the schema's bytes: an engine sends the same few schemas with every
// call, and deriving costs more than the rest of building a request. At most MaxSchemas
// entries; a full memo is cleared and fills again. A derive error is returned and not kept.
// Values are shared by every call that asks for the same bytes and must not be modified.
// Safe for concurrent use; the zero value is ready.
type SchemaMemo[T any] struct {
	mu sync.Mutex
	m  map[string]T
}

// Get returns derive's value for schema, calling derive on a miss with a private copy of
// schema (so the value may keep slices of it).
func (m *SchemaMemo[T]) Get(schema []byte, derive func(schema []byte) (T, error)) (T, error) {
	m.mu.Lock()
	v, ok := m.m[string(schema)]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	key := string(schema)
	v, err := derive([]byte(key))
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= MaxSchemas {
		m.m = make(map[string]T)
	}
	m.m[key] = v
	return v, nil
}
