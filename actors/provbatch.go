package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// provBatchConfig is what a provider batch collector starts with. Read-only.
type provBatchConfig struct {
	Model    string      // the model key; every call it gets is of this model
	Provider string      // the model's provider, for logs
	Batcher  llm.Batcher // the provider's batch API
	// Realtime is the model's provider actor: calls still open when Window has passed go
	// there.
	Realtime *actor.PID
	Retry    llm.RetryPolicy
	// Poll is the interval between two looks at an open vendor batch; Window how long a
	// vendor batch may take before it is cancelled; Linger how long the collector waits
	// for more calls after the last one came before it submits; Max the most requests of
	// one vendor batch; Timeout bounds one call of the batch API.
	Poll, Window, Linger, Timeout time.Duration
	Max                           int
	// Attached are the job's vendor batches of this model submitted before a restart.
	Attached []submittedBatch
	// Observer counts each request's outcome in a vendor batch as one provider try (the
	// metrics of realtime calls), its duration from the batch's submit.
	Observer Observer
	// Cancels counts the goroutines of vendor cancels, which may outlive the collector: the
	// Engine's, waited for by Stop.
	Cancels *sync.WaitGroup
	Now     func() time.Time
	Log     *slog.Logger
}

// submittedBatch is a vendor batch read back from its stored provider_batch_submitted.
type submittedBatch struct {
	ID        string
	CustomIDs []string
	At        time.Time
}

// vendorBatch is what a collector knows of one of its vendor batches.
type vendorBatch struct {
	id      string
	at      time.Time                // submitted
	waiting map[string]*providerCall // calls waiting for their result, by custom id
	// attached is a batch submitted before a restart; its results that no call claimed yet
	// wait in unclaimed for the calls re-issued after the restart.
	attached  bool
	unclaimed map[string]llm.BatchResult
	polling   bool // a look is scheduled or running
	ended     bool // the vendor reported it ended (its results were read or are being read)
	gone      bool // the vendor no longer knows it, or it was abandoned past the window
	last      llm.BatchState
}

// provBatchActor is a provider batch collector: in a batch job with execution
// provider_batch, the calls of one model come to it instead of to the model's provider
// actor, with the same messages (providerCall; replies providerRetry, providerResult), so the
// actors that make calls do not know the difference. It gathers calls and submits them as one
// vendor batch when Linger passed without a new call (or at once at Max calls), then looks
// at the batch every Poll until the vendor reports it ended and answers each waiting call
// from its result. Calls that come after a submit (validation retries, follow-up steps, the
// retries of failed requests) go into the next vendor batch. A vendor batch still open when
// Window has passed is cancelled and its open calls go to the realtime provider actor.
//
// Every call of the batch API runs in a goroutine owned by the collector (its context ends
// when the collector stops) and reports back by message; Receive never blocks. It writes
// nothing itself: its events (provider_batch_submitted, _progress, _ended) go to its parent
// batch actor, which numbers and stores them. Stopping it leaves the vendor batches running
// (a restart re-attaches to them); cancelProviderBatches cancels them.
type provBatchActor struct {
	cfg    provBatchConfig
	ctx    context.Context
	cancel context.CancelFunc
	timers *scheduler.TimerScheduler

	pending      []*providerCall // calls waiting for the next submit
	pendingSince time.Time
	lastArrival  time.Time
	flushArmed   bool
	batches      map[string]*vendorBatch
	claims       map[string]*vendorBatch // custom ids of attached batches not yet claimed
	cancelled    bool
}

func newProvBatchActor(cfg provBatchConfig) actor.Producer {
	return func() actor.Actor {
		return &provBatchActor{cfg: cfg, batches: map[string]*vendorBatch{}, claims: map[string]*vendorBatch{}}
	}
}

