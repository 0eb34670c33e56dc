package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// DefaultBatchDelay is how long a sim batch runs when its model's Profile.BatchDelayMS is 0.
const DefaultBatchDelay = 2 * time.Second

// MaxBatches bounds the batches a Provider keeps. A submit past it forgets the oldest ended
// batch, or is refused (rate_limited) when all are still running.
const MaxBatches = 1024

// The batch API of the simulator (llm.Batcher): SubmitBatch keeps the requests in memory and
// the batch ends after its model's BatchDelayMS; its results answer each request as Complete
// would (the same answer, fault and usage), without the latency, a timeout's wait or the
// rate-limited account (a vendor's batch has limits of its own). A transport fault drawn for a
// request is that request's error result. Batches live only in the process: after a restart
// every id is unknown (not_found), as the ids carry a per-process nonce. CancelBatch ends a
// running batch at once, without results.

var _ llm.Batcher = (*Provider)(nil)

// batches are a Provider's batches. Safe for concurrent use.
type batches struct {
	now   func() time.Time
	nonce string

	mu    sync.Mutex
	seq   int
	byID  map[string]*simBatch
	order []string // ids, oldest first
}

// simBatch is one batch; results are computed once, when it is first seen ended.
type simBatch struct {
	reqs      []llm.BatchRequest
	endAt     time.Time
	cancelled bool
	results   []llm.BatchResult // nil until ended (and stays nil when cancelled)
	ended     bool
}

func newBatches(now func() time.Time) *batches {
	if now == nil {
		now = time.Now
	}
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return &batches{now: now, nonce: hex.EncodeToString(b[:]), byID: map[string]*simBatch{}}
}

// SubmitBatch keeps reqs as a new batch (llm.Batcher). Errors: bad_request for no requests or
// an unknown model, rate_limited when MaxBatches are running.
func (p *Provider) SubmitBatch(ctx context.Context, reqs []llm.BatchRequest) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if len(reqs) == 0 {
		return "", &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: "batch has no requests"}
	}
	model := strings.TrimPrefix(reqs[0].Request.Model, "sim::")
	prof, ok := p.profiles[model]
	if !ok {
		return "", &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: fmt.Sprintf("unknown sim model %q", model)}
	}
	delay := DefaultBatchDelay
	if prof.BatchDelayMS > 0 {
		delay = time.Duration(prof.BatchDelayMS) * time.Millisecond
	}
	b := p.batches
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.order) >= MaxBatches && !b.evict() {
		return "", &llm.Error{Kind: llm.KindRateLimited, Status: 429, Message: fmt.Sprintf("sim: %d batches are running", MaxBatches)}
	}
	b.seq++
	id := fmt.Sprintf("simbatch_%s_%d", b.nonce, b.seq)
	b.byID[id] = &simBatch{reqs: append([]llm.BatchRequest(nil), reqs...), endAt: b.now().Add(delay)}
	b.order = append(b.order, id)
	return id, nil
}

// evict forgets the oldest ended batch; false when none has ended. b.mu is held.
func (b *batches) evict() bool {
	now := b.now()
	for i, id := range b.order {
		sb := b.byID[id]
		if sb.cancelled || !now.Before(sb.endAt) {
			delete(b.byID, id)
			b.order = append(b.order[:i], b.order[i+1:]...)
			return true
		}
	}
	return false
}

// lookup returns a snapshot of batch id, its results computed once it has ended (they are
// immutable from then on), or not_found. cancel asks a running batch to cancel first.
func (p *Provider) lookup(id string, cancel bool) (*simBatch, error) {
	b := p.batches
	b.mu.Lock()
	defer b.mu.Unlock()
	sb := b.byID[id]
	if sb == nil {
		return nil, &llm.Error{Kind: llm.KindNotFound, Status: 404, Message: "sim: no batch " + id + " (batches do not survive a restart)"}
	}
	if cancel && !sb.ended {
		sb.cancelled = true
	}
	if !sb.ended && (sb.cancelled || !b.now().Before(sb.endAt)) {
		sb.ended = true
		if !sb.cancelled {
			sb.results = make([]llm.BatchResult, 0, len(sb.reqs))
			for _, r := range sb.reqs {
				sb.results = append(sb.results, p.batchResult(r))
			}
		}
	}
	cp := *sb
	return &cp, nil
}

// batchResult answers one request as Complete would, without latency or account.
func (p *Provider) batchResult(r llm.BatchRequest) llm.BatchResult {
	_, _, resp, fault, err := p.respond(r.Request)
	if err == nil {
		err = transportError(fault)
	}
	if err != nil {
		return llm.BatchResult{CustomID: r.CustomID, Err: err}
	}
	return llm.BatchResult{CustomID: r.CustomID, Response: resp}
}

// Batch returns the state of batch id (llm.Batcher): in_progress, completed or cancelled.
func (p *Provider) Batch(ctx context.Context, id string) (*llm.BatchState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sb, err := p.lookup(id, false)
	if err != nil {
		return nil, err
	}
	st := &llm.BatchState{Status: "in_progress", Total: len(sb.reqs)}
	switch {
	case sb.cancelled:
		st.Status, st.Ended = "cancelled", true
	case sb.ended:
		st.Status, st.Ended = "completed", true
		for _, r := range sb.results {
			if r.Err != nil {
				st.Failed++
			} else {
				st.Succeeded++
			}
		}
	}
	return st, nil
}

// BatchResults calls fn with each result of the ended batch id (llm.Batcher); a running
// batch is bad_request.
func (p *Provider) BatchResults(ctx context.Context, id string, fn func(llm.BatchResult) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sb, err := p.lookup(id, false)
	if err != nil {
		return err
	}
	if !sb.ended {
		return &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: "sim: batch " + id + " has not ended"}
	}
	for _, r := range sb.results { // immutable once ended
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// CancelBatch ends batch id at once without results, unless it has already ended
// (llm.Batcher).
func (p *Provider) CancelBatch(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := p.lookup(id, true)
	return err
}
