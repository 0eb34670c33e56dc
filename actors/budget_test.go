package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// 600 per minute: 10 per second, one per 100 ms
	steps := []struct {
		name     string
		at       time.Duration // since t0
		op       string        // take, give, report, wait
		n        int
		wantWait time.Duration // for wait
	}{
		{"full at the start", 0, "wait", 600, 0},
		{"take the whole minute", 0, "take", 600, 0},
		{"empty: one waits 100 ms", 0, "wait", 1, 101 * time.Millisecond},
		{"half refilled after 50 ms", 50 * time.Millisecond, "wait", 1, 51 * time.Millisecond},
		{"one there after 100 ms", 100 * time.Millisecond, "wait", 1, 0},
		{"an unused reservation comes back", 100 * time.Millisecond, "give", 5, 0},
		{"so six fit now", 100 * time.Millisecond, "wait", 6, 0},
		{"seven do not", 100 * time.Millisecond, "wait", 7, 101 * time.Millisecond},
		{"a vendor report lowers the level", 100 * time.Millisecond, "report", 2, 0},
		{"three wait for one more", 100 * time.Millisecond, "wait", 3, 101 * time.Millisecond},
		{"a report never raises it", 100 * time.Millisecond, "report", 500, 0},
		{"still three wait", 100 * time.Millisecond, "wait", 3, 101 * time.Millisecond},
		{"refills stop at the capacity", 10 * time.Minute, "wait", 600, 0},
		{"a call larger than the bucket fits a full one", 10 * time.Minute, "wait", 5000, 0},
		{"and drives it below zero", 10 * time.Minute, "take", 5000, 0},
		{"which a minute does not refill", 11 * time.Minute, "wait", 1, 6*time.Minute + 20*time.Second + 101*time.Millisecond},
		{"a give never passes the capacity", 11 * time.Minute, "give", 100000, 0},
		{"full again", 11 * time.Minute, "wait", 600, 0},
		{"but not more", 11 * time.Minute, "wait", 601, 0},
	}
	b := newBucket(600, time.Minute, t0)
	for _, s := range steps {
		now := t0.Add(s.at)
		switch s.op {
		case "take":
			b.take(s.n, now)
		case "give":
			b.give(s.n, now)
		case "report":
			b.report(s.n, now)
		case "wait":
			require.Equal(t, s.wantWait, b.wait(s.n, now), s.name)
		}
	}
}

func TestBudgetsBookkeeping(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		budget   Budget
		run      func(b *budgets, now time.Time)
		tokens   int // the next call's estimate
		wantWait time.Duration
	}{
		{"a model without a budget never waits", Budget{}, func(b *budgets, now time.Time) {
			for range 1000 {
				b.take("m", 100000, now)
			}
		}, 100000, 0},
		{"requests per minute", Budget{RPM: 2}, func(b *budgets, now time.Time) {
			b.take("m", 10, now)
			b.take("m", 10, now)
		}, 10, 30*time.Second + time.Millisecond},
		{"a scaled minute", Budget{RPM: 2, Per: time.Second}, func(b *budgets, now time.Time) {
			b.take("m", 10, now)
			b.take("m", 10, now)
		}, 10, 501 * time.Millisecond},
		{"tokens per minute: the estimate is reserved", Budget{TPM: 6000}, func(b *budgets, now time.Time) {
			b.take("m", 5000, now)
		}, 2000, 10*time.Second + time.Millisecond},
		{"settle gives back what the answer did not use", Budget{TPM: 6000}, func(b *budgets, now time.Time) {
			b.take("m", 5000, now)
			b.settle("m", 5000, 1000, now)
		}, 2000, 0},
		{"a try without an answer used no tokens", Budget{TPM: 6000}, func(b *budgets, now time.Time) {
			b.take("m", 6000, now)
			b.settle("m", 6000, 0, now)
		}, 6000, 0},
		{"an answer over its estimate takes the rest", Budget{TPM: 6000}, func(b *budgets, now time.Time) {
			b.take("m", 1000, now)
			b.settle("m", 1000, 5000, now)
		}, 2000, 10*time.Second + time.Millisecond},
		{"the request stays taken after settle", Budget{RPM: 1, TPM: 6000}, func(b *budgets, now time.Time) {
			b.take("m", 100, now)
			b.settle("m", 100, 0, now)
		}, 100, time.Minute + time.Millisecond},
		{"the longer of the two waits", Budget{RPM: 60, TPM: 600}, func(b *budgets, now time.Time) {
			b.take("m", 600, now)
		}, 300, 30*time.Second + time.Millisecond},
		{"a vendor's token report lowers the budget", Budget{TPM: 6000}, func(b *budgets, now time.Time) {
			req, tok := b.report("m", &llm.RateLimit{RemainingRequests: -1, Tokens: &llm.TokenLimit{Remaining: 0, Reset: time.Minute}}, now)
			if req || !tok {
				panic("only the token budget takes the report")
			}
		}, 100, time.Second + time.Millisecond},
		{"a vendor's request report lowers the budget", Budget{RPM: 60}, func(b *budgets, now time.Time) {
			b.report("m", &llm.RateLimit{RemainingRequests: 0, Reset: time.Minute}, now)
		}, 1, time.Second + time.Millisecond},
		{"other models are not held", Budget{RPM: 1}, func(b *budgets, now time.Time) {
			b.take("other", 1, now)
			b.take("other", 1, now)
		}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBudgets(map[string]Budget{"m": tt.budget, "other": {}}, t0)
			tt.run(b, t0)
			require.Equal(t, tt.wantWait, b.wait("m", tt.tokens, t0))
		})
	}
}
