package actors

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
)

// catchUpCounter is an Observer that counts stream catch-ups.
type catchUpCounter struct {
	nopObserver
	n atomic.Int64
}

func (c *catchUpCounter) StreamCatchUp() { c.n.Add(1) }

// logAndHub plays the persister and the job's actor for a test job: it stores events, then
// publishes them to the journal's subscribers; it is the streams' link to them.
type logAndHub struct {
	t  *testing.T
	db *storage.DB
	mu sync.Mutex // the actor's mailbox: one caller at a time
	h  *subscribers
}

func newLogAndHub(t *testing.T, maxSubs, buf int) *logAndHub {
	db, err := storage.Open(storage.Config{InMemory: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return &logAndHub{t: t, db: db, h: newSubscribers(0, maxSubs, buf, nil)}
}

func (l *logAndHub) rejoin(sub *Subscription) (*lane, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.rejoin(sub), nil
}

func (l *logAndHub) unsubscribe(sub *Subscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.h.remove(sub, laneClosed)
}

// follow subscribes a stream that starts after seq after, as Engine.Subscribe does.
func (l *logAndHub) follow(after int64) (*Stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sub, ln, final, err := l.h.subscribe()
	if err != nil {
		return nil, err
	}
	s := logStream(l.db, "job1", after)
	if sub != nil {
		s.followLane(l, sub, ln)
	}
	s.final = final
	return s, nil
}

// publish stores and publishes events from..to; the last is terminal when terminal is set.
func (l *logAndHub) publish(from, to int64, terminal bool) {
	var b storage.Batch
	var evs []Event
	for seq := from; seq <= to; seq++ {
		typ := "entity_completed"
		if terminal && seq == to {
			typ = "completed"
		}
		data := []byte(`{"type":"` + typ + `","seq":` + strconv.FormatInt(seq, 10) + `}`)
		b.Events = append(b.Events, storage.EventEntry{JobID: "job1", Seq: seq, Data: data})
		evs = append(evs, Event{Seq: seq, Data: data, Terminal: enricher.TerminalEvent(typ)})
	}
	require.NoError(l.t, l.db.Commit(&b))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.h.publish(evs)
}

// readAll reads s until io.EOF (or n events, n > 0) and returns the seqs and whether the last
// was terminal.
func readAll(t *testing.T, s *Stream, n int) ([]int64, bool) {
	t.Helper()
	var seqs []int64
	terminal := false
	for n <= 0 || len(seqs) < n {
		ev, ok, err := s.Next(context.Background(), 0)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if !ok {
			break
		}
		seqs = append(seqs, ev.Seq)
		terminal = ev.Terminal
	}
	return seqs, terminal
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestHubSkipsAFullSubscriberAndKeepsItsPlace(t *testing.T) {
	t.Parallel()
	caught := 0
	h := newSubscribers(0, 1, 4, func() { caught++ })
	sub, ln, _, err := h.subscribe()
	require.NoError(t, err)
	for seq := int64(1); seq <= 1000; seq++ { // never blocks although nobody reads
		h.publish([]Event{{Seq: seq, Data: []byte("{}")}})
	}
	c := ln.c
	require.Equal(t, 4, len(c), "the journal holds at most sse_buffer events for a subscriber")
	require.Equal(t, 1, caught, "one catch-up until the subscriber rejoins")
	_, _, _, err = h.subscribe()
	require.True(t, enricher.IsKind(err, enricher.KindTooMany), "a lagging subscriber keeps its place: the cap is full")
	for range c { // what the buffer held, then closed
	}
	require.Equal(t, laneBehind, ln.end)
	next := h.rejoin(sub)
	require.NotNil(t, next.c, "rejoining is never refused by the cap")
	require.EqualValues(t, 1000, next.since)
	h.publish([]Event{{Seq: 1001, Data: []byte("{}")}})
	require.EqualValues(t, 1001, (<-next.c).Seq)

	h.publish([]Event{{Seq: 1002, Data: []byte("{}"), Terminal: true}})
	require.Equal(t, 0, h.count(), "the terminal event ends every subscription")
	end := h.rejoin(sub)
	require.Equal(t, laneFinished, end.end)
	require.EqualValues(t, 1002, end.final)
}

func TestHubRejoinAfterShutdownAndClose(t *testing.T) {
	t.Parallel()
	h := newSubscribers(0, 2, 1, nil)
	a, _, _, err := h.subscribe()
	require.NoError(t, err)
	b, _, _, err := h.subscribe()
	require.NoError(t, err)
	h.publish([]Event{{Seq: 1}, {Seq: 2}}) // both lag
	h.remove(b, laneClosed)
	require.Equal(t, 1, h.count(), "closing a lagging subscription frees its place")
	require.Equal(t, laneClosed, h.rejoin(b).end)
	h.stop(laneShutdown)
	require.Equal(t, laneShutdown, h.rejoin(a).end)
	h.remove(a, laneClosed) // idempotent after the journal closed it
}

// TestStreamCatchUpCycle drives a stream through two catch-ups, the second ended by the
// terminal event, and checks every seq arrives once, in order, with the terminal flag
// carried by the event read from the log.
func TestStreamCatchUpCycle(t *testing.T) {
	t.Parallel()
	l := newLogAndHub(t, 1, 2)
	caught := 0
	l.h.onCatchUp = func() { caught++ }
	s, err := l.follow(0)
	require.NoError(t, err)
	defer s.Close()

	l.publish(1, 10, false) // the buffer of 2 overflows at 3
	got, _ := readAll(t, s, 4)
	require.Equal(t, seqRange(1, 4), got, "the buffer, then the log")
	require.Equal(t, 1, l.h.count(), "catching up keeps its place")
	l.publish(11, 20, false) // overflows the new channel while the stream reads its window
	l.publish(21, 21, true)  // the job ends while the subscriber lags
	rest, terminal := readAll(t, s, 0)
	require.Equal(t, seqRange(5, 21), rest)
	require.True(t, terminal, "the terminal event read from the log is marked")
	require.Equal(t, 2, caught)
	_, _, err = s.Next(context.Background(), time.Millisecond)
	require.ErrorIs(t, err, io.EOF)
}

func TestStreamResumePointAndShutdown(t *testing.T) {
	t.Parallel()
	l := newLogAndHub(t, 4, 8)
	l.publish(1, 5, false)
	s, err := l.follow(3)
	require.NoError(t, err)
	defer s.Close()
	l.publish(6, 7, false)
	got, _ := readAll(t, s, 0)
	require.Equal(t, seqRange(4, 7), got, "stored events after the resume point, then live ones")
	_, ok, err := s.Next(context.Background(), time.Millisecond)
	require.NoError(t, err)
	require.False(t, ok, "nothing new: Next waits, then says so")
	l.mu.Lock()
	l.h.stop(laneShutdown)
	l.mu.Unlock()
	_, _, err = s.Next(context.Background(), time.Second)
	require.True(t, ErrStreamShutdown(err), "shutdown ends the stream: %v", err)
}

// TestStuckSubscriberCatchesUp runs a job while one subscriber reads nothing: the job
// finishes, the hub held at most sse_buffer events for it, and it then reads every event
// from 1 to the terminal one from where it stopped.
func TestStuckSubscriberCatchesUp(t *testing.T) {
	t.Parallel()
	obs := &catchUpCounter{}
	b := setup(t, Config{SSEBuffer: 2, Observer: obs}, 0)
	s := spec("fake::a", "fake::b", "fake::c")
	s.Strategy = enricher.StrategyMultiExpertise
	job, err := b.engine.Start("org1", enricher.CreatedBy{}, s)
	require.NoError(t, err)
	stuck, err := b.engine.Subscribe("org1", job.ID, 0) // not read until the job ended
	require.NoError(t, err)
	defer stuck.Close()
	reader, err := b.engine.Subscribe("org1", job.ID, 0)
	require.NoError(t, err)
	defer reader.Close()

	events := b.collect(reader, 0) // one stream, never reopened
	require.Equal(t, "completed", events[len(events)-1].typ())
	require.Greater(t, len(events), 6)
	require.LessOrEqual(t, len(stuck.tail.(*liveTail).live), 2, "the hub held at most sse_buffer events for the stuck subscriber")
	require.Positive(t, obs.n.Load(), "the stuck subscriber fell behind")
	again := b.collect(stuck, 0)
	require.Equal(t, len(events), len(again), "the stuck subscriber gets every event from the log")
	require.Equal(t, "completed", again[len(again)-1].typ())
}

func TestSubscriberLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{SSEMaxSubscribers: 2}, 0)
	release := make(chan struct{})
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		<-release
		return b.provider.answer(req), nil
	}
	id, first := b.start(spec("fake::a"))
	second, err := b.engine.Subscribe("org1", id, 0)
	require.NoError(t, err)
	defer second.Close()
	_, err = b.engine.Subscribe("org1", id, 0)
	require.True(t, enricher.IsKind(err, enricher.KindTooMany), "more than sse_max_subscribers is 429")
	_, err = b.engine.Subscribe("org2", id, 0)
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "another organization's running job is not found: %v", err)
	require.True(t, enricher.IsKind(b.engine.Cancel("org2", id), enricher.KindNotFound))
	close(release)
	require.Equal(t, "completed", b.collect(first, 0)[2].typ())
	late, err := b.engine.Subscribe("org1", id, 0)
	require.NoError(t, err, "a finished job is served from the log to anyone")
	require.Len(t, b.collect(late, 0), 3)
	_, err = b.engine.Subscribe("org2", id, 0)
	require.True(t, enricher.IsKind(err, enricher.KindNotFound))
}

func TestExpertDomainsOneCallWithSections(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	var mu sync.Mutex
	var prompts []string
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		mu.Lock()
		prompts = append(prompts, req.Messages[0].Content)
		mu.Unlock()
		return b.provider.answer(req), nil
	}
	for _, models := range [][]string{{"fake::a"}, {"fake::a", "fake::b", "fake::c"}} {
		mu.Lock()
		prompts = nil
		mu.Unlock()
		s := spec(models...)
		s.Strategy = enricher.StrategyExpertDomains
		_, stream := b.start(s)
		events := b.collect(stream, 0)
		require.Equal(t, "completed", events[len(events)-1].typ())
		mu.Lock()
		require.Len(t, prompts, len(models), "one call per model")
		require.Contains(t, prompts[0], "## Profile")
		require.Contains(t, prompts[0], "## People")
		mu.Unlock()
		require.Empty(t, events[0]["expertise_keys"])
	}
}
