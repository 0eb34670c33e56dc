package actors

import (
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// limiter decides how many calls one provider may have in flight. It is AIMD (additive
// increase, multiplicative decrease), the congestion control of TCP: every success whose
// latency holds (at most latencyTolerance times the running average) grows the limit by
// 1/limit, so by one per limit's worth of successes; every sign of overload (429, a vendor's
// "overloaded", a timeout) halves it. AIMD is chosen over a gradient limiter because the
// signal that matters for a vendor account is the explicit 429, not a queueing delay we
// could measure: vendors answer 429 at once rather than queueing, so a latency gradient sees
// nothing until the account is already flooded; AIMD reacts to exactly that signal, needs
// no tuning beyond its two constants, and provably converges to a fair share when several
// processes use one account.
//
// A burst of 429s from calls sent under the old limit counts once: overload of a call that
// started before the last decrease is ignored (as TCP ignores the losses of one window).
// The limit never exceeds the ceiling (provider_concurrency) and never drops below 1; it
// starts at the ceiling, so a healthy provider behaves as with fixed concurrency. Without
// adaptation the limit stays at the ceiling.
//
// limiter is pure (no clock of its own: events carry their times) and not safe for
// concurrent use: the provider actor owns it.
type limiter struct {
	ceiling  int
	adaptive bool
	limit    float64
	lastCut  time.Time     // when the limit was last decreased
	avg      time.Duration // moving average of successful calls' latency; 0 before the first
}

// latencyTolerance is how much slower than the average a success may be and still grow the
// limit; decreaseFactor is the multiplicative decrease.
const (
	latencyTolerance = 2.0
	decreaseFactor   = 0.5
)

// newLimiter returns a limiter at its ceiling (at least 1).
func newLimiter(ceiling int, adaptive bool) *limiter {
	ceiling = max(ceiling, 1)
	return &limiter{ceiling: ceiling, adaptive: adaptive, limit: float64(ceiling)}
}

// Limit is the number of calls that may be in flight now, between 1 and the ceiling.
func (l *limiter) Limit() int { return max(1, min(l.ceiling, int(l.limit))) }

// Ceiling is the most the limit may reach (provider_concurrency).
func (l *limiter) Ceiling() int { return l.ceiling }

// Success records a call that started at start and succeeded after latency.
func (l *limiter) Success(start time.Time, latency time.Duration) {
	if !l.adaptive {
		return
	}
	holds := l.avg == 0 || float64(latency) <= latencyTolerance*float64(l.avg)
	if l.avg == 0 {
		l.avg = latency
	} else {
		l.avg += (latency - l.avg) / 8
	}
	if holds && !start.Before(l.lastCut) {
		l.limit = min(float64(l.ceiling), l.limit+1/l.limit)
	}
}

// Overload records a call that started at start and was refused for overload at now.
func (l *limiter) Overload(start, now time.Time) {
	if !l.adaptive || start.Before(l.lastCut) {
		return
	}
	l.limit = max(1, l.limit*decreaseFactor)
	l.lastCut = now
}

// Observe records the outcome of one try that started at start and ended at end: err nil is
// a success, a rate limit, overload or timeout is overload, anything else (a bad request,
// a cancelled caller, a server error) says nothing about capacity and is ignored.
func (l *limiter) Observe(start, end time.Time, err error) {
	if err == nil {
		l.Success(start, end.Sub(start))
		return
	}
	switch llm.KindOf(err) {
	case llm.KindRateLimited, llm.KindOverloaded, llm.KindTimeout:
		l.Overload(start, end)
	}
}
