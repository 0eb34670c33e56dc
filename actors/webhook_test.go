package actors

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// sentWebhook is one request the fake sender got.
type sentWebhook struct {
	url    string
	header http.Header
	body   []byte
}

// fakeSender records every delivery attempt; AnswerFunc decides the outcome of the n-th
// (1-based) call, default 200. It may block on ctx to play a receiver that never answers.
type fakeSender struct {
	mu         sync.Mutex
	calls      []sentWebhook
	AnswerFunc func(ctx context.Context, n int) (int, error)
	sent       chan sentWebhook
}

func newFakeSender(answer func(ctx context.Context, n int) (int, error)) *fakeSender {
	return &fakeSender{AnswerFunc: answer, sent: make(chan sentWebhook, 100)}
}

func (f *fakeSender) Post(ctx context.Context, url string, header http.Header, body []byte) (int, error) {
	f.mu.Lock()
	s := sentWebhook{url: url, header: header.Clone(), body: bytes.Clone(body)}
	f.calls = append(f.calls, s)
	n := len(f.calls)
	f.mu.Unlock()
	f.sent <- s
	if f.AnswerFunc == nil {
		return 200, nil
	}
	return f.AnswerFunc(ctx, n)
}

// count returns the number of attempts so far.
func (f *fakeSender) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// next waits for the next attempt.
func (f *fakeSender) next(t *testing.T) sentWebhook {
	t.Helper()
	select {
	case s := <-f.sent:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook attempt within 10s")
	}
	return sentWebhook{}
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var testSealKey = enricher.WebhookSealKey([]byte("token secret of the test server"))

// giveSecret stores a signing key for org and returns it.
func giveSecret(t *testing.T, db *storage.DB, org string) []byte {
	t.Helper()
	key := []byte("0123456789abcdef0123456789abcdef")
	sealed, err := enricher.SealWebhookKey(testSealKey, bytes.Repeat([]byte{9}, 12), key)
	require.NoError(t, err)
	require.NoError(t, db.SetWebhookSecret(org, &enricher.WebhookSecret{Sealed: sealed, CreatedAt: enricher.NewTime(time.Now())}))
	return key
}

// verify checks a request's signature with crypto/hmac, independently of SignWebhook.
func verify(t *testing.T, key []byte, s sentWebhook) {
	t.Helper()
	id, ts := s.header.Get("webhook-id"), s.header.Get("webhook-timestamp")
	require.NotEmpty(t, id)
	require.NotEmpty(t, ts)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(s.body)
	require.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)), s.header.Get("webhook-signature"))
}

