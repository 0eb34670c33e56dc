package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// journalHost is a job actor reduced to its journal: it appends the events it is told to and
// serves persisted and the subscription messages as a job actor does.
type journalHost struct {
	job  *enricher.Job
	deps journalDeps
	j    *journal
}

// appendEvents asks the host to append n events with payload (the last terminal when
// terminal is set).
type appendEvents struct {
	n        int
	payload  any
	terminal bool
}

// journalState asks the host for the seq published last and the number of subscribers.
type journalState struct{}

type journalStateReply struct {
	published int64
	subs      int
}

func (h *journalHost) Receive(c actor.Context) {
	defer func() {
		if h.j != nil {
			h.j.flush(c)
		}
	}()
	switch m := c.Message().(type) {
	case *actor.Started:
		h.j = newJournal(h.job, h.deps)
	case *appendEvents:
		for i := range m.n {
			typ := enricher.EventModelCompleted
			if m.terminal && i == m.n-1 {
				typ = enricher.EventCompleted
			}
			h.j.append(c, h.job, &enricher.EventHeader{Type: typ}, m.payload, storage.Batch{})
		}
	case *persisted:
		h.j.stored(m.upTo)
	case *subscribe, *rejoinLive, *unsubscribe:
		h.j.serve(c, m)
	case *journalState:
		c.Respond(&journalStateReply{published: h.j.subs.published, subs: h.j.subs.count()})
	case *actor.Stopping:
		h.j.stop()
	}
}

// journalBundle runs one journal host over an in-memory store and a real persister.
type journalBundle struct {
	t        *testing.T
	db       *storage.DB
	sys      *actor.ActorSystem
	host     *actor.PID
	job      *enricher.Job
	stopping atomic.Bool
	caught   catchUpCounter
}

// setupJournal starts a host whose job was stored with lastSeq events of eventBytes bytes.
func setupJournal(t *testing.T, cfg Config, lastSeq, eventBytes int64) *journalBundle {
	t.Helper()
	db, err := storage.Open(storage.Config{InMemory: true})
	require.NoError(t, err)
	b := &journalBundle{t: t, db: db, sys: actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))}
	cfg.Observer = &b.caught
	cfg = cfg.WithDefaults()
	b.job = &enricher.Job{ID: "job1", OrganizationID: "org1", Type: enricher.JobSingleEnrichment, Status: enricher.JobRunning,
		CreatedAt: enricher.NewTime(cfg.Now()), RecordIDs: []string{}, LastSeq: lastSeq, EventBytes: eventBytes}
	require.NoError(t, db.CreateJob(b.job, nil))
	persister := b.sys.Root.Spawn(actor.PropsFromProducer(newPersister(db, slog.New(slog.DiscardHandler), time.Millisecond, nil)))
	deps := journalDeps{persister: persister, cfg: &cfg, log: slog.New(slog.DiscardHandler), stopping: &b.stopping}
	job := *b.job
	b.host = b.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &journalHost{job: &job, deps: deps} }))
	t.Cleanup(func() {
		_ = b.sys.Root.PoisonFuture(b.host).Wait()
		_, _ = b.sys.Root.RequestFuture(persister, &drain{}, 5*time.Second).Result()
		_ = b.sys.Root.PoisonFuture(persister).Wait()
		b.sys.Shutdown()
		require.NoError(t, db.Close())
	})
	return b
}

// rejoin and unsubscribe make the bundle the streams' link to the host, as jobLink is to a job.
func (b *journalBundle) rejoin(sub *Subscription) (*lane, error) {
	res, err := b.sys.Root.RequestFuture(b.host, &rejoinLive{Sub: sub}, 5*time.Second).Result()
	if err != nil {
		return nil, err
	}
	return res.(*subscribed).Lane, nil
}

func (b *journalBundle) unsubscribe(sub *Subscription) {
	b.sys.Root.Send(b.host, &unsubscribe{Sub: sub})
}

// subscribe opens a stream after seq after, as Engine.Subscribe does for a running job.
func (b *journalBundle) subscribe(after int64) *Stream {
	b.t.Helper()
	res, err := b.sys.Root.RequestFuture(b.host, &subscribe{}, 5*time.Second).Result()
	require.NoError(b.t, err)
	r := res.(*subscribed)
	require.NoError(b.t, r.Err)
	s := logStream(b.db, b.job.ID, after)
	if r.Sub != nil {
		s.followLane(b, r.Sub, r.Lane)
	}
	s.final = r.Final
	return s
}

