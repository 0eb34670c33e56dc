package actors

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
)

// WebhookStore keeps webhook deliveries and organizations' signing secrets (storage.DB).
type WebhookStore interface {
	// DueWebhooks returns at most limit pending deliveries due at or before now, earliest first.
	DueWebhooks(now time.Time, limit int) ([]*enricher.WebhookDelivery, error)
	// NextWebhookDue returns the due time of the earliest pending delivery due after after.
	NextWebhookDue(after time.Time) (time.Time, bool, error)
	// UpdateWebhook stores a delivery after an attempt and moves it in the due index.
	UpdateWebhook(d *enricher.WebhookDelivery) error
	// WebhookSecret returns the sealed signing secret of org (KindNotFound when none).
	WebhookSecret(org string) (*enricher.WebhookSecret, error)
}

// WebhookSender sends one signed delivery and returns the HTTP status (transport/fetch's
// guarded Post, through cmd). Errors carry a detail safe to show to the organization.
type WebhookSender interface {
	Post(ctx context.Context, url string, header http.Header, body []byte) (int, error)
}

// WebhookConfig sets the delivery worker. Zero values mean the defaults.
type WebhookConfig struct {
	// Schedule is the wait after each failed attempt: after the first, the second, ...; the
	// last value repeats. Default 5s, 30s, 2m, 10m, 1h (then hourly).
	Schedule []time.Duration
	// MaxAge is how long after its first attempt a delivery is still tried; an attempt that
	// would start later is not made and the delivery is failed. Default 24h.
	MaxAge time.Duration
	// Concurrency is the number of attempts in flight. Default 4.
	Concurrency int
	// AttemptTimeout bounds one attempt. Default 10s.
	AttemptTimeout time.Duration
	// MaxIdle is the longest the worker sleeps without looking at the due index (it is
	// also woken when deliveries are stored). Default 1m.
	MaxIdle time.Duration
	// SealKey opens the organizations' sealed secrets (enricher.WebhookSealKey of the token
	// secret). Required when deliveries are sent.
	SealKey []byte
}

// DefaultWebhookSchedule is the retry schedule unless configured.
var DefaultWebhookSchedule = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c WebhookConfig) WithDefaults() WebhookConfig {
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultWebhookSchedule
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 10 * time.Second
	}
	if c.MaxIdle <= 0 {
		c.MaxIdle = time.Minute
	}
	return c
}

// newWebhookDelivery returns the delivery of an event (encoded as data) of job when the job
// asked for this event type, else nil. It is called by the job's owner while it emits the
// event, so the delivery is stored in the same batch as the event (at-least-once).
func newWebhookDelivery(job *enricher.Job, h *enricher.EventHeader, data []byte, log *slog.Logger) *enricher.WebhookDelivery {
	if !job.Webhook.Wants(h.Type) {
		return nil
	}
	body, err := enricher.WebhookBody(h, data)
	if err != nil {
		log.Error("webhook body encoding failed; no delivery", "job_id", job.ID, "seq", h.Seq, "err", err)
		return nil
	}
	now := enricher.NewTime(h.Timestamp)
	return &enricher.WebhookDelivery{
		ID: uuid.NewString(), OrganizationID: job.OrganizationID, JobID: job.ID, EventType: h.Type, EventSeq: h.Seq,
		URL: job.Webhook.URL, Status: enricher.WebhookPending, CreatedAt: now, NextAttemptAt: &now,
		Attempts: []enricher.WebhookAttempt{}, Body: body,
	}
}

// webhookWorker sends stored deliveries. One goroutine (run) owns it: it reads due
// deliveries from storage one bounded page at a time, starts at most Concurrency attempts
// (each in a goroutine it waits for), and alone records their outcomes. The Engine starts it
// and stops it (stop), which aborts attempts in flight without recording them: they are due
// again at the next start. Memory holds at most 2×Concurrency deliveries.
type webhookWorker struct {
	cfg    WebhookConfig
	store  WebhookStore
	sender WebhookSender
	now    func() time.Time
	log    *slog.Logger
	wake   chan struct{} // capacity 1: a pending nudge
	cancel context.CancelFunc
	done   chan struct{}
}

// attemptResult is the outcome of one attempt, sent back to the run loop.
type attemptResult struct {
	d       *enricher.WebhookDelivery
	started time.Time
	status  int
	err     error
	took    time.Duration
}