func (a *provBatchActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.ctx, a.cancel = context.WithCancel(context.Background())
		a.timers = scheduler.NewTimerScheduler(c.ActorSystem().Root)
		for _, sb := range a.cfg.Attached {
			vb := &vendorBatch{id: sb.ID, at: sb.At, waiting: map[string]*providerCall{}, attached: true,
				unclaimed: map[string]llm.BatchResult{}}
			a.batches[sb.ID] = vb
			for _, id := range sb.CustomIDs {
				a.claims[id] = vb // a later batch holding the same id wins: it is the newer try
			}
		}
	case *actor.Stopping:
		if a.cancel != nil {
			a.cancel()
		}
	case *providerCall:
		a.arrive(c, m)
	case *pbRequeue:
		a.enqueue(c, m.call)
	case *pbFlush:
		a.flush(c)
	case *pbSubmitted:
		a.submitted(c, m)
	case *pbPoll:
		a.poll(c, m.id)
	case *pbPolled:
		a.polled(c, m)
	case *pbResults:
		a.resultsRead(c, m)
	case *cancelProviderBatches:
		a.cancelAll(c)
	}
}

// customID is the id of call's try in a vendor batch: its key in the job, its attempt
// (answers asked so far) and try (of this attempt). Deterministic, so a call re-issued after
// a restart finds its request in a vendor batch submitted before.
func customID(call *providerCall, try int) string {
	attempt := 0
	if h := call.Req.Hints; h != nil {
		attempt = h.Attempt
	}
	key := call.Key
	if key == "" {
		key = "c" + strconv.FormatUint(call.ID, 10)
	}
	return fmt.Sprintf("%s-a%d-t%d", key, attempt, try)
}

// arrive takes a new call: it waits for the attached vendor batch holding its custom id, or
// for the next submit.
func (a *provBatchActor) arrive(c actor.Context, call *providerCall) {
	if err := call.Ctx.Err(); err != nil {
		c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: err, Tries: call.tries})
		return
	}
	if a.cancelled {
		c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: context.Canceled, Tries: call.tries})
		return
	}
	id := customID(call, call.tries+1)
	if vb := a.claims[id]; vb != nil {
		delete(a.claims, id)
		if r, ok := vb.unclaimed[id]; ok {
			delete(vb.unclaimed, id)
			call.tries++
			a.answer(c, vb, call, r)
			return
		}
		if !vb.ended && !vb.gone { // still at the vendor: wait for it
			call.tries++
			vb.waiting[id] = call
			a.schedulePoll(c, vb, a.cfg.Linger)
			return
		}
	}
	a.enqueue(c, call)
}

// enqueue puts call among the calls of the next submit.
func (a *provBatchActor) enqueue(c actor.Context, call *providerCall) {
	if a.cancelled {
		c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: context.Canceled, Tries: call.tries})
		return
	}
	now := a.cfg.Now()
	if len(a.pending) == 0 {
		a.pendingSince = now
	}
	a.pending = append(a.pending, call)
	a.lastArrival = now
	if len(a.pending) >= a.cfg.Max {
		a.submit(c)
		return
	}
	if !a.flushArmed {
		a.flushArmed = true
		a.timers.SendOnce(a.cfg.Linger, c.Self(), &pbFlush{})
	}
}

// flush submits the pending calls once Linger passed without a new one, or once the oldest
// waited ten lingers (calls that keep coming do not hold a submit back for ever).
func (a *provBatchActor) flush(c actor.Context) {
	a.flushArmed = false
	if len(a.pending) == 0 {
		return
	}
	now := a.cfg.Now()
	quiet := now.Sub(a.lastArrival)
	if quiet >= a.cfg.Linger || now.Sub(a.pendingSince) >= 10*a.cfg.Linger {
		a.submit(c)
		return
	}
	a.flushArmed = true
	a.timers.SendOnce(a.cfg.Linger-quiet, c.Self(), &pbFlush{})
}

