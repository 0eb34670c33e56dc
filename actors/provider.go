package actors

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"

	"github.com/entity-enricher/enricher/transport/llm"
)

// ProviderConfig sets one provider actor's limits.
type ProviderConfig struct {
	Name        string
	Concurrency int // the ceiling of calls in flight; default 8
	// Fixed turns adaptation off: the limit stays at Concurrency (limiter.go). Default false:
	// the limit adapts between 1 and Concurrency.
	Fixed    bool
	Retry    llm.RetryPolicy
	Timeout  time.Duration // one try; default 120s
	OnRetry  func(provider string, try int, delay time.Duration)
	Observer Observer // default: none
	// Budgets are the models' rate limits by model key ("openai::gpt-4o"), from the models
	// file: a call waits in the queue until its model's budgets hold it (budget.go). Models
	// without one are sent as capacity allows.
	Budgets map[string]Budget
}

// providerActor serialises access to one provider: at most its limiter's limit of calls in
// flight (adaptive between 1 and Concurrency, limiter.go), a FIFO
// queue of waiting calls (a call whose model's budget is spent waits and lets calls of other
// models pass, budget.go), a cool-down after a Retry-After or an answer reporting no requests
// left in the account's window (llm.RateLimit), and transport retries with backoff
// (llm.RetryPolicy). It never refuses a call: the queue is bounded before calls are made, by
// the provider's gate (gate.go: batches start entities only within provider_queue, admission
// refuses new jobs past it), and a waiting call leaves when its caller's ctx ends. HTTP calls
// run in goroutines; their contexts come from the callers, so stopping a caller aborts its
// request. With a cluster-wide cap (cluster_provider_concurrency) a call also needs one of
// the permits its keeper lends (permits.go): the actor posts its demand to the keeper and
// gives back permits it no longer needs, without blocking; grants arrive as messages.
type providerActor struct {
	cfg       ProviderConfig
	provider  llm.Provider
	now       func() time.Time
	inflight  int
	queue     []*providerCall
	coolUntil time.Time
	waking    bool
	wakeAt    time.Time // when the pending wake arrives (when waking)
	budgets   *budgets
	timers    *scheduler.TimerScheduler
	stats     *ProviderStats
	limiter   *limiter
	// share is this node's part of the provider's calls in flight: all of them on its own,
	// or the permits lent under a cluster-wide cap (permits.go).
	share providerShare
}

// ProviderStats are counters a provider actor keeps for tests and metrics. Read them only
// through the engine.
type ProviderStats struct {
	maxInflight atomic.Int64
	queued      atomic.Int64 // calls waiting now
	maxQueued   atomic.Int64 // most calls ever waiting
	limit       atomic.Int64 // the limiter's limit now
	minLimit    atomic.Int64 // the lowest limit so far
	ceiling     atomic.Int64 // the limiter's ceiling (provider_concurrency)
}

// newProviderActor returns the producer of a provider actor. now must be the real clock: it
// times cool-downs against real timers.
// permits is nil without a cluster-wide cap.
func newProviderActor(cfg ProviderConfig, p llm.Provider, now func() time.Time, stats *ProviderStats, permits *permitKeeper) actor.Producer {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 120 * time.Second
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	stats.limit.Store(int64(cfg.Concurrency))
	stats.minLimit.Store(int64(cfg.Concurrency))
	stats.ceiling.Store(int64(cfg.Concurrency))
	return func() actor.Actor {
		var share providerShare = localShare{}
		if permits != nil {
			share = &permitShare{keeper: permits, keep: cfg.Concurrency}
		}
		return &providerActor{cfg: cfg, provider: p, now: now, stats: stats, limiter: newLimiter(cfg.Concurrency, !cfg.Fixed),
			budgets: newBudgets(cfg.Budgets, now()), share: share}
	}
}

