package actors

import (
	"math"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// Budget is a model's rate limit at its vendor, from the models file: requests and tokens
// per minute (0: no budget of that kind). The provider actor sends a call only when both
// budgets hold it (budget.go), so the account is used up to its limits without 429s.
type Budget struct {
	RPM int
	TPM int
	// Per replaces the minute of RPM and TPM when set: a sim account whose time is scaled
	// down (bench, tests). The models file has no such field. Default a minute.
	Per time.Duration
}

// bucket is a budget that refills continuously, as the vendors' limiters do: it holds at most
// one minute's worth (size) and refills at size per minute (per period). A call takes from it
// before it is sent; what a call took and did not use is given back. A call larger than the
// whole bucket waits for a full bucket and then drives it below zero, so it is never stuck.
// bucket is pure (times are passed in) and not safe for concurrent use: the provider actor
// owns it.
type bucket struct {
	capacity float64
	perNS    float64 // refill per nanosecond
	level    float64
	at       time.Time // when level was last brought up to date
}

// newBucket returns a full bucket of size (at least 1) per period as of now.
func newBucket(size int, period time.Duration, now time.Time) *bucket {
	c := float64(max(size, 1))
	return &bucket{capacity: c, perNS: c / float64(period), level: c, at: now}
}

// refill brings the level up to now.
func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.level = min(b.capacity, b.level+float64(d)*b.perNS)
		b.at = now
	}
}

// wait is how long from now until n can be taken; 0 when it can be now.
func (b *bucket) wait(n int, now time.Time) time.Duration {
	b.refill(now)
	need := min(float64(n), b.capacity)
	if b.level >= need {
		return 0
	}
	// whole milliseconds rounded up, and one more, so the wake that follows finds the budget
	ms := math.Ceil((need-b.level)/b.perNS/float64(time.Millisecond) - 1e-6)
	return time.Duration(ms)*time.Millisecond + time.Millisecond
}

// take removes n at now (the level may go below zero only for a call larger than the bucket).
func (b *bucket) take(n int, now time.Time) {
	b.refill(now)
	b.level -= float64(n)
}

// give returns n unused at now, up to the capacity.
func (b *bucket) give(n int, now time.Time) {
	b.refill(now)
	b.level = min(b.capacity, b.level+float64(n))
}

// report lowers the level to what the vendor says is left (the vendor saw calls this process
// did not make, such as another process's on the same key); it never raises it.
func (b *bucket) report(remaining int, now time.Time) {
	b.refill(now)
	b.level = min(b.level, float64(remaining))
}

// budgets are one provider's budgets by model key: a request bucket and a token bucket each,
// when the model has them. Models without a budget are never held. Not safe for concurrent
// use: the provider actor owns it.
type budgets struct {
	requests map[string]*bucket
	tokens   map[string]*bucket
}

// newBudgets returns full buckets for every model of byModel with a budget, as of now.
func newBudgets(byModel map[string]Budget, now time.Time) *budgets {
	b := &budgets{requests: map[string]*bucket{}, tokens: map[string]*bucket{}}
	for model, bud := range byModel {
		per := bud.Per
		if per <= 0 {
			per = time.Minute
		}
		if bud.RPM > 0 {
			b.requests[model] = newBucket(bud.RPM, per, now)
		}
		if bud.TPM > 0 {
			b.tokens[model] = newBucket(bud.TPM, per, now)
		}
	}
	return b
}

// none reports that no model has a budget.
func (b *budgets) none() bool { return len(b.requests) == 0 && len(b.tokens) == 0 }

// wait is how long a call of model estimated at tokens must wait at now; 0: send it.
func (b *budgets) wait(model string, tokens int, now time.Time) time.Duration {
	var w time.Duration
	if r := b.requests[model]; r != nil {
		w = r.wait(1, now)
	}
	if t := b.tokens[model]; t != nil {
		w = max(w, t.wait(tokens, now))
	}
	return w
}

// take reserves one request and tokens of model at now.
func (b *budgets) take(model string, tokens int, now time.Time) {
	if r := b.requests[model]; r != nil {
		r.take(1, now)
	}
	if t := b.tokens[model]; t != nil {
		t.take(tokens, now)
	}
}

// settle closes a reservation of tokens once the try is over: used is what the answer
// reported (input plus output tokens); a try without an answer (an error, a 429) used none,
// as the vendors do not count refused or failed requests against tokens. The request stays
// taken: a refused request still counted at the vendor's limiter in its window.
func (b *budgets) settle(model string, reserved, used int, now time.Time) {
	if t := b.tokens[model]; t != nil && reserved > used {
		t.give(reserved-used, now)
	} else if t != nil && used > reserved {
		t.take(used-reserved, now)
	}
}

// report applies a vendor's rate-limit report to model's budgets; it returns for each kind
// (requests, tokens) whether the model has a budget of that kind that took the report. A
// report the model has no budget for is left to the caller (a cool-down).
func (b *budgets) report(model string, rl *llm.RateLimit, now time.Time) (requests, tokens bool) {
	if r := b.requests[model]; r != nil {
		requests = true
		if rl.Reset > 0 && rl.RemainingRequests >= 0 {
			r.report(rl.RemainingRequests, now)
		}
	}
	if t := b.tokens[model]; t != nil {
		tokens = true
		if rl.Tokens != nil {
			t.report(rl.Tokens.Remaining, now)
		}
	}
	return requests, tokens
}
