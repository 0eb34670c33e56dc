package storage

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// TestRecordsOfOpenEntities stores records of three batch entities, ends one of them and
// hard-deletes a record of another: only the live records of the entities still open come back.
func TestRecordsOfOpenEntities(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	const org, job = "org1", "job1"
	rec := func(id string, entity int) *enricher.Record {
		idx, model := entity, "fake::a"
		return &enricher.Record{RecordSummary: enricher.RecordSummary{ID: id, Type: enricher.RecordEnrichment, JobID: job,
			EntityIndex: &idx, Model: &model, CreatedAt: enricher.NewTime(t0)}, OrganizationID: org}
	}
	other := rec("x1", 0)
	other.JobID = "job2" // another batch's entity 0
	require.NoError(t, db.Commit(&Batch{Records: []*enricher.Record{rec("a1", 0), rec("a2", 0), rec("b1", 1), rec("c1", 300), rec("c2", 300), other}}))
	require.NoError(t, db.Commit(&Batch{Finished: []EntityMark{{JobID: job, Index: 1}}}))
	_, missing, err := db.DeleteRecords(org, []string{"c2"}, true, enricher.NewTime(t0))
	require.NoError(t, err)
	require.Empty(t, missing)

	got, err := db.RecordsOfOpenEntities(org, job)
	require.NoError(t, err)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
		require.Equal(t, org, r.OrganizationID)
	}
	sort.Strings(ids)
	require.Equal(t, []string{"a1", "a2", "c1"}, ids, "ended entity 1, the deleted record and other jobs are left out")
}

// TestCreateJobBindsIdempotencyKey stores a job with its Idempotency-Key: the key names the job
// and the response built from its id; a second job cannot take the same key, and is not
// stored either.
func TestCreateJobBindsIdempotencyKey(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	job := func(id string) *enricher.Job {
		return &enricher.Job{ID: id, OrganizationID: "org1", Type: enricher.JobSingleEnrichment, Status: enricher.JobPending,
			CreatedAt: enricher.NewTime(t0), Spec: []byte(`{}`), RecordIDs: []string{}}
	}
	bind := &enricher.IdempotencyBinding{Key: "k1", Fingerprint: "POST /x abc", TTL: time.Hour,
		Respond: func(id string) any { return map[string]string{"job_id": id} }}
	require.NoError(t, db.CreateJob(job("j1"), bind))
	got, err := db.Idempotency("org1", "k1")
	require.NoError(t, err)
	require.Equal(t, "j1", got.JobID)
	require.Equal(t, "POST /x abc", got.Fingerprint)
	require.JSONEq(t, `{"job_id": "j1"}`, string(got.Response))

	err = db.CreateJob(job("j2"), bind)
	require.True(t, enricher.IsKind(err, enricher.KindConflict), "a bound key is not bound again: %v", err)
	_, err = db.Job("org1", "j2")
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "the job of a refused binding is not stored")
	_, err = db.Idempotency("org2", "k1")
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "keys are scoped to the organization")
}

// TestStartedEntities marks batch entities started and ends some: only those in flight are
// listed, also when the start and the end land in one write.
func TestStartedEntities(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	marks := func(job string, idx ...int) []EntityMark {
		var out []EntityMark
		for _, i := range idx {
			out = append(out, EntityMark{JobID: job, Index: i})
		}
		return out
	}
	require.NoError(t, db.Commit(&Batch{Started: append(marks("j1", 1, 2, 3, 300), marks("j2", 2)...)}))
	require.NoError(t, db.Commit(&Batch{Finished: marks("j1", 2)}))
	require.NoError(t, db.Commit(&Batch{Started: marks("j1", 4), Finished: marks("j1", 4)}))
	got, err := db.StartedEntities("j1")
	require.NoError(t, err)
	require.Equal(t, []int{1, 3, 300}, got)
}