func (a *providerActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.timers = scheduler.NewTimerScheduler(c.ActorSystem().Root)
		a.cfg.Observer.ProviderLimit(a.cfg.Name, a.limiter.Limit(), a.limiter.Ceiling())
	case *permitsGranted:
		a.share.lend(m.n, m.keep)
		a.pump(c)
	case *providerCall:
		a.queue = append(a.queue, m)
		a.pump(c)
	case *tryDone:
		a.inflight--
		outcome := "success"
		if m.err != nil {
			outcome = string(llm.KindOf(m.err))
		}
		a.cfg.Observer.LLMCall(a.cfg.Name, m.call.model(), outcome, a.now().Sub(m.call.start))
		a.settle(m)
		a.observe(m)
		a.finish(c, m)
		a.pump(c)
	case *requeue:
		a.queue = append([]*providerCall{m.call}, a.queue...)
		a.pump(c)
	case *wake:
		if !a.now().Before(a.wakeAt) {
			a.waking = false
		}
		a.pump(c)
	}
}

// pump starts queued calls while capacity allows and no cool-down is in force: in queue
// order, passing over calls whose model's budget is spent (they keep their order among
// themselves). When nothing can start for a cool-down or a budget, a timer wakes the actor.
func (a *providerActor) pump(c actor.Context) {
	defer func() {
		n := int64(len(a.queue))
		a.stats.queued.Store(n)
		if n > a.stats.maxQueued.Load() {
			a.stats.maxQueued.Store(n)
		}
		a.cfg.Observer.ProviderLoad(a.cfg.Name, a.inflight, len(a.queue))
		a.settlePermits()
	}()
	for a.inflight < a.capacity() && len(a.queue) > 0 {
		now := a.now()
		if wait := a.coolUntil.Sub(now); wait > 0 {
			a.wake(c, wait)
			return
		}
		i, wait := a.next(now)
		if i < 0 {
			a.wake(c, wait)
			return
		}
		call := a.queue[i]
		if i == 0 {
			a.queue[0] = nil
			a.queue = a.queue[1:]
		} else {
			n := copy(a.queue[i:], a.queue[i+1:])
			a.queue[i+n] = nil
			a.queue = a.queue[:i+n]
		}
		if err := call.Ctx.Err(); err != nil {
			c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: err, Tries: call.tries})
			continue
		}
		call.reserved = llm.EstimateTokens(call.Req)
		a.budgets.take(call.model(), call.reserved, now)
		a.inflight++
		if int64(a.inflight) > a.stats.maxInflight.Load() {
			a.stats.maxInflight.Store(int64(a.inflight))
		}
		call.tries++
		call.start = a.now()
		req := *call.Req // each try gets its own copy, numbered for the simulator
		if req.Hints != nil {
			h := *req.Hints
			h.Try = call.tries
			req.Hints = &h
		}
		self, root, p, timeout := c.Self(), c.ActorSystem().Root, a.provider, a.cfg.Timeout
		go func() {
			var (
				resp *llm.Response
				err  error
			)
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("provider panic: %v", r)
				}
				root.Send(self, &tryDone{call: call, resp: resp, err: err})
			}()
			ctx, cancel := context.WithTimeout(call.Ctx, timeout)
			defer cancel()
			resp, err = p.Complete(ctx, &req)
			if err != nil && ctx.Err() == context.DeadlineExceeded && call.Ctx.Err() == nil {
				err = &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("no answer within %s", timeout), Err: err}
			}
		}()
	}
}

// capacity is the number of calls that may be in flight now: the limiter's limit, within
// this node's share (permits.go).
func (a *providerActor) capacity() int { return a.share.capacity(a.limiter.Limit()) }

// settlePermits tells the share how many calls could run now (in flight and queued, within
// the limiter's limit; only those in flight during a cool-down). Never blocks.
func (a *providerActor) settlePermits() {
	want := a.inflight + len(a.queue)
	if a.coolUntil.After(a.now()) {
		want = a.inflight
	}
	a.share.settle(min(want, a.limiter.Limit()), a.inflight)
}

// next is the index of the first queued call that may start at now: a cancelled one (it
// leaves at once) or one its model's budgets hold; -1 and the shortest wait when none.
func (a *providerActor) next(now time.Time) (int, time.Duration) {
	if a.budgets.none() {
		return 0, 0
	}
	shortest := time.Duration(-1)
	var held map[string]bool // models already found waiting: their later calls wait too
	for i, call := range a.queue {
		if call.Ctx.Err() != nil {
			return i, 0
		}
		model := call.model()
		if held[model] {
			continue
		}
		w := a.budgets.wait(model, llm.EstimateTokens(call.Req), now)
		if w <= 0 {
			return i, 0
		}
		if held == nil {
			held = map[string]bool{}
		}
		held[model] = true
		if shortest < 0 || w < shortest {
			shortest = w
		}
	}
	return -1, shortest
}

