package api

import (
	"context"
	"sync"
	"time"

	"github.com/entity-enricher/enricher"
)

// keyUsage counts API key uses in memory; the server writes them every KeyUsageFlush and at
// shutdown, so no request waits for that write. Safe for concurrent use.
type keyUsage struct {
	mu     sync.Mutex
	counts map[string]*enricher.KeyUsage // by key id
}

func newKeyUsage() *keyUsage { return &keyUsage{counts: map[string]*enricher.KeyUsage{}} }

func (u *keyUsage) record(org, id string, now time.Time) {
	u.mu.Lock()
	c := u.counts[id]
	if c == nil {
		c = &enricher.KeyUsage{OrgID: org, KeyID: id}
		u.counts[id] = c
	}
	c.Uses++
	c.LastUsed = now
	u.mu.Unlock()
}

// take returns the counts so far and starts new ones.
func (u *keyUsage) take() []enricher.KeyUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]enricher.KeyUsage, 0, len(u.counts))
	for _, c := range u.counts {
		out = append(out, *c)
	}
	clear(u.counts)
	return out
}

func (s *Server) flushLoop(ctx context.Context) {
	defer s.bgWG.Done()
	t := time.NewTicker(s.cfg.KeyUsageFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.flushUsage()
		}
	}
}

func (s *Server) flushUsage() {
	if err := s.deps.Keys.AddKeyUsage(s.usage.take()); err != nil {
		s.log.Warn("key usage not written", "err", err)
	}
}

// lockout refuses logins for an email after max failures within window.
type lockout struct {
	mu       sync.Mutex
	max      int
	window   time.Duration
	failures map[string][]time.Time
}

func newLockout(max int, window time.Duration) *lockout {
	return &lockout{max: max, window: window, failures: map[string][]time.Time{}}
}

// locked reports whether email has max failures within the window before now.
func (l *lockout) locked(email string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recentLocked(email, now)) >= l.max
}

// fail records a failed attempt.
func (l *lockout) fail(email string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[email] = append(l.recentLocked(email, now), now)
	if len(l.failures) > 100_000 { // bound memory under an attack on many emails
		for k, v := range l.failures {
			if len(v) == 0 || now.Sub(v[len(v)-1]) > l.window {
				delete(l.failures, k)
			}
		}
	}
}

// reset forgets the failures of email after a successful login.
func (l *lockout) reset(email string) {
	l.mu.Lock()
	delete(l.failures, email)
	l.mu.Unlock()
}

// recentLocked returns the failures of email inside the window; l.mu must be held.
func (l *lockout) recentLocked(email string, now time.Time) []time.Time {
	f := l.failures[email]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.failures, email)
	}
	return f
}

// rateLimiter is a token bucket per credential: rate per second, burst twice that. A nil or
// zero-rate limiter allows everything.
type rateLimiter struct {
	rate    float64
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64) *rateLimiter {
	return &rateLimiter{rate: rate, buckets: map[string]*bucket{}}
}

func (r *rateLimiter) allow(id string, now time.Time) bool {
	if r.rate <= 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	burst := 2 * r.rate
	b := r.buckets[id]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		r.buckets[id] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
