package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// IdempotencyStore remembers successful job starts (SPEC §10). Implemented by storage.DB.
type IdempotencyStore interface {
	Idempotency(org, key string) (*enricher.IdempotentStart, error)
	SaveIdempotency(org, key string, v *enricher.IdempotentStart, ttl time.Duration) error
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
// the endpoint in fingerprints (aliases share it). A replay sets c.replay to the remembered
// start; the handler answers from it. A successful start is remembered from c.started.
func (s *Server) idempotent(canonicalPath string, next func(c *call) error) func(c *call) error {
	return func(c *call) error {
		raw := c.ctx.Request.Header.Peek("Idempotency-Key")
		if raw == nil {
			return next(c)
		}
		var err error
		key := string(raw)
		if !validIdempotencyKey(key) {
			return enricher.Errorf(enricher.KindInvalid, "Idempotency-Key must be 1 to 255 printable ASCII characters")
		}
		var fp string
		var bodyHash hash.Hash
		if c.streamed() { // hashed while the handler reads it
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
		if err := next(c); err != nil {
			return err
		}
		if c.started != nil && c.ctx.Response.StatusCode() == fasthttp.StatusOK {
			if bodyHash != nil { // the handler read the whole body
				fp = streamFingerprint(string(c.ctx.Method()), canonicalPath, bodyHash)
			}
			c.started.Fingerprint = fp
			if err := s.deps.Idempotency.SaveIdempotency(c.p.org.ID, key, c.started, s.cfg.IdempotencyTTL); err != nil {
				s.log.Warn("idempotency key not saved", "err", err)
			}
		}
		return nil
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

// remember records a successful start for the idempotency wrapper.
func (c *call) remember(jobID string, response any) {
	b, _ := json.Marshal(response)
	c.started = &enricher.IdempotentStart{JobID: jobID, Response: b}
}