// wake has the timer send a wake after d, unless one is due by then.
func (a *providerActor) wake(c actor.Context, d time.Duration) {
	at := a.now().Add(d)
	if a.waking && !a.wakeAt.After(at) {
		return
	}
	a.waking, a.wakeAt = true, at
	a.timers.SendOnce(d, c.Self(), &wake{})
}

// settle closes a finished try's token reservation against the usage its answer reported.
func (a *providerActor) settle(m *tryDone) {
	used := 0
	if m.err == nil && m.resp != nil {
		used = m.resp.Usage.InputTokens + m.resp.Usage.OutputTokens
	}
	a.budgets.settle(m.call.model(), m.call.reserved, used, a.now())
	m.call.reserved = 0
}

// observe feeds a finished try to the limiter and publishes a changed limit. A caller that
// gave up (its ctx ended) says nothing about the provider.
func (a *providerActor) observe(m *tryDone) {
	if m.err != nil && m.call.Ctx.Err() != nil {
		return
	}
	before := a.limiter.Limit()
	a.limiter.Observe(m.call.start, a.now(), m.err)
	limit := a.limiter.Limit()
	if limit == before {
		return
	}
	a.stats.limit.Store(int64(limit))
	if int64(limit) < a.stats.minLimit.Load() {
		a.stats.minLimit.Store(int64(limit))
	}
	a.cfg.Observer.ProviderLimit(a.cfg.Name, limit, a.limiter.Ceiling())
}

// finish answers a finished try, or schedules its retry.
func (a *providerActor) finish(c actor.Context, m *tryDone) {
	call := m.call
	elapsed := a.now().Sub(call.start)
	if m.err == nil {
		if rl := m.resp.RateLimit; rl != nil {
			a.report(call.model(), rl)
		}
		c.Send(call.ReplyTo, &providerResult{ID: call.ID, Resp: m.resp, Tries: call.tries, Elapsed: elapsed})
		return
	}
	err := m.err
	if call.Ctx.Err() != nil {
		err = call.Ctx.Err()
	}
	delay, retry := a.cfg.Retry.Delay(call.tries, err, rand.Float64())
	if retry && a.cfg.Retry.MaxTotalWait > 0 && call.waited+delay > a.cfg.Retry.MaxTotalWait {
		retry = false
	}
	var le *llm.Error
	if errors.As(err, &le) && le.RetryAfter > 0 {
		a.coolUntil = later(a.coolUntil, a.now().Add(min(le.RetryAfter, a.cfg.Retry.MaxRetryAfter)))
	}
	if !retry {
		c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: err, Tries: call.tries, Elapsed: elapsed})
		return
	}
	call.waited += delay
	if a.cfg.OnRetry != nil {
		a.cfg.OnRetry(a.cfg.Name, call.tries, delay)
	}
	c.Send(call.ReplyTo, &providerRetry{ID: call.ID, Try: call.tries, Err: err, Delay: delay})
	a.timers.SendOnce(delay, c.Self(), &requeue{call: call})
}

// report applies a vendor's rate-limit report sent with an answer. A model with a budget of
// its own takes the report into its buckets, which then hold calls only as long as needed;
// otherwise a spent budget (0 requests or tokens left) starts nothing until its reset, rather
// than collect a 429 for every call started meanwhile. (A vendor's reset is the time until
// the budget is whole again, far longer than until the next call fits a continuously
// refilling bucket: hence the budgets in the models file.)
func (a *providerActor) report(model string, rl *llm.RateLimit) {
	now := a.now()
	requests, tokens := a.budgets.report(model, rl, now)
	if !requests && rl.RemainingRequests == 0 && rl.Reset > 0 {
		a.coolUntil = later(a.coolUntil, now.Add(min(rl.Reset, a.cfg.Retry.MaxRetryAfter)))
	}
	if t := rl.Tokens; !tokens && t != nil && t.Remaining == 0 && t.Reset > 0 {
		a.coolUntil = later(a.coolUntil, now.Add(min(t.Reset, a.cfg.Retry.MaxRetryAfter)))
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
