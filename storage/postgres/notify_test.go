package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// followAll follows job on db after seq after, as a stream on another node does: register,
// read the table after the last seq, then read again after each signal only (no fallback
// poll, so a lost notification shows as a timeout), until seq upTo. It returns the seqs read.
func followAll(t *testing.T, db *DB, job string, after, upTo int64) ([]int64, error) {
	signal, stop, err := db.FollowEvents(job)
	if err != nil {
		return nil, err
	}
	defer stop()
	var got []int64
	last := after
	for {
		err := db.Events(job, last, 0, func(seq int64, data []byte) error {
			if string(data) != strconv.FormatInt(seq, 10) {
				return fmt.Errorf("event %d carries %q", seq, data)
			}
			got = append(got, seq)
			last = seq
			return nil
		})
		if err != nil {
			return got, err
		}
		if last >= upTo {
			return got, nil
		}
		select {
		case <-signal:
		case <-time.After(10 * time.Second):
			return got, fmt.Errorf("no signal for 10s after seq %d", last)
		}
	}
}

// TestFollowEventsAcrossNodes writes 2,000 events of one job in many small commits on one
// store while followers on another store of the same database follow it from several resume
// points: each reads exactly seq after+1..2000, in order, woken by notifications alone. With
// kill, the listener's connection is terminated by the server half-way (pg_terminate_backend):
// the listener reconnects and wakes every follower, so nothing is missed.
func TestFollowEventsAcrossNodes(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(fmt.Sprintf("kill=%v", kill), func(t *testing.T) {
			t.Parallel()
			nodes := openNodes(t, 2)
			writer, reader := nodes[0], nodes[1]
			job := &enricher.Job{ID: "job-follow", OrganizationID: "o", Status: enricher.JobRunning, CreatedAt: enricher.NewTime(time.Now())}
			require.NoError(t, writer.CreateJob(job, nil))

			const total = 2000
			resume := []int64{0, 1, 700, 1999}
			got := make([][]int64, len(resume))
			errs := make([]error, len(resume))
			var wg sync.WaitGroup
			for i, after := range resume {
				wg.Go(func() { got[i], errs[i] = followAll(t, reader, job.ID, after, total) })
			}
			// The listener is connected (the first follower started it), for the kill below.
			require.Eventually(t, func() bool { return reader.listen.currentPID() != 0 }, 10*time.Second, 5*time.Millisecond)

			seq := int64(0)
			for commit := 0; seq < total; commit++ {
				var b storage.Batch
				for range 1 + commit%5 {
					if seq == total {
						break
					}
					seq++
					b.Events = append(b.Events, storage.EventEntry{JobID: job.ID, Seq: seq, Data: []byte(strconv.FormatInt(seq, 10))})
				}
				snap := *job
				snap.LastSeq = seq
				if seq == total {
					snap.Status = enricher.JobCompleted
				}
				b.Jobs = []*enricher.Job{&snap}
				// Half-way, and right before the last commit (whose notification only a
				// listener that wakes everyone after reconnecting makes up for).
				if kill && (seq == total || seq >= total/2 && seq-int64(len(b.Events)) < total/2) {
					killListener(t, writer, reader)
				}
				require.NoError(t, writer.Commit(&b))
			}
			wg.Wait()
			for i, after := range resume {
				require.NoError(t, errs[i], "follower after %d", after)
				want := make([]int64, 0, total-after)
				for s := after + 1; s <= total; s++ {
					want = append(want, s)
				}
				require.Equal(t, want, got[i], "follower after %d reads every event once, in order", after)
			}
		})
	}
}

// killListener terminates the connection of reader's listener from writer, once it has one.
func killListener(t *testing.T, writer, reader *DB) {
	t.Helper()
	var pid uint32
	require.Eventually(t, func() bool { pid = reader.listen.currentPID(); return pid != 0 }, 10*time.Second, time.Millisecond)
	var killed bool
	require.NoError(t, writer.pool.QueryRow(context.Background(), `SELECT pg_terminate_backend($1)`, int64(pid)).Scan(&killed))
	require.True(t, killed, "the listener's backend %d was terminated", pid)
}

// TestFollowEventsAfterClose: a closed store refuses to follow, and Close stops the listener.
func TestFollowEventsAfterClose(t *testing.T) {
	db, err := Open(Config{URL: schemaURL(t, testDatabase(t), 1)})
	require.NoError(t, err)
	_, stop, err := db.FollowEvents("j")
	require.NoError(t, err)
	stop()
	stop()
	require.NoError(t, db.Close())
	_, _, err = db.FollowEvents("j")
	require.True(t, enricher.IsKind(err, enricher.KindUnavailable), "%v", err)
	require.Zero(t, db.listen.currentPID(), "the listener's connection is closed")
}

// TestFollowEventsSchemasApart: stores in two schemas of one database notify on channels of
// their own, so a commit in one does not wake the followers of the other (job ids may repeat
// across schemas), while a commit in the follower's schema does.
func TestFollowEventsSchemasApart(t *testing.T) {
	dbURL := testDatabase(t)
	stores := make([]*DB, 2)
	for i := range stores {
		db, err := Open(Config{URL: schemaURL(t, dbURL, int64(i+1))})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		stores[i] = db
	}
	require.NotEqual(t, stores[0].channel, stores[1].channel)
	signal, stop, err := stores[1].FollowEvents("j")
	require.NoError(t, err)
	defer stop()
	require.Eventually(t, func() bool { return stores[1].listen.currentPID() != 0 }, 10*time.Second, time.Millisecond)
	select { // the wake-up that follows the listener's connection
	case <-signal:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after the listener connected")
	}
	commit := func(db *DB, seq int64) {
		require.NoError(t, db.Commit(&storage.Batch{Events: []storage.EventEntry{{JobID: "j", Seq: seq, Data: []byte("{}")}}}))
	}
	commit(stores[0], 1)
	commit(stores[1], 1)
	select {
	case <-signal:
	case <-time.After(10 * time.Second):
		t.Fatal("a commit in the follower's schema did not wake it")
	}
	commit(stores[0], 2)
	select {
	case <-signal:
		t.Fatal("a commit in another schema woke the follower")
	case <-time.After(200 * time.Millisecond):
	}
}