func (b *journalBundle) write(n int, payload any, terminal bool) {
	b.sys.Root.Send(b.host, &appendEvents{n: n, payload: payload, terminal: terminal})
}

func (b *journalBundle) state() *journalStateReply {
	b.t.Helper()
	res, err := b.sys.Root.RequestFuture(b.host, &journalState{}, 5*time.Second).Result()
	require.NoError(b.t, err)
	return res.(*journalStateReply)
}

// waitPublished waits until the journal published seq.
func (b *journalBundle) waitPublished(seq int64) {
	b.t.Helper()
	require.Eventually(b.t, func() bool { return b.state().published >= seq }, 10*time.Second, time.Millisecond)
}

// stored returns the stored events of the job.
func (b *journalBundle) stored() (seqs []int64, data [][]byte) {
	b.t.Helper()
	require.NoError(b.t, b.db.Events(b.job.ID, 0, 0, func(seq int64, d []byte) error {
		seqs, data = append(seqs, seq), append(data, append([]byte(nil), d...))
		return nil
	}))
	return seqs, data
}

// readStream reads s to its end (io.EOF) and returns the seqs and whether the last was terminal.
func readStream(t *testing.T, s *Stream) ([]int64, bool) {
	t.Helper()
	seqs, terminal, err := drainStream(s)
	require.NoError(t, err)
	return seqs, terminal
}

// drainStream is readStream for goroutines other than the test's.
func drainStream(s *Stream) (seqs []int64, terminal bool, err error) {
	for {
		ev, ok, err := s.Next(context.Background(), 10*time.Second)
		if errors.Is(err, io.EOF) {
			return seqs, terminal, nil
		}
		if err != nil {
			return seqs, terminal, err
		}
		if !ok {
			return seqs, terminal, fmt.Errorf("no event within 10s after seq %d", s.last)
		}
		seqs, terminal = append(seqs, ev.Seq), ev.Terminal
	}
}

// TestJournalSeqContinuity: a recovered job goes on from its stored last_seq with no gap, and
// the snapshot stored with each event carries the journal's last_seq and event_bytes.
func TestJournalSeqContinuity(t *testing.T) {
	t.Parallel()
	b := setupJournal(t, Config{}, 7, 100)
	payload := enricher.ModelCompletedEvent{ModelResult: enricher.ModelResult{Model: "fake::a", Result: json.RawMessage(`{"x":1}`)}}
	b.write(3, payload, false)
	b.write(2, payload, true)
	b.waitPublished(12)
	seqs, data := b.stored()
	require.Equal(t, seqRange(8, 12), seqs, "numbered from the stored last_seq on, one by one")
	size := int64(100)
	for i, d := range data {
		var ev map[string]any
		require.NoError(t, json.Unmarshal(d, &ev))
		require.EqualValues(t, seqs[i], ev["seq"], "the seq in the event is its key")
		require.Equal(t, "job1", ev["job_id"])
		size += int64(len(d))
	}
	job, err := b.db.Job("org1", "job1")
	require.NoError(t, err)
	require.EqualValues(t, 12, job.LastSeq, "the snapshot stored with the last event")
	require.Equal(t, size, job.EventBytes, "event_bytes counts every encoded event, from the stored figure on")
}

// TestJournalBudgets: a payload over event_max_bytes is stored truncated; once the job's events
// passed job_events_max_bytes, every truncatable payload is, however small.
func TestJournalBudgets(t *testing.T) {
	t.Parallel()
	b := setupJournal(t, Config{EventMaxBytes: 1000, JobEventsMaxBytes: 5000}, 0, 0)
	small := enricher.ModelCompletedEvent{ModelResult: enricher.ModelResult{Model: "fake::a", Result: json.RawMessage(`{"x":1}`)}}
	big := small
	big.Result = json.RawMessage(`{"x":"` + strings.Repeat("y", 3000) + `"}`)
	b.write(1, small, false) // 1: under both budgets
	b.write(1, big, false)   // 2: over event_max_bytes
	b.waitPublished(2)
	_, data := b.stored()
	require.Contains(t, string(data[0]), `"result":{"x":1}`)
	require.NotContains(t, string(data[0]), `"truncated"`)
	require.Contains(t, string(data[1]), `"truncated":true`)
	require.NotContains(t, string(data[1]), "yyyy", "the result is dropped")
	require.Less(t, len(data[1]), 1000)

	b.write(20, small, false) // passes job_events_max_bytes on the way
	b.waitPublished(22)
	_, data = b.stored()
	total, truncatedFrom := 0, 0
	for i, d := range data {
		if total > 5000 && truncatedFrom == 0 {
			truncatedFrom = i
		}
		total += len(d)
		if truncatedFrom == 0 && i > 1 {
			require.NotContains(t, string(d), `"truncated"`, "event %d: under the job budget", i+1)
		}
	}
	require.Positive(t, truncatedFrom, "the job's events passed job_events_max_bytes")
	for _, d := range data[truncatedFrom:] {
		require.Contains(t, string(d), `"truncated":true`, "past the job budget every payload is truncated")
	}
}