// submit sends up to Max pending calls as one vendor batch (in a goroutine).
func (a *provBatchActor) submit(c actor.Context) {
	n := min(len(a.pending), a.cfg.Max)
	take := a.pending[:n]
	a.pending = append([]*providerCall(nil), a.pending[n:]...)
	if len(a.pending) > 0 {
		a.pendingSince = a.cfg.Now()
		if !a.flushArmed {
			a.flushArmed = true
			a.timers.SendOnce(a.cfg.Linger, c.Self(), &pbFlush{})
		}
	}
	calls := make([]*providerCall, 0, n)
	ids := make([]string, 0, n)
	reqs := make([]llm.BatchRequest, 0, n)
	seen := map[string]bool{}
	for _, call := range take {
		if err := call.Ctx.Err(); err != nil {
			c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: err, Tries: call.tries})
			continue
		}
		call.tries++
		id := customID(call, call.tries)
		if seen[id] { // cannot happen with distinct call keys; never send a vendor duplicates
			id += "-" + strconv.FormatUint(call.ID, 10)
		}
		seen[id] = true
		calls, ids = append(calls, call), append(ids, id)
		reqs = append(reqs, llm.BatchRequest{CustomID: id, Request: call.Req})
	}
	if len(calls) == 0 {
		return
	}
	b, timeout := a.cfg.Batcher, a.cfg.Timeout
	a.run(c, func(ctx context.Context) any {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		id, err := b.SubmitBatch(ctx, reqs)
		return &pbSubmitted{calls: calls, ids: ids, id: id, err: err}
	}, func(err error) any { return &pbSubmitted{calls: calls, ids: ids, err: err} })
}

// run runs fn in a goroutine under the collector's context and sends its message back;
// a panic becomes the message of onPanic.
func (a *provBatchActor) run(c actor.Context, fn func(context.Context) any, onPanic func(error) any) {
	self, root, ctx := c.Self(), c.ActorSystem().Root, a.ctx
	go func() {
		var msg any
		defer func() {
			if r := recover(); r != nil {
				msg = onPanic(fmt.Errorf("batch API panic: %v", r))
			}
			root.Send(self, msg)
		}()
		msg = fn(ctx)
	}()
}

func (a *provBatchActor) submitted(c actor.Context, m *pbSubmitted) {
	if m.err != nil {
		a.cfg.Log.Warn("vendor batch submit failed", "model", a.cfg.Model, "requests", len(m.calls), "err", m.err)
		for _, call := range m.calls {
			a.failed(c, call, m.err)
		}
		return
	}
	vb := &vendorBatch{id: m.id, at: a.cfg.Now(), waiting: make(map[string]*providerCall, len(m.calls))}
	for i, call := range m.calls {
		vb.waiting[m.ids[i]] = call
	}
	a.batches[m.id] = vb
	a.notify(c, enricher.EventProviderBatchSubmitted, enricher.ProviderBatchSubmittedEvent{Model: a.cfg.Model,
		ProviderBatchID: m.id, Requests: len(m.ids), CustomIDs: m.ids})
	if a.cancelled { // the job was cancelled while this submit was on its way
		a.cancelVendor(vb)
	}
	a.schedulePoll(c, vb, a.cfg.Poll)
}

// failed applies the retry rules of a realtime call to a failed request: a retryable
// failure is reported (providerRetry) and the call goes into the next vendor batch after the
// backoff; any other ends the call.
func (a *provBatchActor) failed(c actor.Context, call *providerCall, err error) {
	if cerr := call.Ctx.Err(); cerr != nil {
		c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: cerr, Tries: call.tries})
		return
	}
	delay, retry := a.cfg.Retry.Delay(call.tries, err, rand.Float64())
	if retry && a.cfg.Retry.MaxTotalWait > 0 && call.waited+delay > a.cfg.Retry.MaxTotalWait {
		retry = false
	}
	if !retry || a.cancelled {
		c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: err, Tries: call.tries})
		return
	}
	call.waited += delay
	c.Send(call.ReplyTo, &providerRetry{ID: call.ID, Try: call.tries, Err: err, Delay: delay})
	a.timers.SendOnce(delay, c.Self(), &pbRequeue{call: call})
}

// schedulePoll has the timer look at vb after d, unless a look is already on its way.
func (a *provBatchActor) schedulePoll(c actor.Context, vb *vendorBatch, d time.Duration) {
	if vb.polling || vb.gone {
		return
	}
	vb.polling = true
	a.timers.SendOnce(d, c.Self(), &pbPoll{id: vb.id})
}

