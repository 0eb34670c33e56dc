package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// Two nodes on one database: the caps count every node's unfinished jobs; a job's lock is held
// by one session at a time, and a session that ends gives its locks back; the unclaimed list is
// the unfinished jobs nobody holds.
func TestClusterCapsAndJobLocks(t *testing.T) {
	t.Parallel()
	url := testDatabase(t)
	open := func() *DB {
		db, err := Open(Config{URL: url, MaxJobs: 2, MaxJobsPerOrg: 1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	a, b := open(), open()
	job := func(org, id string) *enricher.Job {
		return &enricher.Job{ID: id, OrganizationID: org, Status: enricher.JobPending, CreatedAt: enricher.NewTime(time.Now())}
	}
	require.NoError(t, a.CreateJob(job("o1", "j1"), nil))
	err := b.CreateJob(job("o1", "j2"), nil)
	require.True(t, enricher.IsKind(err, enricher.KindTooMany), "per organization, across nodes: %v", err)
	require.NoError(t, b.CreateJob(job("o2", "j3"), nil))
	err = a.CreateJob(job("o3", "j4"), nil)
	require.True(t, enricher.IsKind(err, enricher.KindTooMany), "in all, across nodes: %v", err)
	_, err = a.Job("o1", "j2")
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "a refused job is not stored")

	unclaimed := func(db *DB) []string {
		var ids []string
		require.NoError(t, db.UnclaimedJobs(func(org, id string) { ids = append(ids, org+"/"+id) }))
		return ids
	}
	require.Equal(t, []string{"o1/j1", "o2/j3"}, unclaimed(b))

	la, err := a.OpenLocks()
	require.NoError(t, err)
	lb, err := b.OpenLocks()
	require.NoError(t, err)
	got, err := la.Claim("j1")
	require.NoError(t, err)
	require.True(t, got)
	got, err = la.Claim("j1")
	require.NoError(t, err)
	require.False(t, got, "a node claims a job once")
	got, err = lb.Claim("j1")
	require.NoError(t, err)
	require.False(t, got, "another node's claim holds")
	require.Equal(t, []string{"o2/j3"}, unclaimed(b))

	require.NoError(t, la.Release("j1"))
	require.Equal(t, []string{"o1/j1", "o2/j3"}, unclaimed(b))
	got, err = la.Claim("j1")
	require.NoError(t, err)
	require.True(t, got)
	require.NoError(t, la.Close()) // the session ends: PostgreSQL frees its locks
	got, err = lb.Claim("j1")
	require.NoError(t, err)
	require.True(t, got, "a lock of an ended session is free")
	require.Equal(t, 1, lb.Held())

	// Hold: a named lock one node keeps (the webhook deliverer's) until its session ends.
	lc, err := a.OpenLocks()
	require.NoError(t, err)
	t.Cleanup(func() { _ = lc.Close() })
	for range 2 {
		held, err := lb.Hold("deliverer")
		require.NoError(t, err)
		require.True(t, held, "held, and held again")
	}
	held, err := lc.Hold("deliverer")
	require.NoError(t, err)
	require.False(t, held)
	require.NoError(t, lb.Close())
	held, err = lc.Hold("deliverer")
	require.NoError(t, err)
	require.True(t, held, "taken over once its holder's session ended")

	// A session lost while its node lives: claiming a lock it holds (what the sweepers cause,
	// as they see its jobs unclaimed) opens another session and takes the held locks again.
	pid := lc.conn.PgConn().PID()
	_, err = a.pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, a.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n))
		return n == 0
	}, 5*time.Second, 10*time.Millisecond, "the session ended")
	got, err = lc.Claim("deliverer")
	require.NoError(t, err)
	require.False(t, got, "held already")
	require.False(t, lc.conn.IsClosed(), "a new session")
	held, err = lc.Hold("deliverer")
	require.NoError(t, err)
	require.True(t, held, "held again on the new session")
	ld, err := b.OpenLocks()
	require.NoError(t, err)
	t.Cleanup(func() { _ = ld.Close() })
	got, err = ld.Claim("deliverer")
	require.NoError(t, err)
	require.False(t, got, "taken again by its node, not free for another")
}

// BenchmarkCreateJobAdmission is the cost of the cluster-wide caps: CreateJob without caps
// (one node) and with them (an advisory lock and a count of the unfinished jobs in the
// transaction), with 150 unfinished jobs stored. Each job created is finished again at once
// (not timed), so the count stays the same.
func BenchmarkCreateJobAdmission(b *testing.B) {
	base := testDatabase(b)
	for _, caps := range []struct {
		name            string
		maxJobs, perOrg int
	}{{"caps_off", 0, 0}, {"caps_on", 1000, 1000}} {
		b.Run(caps.name, func(b *testing.B) {
			db, err := Open(Config{URL: base, MaxJobs: caps.maxJobs, MaxJobsPerOrg: caps.perOrg})
			require.NoError(b, err)
			defer db.Close()
			for i := range 150 {
				j := &enricher.Job{ID: fmt.Sprintf("%s-open-%d", caps.name, i), OrganizationID: fmt.Sprintf("o%d", i%5),
					Status: enricher.JobRunning, CreatedAt: enricher.NewTime(time.Now())}
				require.NoError(b, db.CreateJob(j, nil))
			}
			b.ResetTimer()
			for i := range b.N {
				j := &enricher.Job{ID: fmt.Sprintf("%s-%d", caps.name, i), OrganizationID: "o1", Status: enricher.JobPending,
					CreatedAt: enricher.NewTime(time.Now())}
				require.NoError(b, db.CreateJob(j, nil))
				b.StopTimer()
				j.Status = enricher.JobCompleted
				_, err := db.pool.Exec(context.Background(), `UPDATE jobs SET active = false WHERE id = $1`, j.ID)
				require.NoError(b, err)
				b.StartTimer()
			}
		})
	}
}