func startWebhookWorker(cfg WebhookConfig, store WebhookStore, sender WebhookSender, now func() time.Time, log *slog.Logger) *webhookWorker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &webhookWorker{cfg: cfg.WithDefaults(), store: store, sender: sender, now: now, log: log.With("component", "webhooks"),
		wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

// nudge tells the worker that deliveries were stored. It never blocks.
func (w *webhookWorker) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop aborts attempts in flight and returns once the worker and its attempts ended.
func (w *webhookWorker) stop() {
	w.cancel()
	<-w.done
}

func (w *webhookWorker) run(ctx context.Context) {
	defer close(w.done)
	conc := w.cfg.Concurrency
	inflight := make(map[string]bool, conc)
	results := make(chan attemptResult, conc) // one slot per attempt: senders never block
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(w.cfg.MaxIdle) // Reset below never delivers a stale tick (Go ≥ 1.23)
	defer timer.Stop()
	var holdUntil time.Time // no new attempt before: the store refused the last outcome
	for {
		wait := w.cfg.MaxIdle
		if hold := holdUntil.Sub(w.now()); hold > 0 {
			wait = hold
		} else if free := conc - len(inflight); free > 0 {
			due, err := w.store.DueWebhooks(w.now(), conc+len(inflight))
			if err != nil {
				w.log.Error("due webhooks unreadable", "err", err)
			}
			for _, d := range due {
				if inflight[d.ID] || free == 0 {
					continue
				}
				inflight[d.ID] = true
				free--
				wg.Add(1)
				go func() {
					defer wg.Done()
					results <- w.attempt(ctx, d)
				}()
			}
			if free > 0 && err == nil { // every due delivery is in flight: sleep until the next one
				if next, ok, err := w.store.NextWebhookDue(w.now()); err == nil && ok {
					wait = min(max(next.Sub(w.now()), time.Millisecond), w.cfg.MaxIdle)
				}
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case r := <-results:
			delete(inflight, r.d.ID)
			if ctx.Err() == nil && w.record(r) != nil {
				// The delivery is still due in the store; sending it again at once would hit the
				// receiver in a loop while storage refuses writes (low disk space).
				holdUntil = w.now().Add(webhookStoreRetry)
			}
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// attempt signs and sends d once. It recovers a panic of the sender as a failed attempt.
func (w *webhookWorker) attempt(ctx context.Context, d *enricher.WebhookDelivery) (r attemptResult) {
	r = attemptResult{d: d, started: w.now()}
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("webhook sender panicked", "job_id", d.JobID, "webhook_id", d.ID, "panic", p)
			r.err = errors.New("internal error")
		}
		r.took = w.now().Sub(r.started)
	}()
	key, err := w.signingKey(d.OrganizationID)
	if err != nil {
		r.err = err
		return r
	}
	ts := r.started.Unix()
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", "entity-enricher-webhooks")
	header.Set("webhook-id", d.ID)
	header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	header.Set("webhook-signature", enricher.SignWebhook(key, d.ID, ts, d.Body))
	actx, cancel := context.WithTimeout(ctx, w.cfg.AttemptTimeout)
	defer cancel()
	r.status, r.err = w.sender.Post(actx, d.URL, header, d.Body)
	return r
}

// signingKey returns the current key of org. A missing or unopenable secret fails the
// attempt (it is retried on the schedule, so a secret created later still signs it).
func (w *webhookWorker) signingKey(org string) ([]byte, error) {
	s, err := w.store.WebhookSecret(org)
	if enricher.IsKind(err, enricher.KindNotFound) {
		return nil, enricher.Errorf(enricher.KindInvalid, "the organization has no webhook secret")
	}
	if err != nil {
		return nil, err
	}
	key, err := enricher.OpenWebhookKey(w.cfg.SealKey, s.Sealed)
	if err != nil {
		w.log.Error("webhook secret cannot be opened (token_secret changed?); rotate it", "organization_id", org)
		return nil, enricher.Errorf(enricher.KindInvalid, "the webhook secret cannot be used; rotate it")
	}
	return key, nil
}

// webhookStoreRetry is how long the worker starts no attempt after the store refused to record
// one (the refused delivery is still due, and would otherwise be sent again at once).
const webhookStoreRetry = 5 * time.Second

// record stores the outcome of an attempt: delivered on a 2xx, else the next attempt from the
// schedule, or failed once that would start more than MaxAge after the first attempt. An error
// means the outcome was not stored and the delivery is still due.
func (w *webhookWorker) record(r attemptResult) error {
	d := r.d
	a := enricher.WebhookAttempt{AttemptedAt: enricher.NewTime(r.started), DurationMS: r.took.Milliseconds()}
	if r.err != nil {
		msg := enricher.PublicMessage(r.err)
		a.Error = &msg
	} else {
		status := r.status
		a.StatusCode = &status
	}
	first := r.started
	if len(d.Attempts) > 0 {
		first = d.Attempts[0].AttemptedAt.Time
	}
	switch {
	case r.err == nil && r.status >= 200 && r.status <= 299:
		d.Status, d.NextAttemptAt, d.DeliveredAt = enricher.WebhookDelivered, nil, enricher.NewTimePtr(w.now())
	default:
		delay := w.cfg.Schedule[min(len(d.Attempts), len(w.cfg.Schedule)-1)]
		next := r.started.Add(delay)
		if next.Sub(first) > w.cfg.MaxAge {
			d.Status, d.NextAttemptAt = enricher.WebhookFailed, nil
			w.log.Warn("webhook delivery failed for good", "job_id", d.JobID, "webhook_id", d.ID, "attempts", len(d.Attempts)+1)
		} else {
			d.NextAttemptAt, a.NextAttemptAt = enricher.NewTimePtr(next), enricher.NewTimePtr(next)
		}
	}
	d.Attempts = append(d.Attempts, a)
	if err := w.store.UpdateWebhook(d); err != nil {
		// The stored version is still due: it is tried again (at-least-once).
		w.log.Error("webhook attempt not recorded", "job_id", d.JobID, "webhook_id", d.ID, "err", err)
		return err
	}
	return nil
}
