package actors

import (
	"context"
	"errors"
	"io"
	"math"
	"time"

	"github.com/entity-enricher/enricher"
)

// Stream is one subscriber's view of a job: the stored events after its resume point, then
// live ones, in seq order with no gap and no duplicate, up to the terminal event. It owns
// the whole subscribe / replay / fall behind / catch up / rejoin cycle, against the job's
// journal (journal.go), which it reaches only by messages to the job's actor (streamLink):
//
//   - Subscribe registers with the job's journal first, then Next reads the stored log up to
//     the point where the live lane takes over (subscribe-then-replay), then the live lane,
//     skipping any seq already returned.
//   - When the subscriber falls behind (its live buffer of sse_buffer events fills), the
//     journal closes its lane and stops sending to it, and the job goes on. Next returns what
//     the lane still holds, rejoins (a new lane that starts after the last published seq) and
//     reads the stored log after the last seq it returned up to where the new lane starts, in
//     windows of at most logWindow events. The subscription keeps its place under
//     sse_max_subscribers meanwhile, so the rejoin is never refused and nobody takes it.
//   - A job that is neither running on this node nor ended (it runs on another node sharing
//     the database) is followed through the store (follow.go) when the store offers an
//     EventFollower: the log to its current end, then again after each signal of a commit
//     (or the fallback poll), until the job's snapshot says it ended. Without one the log
//     alone serves it, to its current end.
//
// Memory per stream is bounded by the live buffer plus one log window. A Stream is used by
// one goroutine; Close may be called from any goroutine, once or more. It implements
// enricher.EventStream.
type Stream struct {
	store  Store
	jobID  string
	tail   tail    // where events come from once the log is read up to logTo; swapped as the job ends
	last   int64   // last seq returned by Next
	logTo  int64   // read the log up to this seq before asking the tail (toEnd: all of it)
	final  int64   // seq of the terminal event once known, else 0
	done   bool    // the terminal event was returned, or the log-only stream is exhausted
	window []Event // events read from the log, not yet returned
	pos    int
	timer  *time.Timer
	// release frees the stream's place (its journal subscription or its follower's place);
	// set before the stream is handed out and never changed, so Close (any goroutine) reads
	// only that.
	release func()
}

var _ enricher.EventStream = (*Stream)(nil)

// tail is what a Stream reads after the stored log, one kind per way of following a job:
// the job's live lanes on this node (liveTail), the store's signals of a job running on
// another node (storeTail, follow.go), the shutdown (shutdownTail), or nothing more (logTail: the job ended or is served
// from its log alone). Only the stream's goroutine calls it; a tail may replace itself
// (s.tail) when the job ends.
type tail interface {
	// logRead follows each read of the stored log up to s.logTo: n events were read into
	// s.window, full when the window filled (more may follow at once). It may move s.logTo
	// and s.final, or end the stream (s.done).
	logRead(s *Stream, n int, full bool) error
	// await runs once the log is read up to s.logTo: it returns a live event (tailEvent),
	// or tailAgain when the stream changed (read the log again), or tailIdle when nothing
	// came within wait (until: the deadline of this Next call, set on its first wait).
	await(ctx context.Context, s *Stream, wait time.Duration, until *time.Time) (Event, tailResult, error)
}

// tailResult is what tail.await found.
type tailResult int

const (
	tailIdle  tailResult = iota // nothing within wait
	tailEvent                   // a live event
	tailAgain                   // the stream's state changed: loop
)

// streamLink is how a Stream reaches the journal of its job after Subscribe, from the
// stream's goroutine (never from inside an actor). rejoin may wait for the job's answer.
type streamLink interface {
	// rejoin asks for a new lane for sub: a live one, or one without channel that says the job
	// ended (with its final seq), the server stops, or the subscription is closed.
	rejoin(sub *Subscription) (*lane, error)
	// unsubscribe frees sub's place; it does not wait.
	unsubscribe(sub *Subscription)
}

// toEnd as logTo reads the stored log to its end (the job finished, or is not running).
const toEnd = math.MaxInt64

// logWindow bounds how many events (and about how many bytes) one read of the stored log
// holds; each window is its own short read transaction.
const (
	logWindow      = 64
	logWindowBytes = 256 << 10
)

// errStreamShutdown ends streams when the server stops; clients resume after the restart.
var errStreamShutdown = enricher.Errorf(enricher.KindUnavailable, "server is shutting down")

