package actors

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

// providerSetup is a provider actor over a fakeProvider that answers 429 while overloaded is
// set, and the channel its results arrive on.
type providerSetup struct {
	sys        *actor.ActorSystem
	pid, reply *actor.PID
	fake       *fakeProvider
	stats      *ProviderStats
	overloaded atomic.Bool
	results    chan *providerResult
	next       uint64
}

func setupProvider(t *testing.T, ceiling int, fixed bool) *providerSetup {
	t.Helper()
	s := &providerSetup{sys: actor.NewActorSystem(), stats: &ProviderStats{}, results: make(chan *providerResult, 1000)}
	s.fake = &fakeProvider{CompleteFunc: func(ctx context.Context, _ *llm.Request, _ int) (*llm.Response, error) {
		if s.overloaded.Load() {
			return nil, &llm.Error{Kind: llm.KindRateLimited, Status: 429, Message: "slow down"}
		}
		time.Sleep(time.Millisecond) // let calls overlap
		return &llm.Response{Text: "{}"}, nil
	}}
	cfg := ProviderConfig{Name: "fake", Concurrency: ceiling, Fixed: fixed, Retry: llm.RetryPolicy{Retries: -1}}
	s.pid = s.sys.Root.Spawn(actor.PropsFromProducer(newProviderActor(cfg, s.fake, time.Now, s.stats, nil)))
	s.reply = s.sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*providerResult); ok {
			s.results <- r
		}
	}))
	t.Cleanup(func() { s.sys.Shutdown() })
	return s
}

// run sends n calls at once and waits for their results; it returns how many failed.
func (s *providerSetup) run(t *testing.T, n int) int {
	t.Helper()
	for range n {
		s.next++
		s.sys.Root.Send(s.pid, &providerCall{ID: s.next, Ctx: context.Background(), Req: &llm.Request{Model: "m"}, ReplyTo: s.reply})
	}
	failed := 0
	for range n {
		select {
		case r := <-s.results:
			if r.Err != nil {
				failed++
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no result from the provider actor")
		}
	}
	return failed
}

func (s *providerSetup) limit() int { return int(s.stats.limit.Load()) }

func TestProviderLimitAdapts(t *testing.T) {
	s := setupProvider(t, 8, false)
	require.Zero(t, s.run(t, 40))
	require.Equal(t, 8, s.limit(), "successes keep the ceiling")

	// one 429 at a time: each started after the previous decrease, so each halves
	s.overloaded.Store(true)
	want := []int{4, 2, 1, 1}
	for i, w := range want {
		require.Equal(t, 1, s.run(t, 1))
		require.Equal(t, w, s.limit(), "after 429 number %d", i+1)
	}
	require.Equal(t, int64(1), s.stats.minLimit.Load())

	// 1+2+...+7 = 28 successes lift it back to 8; 60 leave room for rounding
	s.overloaded.Store(false)
	require.Zero(t, s.run(t, 60))
	require.Equal(t, 8, s.limit(), "successes recover the ceiling")
	require.LessOrEqual(t, s.fake.max(), 8, "never above the ceiling")
	require.LessOrEqual(t, int(s.stats.maxInflight.Load()), 8)
}

func TestProviderLimitFixed(t *testing.T) {
	s := setupProvider(t, 8, true)
	s.overloaded.Store(true)
	for range 4 {
		require.Equal(t, 1, s.run(t, 1))
	}
	require.Equal(t, 8, s.limit(), "provider_adaptive=false keeps the ceiling")
}

func TestProviderLimitBoundsInflight(t *testing.T) {
	s := setupProvider(t, 8, false)
	s.overloaded.Store(true)
	for range 3 {
		require.Equal(t, 1, s.run(t, 1))
	}
	require.Equal(t, 1, s.limit())
	// at a limit of 1 the second call waits for the first (whose success lifts the limit to
	// 2); with the ceiling of 8 both would run at once
	s.overloaded.Store(false)
	require.Zero(t, s.run(t, 2))
	require.Equal(t, 1, s.fake.max())
}

func TestProviderWaitsWhenBudgetSpent(t *testing.T) {
	s := setupProvider(t, 8, false)
	var firstDone, secondStart atomic.Int64
	s.fake.CompleteFunc = func(_ context.Context, _ *llm.Request, n int) (*llm.Response, error) {
		if n == 1 {
			defer func() { firstDone.Store(time.Now().UnixNano()) }()
			return &llm.Response{Text: "{}", RateLimit: &llm.RateLimit{RemainingRequests: 0, Reset: 300 * time.Millisecond}}, nil
		}
		secondStart.Store(time.Now().UnixNano())
		return &llm.Response{Text: "{}"}, nil
	}
	require.Zero(t, s.run(t, 1))
	require.Zero(t, s.run(t, 1))
	// a lower bound, not a speed: the second call may not start before the budget refills
	require.GreaterOrEqual(t, time.Duration(secondStart.Load()-firstDone.Load()), 300*time.Millisecond)
	require.Equal(t, 8, s.limit(), "a spent budget is a pause, not overload")
}
