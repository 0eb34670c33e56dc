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
	link   streamLink    // how rejoin and close reach the journal; nil without sub
	sub    *Subscription // nil: the job was not running at Subscribe; the log alone serves it
	follow bool          // sub may still rejoin the live feed (not finished, closed or stopped)
	feed   *feed         // following the log of a job running on another node; nil otherwise
	lane   *lane         // the current (or last) lane of sub
	live   <-chan Event  // current live channel; nil while catching up or without sub
	last   int64         // last seq returned by Next
	logTo  int64         // read the log up to this seq before the live channel (toEnd: all of it)
	final  int64         // seq of the terminal event once known, else 0
	done   bool          // the terminal event was returned, or the log-only stream is exhausted
	window []Event       // events read from the log, not yet returned
	pos    int
	timer  *time.Timer
	// feedClose is feed's close, kept apart so that Close (any goroutine) reads only what
	// Subscribe set.
	feedClose func()
}

var _ enricher.EventStream = (*Stream)(nil)

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
	return &Stream{store: store, jobID: id, last: after, logTo: toEnd}
}

// followLane makes s follow the live lane l of sub (from subscribe): the log first up to
// where l starts, then l.
func (s *Stream) followLane(link streamLink, sub *Subscription, l *lane) {
	s.link, s.sub, s.follow, s.lane = link, sub, true, l
	s.live, s.logTo = l.c, l.since
}

// Next returns the next event of the stream. When none is ready it waits up to wait (0: not
// at all) and returns ok false when none came. It returns io.EOF once the terminal event was
// returned (or, for a job not running at Subscribe, once the stored log is exhausted), an
// error for which ErrStreamShutdown is true when the server stops, ctx's error when ctx ends
// while it waits or reads the log, and storage errors as they are. Events from the log carry
// Terminal like live ones.
func (s *Stream) Next(ctx context.Context, wait time.Duration) (ev Event, ok bool, err error) {
	var until time.Time // when a wait for a followed log's signal gives up (awaitFeed)
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
			if s.feed != nil && !full { // the followed log is read to its current end
				if err := s.feedExhausted(); err != nil {
					return Event{}, false, err
				}
				continue
			}
			if n == 0 { // nothing more stored up to logTo
				s.logTo = s.last
				if s.live == nil && !s.follow {
					s.done = true
				}
			}
			continue
		}
		if s.feed != nil {
			more, err := s.awaitFeed(ctx, &until, wait)
			if err != nil || !more {
				return Event{}, false, err
			}
			continue
		}
		if s.live == nil {
			if err := s.rejoin(); err != nil {
				return Event{}, false, err
			}
			continue
		}
		var open bool
		select {
		case ev, open = <-s.live:
		default:
			if wait <= 0 {
				return Event{}, false, nil
			}
			if s.timer == nil {
				s.timer = time.NewTimer(wait)
			} else {
				s.timer.Reset(wait)
			}
			select {
			case ev, open = <-s.live:
				s.timer.Stop()
			case <-s.timer.C:
				return Event{}, false, nil
			case <-ctx.Done():
				s.timer.Stop()
				return Event{}, false, ctx.Err()
			}
		}
		if !open {
			s.live = nil // drained: catch up and rejoin on the next turn
			continue
		}
		if ev.Seq > s.last {
			return s.deliver(ev), true, nil
		}
	}
}

// rejoin runs after the live lane closed and was drained: back on the live feed after
// reading the log to where the new lane starts, or to the log's end if the job finished.
func (s *Stream) rejoin() error {
	if !s.follow {
		s.done = true
		return nil
	}
	l := s.lane
	if l.end == laneBehind || l.end == laneStopped {
		var err error
		if l, err = s.link.rejoin(s.sub); err != nil {
			return err
		}
		s.lane = l
		if l.c != nil {
			s.live, s.logTo = l.c, l.since
			return nil
		}
	}
	s.follow = false
	switch l.end {
	case laneFinished:
		s.final, s.logTo = l.final, toEnd
	case laneShutdown:
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
func (s *Stream) Close() {
	if s.feedClose != nil {
		s.feedClose()
	}
	if s.link != nil {
		s.link.unsubscribe(s.sub)
	}
}

// jobLink is the engine's streamLink: it reaches the job's actor through the supervisor, by
// job id (as a cluster would through the job's grain). When the job is no longer running it
// answers from the stored job: finished (its terminal seq), the server stopping, or — an
// actor that stopped without its end — the log to its end.
type jobLink struct {
	e       *Engine
	org, id string
}

func (l jobLink) rejoin(sub *Subscription) (*lane, error) {
	res, err := l.e.ask(l.id, &rejoinLive{Sub: sub})
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
		l.e.sys.Root.Send(l.e.sup, &toJob{JobID: l.id, Msg: &unsubscribe{Sub: sub}})
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
