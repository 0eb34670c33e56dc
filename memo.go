package enricher

import "sync"

// MemoSize bounds a Memo.
const MemoSize = 256

// Memo keeps values derived from documents (a schema parsed, translated into a vendor's
// dialect), by the document's bytes: a server sees the same few schemas over and over, and
// deriving costs more than the rest of the work around it. At most MemoSize entries; a full
// memo is cleared and fills again. A derive error is returned and not kept. Values are shared
// by every caller that asks for the same bytes and must not be modified. Safe for concurrent
// use; the zero value is ready.
type Memo[T any] struct {
	mu sync.Mutex
	m  map[string]T
}

// Get returns derive's value for doc, calling derive on a miss with a private copy of doc
// (so the value may keep slices of it).
func (m *Memo[T]) Get(doc []byte, derive func(doc []byte) (T, error)) (T, error) {
	m.mu.Lock()
	v, ok := m.m[string(doc)]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	key := string(doc)
	v, err := derive([]byte(key))
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= MemoSize {
		m.m = make(map[string]T)
	}
	m.m[key] = v
	return v, nil
}