// ErrStreamShutdown reports whether err is the end of a stream because the server stops.
func ErrStreamShutdown(err error) bool { return errors.Is(err, errStreamShutdown) }

// logStream returns a stream of job id served from the stored log alone, after seq after.
func logStream(store Store, id string, after int64) *Stream {
	return &Stream{store: store, jobID: id, last: after, logTo: toEnd, tail: logTail{}, release: func() {}}
}

// followLane makes s follow the live lane l of sub (from subscribe): the log first up to
// where l starts, then l.
func (s *Stream) followLane(link streamLink, sub *Subscription, l *lane) {
	s.tail = &liveTail{link: link, sub: sub, lane: l, live: l.c}
	s.logTo = l.since
	s.release = func() { link.unsubscribe(sub) }
}

// Next returns the next event of the stream. When none is ready it waits up to wait (0: not
// at all) and returns ok false when none came. It returns io.EOF once the terminal event was
// returned (or, for a job not running at Subscribe, once the stored log is exhausted), an
// error for which ErrStreamShutdown is true when the server stops, ctx's error when ctx ends
// while it waits or reads the log, and storage errors as they are. Events from the log carry
// Terminal like live ones.
func (s *Stream) Next(ctx context.Context, wait time.Duration) (ev Event, ok bool, err error) {
	var until time.Time // when this call's wait gives up (set on its first wait)
	for {
		if s.pos < len(s.window) {
			ev = s.window[s.pos]
			s.window[s.pos] = Event{}
			s.pos++
			return s.deliver(ev), true, nil
		}
		if s.done {
			return Event{}, false, io.EOF
		}
		if s.last < s.logTo {
			if err := ctx.Err(); err != nil {
				return Event{}, false, err
			}
			n, full, err := s.readLog()
			if err != nil {
				return Event{}, false, err
			}
			if err := s.tail.logRead(s, n, full); err != nil {
				return Event{}, false, err
			}
			continue
		}
		ev, got, err := s.tail.await(ctx, s, wait, &until)
		switch {
		case err != nil:
			return Event{}, false, err
		case got == tailIdle:
			return Event{}, false, nil
		case got == tailEvent && ev.Seq > s.last:
			return s.deliver(ev), true, nil
		}
	}
}

// wait waits up to d for c to yield (ok, with open false once c is closed); ok false when
// d passed first, ctx's error when ctx ended. The stream's timer is reused across waits.
func (s *Stream) wait(ctx context.Context, d time.Duration, c <-chan Event) (ev Event, open, ok bool, err error) {
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case ev, open = <-c:
		s.timer.Stop()
		return ev, open, true, nil
	case <-s.timer.C:
		return Event{}, false, false, nil
	case <-ctx.Done():
		s.timer.Stop()
		return Event{}, false, false, ctx.Err()
	}
}

// logTail ends a stream once its stored log is read to the end: a job that ended (its
// terminal event marks the end) or one served from its log alone.
type logTail struct{}

func (logTail) logRead(s *Stream, n int, _ bool) error {
	if n == 0 {
		s.done = true
	}
	return nil
}

// await is not reached (the log is read to its end, toEnd), except when a tail swapped to
// this one left logTo below the end: read on.
func (logTail) await(_ context.Context, s *Stream, _ time.Duration, _ *time.Time) (Event, tailResult, error) {
	s.logTo = toEnd
	return Event{}, tailAgain, nil
}

// shutdownTail serves a job that the stopping server does not run: its stored log, then
// errStreamShutdown, as a stream of a running job ends at shutdown (the job did not end: it
// resumes after the restart).
type shutdownTail struct{}

func (shutdownTail) logRead(s *Stream, n int, _ bool) error {
	if n == 0 {
		s.done = true
		return errStreamShutdown
	}
	return nil
}

// await is not reached (the log is read to its end), as for logTail.
func (shutdownTail) await(_ context.Context, s *Stream, _ time.Duration, _ *time.Time) (Event, tailResult, error) {
	s.logTo = toEnd
	return Event{}, tailAgain, nil
}

// liveTail follows the job's live lanes on this node: the current lane's channel, and, when
// the lane closed because the subscriber fell behind (or the job's actor stopped), a new
// lane after the log is read up to where it starts.
type liveTail struct {
	link streamLink
	sub  *Subscription
	lane *lane        // the current (or last) lane of sub
	live <-chan Event // the current live channel; nil once drained, until rejoin
}

