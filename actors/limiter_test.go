package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

// limiterEvent is one finished try fed to a limiter: it started at start (seconds on a fake
// clock), took d and ended with err.
type limiterEvent struct {
	start float64
	d     time.Duration
	err   error
}

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ok := func(s float64) limiterEvent { return limiterEvent{start: s, d: 100 * time.Millisecond} }
	slow := func(s float64) limiterEvent { return limiterEvent{start: s, d: time.Second} }
	fail := func(s float64, k llm.ErrorKind) limiterEvent {
		return limiterEvent{start: s, d: 10 * time.Millisecond, err: &llm.Error{Kind: k}}
	}
	many := func(n int, from float64, ev func(float64) limiterEvent) []limiterEvent {
		out := make([]limiterEvent, n)
		for i := range out {
			out[i] = ev(from + float64(i)*0.01)
		}
		return out
	}
	cat := func(parts ...[]limiterEvent) []limiterEvent {
		var out []limiterEvent
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name     string
		ceiling  int
		adaptive bool
		events   []limiterEvent
		want     int
	}{
		{"starts at the ceiling", 8, true, nil, 8},
		{"ceiling at least 1", 0, true, nil, 1},
		{"successes never pass the ceiling", 8, true, many(100, 0, ok), 8},
		{"a 429 halves", 8, true, []limiterEvent{fail(0, llm.KindRateLimited)}, 4},
		{"overloaded halves", 8, true, []limiterEvent{fail(0, llm.KindOverloaded)}, 4},
		{"timeout halves", 8, true, []limiterEvent{fail(0, llm.KindTimeout)}, 4},
		{"bad request says nothing", 8, true, []limiterEvent{fail(0, llm.KindBadRequest)}, 8},
		{"server error says nothing", 8, true, []limiterEvent{fail(0, llm.KindServerError)}, 8},
		{"cancelled says nothing", 8, true, []limiterEvent{fail(0, llm.KindCancelled)}, 8},
		// the second 429 started before the first cut (at 0.01 s): one window, one decrease
		{"a burst of one window counts once", 8, true, []limiterEvent{fail(0, llm.KindRateLimited), fail(0, llm.KindRateLimited)}, 4},
		{"429s of later windows keep halving", 16, true,
			[]limiterEvent{fail(0, llm.KindRateLimited), fail(1, llm.KindRateLimited), fail(2, llm.KindRateLimited)}, 2},
		{"floor of 1", 8, true, many(10, 0, func(s float64) limiterEvent { return fail(s*100, llm.KindRateLimited) }), 1},
		// from 4: +1/limit each, so 4 successes make 4.92 and 5 make 5.11
		{"additive increase, one per limit's worth", 8, true, cat([]limiterEvent{fail(0, llm.KindRateLimited)}, many(4, 1, ok)), 4},
		{"additive increase, the next step", 8, true, cat([]limiterEvent{fail(0, llm.KindRateLimited)}, many(5, 1, ok)), 5},
		{"additive increase, two steps", 8, true, cat([]limiterEvent{fail(0, llm.KindRateLimited)}, many(10, 1, ok)), 6},
		{"recovers to the ceiling", 8, true, cat([]limiterEvent{fail(0, llm.KindRateLimited)}, many(100, 1, ok)), 8},
		{"successes sent before the cut do not grow it", 8, true,
			cat([]limiterEvent{fail(1, llm.KindRateLimited)}, many(20, 0, ok)), 4},
		// 10x the average: the first 5 hold; then the average has followed the lasting change
		{"slow successes hold the limit", 8, true,
			cat(many(8, 0, ok), []limiterEvent{fail(1, llm.KindRateLimited)}, many(5, 2, slow)), 4},
		{"a lasting slowdown becomes the norm", 8, true,
			cat(many(8, 0, ok), []limiterEvent{fail(1, llm.KindRateLimited)}, many(10, 2, slow)), 5},
		{"fixed: 429s leave the ceiling", 8, false, many(10, 0, func(s float64) limiterEvent { return fail(s*100, llm.KindRateLimited) }), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(tt.ceiling, tt.adaptive)
			for _, ev := range tt.events {
				l.Observe(at(ev.start), at(ev.start).Add(ev.d), ev.err)
				require.LessOrEqual(t, l.Limit(), max(tt.ceiling, 1))
				require.GreaterOrEqual(t, l.Limit(), 1)
			}
			require.Equal(t, tt.want, l.Limit())
		})
	}
}
