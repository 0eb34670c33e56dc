package llm

import (
	"errors"
	"time"
)

// RetryPolicy decides transport retries: retryable kinds are tried again up to
// Retries times, waiting Base, 2×Base, 4×Base ... with ±Jitter, or the vendor's Retry-After
// when it is at most MaxRetryAfter. Zero fields take the defaults of WithDefaults.
type RetryPolicy struct {
	Retries       int           // default 3
	Base          time.Duration // default 1s
	Jitter        float64       // default 0.2 (±20 %)
	MaxRetryAfter time.Duration // default 60s
	MaxTotalWait  time.Duration // cap on the waits of one call; 0 = none
}

// WithDefaults returns a copy of p with zero fields set to their defaults. Retries < 0 means
// no retry.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.Retries == 0 {
		p.Retries = 3
	}
	if p.Base == 0 {
		p.Base = time.Second
	}
	if p.Jitter == 0 {
		p.Jitter = 0.2
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 60 * time.Second
	}
	return p
}

// Delay returns how long to wait before the next try after tries failed tries ending with
// err, and whether to try again at all. random is a number in [0, 1) supplied by the caller,
// so tests are deterministic.
func (p RetryPolicy) Delay(tries int, err error, random float64) (time.Duration, bool) {
	if tries > p.Retries || !KindOf(err).Retryable() {
		return 0, false
	}
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 && e.RetryAfter <= p.MaxRetryAfter {
		return e.RetryAfter, true
	}
	d := p.Base << (tries - 1)
	jitter := 1 + p.Jitter*(2*random-1)
	return time.Duration(float64(d) * jitter), true
}