// TestJournalSubscribeThenReplayWhileWriting: streams opened at any moment while events are
// being written, from the start or from a resume point, each get every seq after their
// resume point once, in order, up to the terminal event.
func TestJournalSubscribeThenReplayWhileWriting(t *testing.T) {
	t.Parallel()
	b := setupJournal(t, Config{SSEBuffer: 512, SSEMaxSubscribers: 64}, 0, 0)
	payload := enricher.ModelStartedEvent{Model: "fake::a", ExpertiseKeys: []string{}}
	const chunks, per = 40, 10
	var wg sync.WaitGroup
	results := make([][]int64, chunks)
	terminals := make([]bool, chunks)
	errs := make([]error, chunks)
	afters := make([]int64, chunks)
	for i := range chunks {
		b.write(per, payload, i == chunks-1)
		afters[i] = int64(i) // resume points that may or may not be stored yet
		s := b.subscribe(afters[i])
		wg.Go(func() {
			defer s.Close()
			results[i], terminals[i], errs[i] = drainStream(s)
		})
	}
	wg.Wait()
	for i, seqs := range results {
		require.NoError(t, errs[i])
		require.True(t, terminals[i], "stream %d ends with the terminal event", i)
		require.Equal(t, seqRange(afters[i]+1, chunks*per), seqs, "stream %d: no gap, no duplicate", i)
	}
	require.Zero(t, b.caught.n.Load(), "nobody fell behind: every event came from the log or the live lane")
}

// TestJournalSlowSubscriberCatchesUp: a subscriber that stops reading falls behind twice while
// the job goes on; it reads the stored log after its last seq, rejoins the live journal and
// still gets every seq once, in order, with the terminal event last.
func TestJournalSlowSubscriberCatchesUp(t *testing.T) {
	t.Parallel()
	b := setupJournal(t, Config{SSEBuffer: 4}, 0, 0)
	payload := enricher.ModelStartedEvent{Model: "fake::a", ExpertiseKeys: []string{}}
	s := b.subscribe(0)
	defer s.Close()
	b.write(100, payload, false) // overflows the buffer of 4 at seq 5
	b.waitPublished(100)
	require.Len(t, s.tail.(*liveTail).live, 4, "the journal held at most sse_buffer events for the subscriber")
	require.EqualValues(t, 1, b.caught.n.Load())
	var got []int64
	for len(got) < 100 { // the buffer, then the log; the stream rejoined the live journal meanwhile
		ev, ok, err := s.Next(context.Background(), time.Second)
		require.NoError(t, err)
		require.True(t, ok)
		got = append(got, ev.Seq)
	}
	require.Equal(t, 1, b.state().subs, "catching up kept its place")
	b.write(50, payload, false) // falls behind again on the new lane
	b.write(1, payload, true)
	b.waitPublished(151)
	rest, terminal := readStream(t, s)
	require.Equal(t, seqRange(1, 151), append(got, rest...))
	require.True(t, terminal)
	require.EqualValues(t, 2, b.caught.n.Load())
}

