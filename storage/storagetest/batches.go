package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

func testEntities(t *testing.T, open Opener) {
	t.Run("staged entities", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		var ents [][]byte
		for i := range 30 {
			ents = append(ents, []byte(fmt.Sprintf(`{"name":"E%d"}`, i)))
		}
		require.NoError(t, db.PutEntities("job-1", 0, ents[:10]))
		require.NoError(t, db.PutEntities("job-1", 10, ents[10:]))
		require.NoError(t, db.PutEntities("job-2", 0, ents[:3]))
		got, err := db.EntitiesAt("job-1", []int{29, 0, 15})
		require.NoError(t, err)
		require.Equal(t, [][]byte{ents[29], ents[0], ents[15]}, got, "in the order asked")
		_, err = db.EntitiesAt("job-2", []int{0, 3})
		requireKind(t, err, enricher.KindInternal, "a missing entity")
		for job, want := range map[string]int{"job-1": 30, "job-2": 3, "": 33, "job-3": 0} {
			n, err := db.CountEntities(job)
			require.NoError(t, err)
			require.Equal(t, want, n, job)
		}
		require.NoError(t, db.DeleteEntities("job-1"))
		n, err := db.CountEntities("")
		require.NoError(t, err)
		require.Equal(t, 3, n, "only job-1's entities go")
	})

	t.Run("started and ended marks, entity ends", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		require.NoError(t, db.Commit(&storage.Batch{
			Events:  []storage.EventEntry{event("job", 1), event("job", 2)},
			Started: []storage.EntityMark{{JobID: "job", Index: 0}, {JobID: "job", Index: 1}, {JobID: "job", Index: 2}, {JobID: "job", Index: 3}},
		}))
		require.NoError(t, db.Commit(&storage.Batch{
			Events:   []storage.EventEntry{event("job", 3), event("job", 4)},
			Finished: []storage.EntityMark{{JobID: "job", Index: 2, Seq: 3}, {JobID: "job", Index: 0, Seq: 4}, {JobID: "job", Index: 5}},
		}))
		started, err := db.StartedEntities("job")
		require.NoError(t, err)
		require.Equal(t, []int{1, 3}, started, "an ended entity is no longer in flight")
		finished, err := db.FinishedEntities("job")
		require.NoError(t, err)
		require.Equal(t, []int{0, 2, 5}, finished)
		var ends []storage.EntityEnd
		require.NoError(t, db.EntityEnds("job", func(e storage.EntityEnd) error { ends = append(ends, e); return nil }))
		require.Len(t, ends, 3)
		require.Equal(t, 0, ends[0].Index)
		require.EqualValues(t, 4, ends[0].Seq)
		require.Equal(t, string(event("job", 4).Data), string(ends[0].Event), "the entity_completed event rides along")
		require.Equal(t, 2, ends[1].Index)
		require.Equal(t, string(event("job", 3).Data), string(ends[1].Event))
		require.Equal(t, storage.EntityEnd{Index: 5}, ends[2], "ended without an event")
		none, err := db.StartedEntities("other")
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("entity ends in several windows", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		var b storage.Batch
		for i := range 600 {
			b.Events = append(b.Events, event("job", int64(i+1)))
			b.Finished = append(b.Finished, storage.EntityMark{JobID: "job", Index: i, Seq: int64(i + 1)})
		}
		require.NoError(t, db.Commit(&b))
		next := 0
		require.NoError(t, db.EntityEnds("job", func(e storage.EntityEnd) error {
			require.Equal(t, next, e.Index)
			require.EqualValues(t, next+1, e.Seq)
			next++
			return nil
		}))
		require.Equal(t, 600, next)
	})
}

