package sim

import (
	"fmt"
	"sync"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// accounts keeps the request windows of the rate-limited sim models (Profile.RPM). Each model
// is one account with a fixed window: the first WindowMS (default 60 s) from the first request,
// then the next window, and so on. A request past the budget of its window is refused at once
// with 429 and a Retry-After of the time left in the window, as vendors refuse; refused
// requests do not count. Admitted requests report the budget left (llm.RateLimit), as the
// vendors' x-ratelimit-remaining-requests / anthropic-ratelimit-requests-remaining do. Safe for concurrent use (one mutex; the critical section is a few
// arithmetic operations).
type accounts struct {
	now func() time.Time
	mu  sync.Mutex
	win map[string]*window // by model name
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
	return &accounts{now: now, win: map[string]*window{}}
}

// windowOf is a profile's window length: WindowMS, default 60 s.
func windowOf(prof Profile) time.Duration {
	if prof.WindowMS > 0 {
		return time.Duration(prof.WindowMS) * time.Millisecond
	}
	return time.Minute
}

// admit counts one request of model against its budget and returns the budget left (as the
// vendors' rate-limit headers report it), or returns the 429 that refuses it. Profiles
// without RPM are never limited and report nothing.
func (a *accounts) admit(model string, prof Profile) (*llm.RateLimit, error) {
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
		return &llm.RateLimit{RemainingRequests: prof.RPM - w.used, Reset: w.start.Add(length).Sub(now)}, nil
	}
	return nil, &llm.Error{Kind: llm.KindRateLimited, Status: 429, RetryAfter: w.start.Add(length).Sub(now),
		Message: fmt.Sprintf("sim: rate limit of %d requests per %s reached", prof.RPM, length)}
}