// poll asks the vendor for vb's state (in a goroutine), or, when it has ended, for its
// results. A batch no call waits for any more (their contexts ended) is no longer looked at
// (an attached one until a call claims one of its ids), but stays known: when the job is
// cancelled, cancelAll cancels it at the vendor whichever came first, the job's cancel or its
// calls' ends. At shutdown it stays open at the vendor, for the restart to re-attach.
func (a *provBatchActor) poll(c actor.Context, id string) {
	vb := a.batches[id]
	if vb == nil || vb.gone {
		return
	}
	for cid, call := range vb.waiting {
		if err := call.Ctx.Err(); err != nil {
			delete(vb.waiting, cid)
			c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: err, Tries: call.tries})
		}
	}
	if len(vb.waiting) == 0 {
		vb.polling = false
		return
	}
	b, timeout := a.cfg.Batcher, a.cfg.Timeout
	if vb.ended { // its results could not be read last time
		a.readResults(c, vb)
		return
	}
	a.run(c, func(ctx context.Context) any {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		st, err := b.Batch(ctx, id)
		return &pbPolled{id: id, state: st, err: err}
	}, func(err error) any { return &pbPolled{id: id, err: err} })
}

func (a *provBatchActor) polled(c actor.Context, m *pbPolled) {
	vb := a.batches[m.id]
	if vb == nil {
		return
	}
	vb.polling = false
	if m.err != nil {
		if llm.KindOf(m.err) == llm.KindNotFound { // the vendor lost it: its calls go again
			a.cfg.Log.Warn("vendor batch unknown to the vendor; its calls are submitted again", "model", a.cfg.Model, "provider_batch_id", m.id)
			vb.gone = true
			delete(a.batches, m.id)
			for _, call := range vb.waiting {
				call.tries--
				a.enqueue(c, call)
			}
			return
		}
		a.cfg.Log.Warn("vendor batch state unreadable; looking again later", "model", a.cfg.Model, "provider_batch_id", m.id, "err", m.err)
		a.schedulePoll(c, vb, a.cfg.Poll)
		return
	}
	st := *m.state
	if st.Status != vb.last.Status || st.Succeeded != vb.last.Succeeded || st.Failed != vb.last.Failed || st.Total != vb.last.Total {
		vb.last = st
		typ := enricher.EventProviderBatchProgress
		if st.Ended {
			typ = enricher.EventProviderBatchEnded
		}
		a.notify(c, typ, enricher.ProviderBatchProgressEvent{Model: a.cfg.Model, ProviderBatchID: m.id, Status: st.Status,
			Succeeded: st.Succeeded, Failed: st.Failed, Total: st.Total})
	} else if st.Ended {
		a.notify(c, enricher.EventProviderBatchEnded, enricher.ProviderBatchProgressEvent{Model: a.cfg.Model, ProviderBatchID: m.id,
			Status: st.Status, Succeeded: st.Succeeded, Failed: st.Failed, Total: st.Total})
	}
	if st.Ended {
		vb.ended = true
		a.readResults(c, vb)
		return
	}
	if a.cfg.Now().Sub(vb.at) >= a.cfg.Window {
		a.abandon(c, vb)
		return
	}
	a.schedulePoll(c, vb, a.cfg.Poll)
}

// readResults reads the results of the ended vb (in a goroutine).
func (a *provBatchActor) readResults(c actor.Context, vb *vendorBatch) {
	vb.polling = true
	b, timeout, id := a.cfg.Batcher, a.cfg.Timeout, vb.id
	a.run(c, func(ctx context.Context) any {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var out []llm.BatchResult
		err := b.BatchResults(ctx, id, func(r llm.BatchResult) error {
			out = append(out, r)
			return nil
		})
		return &pbResults{id: id, results: out, err: err}
	}, func(err error) any { return &pbResults{id: id, err: err} })
}

