package actors

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// fakeFollower is an EventFollower the test signals by hand.
type fakeFollower struct {
	mu   sync.Mutex
	subs map[chan struct{}]string
}

func (f *fakeFollower) FollowEvents(job string) (<-chan struct{}, func(), error) {
	c := make(chan struct{}, 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[c] = job
	return c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, c)
	}, nil
}

func (f *fakeFollower) signal(job string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, j := range f.subs {
		if j == job {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
}

func (f *fakeFollower) registered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// followBundle is an engine with a follower, and a job stored as running that no actor of
// this engine runs (as one running on another node).
type followBundle struct {
	t        *testing.T
	db       *storage.DB
	engine   *Engine
	follower *fakeFollower
	job      *enricher.Job
}

func setupFollow(t *testing.T, maxSubs int) *followBundle {
	t.Helper()
	db, err := storage.Open(storage.Config{InMemory: true})
	require.NoError(t, err)
	b := &followBundle{t: t, db: db, follower: &fakeFollower{subs: map[chan struct{}]string{}}}
	b.engine, err = New(Config{SSEMaxSubscribers: maxSubs}, Deps{Store: db, Catalog: fakeCatalog{}, Follower: b.follower})
	require.NoError(t, err)
	t.Cleanup(func() {
		b.engine.Stop()
		require.NoError(t, db.Close())
	})
	// Stored after New: the engine's start-up recovery did not take it.
	b.job = &enricher.Job{ID: "elsewhere", OrganizationID: "org1", Status: enricher.JobRunning, CreatedAt: enricher.NewTime(time.Now())}
	require.NoError(t, db.CreateJob(b.job, nil))
	return b
}

// write commits events from..to of the job as its node would; terminal ends the job with to.
func (b *followBundle) write(from, to int64, terminal bool) {
	var batch storage.Batch
	for seq := from; seq <= to; seq++ {
		batch.Events = append(batch.Events, storage.EventEntry{JobID: b.job.ID, Seq: seq, Data: []byte(strconv.FormatInt(seq, 10))})
	}
	snap := *b.job
	snap.LastSeq = to
	if terminal {
		snap.Status = enricher.JobCompleted
	}
	batch.Jobs = []*enricher.Job{&snap}
	require.NoError(b.t, b.db.Commit(&batch))
}

// next reads up to n events, waiting at most wait for each, and returns their seqs, whether the
// last was terminal, and the error that stopped it (nil: n read or a wait ran out).
func next(t *testing.T, s *Stream, n int, wait time.Duration) (seqs []int64, terminal bool, err error) {
	t.Helper()
	for len(seqs) < n {
		ev, ok, err := s.Next(context.Background(), wait)
		if err != nil || !ok {
			return seqs, terminal, err
		}
		require.Equal(t, strconv.FormatInt(ev.Seq, 10), string(ev.Data))
		seqs, terminal = append(seqs, ev.Seq), ev.Terminal
	}
	return seqs, terminal, nil
}

// TestStreamFollowsAJobRunningElsewhere: a stream of a job that runs on another node reads the
// stored log, then waits for the follower's signal (not reading again on its own before the
// fallback poll), reads every event after its last one in order across log windows, and ends
// at the terminal event, marked, unregistering from the follower.
func TestStreamFollowsAJobRunningElsewhere(t *testing.T) {
	b := setupFollow(t, 4)
	b.write(1, 3, false)
	s, err := b.engine.Subscribe("org1", b.job.ID, 1)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, 1, b.follower.registered())

	seqs, _, err := next(t, s, 10, 0)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 3}, seqs, "the stored log after the resume point")

	b.write(4, 3+2*logWindow+5, false)
	seqs, _, err = next(t, s, 1, 50*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, seqs, "without a signal the log is not read again before the poll")

	b.follower.signal(b.job.ID)
	seqs, terminal, err := next(t, s, 1000, 50*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, seqRange(4, 3+2*logWindow+5), seqs, "every event after the last one, over several windows")
	require.False(t, terminal)

	last := int64(3 + 2*logWindow + 5)
	b.write(last+1, last+2, true)
	b.follower.signal(b.job.ID)
	seqs, terminal, err = next(t, s, 1000, time.Second)
	require.True(t, errors.Is(err, io.EOF), "%v", err)
	require.Equal(t, []int64{last + 1, last + 2}, seqs)
	require.True(t, terminal, "the job's end marks its terminal event")
	require.Zero(t, b.follower.registered(), "an ended follow unregisters")
}

// TestStreamFollowPollsWithoutSignal: a commit whose signal was lost is read by the fallback
// poll, within followPoll.
func TestStreamFollowPollsWithoutSignal(t *testing.T) {
	b := setupFollow(t, 4)
	s, err := b.engine.Subscribe("org1", b.job.ID, 0)
	require.NoError(t, err)
	defer s.Close()
	seqs, _, err := next(t, s, 1, 0)
	require.NoError(t, err)
	require.Empty(t, seqs)
	b.write(1, 2, true)
	seqs, terminal, err := next(t, s, 10, 3*followPoll)
	require.True(t, errors.Is(err, io.EOF), "%v", err)
	require.Equal(t, []int64{1, 2}, seqs)
	require.True(t, terminal)
}

// TestStreamFollowersCap: followers of one job count against sse_max_subscribers on this
// node; Close (twice is fine) frees a place; an ended job is served from its log, not followed.
func TestStreamFollowersCap(t *testing.T) {
	b := setupFollow(t, 2)
	s1, err := b.engine.Subscribe("org1", b.job.ID, 0)
	require.NoError(t, err)
	s2, err := b.engine.Subscribe("org1", b.job.ID, 0)
	require.NoError(t, err)
	_, err = b.engine.Subscribe("org1", b.job.ID, 0)
	require.True(t, enricher.IsKind(err, enricher.KindTooMany), "%v", err)
	require.Equal(t, 2, b.follower.registered())
	s1.Close()
	s1.Close()
	s3, err := b.engine.Subscribe("org1", b.job.ID, 0)
	require.NoError(t, err, "a closed follower frees its place")
	s2.Close()
	s3.Close()
	require.Zero(t, b.follower.registered())

	b.write(1, 1, true)
	s, err := b.engine.Subscribe("org1", b.job.ID, 0)
	require.NoError(t, err)
	defer s.Close()
	require.Zero(t, b.follower.registered(), "an ended job is not followed")
	seqs, terminal, err := next(t, s, 10, time.Second)
	require.True(t, errors.Is(err, io.EOF), "%v", err)
	require.Equal(t, []int64{1}, seqs)
	require.True(t, terminal)
}

// TestSubscribeWhileStopping: a stream opened while the server stops, on a job that does not
// run here and did not end, serves the stored events and then ends as a shutdown (the job
// resumes after the restart), not as a job whose log is complete.
func TestSubscribeWhileStopping(t *testing.T) {
	b := setupFollow(t, 10)
	b.write(1, 3, false)
	b.engine.stopped.Store(true) // as Stop does first
	s, err := b.engine.Subscribe("org1", b.job.ID, 0)
	require.NoError(t, err)
	defer s.Close()
	seqs, terminal, err := next(t, s, 10, time.Second)
	require.Equal(t, []int64{1, 2, 3}, seqs)
	require.False(t, terminal)
	require.True(t, ErrStreamShutdown(err), "the stream ends as a shutdown: %v", err)
}