func openDB(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.Open(storage.Config{InMemory: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func storeDelivery(t *testing.T, db *storage.DB, at time.Time) *enricher.WebhookDelivery {
	t.Helper()
	now := enricher.NewTime(at)
	d := &enricher.WebhookDelivery{ID: "5b0c7f0e-4f0c-4a43-9d55-2f6a3d1e8c11", OrganizationID: "org1", JobID: "job1", EventType: "completed",
		EventSeq: 7, URL: "http://receiver.test/hook", Status: enricher.WebhookPending, CreatedAt: now, NextAttemptAt: &now,
		Attempts: []enricher.WebhookAttempt{}, Body: []byte(`{"type":"completed"}`)}
	require.NoError(t, db.Commit(&storage.Batch{Webhooks: []*enricher.WebhookDelivery{d}}))
	return d
}

func stored(t *testing.T, db *storage.DB) *enricher.WebhookDelivery {
	t.Helper()
	list, err := db.WebhookDeliveries("org1", "job1")
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0]
}

// waitStatus polls storage until the delivery has status (the worker records asynchronously).
func waitStatus(t *testing.T, db *storage.DB, status string) *enricher.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if d := stored(t, db); d.Status == status {
			return d
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("delivery never became %s: %+v", status, stored(t, db))
	return nil
}

func TestWebhookRetriesKeepTheirIDUntilA2xx(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	key := giveSecret(t, db, "org1")
	clock := &testClock{now: time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)}
	answers := []struct {
		status int
		err    error
	}{{500, nil}, {0, enricher.Errorf(enricher.KindInvalid, "fetching the URL failed: connection refused")}, {503, nil}, {204, nil}}
	sender := newFakeSender(func(_ context.Context, n int) (int, error) {
		clock.Advance(time.Minute) // past the compressed schedule: the next attempt is due at once
		return answers[n-1].status, answers[n-1].err
	})
	storeDelivery(t, db, clock.Now())
	w := startWebhookWorker(WebhookConfig{Schedule: []time.Duration{time.Second, 2 * time.Second}, SealKey: testSealKey},
		db, sender, clock.Now, slog.New(slog.DiscardHandler))
	defer w.stop()

	var ids []string
	for range answers {
		s := sender.next(t)
		verify(t, key, s)
		require.Equal(t, `{"type":"completed"}`, string(s.body))
		ids = append(ids, s.header.Get("webhook-id"))
	}
	require.Equal(t, []string{ids[0], ids[0], ids[0], ids[0]}, ids, "every retry carries the same webhook-id")
	d := waitStatus(t, db, enricher.WebhookDelivered)
	require.Len(t, d.Attempts, 4)
	require.Equal(t, 500, *d.Attempts[0].StatusCode)
	require.Equal(t, "fetching the URL failed: connection refused", *d.Attempts[1].Error)
	require.Nil(t, d.Attempts[1].StatusCode)
	require.Equal(t, 204, *d.Attempts[3].StatusCode)
	// The schedule: 1s after the first attempt, 2s after the second and every later one.
	require.Equal(t, d.Attempts[0].AttemptedAt.Add(time.Second), d.Attempts[0].NextAttemptAt.Time)
	require.Equal(t, d.Attempts[1].AttemptedAt.Add(2*time.Second), d.Attempts[1].NextAttemptAt.Time)
	require.Equal(t, d.Attempts[2].AttemptedAt.Add(2*time.Second), d.Attempts[2].NextAttemptAt.Time)
	require.Nil(t, d.Attempts[3].NextAttemptAt)
	require.Nil(t, d.NextAttemptAt)
	require.NotNil(t, d.DeliveredAt)
}

func TestWebhookFailsForGoodAfterItsWindow(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	giveSecret(t, db, "org1")
	clock := &testClock{now: time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)}
	sender := newFakeSender(func(_ context.Context, n int) (int, error) {
		clock.Advance(61 * time.Minute)
		return 500, nil
	})
	storeDelivery(t, db, clock.Now())
	w := startWebhookWorker(WebhookConfig{Schedule: []time.Duration{time.Hour}, MaxAge: 3 * time.Hour, SealKey: testSealKey},
		db, sender, clock.Now, slog.New(slog.DiscardHandler))
	defer w.stop()

	d := waitStatus(t, db, enricher.WebhookFailed)
	// Attempts at 0, 61 and 122 minutes; a fourth would start at 182 minutes, past 3 h.
	require.Len(t, d.Attempts, 3)
	require.Nil(t, d.NextAttemptAt)
	require.Nil(t, d.Attempts[2].NextAttemptAt)
	due, err := db.DueWebhooks(clock.Now().Add(48*time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, due, "a failed delivery is never tried again")
}

func TestWebhookInFlightAtStopIsSentAfterRestart(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	key := giveSecret(t, db, "org1")
	storeDelivery(t, db, time.Now())

	// The first worker is stopped while its attempt hangs: nothing is recorded.
	hang := newFakeSender(func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	w := startWebhookWorker(WebhookConfig{SealKey: testSealKey}, db, hang, time.Now, slog.New(slog.DiscardHandler))
	first := hang.next(t)
	w.stop()
	d := stored(t, db)
	require.Equal(t, enricher.WebhookPending, d.Status)
	require.Empty(t, d.Attempts, "an attempt cut by shutdown is not recorded")

	ok := newFakeSender(nil)
	w = startWebhookWorker(WebhookConfig{SealKey: testSealKey}, db, ok, time.Now, slog.New(slog.DiscardHandler))
	defer w.stop()
	again := ok.next(t)
	verify(t, key, again)
	require.Equal(t, first.header.Get("webhook-id"), again.header.Get("webhook-id"))
	waitStatus(t, db, enricher.WebhookDelivered)
}

func TestWebhookWithoutSecretIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	clock := &testClock{now: time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)}
	storeDelivery(t, db, clock.Now())
	sender := newFakeSender(nil)
	w := startWebhookWorker(WebhookConfig{SealKey: testSealKey}, db, sender, clock.Now, slog.New(slog.DiscardHandler))
	defer w.stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(stored(t, db).Attempts) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	d := stored(t, db)
	require.Len(t, d.Attempts, 1)
	require.Equal(t, "the organization has no webhook secret", *d.Attempts[0].Error)
	require.Equal(t, enricher.WebhookPending, d.Status, "retried later: a secret made meanwhile still signs it")
	require.Zero(t, sender.count(), "nothing unsigned is sent")
}

