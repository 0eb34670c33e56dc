package sim

import (
	"fmt"
	"sync"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// accounts keeps the budgets of the rate-limited sim models (Profile.RPM, Profile.TPM). Each
// model is one account, of one of two kinds.
//
// A token-bucket account (Profile.TPM, or Refill "continuous") holds a minute's worth of
// requests (RPM) and of tokens (TPM) and refills both continuously, as the vendors' limiters
// do; WindowMS, when set, replaces the minute (time scaled down for tests and benches). A request is charged one request and its tokens (input plus output, what its answer
// reports as usage) when admitted; one that does not fit either is refused at once with 429
// and a Retry-After of the time until it would fit. Admitted requests report what is left and
// the time until the bucket is whole again (llm.RateLimit and its Tokens), as the vendors'
// x-ratelimit-remaining-* / x-ratelimit-reset-* headers do. NoRetryAfter leaves both reports
// out.
//
// A window account (RPM alone) has a fixed window: the first WindowMS (default 60 s) from the first request,
// then the next window, and so on. A request past the budget of its window is refused at once
// with 429 and a Retry-After of the time left in the window, as vendors refuse; refused
// requests do not count. Admitted requests report the budget left (llm.RateLimit), as the
// vendors' x-ratelimit-remaining-requests / anthropic-ratelimit-requests-remaining do. Safe for concurrent use (one mutex; the critical section is a few
// arithmetic operations).
type accounts struct {
	now func() time.Time
	mu  sync.Mutex
	win map[string]*window // by model name
	bkt map[string]*buckets
}

// buckets is one token-bucket account: its levels as of at.
type buckets struct {
	at               time.Time
	requests, tokens float64
}

// window is one account's current window: when it started and the requests it admitted.
type window struct {
	start time.Time
	used  int
}

func newAccounts(now func() time.Time) *accounts {
	if now == nil {
		now = time.Now
	}
	return &accounts{now: now, win: map[string]*window{}, bkt: map[string]*buckets{}}
}

// windowOf is a profile's window length: WindowMS, default 60 s.
func windowOf(prof Profile) time.Duration {
	if prof.WindowMS > 0 {
		return time.Duration(prof.WindowMS) * time.Millisecond
	}
	return time.Minute
}

// continuous reports whether prof's account is a token bucket.
func continuous(prof Profile) bool {
	return prof.Refill == "continuous" || (prof.TPM > 0 && prof.Refill != "window")
}

// admit counts one request of model costing tokens against its budget and returns the budget
// left (as the vendors' rate-limit headers report it), or returns the 429 that refuses it.
// Profiles without RPM or TPM are never limited and report nothing.
func (a *accounts) admit(model string, prof Profile, tokens int) (*llm.RateLimit, error) {
	if continuous(prof) {
		return a.admitBucket(model, prof, tokens)
	}
	if prof.RPM <= 0 {
		return nil, nil
	}
	length := windowOf(prof)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.win[model]
	if w == nil {
		w = &window{start: now}
		a.win[model] = w
	}
	if elapsed := now.Sub(w.start); elapsed >= length {
		w.start = w.start.Add(elapsed / length * length) // the window now holds
		w.used = 0
	}
	if w.used < prof.RPM {
		w.used++
		if prof.NoRetryAfter {
			return nil, nil
		}
		return &llm.RateLimit{RemainingRequests: prof.RPM - w.used, Reset: w.start.Add(length).Sub(now)}, nil
	}
	e := &llm.Error{Kind: llm.KindRateLimited, Status: 429, RetryAfter: w.start.Add(length).Sub(now),
		Message: fmt.Sprintf("sim: rate limit of %d requests per %s reached", prof.RPM, length)}
	if prof.NoRetryAfter {
		e.RetryAfter = 0
	}
	return nil, e
}

// admitBucket is admit for a token-bucket account.
func (a *accounts) admitBucket(model string, prof Profile, tokens int) (*llm.RateLimit, error) {
	if prof.RPM <= 0 && prof.TPM <= 0 {
		return nil, nil
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.bkt[model]
	if b == nil {
		b = &buckets{at: now, requests: float64(prof.RPM), tokens: float64(prof.TPM)}
		a.bkt[model] = b
	}
	period := windowOf(prof)
	if d := now.Sub(b.at); d > 0 {
		b.requests = min(float64(prof.RPM), b.requests+refilled(prof.RPM, period, d))
		b.tokens = min(float64(prof.TPM), b.tokens+refilled(prof.TPM, period, d))
		b.at = now
	}
	need := min(float64(tokens), float64(prof.TPM)) // a request larger than the bucket fits a full one
	var wait time.Duration
	if prof.RPM > 0 && b.requests < 1 {
		wait = untilRefilled(1-b.requests, prof.RPM, period)
	}
	if prof.TPM > 0 && b.tokens < need {
		wait = max(wait, untilRefilled(need-b.tokens, prof.TPM, period))
	}
	if wait > 0 {
		e := &llm.Error{Kind: llm.KindRateLimited, Status: 429, RetryAfter: wait,
			Message: fmt.Sprintf("sim: rate limit of %d requests and %d tokens per minute reached", prof.RPM, prof.TPM)}
		if prof.NoRetryAfter {
			e.RetryAfter = 0
		}
		return nil, e
	}
	rl := &llm.RateLimit{RemainingRequests: -1}
	if prof.RPM > 0 {
		b.requests--
		rl.RemainingRequests = int(b.requests)
		rl.Reset = max(untilRefilled(float64(prof.RPM)-b.requests, prof.RPM, period), time.Millisecond)
	}
	if prof.TPM > 0 {
		b.tokens -= float64(tokens)
		rl.Tokens = &llm.TokenLimit{Remaining: max(int(b.tokens), 0),
			Reset: max(untilRefilled(float64(prof.TPM)-b.tokens, prof.TPM, period), time.Millisecond)}
	}
	if prof.NoRetryAfter {
		return nil, nil
	}
	return rl, nil
}

// refilled is what a bucket of size per period refills in d.
func refilled(size int, period, d time.Duration) float64 {
	return float64(size) * float64(d) / float64(period)
}

// untilRefilled is how long a bucket of size per period takes to refill n, rounded up to the
// millisecond (Retry-After and reset headers carry no finer unit).
func untilRefilled(n float64, size int, period time.Duration) time.Duration {
	d := time.Duration(n * float64(period) / float64(size))
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}
