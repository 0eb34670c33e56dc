package sim

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

// fakeClock is a settable clock for the rate-limit windows.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRateLimitedAccount(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	profiles := BuiltinProfiles()
	profiles["limited"] = Profile{RPM: 3}
	profiles["short"] = Profile{RPM: 2, WindowMS: 1000}
	p := New(Config{Profiles: profiles, Now: clock.now, Sleep: func(context.Context, time.Duration) error { return nil }})
	var last *llm.Response
	call := func(model string) error {
		var err error
		last, err = p.Complete(context.Background(), &llm.Request{Model: model, Schema: []byte(`{"type":"object","properties":{}}`),
			Hints: &llm.Hints{CallKind: "enrichment", ModelKey: "sim::" + model, Entity: map[string]any{"name": "x"}, Attempt: 1, Try: 1}})
		return err
	}
	retryAfter := func(err error) time.Duration {
		t.Helper()
		var le *llm.Error
		require.True(t, errors.As(err, &le), "want an *llm.Error, got %v", err)
		require.Equal(t, llm.KindRateLimited, le.Kind)
		require.Equal(t, 429, le.Status)
		return le.RetryAfter
	}

	steps := []struct {
		name    string
		advance time.Duration
		model   string
		want    time.Duration // 0: success; else the 429's Retry-After
		left    int           // on success: the requests left reported (-1: no report)
	}{
		{"first of the budget", 0, "limited", 0, 2},
		{"second", 10 * time.Second, "limited", 0, 1},
		{"third", 10 * time.Second, "limited", 0, 0},
		{"past the budget: 429 until the window ends", 10 * time.Second, "limited", 30 * time.Second, 0},
		{"refused calls do not count", 29 * time.Second, "limited", time.Second, 0},
		{"an unlimited model is never refused", 0, "fast", 0, -1},
		{"another account has its own budget", 0, "short", 0, 1},
		{"the short account's second", 0, "short", 0, 0},
		{"the short account is spent", 0, "short", time.Second, 0},
		{"a new window: the budget is back", time.Second, "limited", 0, 2},
		{"and the short account's too", 0, "short", 0, 1},
		{"windows are fixed: the new one started at 60 s", 0, "limited", 0, 1},
		{"third of the second window", 0, "limited", 0, 0},
		{"second window spent", 59 * time.Second, "limited", time.Second, 0},
		{"a window skipped is not owed", 61 * time.Second, "limited", 0, 2},
	}
	for _, s := range steps {
		clock.advance(s.advance)
		err := call(s.model)
		if s.want == 0 {
			require.NoError(t, err, s.name)
			if s.left < 0 {
				require.Nil(t, last.RateLimit, s.name)
			} else {
				require.NotNil(t, last.RateLimit, s.name)
				require.Equal(t, s.left, last.RateLimit.RemainingRequests, s.name)
			}
			continue
		}
		require.Equal(t, s.want, retryAfter(err), s.name)
	}
}

func TestTokenBucketAccount(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	profiles := BuiltinProfiles()
	// 60 requests (one a second) and 6000 tokens (100 a second) per minute
	profiles["bucket"] = Profile{RPM: 60, TPM: 6000}
	profiles["quiet"] = Profile{TPM: 6000, NoRetryAfter: true}
	profiles["rpm"] = Profile{RPM: 2, Refill: "continuous"}
	p := New(Config{Profiles: profiles, Now: clock.now, Sleep: func(context.Context, time.Duration) error { return nil }})
	// a call whose prompt is 2000 tokens; its answer (to an empty object schema) is one more
	call := func(model string) (*llm.Response, error) {
		return p.Complete(context.Background(), &llm.Request{Model: model, Schema: []byte(`{"type":"object","properties":{}}`),
			Messages: []llm.Message{{Role: "user", Content: strings.Repeat("x", 7999)}},
			Hints:    &llm.Hints{CallKind: "enrichment", ModelKey: "sim::" + model, Entity: map[string]any{"name": "x"}, Attempt: 1, Try: 1}})
	}
	// first two admitted, reporting what is left and the time until whole again
	resp, err := call("bucket")
	require.NoError(t, err)
	require.Equal(t, 2001, resp.Usage.InputTokens+resp.Usage.OutputTokens, "the test's arithmetic assumes 2001 tokens a call")
	require.Equal(t, &llm.RateLimit{RemainingRequests: 59, Reset: time.Second,
		Tokens: &llm.TokenLimit{Remaining: 3999, Reset: 20010 * time.Millisecond}}, resp.RateLimit)
	resp, err = call("bucket")
	require.NoError(t, err)
	require.Equal(t, &llm.RateLimit{RemainingRequests: 58, Reset: 2 * time.Second,
		Tokens: &llm.TokenLimit{Remaining: 1998, Reset: 40020 * time.Millisecond}}, resp.RateLimit)
	// 1998 left: 3 tokens short, refilled in 30 ms
	_, err = call("bucket")
	require.Equal(t, 30*time.Millisecond, rateLimited(t, err))
	clock.advance(20 * time.Millisecond) // refills continuously: 2 tokens, still 1 short
	_, err = call("bucket")
	require.Equal(t, 10*time.Millisecond, rateLimited(t, err), "refused calls cost nothing")
	clock.advance(10 * time.Millisecond)
	_, err = call("bucket")
	require.NoError(t, err)

	// without Retry-After: the refusal alone, and no reports on answers
	for range 2 {
		resp, err = call("quiet")
		require.NoError(t, err)
		require.Nil(t, resp.RateLimit)
	}
	_, err = call("quiet")
	require.Zero(t, rateLimited(t, err))

	// requests alone, refilling continuously: one every 30 s
	for range 2 {
		_, err = call("rpm")
		require.NoError(t, err)
	}
	_, err = call("rpm")
	require.Equal(t, 30*time.Second, rateLimited(t, err))
	clock.advance(15 * time.Second)
	_, err = call("rpm")
	require.Equal(t, 15*time.Second, rateLimited(t, err))
	clock.advance(15 * time.Second)
	resp, err = call("rpm")
	require.NoError(t, err)
	require.Equal(t, &llm.RateLimit{RemainingRequests: 0, Reset: time.Minute}, resp.RateLimit)
}

// rateLimited returns the Retry-After of err, which must be a 429.
func rateLimited(t *testing.T, err error) time.Duration {
	t.Helper()
	var le *llm.Error
	require.True(t, errors.As(err, &le), "want an *llm.Error, got %v", err)
	require.Equal(t, llm.KindRateLimited, le.Kind)
	require.Equal(t, 429, le.Status)
	return le.RetryAfter
}