// webhookSetup is an engine with a delivery worker sending through sender.
func webhookSetup(t *testing.T, sender *fakeSender) (*Engine, *storage.DB) {
	t.Helper()
	db := openDB(t)
	e, err := New(Config{Webhooks: WebhookConfig{SealKey: testSealKey}},
		Deps{Store: db, Catalog: fakeCatalog{}, Providers: map[string]Provider{"fake": {Impl: &fakeProvider{values: defaultValues}}},
			Webhooks: db, WebhookSender: sender})
	require.NoError(t, err)
	t.Cleanup(e.Stop)
	return e, db
}

func TestJobEndCallsItsWebhook(t *testing.T) {
	t.Parallel()
	sender := newFakeSender(nil)
	e, db := webhookSetup(t, sender)
	key := giveSecret(t, db, "org1")
	s := spec("fake::a")
	s.Webhook = &enricher.WebhookTarget{URL: "http://receiver.test/hook", Events: enricher.DefaultWebhookEvents}
	job, err := e.Start("org1", enricher.CreatedBy{}, s)
	require.NoError(t, err)

	got := sender.next(t)
	verify(t, key, got)
	require.Equal(t, "http://receiver.test/hook", got.url)
	var body struct {
		Type      string         `json:"type"`
		JobID     string         `json:"job_id"`
		JobType   string         `json:"job_type"`
		Status    string         `json:"status"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(got.body))
	require.NoError(t, dec.Decode(&body))
	require.Equal(t, "completed", body.Type)
	require.Equal(t, job.ID, body.JobID)
	require.Equal(t, "single_enrichment", body.JobType)
	require.Equal(t, "completed", body.Status)
	require.Equal(t, body.Data["timestamp"], body.Timestamp)
	require.Equal(t, "completed", body.Data["type"], "data is the terminal event")
	final, err := e.Job("org1", job.ID)
	require.NoError(t, err)
	require.EqualValues(t, final.LastSeq, body.Data["seq"])
	require.NotNil(t, body.Data["result"])

	list, err := db.WebhookDeliveries("org1", job.ID)
	require.NoError(t, err)
	require.Len(t, list, 1, "one delivery: the terminal event (no entity events were asked for)")
	require.Equal(t, got.header.Get("webhook-id"), list[0].ID)
	require.Equal(t, final.LastSeq, list[0].EventSeq)
}

func TestJobWithoutWebhookStoresNoDelivery(t *testing.T) {
	t.Parallel()
	sender := newFakeSender(func(context.Context, int) (int, error) { return 0, errors.New("must not be called") })
	e, db := webhookSetup(t, sender)
	job, err := e.Start("org1", enricher.CreatedBy{}, spec("fake::a"))
	require.NoError(t, err)
	stream, err := e.Subscribe("org1", job.ID, 0)
	require.NoError(t, err)
	defer stream.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for err == nil { // until the terminal event was read (io.EOF)
		_, _, err = stream.Next(ctx, time.Second)
	}
	require.ErrorIs(t, err, io.EOF)
	list, err := db.WebhookDeliveries("org1", job.ID)
	require.NoError(t, err)
	require.Empty(t, list)
	require.Zero(t, sender.count())
}

// refusingStore refuses to record attempts while refuse is set, as a store low on disk space.
type refusingStore struct {
	*storage.DB
	refuse atomic.Bool
}

func (s *refusingStore) UpdateWebhook(d *enricher.WebhookDelivery) error {
	if s.refuse.Load() {
		return enricher.Errorf(enricher.KindInsufficientStorage, "low on disk space")
	}
	return s.DB.UpdateWebhook(d)
}

// An attempt whose outcome cannot be stored leaves the delivery due; the worker then holds
// off instead of sending it again in a loop, and goes on once the store takes writes.
func TestWebhookHoldsWhileOutcomesCannotBeStored(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	giveSecret(t, db, "org1")
	clock := &testClock{now: time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)}
	sender := newFakeSender(func(context.Context, int) (int, error) { return 204, nil })
	storeDelivery(t, db, clock.Now())
	store := &refusingStore{DB: db}
	store.refuse.Store(true)
	w := startWebhookWorker(WebhookConfig{Schedule: []time.Duration{time.Second}, SealKey: testSealKey},
		store, sender, clock.Now, slog.New(slog.DiscardHandler))
	defer w.stop()

	sender.next(t)
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, 1, sender.count(), "no second attempt while the first one's outcome is not stored")

	store.refuse.Store(false)
	clock.Advance(webhookStoreRetry)
	w.nudge()
	sender.next(t)
	d := waitStatus(t, db, enricher.WebhookDelivered)
	require.Len(t, d.Attempts, 1, "the unrecorded attempt left no trace; the second one is recorded")
}
