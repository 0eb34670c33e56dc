package storage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

func newDelivery(org, job string, seq int64, due time.Time) *enricher.WebhookDelivery {
	return &enricher.WebhookDelivery{ID: job + "-" + string(rune('a'+seq)), OrganizationID: org, JobID: job, EventType: "completed",
		EventSeq: seq, URL: "https://example.com/hook", Status: enricher.WebhookPending, CreatedAt: enricher.NewTime(t0),
		NextAttemptAt: enricher.NewTimePtr(due), Attempts: []enricher.WebhookAttempt{}, Body: []byte(`{"type":"completed"}`)}
}

func TestWebhookDeliveriesRideInTheEventBatchAndAreDueInOrder(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	late := newDelivery("org1", "job1", 9, t0.Add(time.Minute))
	early := newDelivery("org1", "job1", 3, t0)
	other := newDelivery("org2", "job2", 1, t0.Add(time.Second))
	require.NoError(t, db.Commit(&Batch{Events: []EventEntry{{JobID: "job1", Seq: 9, Data: []byte(`{}`)}},
		Webhooks: []*enricher.WebhookDelivery{late, early, other}}))

	due, err := db.DueWebhooks(t0.Add(time.Second), 10)
	require.NoError(t, err)
	require.Len(t, due, 2, "the one due in a minute is not due yet")
	require.Equal(t, early.ID, due[0].ID, "earliest first")
	require.Equal(t, other.ID, due[1].ID)
	require.Equal(t, "org1", due[0].OrganizationID)
	require.JSONEq(t, `{"type":"completed"}`, string(due[0].Body))

	page, err := db.DueWebhooks(t0.Add(time.Hour), 1)
	require.NoError(t, err)
	require.Len(t, page, 1, "a page is bounded by its limit")

	next, ok, err := db.NextWebhookDue(t0.Add(-time.Hour))
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, next.Equal(t0))
	next, ok, err = db.NextWebhookDue(t0.Add(time.Second))
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, next.Equal(t0.Add(time.Minute)), "the first one due after the given time")

	list, err := db.WebhookDeliveries("org1", "job1")
	require.NoError(t, err)
	require.Equal(t, []string{early.ID, late.ID}, []string{list[0].ID, list[1].ID}, "listed in event order")
	list, err = db.WebhookDeliveries("org2", "job1")
	require.NoError(t, err)
	require.Empty(t, list, "another organization sees nothing")
}

func TestUpdateWebhookMovesItInTheDueIndex(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	d := newDelivery("org1", "job1", 1, t0)
	require.NoError(t, db.Commit(&Batch{Webhooks: []*enricher.WebhookDelivery{d}}))

	code := 500
	d.Attempts = append(d.Attempts, enricher.WebhookAttempt{AttemptedAt: enricher.NewTime(t0), StatusCode: &code,
		NextAttemptAt: enricher.NewTimePtr(t0.Add(30 * time.Second))})
	d.NextAttemptAt = enricher.NewTimePtr(t0.Add(30 * time.Second))
	require.NoError(t, db.UpdateWebhook(d))
	due, err := db.DueWebhooks(t0.Add(time.Second), 10)
	require.NoError(t, err)
	require.Empty(t, due, "the old index entry is gone")
	due, err = db.DueWebhooks(t0.Add(30*time.Second), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Len(t, due[0].Attempts, 1)

	d.Status, d.NextAttemptAt = enricher.WebhookDelivered, nil
	require.NoError(t, db.UpdateWebhook(d))
	due, err = db.DueWebhooks(t0.Add(48*time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, due, "a delivered webhook leaves the index")
	_, ok, err := db.NextWebhookDue(time.Time{})
	require.NoError(t, err)
	require.False(t, ok)

	require.True(t, enricher.IsKind(db.UpdateWebhook(newDelivery("org1", "job1", 7, t0)), enricher.KindNotFound))
}

func TestWebhookSecretPerOrganization(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	_, err := db.WebhookSecret("org1")
	require.True(t, enricher.IsKind(err, enricher.KindNotFound))
	require.NoError(t, db.SetWebhookSecret("org1", &enricher.WebhookSecret{Sealed: []byte{1, 2, 3}, CreatedAt: enricher.NewTime(t0)}))
	require.NoError(t, db.SetWebhookSecret("org1", &enricher.WebhookSecret{Sealed: []byte{4, 5}, CreatedAt: enricher.NewTime(t0.Add(time.Hour))}))
	s, err := db.WebhookSecret("org1")
	require.NoError(t, err)
	require.Equal(t, []byte{4, 5}, s.Sealed, "rotation replaces the secret")
	_, err = db.WebhookSecret("org2")
	require.True(t, enricher.IsKind(err, enricher.KindNotFound))
}