func delivery(org, job string, seq int64, due time.Time) *enricher.WebhookDelivery {
	return &enricher.WebhookDelivery{ID: fmt.Sprintf("%s-%d", job, seq), OrganizationID: org, JobID: job, EventType: "completed",
		EventSeq: seq, URL: "https://example.com/hook", Status: enricher.WebhookPending, CreatedAt: enricher.NewTime(t0),
		NextAttemptAt: enricher.NewTimePtr(due), Attempts: []enricher.WebhookAttempt{}, Body: []byte(`{"type":"completed"}`)}
}

func testWebhooks(t *testing.T, open Opener) {
	t.Run("due in order, moved by updates", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		late := delivery("o1", "job1", 9, t0.Add(time.Minute))
		early := delivery("o1", "job1", 3, t0)
		other := delivery("o2", "job2", 1, t0.Add(time.Second))
		require.NoError(t, db.Commit(&storage.Batch{Events: []storage.EventEntry{event("job1", 9)},
			Webhooks: []*enricher.WebhookDelivery{late, early, other}}))

		due, err := db.DueWebhooks(t0.Add(time.Second), 10)
		require.NoError(t, err)
		require.Equal(t, []string{early.ID, other.ID}, deliveryIDs(due), "earliest first, not the one due later")
		require.Equal(t, `{"type":"completed"}`, string(due[0].Body))
		require.Equal(t, "o1", due[0].OrganizationID)
		due, err = db.DueWebhooks(t0.Add(time.Hour), 1)
		require.NoError(t, err)
		require.Equal(t, []string{early.ID}, deliveryIDs(due), "limit")
		next, ok, err := db.NextWebhookDue(t0)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, t0.Add(time.Second).UnixMilli(), next.UnixMilli(), "strictly after")

		early.Status, early.NextAttemptAt = enricher.WebhookDelivered, nil
		early.DeliveredAt = enricher.NewTimePtr(t0)
		require.NoError(t, db.UpdateWebhook(early))
		other.NextAttemptAt = enricher.NewTimePtr(t0.Add(2 * time.Minute))
		require.NoError(t, db.UpdateWebhook(other))
		due, err = db.DueWebhooks(t0.Add(90*time.Second), 10)
		require.NoError(t, err)
		require.Equal(t, []string{late.ID}, deliveryIDs(due), "delivered leaves, retried moves")
		_, ok, err = db.NextWebhookDue(t0.Add(3 * time.Minute))
		require.NoError(t, err)
		require.False(t, ok)

		requireKind(t, db.UpdateWebhook(delivery("o1", "job1", 42, t0)), enricher.KindNotFound, "never stored")
		ds, err := db.WebhookDeliveries("o1", "job1")
		require.NoError(t, err)
		require.Equal(t, []string{early.ID, late.ID}, deliveryIDs(ds), "event order")
		require.Equal(t, enricher.WebhookDelivered, ds[0].Status)
		ds, err = db.WebhookDeliveries("o2", "job1")
		require.NoError(t, err)
		require.NotNil(t, ds)
		require.Empty(t, ds, "another organization's deliveries")
	})

	t.Run("secrets per organization", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		_, err := db.WebhookSecret("o1")
		requireKind(t, err, enricher.KindNotFound)
		require.NoError(t, db.SetWebhookSecret("o1", &enricher.WebhookSecret{Sealed: []byte("a")}))
		require.NoError(t, db.SetWebhookSecret("o1", &enricher.WebhookSecret{Sealed: []byte("b")}))
		s, err := db.WebhookSecret("o1")
		require.NoError(t, err)
		require.Equal(t, "b", string(s.Sealed))
		_, err = db.WebhookSecret("o2")
		requireKind(t, err, enricher.KindNotFound)
	})
}

func deliveryIDs(ds []*enricher.WebhookDelivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testLifecycle(t *testing.T, open Opener) {
	t.Run("ping, then unavailable once closed", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		require.NoError(t, db.Ping())
		require.NoError(t, db.Close())
		requireKind(t, db.Ping(), enricher.KindUnavailable)
		_, err := db.Organization("x")
		requireKind(t, err, enricher.KindUnavailable)
	})
}
