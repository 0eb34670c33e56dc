package actors

import (
	"context"
	"sync"
	"time"
)

// EventFollower is what a store shared by several nodes offers so that a stream on one node
// can follow a job running on another: a signal after each commit of that job's events by
// any node. storage/postgres implements it (LISTEN/NOTIFY); the embedded badger store has no
// other writer and none. Implementations are safe for concurrent use.
type EventFollower interface {
	// FollowEvents registers interest in job's events: signal receives a value (coalesced: a
	// pending one stands for any number) whenever events of job may have been committed
	// since, and whenever notifications may have been lost. stop unregisters; it may be
	// called more than once, from any goroutine. The caller registers before it reads the
	// stored log, so nothing committed after its read goes unsignalled.
	FollowEvents(job string) (signal <-chan struct{}, stop func(), err error)
}

// followPoll is the fallback re-read of the stored log of a followed job when no signal came:
// it bounds the delay should a notification be lost in a way the store cannot tell.
const followPoll = time.Second

// storeTail is how a Stream follows the stored log of a job that runs on another node: it
// reads the log to its current end, then waits for a signal (or followPoll) and reads after
// its last seq again, until the job's snapshot says it ended. Only the stream's goroutine
// uses it; its close (in the stream's release) may run on any.
type storeTail struct {
	org    string
	signal <-chan struct{}
	polled time.Time // last time the log was found read to its end (the poll counts from there)
	close  func()    // unregisters and frees the follower's place; once, any goroutine
}

// followers counts, per job, the streams on this node that follow a job running elsewhere
// (feeds). They count against sse_max_subscribers as the job's own journal counts its
// subscribers on the node that runs it: the cap holds per job and per node. Safe for
// concurrent use.
type followers struct {
	mu    sync.Mutex
	count map[string]int
}

// acquire takes a follower's place on job, or errTooManySubscribers at max.
func (f *followers) acquire(job string, max int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count == nil {
		f.count = map[string]int{}
	}
	if f.count[job] >= max {
		return errTooManySubscribers
	}
	f.count[job]++
	return nil
}

func (f *followers) release(job string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count[job]--; f.count[job] <= 0 {
		delete(f.count, job)
	}
}

// followStore makes s, a log stream of a job that is not running here and has not ended,
// follow the job's stored log through the engine's EventFollower until its terminal event.
// KindTooMany at sse_max_subscribers followers of the job on this node.
func (e *Engine) followStore(s *Stream, org string) error {
	if err := e.follows.acquire(s.jobID, e.cfg.SSEMaxSubscribers); err != nil {
		return err
	}
	signal, stop, err := e.deps.Follower.FollowEvents(s.jobID)
	if err != nil {
		e.follows.release(s.jobID)
		return err
	}
	id := s.jobID
	t := &storeTail{org: org, signal: signal, polled: time.Now(), close: sync.OnceFunc(func() {
		stop()
		e.follows.release(id)
	})}
	s.tail, s.release = t, t.close
	return nil
}

// logRead runs after each read of the followed log: once it is read to its current end (the
// window just read, not yet returned, included), the job's snapshot, which lands with the
// terminal event, says whether it ended; then the stream ends at that event, marked
// terminal. Until then the log is read again only after a signal or the fallback poll.
func (t *storeTail) logRead(s *Stream, _ int, full bool) error {
	if full {
		return nil
	}
	upTo := s.last
	if n := len(s.window); n > 0 {
		upTo = s.window[n-1].Seq
	}
	job, err := s.store.Job(t.org, s.jobID)
	if err != nil {
		return err
	}
	if job.Status.Terminal() {
		s.final, s.logTo, s.tail = job.LastSeq, toEnd, logTail{}
		t.close()
		return nil
	}
	s.logTo, t.polled = upTo, time.Now()
	return nil
}

// await waits until the followed log may hold more: a signal, or the fallback poll falling
// due (tailAgain); tailIdle when nothing came before until (set on the first wait of a Next
// call, wait from then) or wait is 0; ctx's error when ctx ends.
func (t *storeTail) await(ctx context.Context, s *Stream, wait time.Duration, until *time.Time) (Event, tailResult, error) {
	again := func() (Event, tailResult, error) {
		s.logTo = toEnd
		return Event{}, tailAgain, nil
	}
	select {
	case <-t.signal:
		return again()
	default:
	}
	poll := time.Until(t.polled.Add(followPoll))
	if poll <= 0 {
		return again()
	}
	if wait <= 0 {
		return Event{}, tailIdle, nil
	}
	if until.IsZero() {
		*until = time.Now().Add(wait)
	}
	left := time.Until(*until)
	if left <= 0 {
		return Event{}, tailIdle, nil
	}
	d := min(left, poll)
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-t.signal:
		s.timer.Stop()
		return again()
	case <-s.timer.C:
		if poll <= left {
			return again()
		}
		return Event{}, tailIdle, nil
	case <-ctx.Done():
		s.timer.Stop()
		return Event{}, tailIdle, ctx.Err()
	}
}
