package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

var purgeT0 = time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC)

// commitFinished stores job id of org, finished at finished, with two events.
func commitFinished(t *testing.T, db *DB, org, id string, finished time.Time) {
	t.Helper()
	j := &enricher.Job{ID: id, OrganizationID: org, Type: enricher.JobSingleEnrichment, Status: enricher.JobRunning,
		CreatedAt: enricher.NewTime(finished.Add(-time.Minute)), Spec: json.RawMessage(`{}`), RecordIDs: []string{}}
	require.NoError(t, db.CreateJob(j, nil))
	done := *j
	done.Status, done.Spec, done.FinishedAt = enricher.JobCompleted, nil, enricher.NewTimePtr(finished)
	require.NoError(t, db.Commit(&storage.Batch{Jobs: []*enricher.Job{&done}, Events: []storage.EventEntry{
		{JobID: id, Seq: 1, Data: []byte(`{"type":"progress"}`)}, {JobID: id, Seq: 2, Data: []byte(`{"type":"completed"}`)}}}))
}

// TestPurgeFindsJobsFinishedBeforeUpgrade drops what migration 0002 added, as a database of
// the earlier version lacks it; reopening applies it again and its backfill gives the jobs
// that finished then their finished_ms, so they are purged like the others.
func TestPurgeFindsJobsFinishedBeforeUpgrade(t *testing.T) {
	url := schemaURL(t, testDatabase(t), 1)
	db, err := Open(Config{URL: url})
	require.NoError(t, err)
	commitFinished(t, db, "o1", "job-old", purgeT0)
	commitFinished(t, db, "o1", "job-new", purgeT0.Add(2*time.Hour))
	require.NoError(t, db.CreateJob(&enricher.Job{ID: "job-running", OrganizationID: "o1", Type: enricher.JobSingleEnrichment,
		Status: enricher.JobRunning, CreatedAt: enricher.NewTime(purgeT0), Spec: json.RawMessage(`{}`), RecordIDs: []string{}}, nil))
	_, err = db.pool.Exec(context.Background(), `ALTER TABLE jobs DROP COLUMN finished_ms; DELETE FROM schema_migrations WHERE version = 2`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = Open(Config{URL: url})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	var finished []int64
	rows, err := db.pool.Query(context.Background(), `SELECT finished_ms FROM jobs WHERE finished_ms IS NOT NULL ORDER BY finished_ms`)
	require.NoError(t, err)
	for rows.Next() {
		var ms int64
		require.NoError(t, rows.Scan(&ms))
		finished = append(finished, ms)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []int64{purgeT0.UnixMilli(), purgeT0.Add(2 * time.Hour).UnixMilli()}, finished,
		"the finished jobs' times, to the millisecond; none for the running job")

	n, err := db.PurgeJobs(purgeT0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = db.Job("o1", "job-old")
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "%v", err)
	_, err = db.Job("o1", "job-new")
	require.NoError(t, err)
}

// TestNodesPurgeTogether runs PurgeJobs from three stores on one database at once: every job
// is purged once, counted by exactly one node, and no call fails.
func TestNodesPurgeTogether(t *testing.T) {
	nodes := openNodes(t, 3)
	const jobs = 30
	for i := range jobs {
		commitFinished(t, nodes[0], "o1", fmt.Sprintf("job-%02d", i), purgeT0.Add(time.Duration(i)*time.Second))
	}
	counts := make([]int, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, db := range nodes {
		wg.Go(func() {
			for {
				n, err := db.PurgeJobs(purgeT0.Add(time.Hour), 4)
				counts[i] += n
				if err != nil || n == 0 {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range nodes {
		require.NoError(t, errs[i])
		total += counts[i]
	}
	require.Equal(t, jobs, total, "each job counted once")
	var left int
	require.NoError(t, nodes[0].pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM events)`).Scan(&left))
	require.Zero(t, left)
}