// resultsRead answers the calls waiting for vb. A waiting call without a result (the batch
// failed, expired or was cancelled before its request ran) failed like a timed-out call.
func (a *provBatchActor) resultsRead(c actor.Context, m *pbResults) {
	vb := a.batches[m.id]
	if vb == nil {
		return
	}
	vb.polling = false
	if m.err != nil {
		a.cfg.Log.Warn("vendor batch results unreadable; reading again later", "model", a.cfg.Model, "provider_batch_id", m.id, "err", m.err)
		a.schedulePoll(c, vb, a.cfg.Poll)
		return
	}
	for _, r := range m.results {
		if call := vb.waiting[r.CustomID]; call != nil {
			delete(vb.waiting, r.CustomID)
			a.answer(c, vb, call, r)
		} else if vb.attached && a.claims[r.CustomID] == vb {
			vb.unclaimed[r.CustomID] = r
		}
	}
	for cid, call := range vb.waiting {
		delete(vb.waiting, cid)
		err := &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("no result in vendor batch %s (status %s)", vb.id, vb.last.Status)}
		a.observe(vb, err)
		a.failed(c, call, err)
	}
	if !vb.attached {
		delete(a.batches, m.id)
	}
}

// answer replies to call with its result r from vb.
func (a *provBatchActor) answer(c actor.Context, vb *vendorBatch, call *providerCall, r llm.BatchResult) {
	if r.Err != nil || r.Response == nil {
		err := r.Err
		if err == nil {
			err = &llm.Error{Kind: llm.KindServerError, Message: "empty result in vendor batch " + vb.id}
		}
		a.observe(vb, err)
		a.failed(c, call, err)
		return
	}
	a.observe(vb, nil)
	c.Send(call.ReplyTo, &providerResult{ID: call.ID, Resp: r.Response, Tries: call.tries, Elapsed: a.cfg.Now().Sub(vb.at), Batch: true})
}

// observe counts the outcome of one request of vb (err nil: success) as a provider try.
func (a *provBatchActor) observe(vb *vendorBatch, err error) {
	outcome := "success"
	if err != nil {
		outcome = string(llm.KindOf(err))
	}
	a.cfg.Observer.LLMCall(a.cfg.Provider, a.cfg.Model, outcome, a.cfg.Now().Sub(vb.at))
}

// abandon cancels vb, open past the window, and sends its waiting calls to the realtime
// provider actor, which answers them directly.
func (a *provBatchActor) abandon(c actor.Context, vb *vendorBatch) {
	a.cfg.Log.Warn("vendor batch still open past provider_batch_window: cancelled, its calls go realtime", "model", a.cfg.Model,
		"provider_batch_id", vb.id, "calls", len(vb.waiting))
	vb.gone = true
	a.cancelVendor(vb)
	for cid, call := range vb.waiting {
		delete(vb.waiting, cid)
		call.tries, call.waited = 0, 0
		c.Send(a.cfg.Realtime, call)
	}
	delete(a.batches, vb.id)
}

// cancelAll cancels every open vendor batch and ends the pending calls (the job is
// cancelled).
func (a *provBatchActor) cancelAll(c actor.Context) {
	a.cancelled = true
	for _, call := range a.pending {
		c.Send(call.ReplyTo, &providerResult{ID: call.ID, Err: context.Canceled, Tries: call.tries})
	}
	a.pending = nil
	for _, vb := range a.batches {
		if !vb.ended && !vb.gone {
			a.cancelVendor(vb)
		}
	}
}

// cancelVendor asks the vendor to cancel vb, in a goroutine bounded by Timeout alone and
// owned by the Engine (Cancels): the collector may stop meanwhile (its job ends), and the
// cancel must still reach the vendor.
func (a *provBatchActor) cancelVendor(vb *vendorBatch) {
	b, timeout, id, log, model := a.cfg.Batcher, a.cfg.Timeout, vb.id, a.cfg.Log, a.cfg.Model
	a.cfg.Cancels.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("vendor batch cancel panicked", "model", model, "provider_batch_id", id, "panic", r)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := b.CancelBatch(ctx, id); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("vendor batch cancel failed", "model", model, "provider_batch_id", id, "err", err)
		}
	})
}

// notify hands an event to the batch actor.
func (a *provBatchActor) notify(c actor.Context, typ string, payload any) {
	c.Send(c.Parent(), &providerBatchNotice{Type: typ, Payload: payload})
}
