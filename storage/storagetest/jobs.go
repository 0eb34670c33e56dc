package storagetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

func newJob(org, id string, created time.Time, status enricher.JobStatus) *enricher.Job {
	return &enricher.Job{ID: id, OrganizationID: org, Type: enricher.JobBatchEnrichment, Status: status, CreatedAt: enricher.NewTime(created),
		Models: []string{"sim::fast"}, Spec: json.RawMessage(`{"z":1,"a":[1,2]}`), RecordIDs: []string{}}
}

func event(job string, seq int64) storage.EventEntry {
	return storage.EventEntry{JobID: job, Seq: seq, Data: []byte(fmt.Sprintf(`{"seq":%d,"type":"progress"}`, seq))}
}

func testJobs(t *testing.T, open Opener) {
	t.Run("create, read, list, recover", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		a := newJob("o1", "job-a", t0, enricher.JobPending)
		b := newJob("o1", "job-b", t0.Add(time.Second), enricher.JobRunning)
		c := newJob("o2", "job-c", t0, enricher.JobRunning)
		for _, j := range []*enricher.Job{a, b, c} {
			require.NoError(t, db.CreateJob(j, nil))
		}
		got, err := db.Job("o1", "job-a")
		require.NoError(t, err)
		require.Nil(t, got.Spec, "Job leaves the spec out")
		require.Equal(t, enricher.JobPending, got.Status)
		withSpec, err := db.JobWithSpec("o1", "job-a")
		require.NoError(t, err)
		require.Equal(t, `{"z":1,"a":[1,2]}`, string(withSpec.Spec), "spec kept byte for byte")
		_, err = db.Job("o2", "job-a")
		requireKind(t, err, enricher.KindNotFound, "another organization's job")
		_, err = db.JobWithSpec("o2", "job-a")
		requireKind(t, err, enricher.KindNotFound)

		list, err := db.Jobs("o1", func(*enricher.Job) bool { return true })
		require.NoError(t, err)
		require.Equal(t, []string{"job-b", "job-a"}, jobIDs(list), "newest first, this organization only")
		list, err = db.Jobs("o1", func(j *enricher.Job) bool { return j.Status == enricher.JobPending })
		require.NoError(t, err)
		require.Equal(t, []string{"job-a"}, jobIDs(list))

		done := *b
		done.Status, done.Spec = enricher.JobCompleted, nil
		require.NoError(t, db.Commit(&storage.Batch{Jobs: []*enricher.Job{&done}}))
		active, err := db.ActiveJobs()
		require.NoError(t, err)
		ids := jobIDs(active)
		require.ElementsMatch(t, []string{"job-a", "job-c"}, ids, "a terminal job leaves the active set")
		for _, j := range active {
			require.Equal(t, `{"z":1,"a":[1,2]}`, string(j.Spec), "recovery gets the spec")
		}
		withSpec, err = db.JobWithSpec("o1", "job-b")
		require.NoError(t, err)
		require.Equal(t, enricher.JobCompleted, withSpec.Status)
		require.NotEmpty(t, withSpec.Spec, "a snapshot keeps the spec CreateJob stored")
	})

	t.Run("idempotency key is bound with its job", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		bind := &enricher.IdempotencyBinding{Key: "k1", Fingerprint: "fp", TTL: time.Hour,
			Respond: func(id string) any { return map[string]string{"job_id": id} }}
		require.NoError(t, db.CreateJob(newJob("o1", "job-1", t0, enricher.JobPending), bind))
		start, err := db.Idempotency("o1", "k1")
		require.NoError(t, err)
		require.Equal(t, "job-1", start.JobID)
		require.Equal(t, "fp", start.Fingerprint)
		require.JSONEq(t, `{"job_id":"job-1"}`, string(start.Response))

		err = db.CreateJob(newJob("o1", "job-2", t0, enricher.JobPending), bind)
		requireKind(t, err, enricher.KindConflict, "the key is taken")
		_, err = db.Job("o1", "job-2")
		requireKind(t, err, enricher.KindNotFound, "a job whose key was refused is not stored")

		_, err = db.Idempotency("o2", "k1")
		requireKind(t, err, enricher.KindNotFound, "keys are per organization")
		require.NoError(t, db.CreateJob(newJob("o2", "job-3", t0, enricher.JobPending), bind), "same key, other organization")
		_, err = db.Idempotency("o1", "unknown")
		requireKind(t, err, enricher.KindNotFound)
	})

	t.Run("events in order, bounded", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		var b storage.Batch
		for seq := int64(1); seq <= 12; seq++ {
			b.Events = append(b.Events, event("job-1", seq))
		}
		b.Events = append(b.Events, event("job-10", 1)) // a job id that extends another
		require.NoError(t, db.Commit(&b))
		for _, tt := range []struct {
			after, upTo int64
			want        []int64
		}{
			{0, 0, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
			{9, 0, []int64{10, 11, 12}},
			{2, 4, []int64{3, 4}},
			{12, 0, nil},
		} {
			var got []int64
			require.NoError(t, db.Events("job-1", tt.after, tt.upTo, func(seq int64, data []byte) error {
				require.Equal(t, fmt.Sprintf(`{"seq":%d,"type":"progress"}`, seq), string(data))
				got = append(got, seq)
				return nil
			}))
			require.Equal(t, tt.want, got, "after %d up to %d", tt.after, tt.upTo)
		}
		stop := fmt.Errorf("stop")
		n := 0
		err := db.Events("job-1", 0, 0, func(int64, []byte) error { n++; return stop })
		require.ErrorIs(t, err, stop, "fn's error stops the walk")
		require.Equal(t, 1, n)
	})
}

