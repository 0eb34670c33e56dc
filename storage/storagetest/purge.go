package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// finishedBatch stores batch job id of org: its spec, two entities, their start and end
// marks, one record per entity, three events, a delivered webhook delivery and, with pending,
// a pending one, then its terminal snapshot, finished at finished.
func finishedBatch(t *testing.T, db Backend, org, id string, finished time.Time, pending bool) {
	t.Helper()
	j := newJob(org, id, finished.Add(-time.Minute), enricher.JobPending)
	require.NoError(t, db.CreateJob(j, nil))
	require.NoError(t, db.PutEntities(id, 0, [][]byte{[]byte(`{"name":"A"}`), []byte(`{"name":"B"}`)}))
	delivered := delivery(org, id, 3, finished)
	delivered.Status, delivered.NextAttemptAt, delivered.DeliveredAt = enricher.WebhookDelivered, nil, enricher.NewTimePtr(finished)
	hooks := []*enricher.WebhookDelivery{delivered}
	if pending {
		hooks = append(hooks, delivery(org, id, 2, finished.Add(time.Hour)))
	}
	done := *j
	done.Status, done.Spec, done.FinishedAt = enricher.JobCompleted, nil, enricher.NewTimePtr(finished)
	require.NoError(t, db.Commit(&storage.Batch{
		Events:   []storage.EventEntry{event(id, 1), event(id, 2), event(id, 3)},
		Records:  []*enricher.Record{newRecord(org, id+"-r0", id, 0), newRecord(org, id+"-r1", id, 1)},
		Started:  []storage.EntityMark{{JobID: id, Index: 0}, {JobID: id, Index: 1}},
		Finished: []storage.EntityMark{{JobID: id, Index: 0, Seq: 2}},
		Webhooks: hooks,
		Jobs:     []*enricher.Job{&done},
	}))
}

// requireJobData fails unless job id of org has all of its own data (present) or none of it.
func requireJobData(t *testing.T, db Backend, org, id string, present bool) {
	t.Helper()
	_, err := db.Job(org, id)
	_, specErr := db.JobWithSpec(org, id)
	events := 0
	require.NoError(t, db.Events(id, 0, 0, func(int64, []byte) error { events++; return nil }))
	entities, cerr := db.CountEntities(id)
	require.NoError(t, cerr)
	started, serr := db.StartedEntities(id)
	require.NoError(t, serr)
	finished, ferr := db.FinishedEntities(id)
	require.NoError(t, ferr)
	hooks, werr := db.WebhookDeliveries(org, id)
	require.NoError(t, werr)
	list, lerr := db.Jobs(org, func(*enricher.Job) bool { return true })
	require.NoError(t, lerr)
	if present {
		require.NoError(t, err, id)
		require.NoError(t, specErr, id)
		require.Equal(t, 3, events, id)
		require.Equal(t, 2, entities, id)
		require.Equal(t, []int{1}, started, id)
		require.Equal(t, []int{0}, finished, id)
		require.NotEmpty(t, hooks, id)
		require.Contains(t, jobIDs(list), id)
		return
	}
	requireKind(t, err, enricher.KindNotFound, "%s: snapshot", id)
	requireKind(t, specErr, enricher.KindNotFound, "%s: spec", id)
	require.Zero(t, events, "%s: events", id)
	require.Zero(t, entities, "%s: entities", id)
	require.Empty(t, started, "%s: started marks", id)
	require.Empty(t, finished, "%s: ended marks", id)
	require.Empty(t, hooks, "%s: deliveries", id)
	require.NotContains(t, jobIDs(list), id, "%s: list entry", id)
}

func testPurge(t *testing.T, open Opener) {
	t.Run("finished jobs past the cutoff go, records stay", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		cutoff := t0.Add(time.Hour)
		for i, id := range []string{"old-1", "old-2", "old-3"} {
			finishedBatch(t, db, "o1", id, t0.Add(time.Duration(i)*time.Minute), false)
		}
		finishedBatch(t, db, "o2", "old-other-org", t0.Add(3*time.Minute), false)
		finishedBatch(t, db, "o1", "hook-pending", t0, true)
		finishedBatch(t, db, "o1", "recent", cutoff.Add(time.Millisecond), false)
		finishedBatch(t, db, "o1", "at-cutoff", cutoff, false)
		require.NoError(t, db.CreateJob(newJob("o1", "running", t0.Add(-48*time.Hour), enricher.JobRunning), nil))
		require.NoError(t, db.Commit(&storage.Batch{Events: []storage.EventEntry{event("running", 1)}}))

		n, err := db.PurgeJobs(cutoff, 2)
		require.NoError(t, err)
		require.Equal(t, 2, n, "max respected")
		requireJobData(t, db, "o1", "old-1", false)
		requireJobData(t, db, "o1", "old-2", false)
		requireJobData(t, db, "o1", "old-3", true) // the oldest go first

		n, err = db.PurgeJobs(cutoff, 2)
		require.NoError(t, err)
		require.Equal(t, 2, n, "the rest: old-3 and the other organization's")
		n, err = db.PurgeJobs(cutoff, 2)
		require.NoError(t, err)
		require.Zero(t, n, "nothing left before the cutoff")
		for _, ref := range [][2]string{{"o1", "old-1"}, {"o1", "old-2"}, {"o1", "old-3"}, {"o2", "old-other-org"}} {
			requireJobData(t, db, ref[0], ref[1], false)
			for k := range 2 {
				rec, err := db.Record(ref[0], fmt.Sprintf("%s-r%d", ref[1], k))
				require.NoError(t, err, "records stay")
				require.Equal(t, ref[1], rec.JobID)
			}
			page, total, err := db.Records(ref[0], enricher.RecordQuery{JobID: ref[1], Limit: 10})
			require.NoError(t, err)
			require.Equal(t, 2, total, "records still listed by job_id")
			require.Len(t, page, 2)
			recs, err := db.RecordsOfJob(ref[0], ref[1])
			require.NoError(t, err)
			require.Len(t, recs, 2, "records still read by job")
		}
		requireJobData(t, db, "o1", "hook-pending", true) // a pending delivery holds its job
		requireJobData(t, db, "o1", "recent", true)
		requireJobData(t, db, "o1", "at-cutoff", true) // finished before the cutoff, strictly
		_, err = db.Job("o1", "running")
		require.NoError(t, err, "a running job stays, however old")
		events := 0
		require.NoError(t, db.Events("running", 0, 0, func(int64, []byte) error { events++; return nil }))
		require.Equal(t, 1, events)

		// The pending delivery ends: its job goes at the next purge.
		hooks, err := db.WebhookDeliveries("o1", "hook-pending")
		require.NoError(t, err)
		for _, d := range hooks {
			if d.Status == enricher.WebhookPending {
				d.Status, d.NextAttemptAt = enricher.WebhookFailed, nil
				require.NoError(t, db.UpdateWebhook(d))
			}
		}
		n, err = db.PurgeJobs(cutoff, 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		requireJobData(t, db, "o1", "hook-pending", false)

		n, err = db.PurgeJobs(cutoff.Add(time.Hour), 0)
		require.NoError(t, err)
		require.Zero(t, n, "max 0 purges nothing")
		requireJobData(t, db, "o1", "recent", true)
	})
}
