package api

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"

	"github.com/entity-enricher/enricher"
)

// IdempotencyStore finds the job start remembered under an Idempotency-Key.
// Implemented by storage.DB. Keys are written with their job by the Engine, never here.
type IdempotencyStore interface {
	// Idempotency returns the start remembered under key for org, or KindNotFound.
	Idempotency(org, key string) (*enricher.IdempotentStart, error)
}

// keyLocks serialises concurrent requests that carry the same Idempotency-Key.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyLocks) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// idempotent wraps a job-starting handler with Idempotency-Key handling. canonicalPath names
// the endpoint in fingerprints (aliases share it). A key already bound to a job sets c.replay:
// the handler answers from it (a streaming start with the remembered response, a blocking one
// by waiting for that job). A new key sets c.bind, which the handler passes to the Engine so
// the key is stored with the job, in the same write: from then on a retry re-attaches to the
// job, whatever became of this request. A request that stores no job (a 4xx, admission, or
// shutdown before the job) leaves the key free. Requests with one key are serialised.
func (s *Server) idempotent(canonicalPath string, next func(c *call) error) func(c *call) error {
	return func(c *call) error {
		raw := c.ctx.Request.Header.Peek("Idempotency-Key")
		if raw == nil {
			return next(c)
		}
		key := string(raw)
		if !validIdempotencyKey(key) {
			return enricher.Errorf(enricher.KindInvalid, "Idempotency-Key must be 1 to 255 printable ASCII characters")
		}
		var fp string
		var bodyHash hash.Hash
		var err error
		if c.streamed() { // an NDJSON body: hashed as the handler reads it
			bodyHash = sha256.New()
			c.bodyTee = bodyHash
		} else if fp, err = fingerprint(string(c.ctx.Method()), canonicalPath, c.ctx.PostBody()); err != nil {
			return err
		}
		unlock := s.idemLocks.lock(c.p.org.ID + "\x00" + key)
		defer unlock()
		prev, err := s.deps.Idempotency.Idempotency(c.p.org.ID, key)
		if bodyHash != nil && err == nil { // a known key: read the body to compare it
			if _, err := io.Copy(io.Discard, c.streamBody(s.cfg.MaxStreamBodyBytes, bodyHash)); err != nil {
				return err
			}
			fp = streamFingerprint(string(c.ctx.Method()), canonicalPath, bodyHash)
		}
		switch {
		case err == nil && prev.Fingerprint != fp:
			return enricher.Errorf(enricher.KindConflict, "Idempotency-Key was already used with a different request")
		case err == nil:
			c.replay = prev
			c.ctx.Response.Header.Set("Idempotent-Replayed", "true")
			return next(c)
		case !enricher.IsKind(err, enricher.KindNotFound):
			return err
		}
		c.bind = &enricher.IdempotencyBinding{Key: key, Fingerprint: fp, TTL: s.cfg.IdempotencyTTL}
		if bodyHash != nil { // known once the handler has read the whole body
			method := string(c.ctx.Method())
			c.bindBody = func() string { return streamFingerprint(method, canonicalPath, bodyHash) }
		}
		return next(c)
	}
}

func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// fingerprint is method, canonical path and the SHA-256 of the body's canonical JSON.
func fingerprint(method, path string, body []byte) (string, error) {
	canon, err := enricher.CanonicalJSON(body)
	if err != nil {
		return "", enricher.Errorf(enricher.KindInvalid, "request body is not valid JSON")
	}
	sum := sha256.Sum256(canon)
	return method + " " + path + " " + hex.EncodeToString(sum[:]), nil
}

// streamFingerprint is method, canonical path and the SHA-256 of a streamed (NDJSON) body's
// raw bytes: byte-identical bodies are the same request.
func streamFingerprint(method, path string, h hash.Hash) string {
	return method + " " + path + " ndjson " + hex.EncodeToString(h.Sum(nil))
}

// binding returns the Idempotency-Key binding for a new start, with respond building the
// answer a replay repeats (nil for blocking starts); nil without a key. A handler of a
// streamed body calls it only after reading the whole body, whose hash is the fingerprint.
func (c *call) binding(respond func(jobID string) any) *enricher.IdempotencyBinding {
	if c.bind == nil {
		return nil
	}
	b := *c.bind
	b.Respond = respond
	if c.bindBody != nil {
		b.Fingerprint = c.bindBody()
	}
	return &b
}