// logRead stops reading the log at the last event stored before the lane: the lane has the
// rest.
func (t *liveTail) logRead(s *Stream, n int, _ bool) error {
	if n == 0 {
		s.logTo = s.last
	}
	return nil
}

func (t *liveTail) await(ctx context.Context, s *Stream, wait time.Duration, _ *time.Time) (Event, tailResult, error) {
	if t.live == nil {
		return Event{}, tailAgain, t.rejoin(s)
	}
	var ev Event
	var open bool
	select {
	case ev, open = <-t.live:
	default:
		if wait <= 0 {
			return Event{}, tailIdle, nil
		}
		var ok bool
		var err error
		if ev, open, ok, err = s.wait(ctx, wait, t.live); err != nil || !ok {
			return Event{}, tailIdle, err
		}
	}
	if !open {
		t.live = nil // drained: catch up and rejoin on the next turn
		return Event{}, tailAgain, nil
	}
	return ev, tailEvent, nil
}

// rejoin runs after the live lane closed and was drained: back on the live feed after
// reading the log to where the new lane starts, or the log to its end if the job finished.
func (t *liveTail) rejoin(s *Stream) error {
	l := t.lane
	if l.end == laneBehind || l.end == laneStopped {
		var err error
		if l, err = t.link.rejoin(t.sub); err != nil {
			return err
		}
		t.lane = l
		if l.c != nil {
			t.live, s.logTo = l.c, l.since
			return nil
		}
	}
	switch l.end {
	case laneFinished:
		s.final, s.logTo, s.tail = l.final, toEnd, logTail{}
	case laneShutdown:
		s.done = true
		return errStreamShutdown
	default: // closed
		s.done = true
	}
	return nil
}

// deliver records ev as returned and marks the terminal event.
func (s *Stream) deliver(ev Event) Event {
	s.last = ev.Seq
	if s.final > 0 && ev.Seq == s.final {
		ev.Terminal = true
	}
	if ev.Terminal {
		s.done = true
	}
	return ev
}

var errWindowFull = errors.New("window full")

// readLog reads the next window of stored events after s.last, up to s.logTo. full says the
// window filled up (more may follow at once).
func (s *Stream) readLog() (n int, full bool, err error) {
	upTo := s.logTo
	if upTo == toEnd {
		upTo = 0
	}
	s.window, s.pos = s.window[:0], 0
	size := 0
	err = s.store.Events(s.jobID, s.last, upTo, func(seq int64, data []byte) error {
		s.window = append(s.window, Event{Seq: seq, Data: append([]byte(nil), data...)})
		size += len(data)
		if len(s.window) >= logWindow || size >= logWindowBytes {
			return errWindowFull
		}
		return nil
	})
	if full = errors.Is(err, errWindowFull); err != nil && !full {
		return 0, false, err
	}
	return len(s.window), full, nil
}

// Close ends the stream and frees its subscriber place. Safe to call more than once, from any
// goroutine.
func (s *Stream) Close() { s.release() }

// jobLink is the engine's streamLink: it reaches the job's actor through the supervisor, by
// job id (as a cluster would through the job's grain). When the job is no longer running it
// answers from the stored job: finished (its terminal seq), the server stopping, or — an
// actor that stopped without its end — the log to its end.
type jobLink struct {
	e       *Engine
	org, id string
}

func (l jobLink) rejoin(sub *Subscription) (*lane, error) {
	res, err := l.e.ask(l.org, l.id, &rejoinLive{Sub: sub})
	if err != nil {
		return nil, err
	}
	if r, ok := res.(*subscribed); ok {
		return r.Lane, nil
	}
	return l.e.notRunning(l.org, l.id)
}

func (l jobLink) unsubscribe(sub *Subscription) {
	if !l.e.stopped.Load() {
		l.e.sys.Root.Send(l.e.sup, &toJob{Org: l.org, JobID: l.id, Msg: &unsubscribe{Sub: sub}})
	}
}

// notRunning is the lane of a stream whose job's actor is gone: the server stops, or the job
// ended (the log to its terminal event), or the log to its end.
func (e *Engine) notRunning(org, id string) (*lane, error) {
	if e.stopped.Load() {
		return &lane{end: laneShutdown}, nil
	}
	job, err := e.deps.Store.Job(org, id)
	if err != nil {
		return nil, err
	}
	l := &lane{end: laneFinished}
	if job.Status.Terminal() {
		l.final = job.LastSeq
	}
	return l, nil
}