func jobIDs(js []*enricher.Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.ID)
	}
	return out
}

func testCommit(t *testing.T, open Opener) {
	t.Run("a batch is all or nothing", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		j := newJob("o1", "job-1", t0, enricher.JobRunning)
		require.NoError(t, db.CreateJob(j, nil))
		r := newRecord("o1", "rec-1", "job-1", 0)
		snap := *j
		snap.LastSeq, snap.Spec = 1, nil
		bad := delivery("o1", "job-1", 1, t0)
		bad.Body = json.RawMessage(`{"unterminated`) // cannot be encoded: the whole batch fails
		err := db.Commit(&storage.Batch{Jobs: []*enricher.Job{&snap}, Events: []storage.EventEntry{event("job-1", 1)},
			Records: []*enricher.Record{r}, Started: []storage.EntityMark{{JobID: "job-1", Index: 0}},
			Webhooks: []*enricher.WebhookDelivery{bad}})
		require.Error(t, err)
		_, err = db.Record("o1", "rec-1")
		requireKind(t, err, enricher.KindNotFound, "no record of a failed batch")
		n := 0
		require.NoError(t, db.Events("job-1", 0, 0, func(int64, []byte) error { n++; return nil }))
		require.Zero(t, n, "no event of a failed batch")
		got, err := db.Job("o1", "job-1")
		require.NoError(t, err)
		require.Zero(t, got.LastSeq, "no snapshot of a failed batch")
		started, err := db.StartedEntities("job-1")
		require.NoError(t, err)
		require.Empty(t, started)

		good := delivery("o1", "job-1", 1, t0)
		require.NoError(t, db.Commit(&storage.Batch{Jobs: []*enricher.Job{&snap}, Events: []storage.EventEntry{event("job-1", 1)},
			Records: []*enricher.Record{r}, Webhooks: []*enricher.WebhookDelivery{good}}))
		rec, err := db.Record("o1", "rec-1")
		require.NoError(t, err)
		require.Equal(t, "job-1", rec.JobID)
		got, err = db.Job("o1", "job-1")
		require.NoError(t, err)
		require.EqualValues(t, 1, got.LastSeq)
		ds, err := db.WebhookDeliveries("o1", "job-1")
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.NoError(t, db.Commit(&storage.Batch{}), "an empty batch is fine")
	})
}