// TestJournalUnsubscribesOnJobEnd: a closed stream frees its place; the terminal event ends
// every subscription; later subscribers are told the terminal seq and read the log alone; a
// journal stopped while the engine stops ends its streams as a shutdown.
func TestJournalUnsubscribesOnJobEnd(t *testing.T) {
	t.Parallel()
	b := setupJournal(t, Config{}, 0, 0)
	payload := enricher.ModelStartedEvent{Model: "fake::a", ExpertiseKeys: []string{}}
	first, second := b.subscribe(0), b.subscribe(0)
	require.Equal(t, 2, b.state().subs)
	second.Close()
	second.Close() // idempotent
	require.Equal(t, 1, b.state().subs, "a closed stream frees its place")
	b.write(3, payload, true)
	seqs, terminal := readStream(t, first)
	require.Equal(t, seqRange(1, 3), seqs)
	require.True(t, terminal)
	require.Equal(t, 0, b.state().subs, "the terminal event ended every subscription")
	require.Equal(t, laneFinished, first.tail.(*liveTail).lane.end)
	first.Close()

	late := b.subscribe(1)
	require.Nil(t, late.subscription(), "a finished journal registers nobody")
	seqs, terminal = readStream(t, late)
	require.Equal(t, seqRange(2, 3), seqs, "the log alone, to the terminal event")
	require.True(t, terminal)

	other := setupJournal(t, Config{}, 0, 0)
	s := other.subscribe(0)
	defer s.Close()
	other.write(2, payload, false)
	other.waitPublished(2)
	other.stopping.Store(true)
	require.NoError(t, other.sys.Root.PoisonFuture(other.host).Wait())
	seqs, _ = readAll(t, s, 2)
	require.Equal(t, seqRange(1, 2), seqs, "what was published before the stop")
	_, _, err := s.Next(context.Background(), time.Second)
	require.True(t, ErrStreamShutdown(err), "a stop while the engine stops ends the stream: %v", err)
}

// TestSubscribeAtTheJobsEnd: subscribers keep subscribing to jobs that end within a few
// milliseconds, so some subscribe requests reach a job whose end is stored and whose stop is
// on its way; each is answered (live, or with the terminal seq: no "job did not answer"
// after the ask timeout), and a stream opened then reads the job to its terminal event.
func TestSubscribeAtTheJobsEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{SSEMaxSubscribers: 1000}, 0)
	for range 20 {
		job, err := b.engine.Start("org1", enricher.CreatedBy{}, spec("fake::a"))
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				for n := 0; ; n++ {
					s, err := b.engine.Subscribe("org1", job.ID, 0)
					if err != nil {
						errs[i] = err
						return
					}
					if s.subscription() != nil && n%16 != 0 { // most only ask, and leave at once
						s.Close()
						continue
					}
					_, terminal, err := drainStream(s)
					s.Close()
					if err != nil || !terminal {
						errs[i] = fmt.Errorf("stream ended without its terminal event: %v", err)
						return
					}
					if s.subscription() == nil { // the job had ended: served from the log
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	}
}

// subscription is the journal subscription of a stream that follows the job's live lanes;
// nil for one served from its log (or followed through the store).
func (s *Stream) subscription() *Subscription {
	if t, ok := s.tail.(*liveTail); ok {
		return t.sub
	}
	return nil
}

// TestJournalOneWritePerMessage: the events and writes one message produces leave as one
// persist request, in order, acknowledged up to the last event; nothing leaves before the
// actor's Receive ends.
func TestJournalOneWritePerMessage(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(sys.Shutdown)
	got := make(chan *persist, 10)
	queued := make(chan int, 1)
	persister := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if p, ok := c.Message().(*persist); ok {
			got <- p
		}
	}))
	cfg := Config{}.WithDefaults()
	job := &enricher.Job{ID: "job1", OrganizationID: "org1", Type: enricher.JobSingleEnrichment, Status: enricher.JobRunning, RecordIDs: []string{}}
	deps := journalDeps{persister: persister, cfg: &cfg, log: slog.New(slog.DiscardHandler)}
	host := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*appendEvents); !ok {
			return
		}
		j := newJournal(job, deps)
		j.append(c, job, &enricher.EventHeader{Type: enricher.EventModelStarted}, nil, storage.Batch{})
		j.write(c, storage.Batch{Finished: []storage.EntityMark{{JobID: job.ID, Index: 4}}})
		j.append(c, job, &enricher.EventHeader{Type: enricher.EventCompleted}, nil, storage.Batch{})
		queued <- len(j.out.batch.Events)
		j.flush(c)
	}))
	sys.Root.Send(host, &appendEvents{})
	require.Equal(t, 2, <-queued, "queued, not sent, until flush")
	p := <-got
	require.Len(t, p.batch.Events, 2)
	require.Equal(t, []int64{1, 2}, []int64{p.batch.Events[0].Seq, p.batch.Events[1].Seq})
	require.Len(t, p.batch.Finished, 1)
	require.Equal(t, int64(2), p.upTo)
	require.True(t, p.cumulative)
	require.Equal(t, host, p.notify)
	select {
	case extra := <-got:
		t.Fatalf("a second request: %+v", extra)
	case <-time.After(50 * time.Millisecond):
	}
}
