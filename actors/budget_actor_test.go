package actors

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// TestProviderBudgetAvoids429 runs a provider actor against a sim token-bucket account of
// 12,000 tokens per minute (200 a second) that refuses without Retry-After, with calls of
// 96 tokens: the bucket holds 125 of them and refills about two a second, so 128 calls need
// more than the bucket and the last must wait for its refill (about 1.5 s). With the model's tpm in its budget
// none is refused; without it (the control) the account refuses some.
func TestProviderBudgetAvoids429(t *testing.T) {
	const calls = 128
	for _, tt := range []struct {
		name    string
		budgets map[string]Budget
		want429 bool
	}{
		{"with the model's tpm budget", map[string]Budget{"sim::bucket": {TPM: 12000}}, false},
		{"without a budget", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := sim.New(sim.Config{Profiles: map[string]sim.Profile{"bucket": {TPM: 12000, NoRetryAfter: true}}})
			refused := &countingObserver{}
			sys := actor.NewActorSystem()
			t.Cleanup(sys.Shutdown)
			stats := &ProviderStats{}
			cfg := ProviderConfig{Name: "sim", Concurrency: 8, Budgets: tt.budgets, Observer: refused,
				Retry: llm.RetryPolicy{Retries: -1}} // a 429 fails its call
			pid := sys.Root.Spawn(actor.PropsFromProducer(newProviderActor(cfg, p, time.Now, stats, nil)))
			results := make(chan *providerResult, calls)
			reply := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
				if r, ok := c.Message().(*providerResult); ok {
					results <- r
				}
			}))
			schema := []byte(`{"type":"object","properties":{}}`)
			for i := range calls {
				// 380 bytes of prompt (95 tokens) plus the schema (9) and an answer cap of 8: an
				// estimate of 112 tokens, of which 96 are used (95 of prompt, 1 of answer)
				msg := fmt.Sprintf("%-380s", fmt.Sprintf("entity %d", i))
				sys.Root.Send(pid, &providerCall{ID: uint64(i), Ctx: context.Background(), ReplyTo: reply,
					Req: &llm.Request{Model: "bucket", Schema: schema, MaxTokens: 8, Messages: []llm.Message{{Role: "user", Content: msg}},
						Hints: &llm.Hints{CallKind: "enrichment", ModelKey: "sim::bucket", Entity: map[string]any{"name": strings.TrimSpace(msg)},
							Attempt: 1, Try: 1}}})
			}
			for range calls {
				select {
				case r := <-results:
					if !tt.want429 {
						require.NoError(t, r.Err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("no result from the provider actor")
				}
			}
			if tt.want429 {
				require.Positive(t, refused.refused(), "the control must meet the account's limit")
				return
			}
			require.Zero(t, refused.refused(), "a call that waits for its budget is not refused")
			require.Equal(t, calls, refused.tries(), "one try a call")
		})
	}
}

// countingObserver counts a provider's tries and those answered 429.
type countingObserver struct {
	nopObserver
	mu               sync.Mutex
	triesN, refusedN int
}

func (o *countingObserver) LLMCall(_, _, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.triesN++
	if outcome == string(llm.KindRateLimited) {
		o.refusedN++
	}
}

func (o *countingObserver) tries() int   { o.mu.Lock(); defer o.mu.Unlock(); return o.triesN }
func (o *countingObserver) refused() int { o.mu.Lock(); defer o.mu.Unlock(); return o.refusedN }

// TestProviderBudgetPassesHeldModel checks that a call whose model's budget is spent waits
// without holding up the calls of other models queued behind it.
func TestProviderBudgetPassesHeldModel(t *testing.T) {
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	fake := &fakeProvider{CompleteFunc: func(context.Context, *llm.Request, int) (*llm.Response, error) {
		return &llm.Response{Text: "{}"}, nil
	}}
	cfg := ProviderConfig{Name: "fake", Concurrency: 4, Retry: llm.RetryPolicy{Retries: -1},
		Budgets: map[string]Budget{"fake::a": {RPM: 1}}} // one call a minute
	pid := sys.Root.Spawn(actor.PropsFromProducer(newProviderActor(cfg, fake, time.Now, &ProviderStats{}, nil)))
	results := make(chan *providerResult, 4)
	reply := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*providerResult); ok {
			results <- r
		}
	}))
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	send := func(id uint64, model string) {
		ctx := context.Background()
		if id == 2 {
			ctx = ctx2
		}
		sys.Root.Send(pid, &providerCall{ID: id, Ctx: ctx, ReplyTo: reply,
			Req: &llm.Request{Model: model, Messages: []llm.Message{{Role: "user", Content: "x"}}, Hints: &llm.Hints{ModelKey: model}}})
	}
	send(1, "fake::a") // takes the minute's budget
	send(2, "fake::a") // waits about a minute
	send(3, "fake::b") // no budget: passes it
	var got []uint64
	for range 2 {
		select {
		case r := <-results:
			require.NoError(t, r.Err)
			got = append(got, r.ID)
		case <-time.After(10 * time.Second):
			t.Fatalf("calls %v answered; the unbudgeted model's call is stuck behind the held one", got)
		}
	}
	require.ElementsMatch(t, []uint64{1, 3}, got)
	select {
	case r := <-results:
		t.Fatalf("call %d was sent before its model's budget refilled", r.ID)
	case <-time.After(100 * time.Millisecond):
	}
	// a held call whose caller gave up leaves at the next pump, not when the budget refills
	cancel2()
	send(4, "fake::b")
	errs := map[uint64]error{}
	for range 2 {
		select {
		case r := <-results:
			errs[r.ID] = r.Err
		case <-time.After(10 * time.Second):
			t.Fatalf("the cancelled held call did not leave: answered %v", errs)
		}
	}
	require.ErrorIs(t, errs[2], context.Canceled)
	require.NoError(t, errs[4])
}
