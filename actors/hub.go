package actors

import (
	"sync"

	"github.com/entity-enricher/enricher"
)

// Event is one persisted event of a job, as sent on the wire.
type Event = enricher.StreamEvent

// hub fans a job's persisted events out to its live subscribers. It is safe for concurrent
// use: the persister publishes, SSE handlers subscribe and unsubscribe. Publishing never
// blocks: a subscriber whose buffer is full is dropped (its channel closed with Dropped set),
// and resumes from the event log.
type hub struct {
	mu       sync.Mutex
	subs     map[*Subscription]struct{}
	last     int64 // highest seq published
	finished bool  // the terminal event was published
	maxSubs  int
	bufSize  int
	onFinish func() // called once, after the terminal event is published
}

func newHub(lastSeq int64, maxSubs, bufSize int) *hub {
	return &hub{subs: map[*Subscription]struct{}{}, last: lastSeq, maxSubs: maxSubs, bufSize: bufSize}
}

// Subscription is a live view of a job's events. C delivers events with Seq > Since in order;
// it is closed after the terminal event, when the subscriber fell behind (Dropped reports
// true), or on Close. Since is the last seq published before the subscription started: the
// caller replays (its resume point, Since] from the event log, then reads C.
type Subscription struct {
	C     <-chan Event
	Since int64

	c       chan Event
	h       *hub
	dropped bool // guarded by h.mu
}

// Dropped reports whether the subscription was closed because its buffer was full.
func (s *Subscription) Dropped() bool {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.dropped
}

// Close ends the subscription. It is idempotent and safe to call after the hub closed it.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if _, ok := s.h.subs[s]; ok {
		delete(s.h.subs, s)
		close(s.c)
	}
}

var errTooManySubscribers = enricher.Errorf(enricher.KindTooMany, "too many subscribers on this job")

// subscribe registers a subscriber. It returns nil, false when the job already finished (the
// caller serves the log alone), and errTooManySubscribers at the cap.
func (h *hub) subscribe() (*Subscription, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.finished {
		return nil, false, nil
	}
	if len(h.subs) >= h.maxSubs {
		return nil, true, errTooManySubscribers
	}
	c := make(chan Event, h.bufSize)
	s := &Subscription{C: c, c: c, Since: h.last, h: h}
	h.subs[s] = struct{}{}
	return s, true, nil
}

// publish delivers events (in seq order) to every subscriber without blocking.
func (h *hub) publish(events []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range events {
		if ev.Seq <= h.last {
			continue
		}
		h.last = ev.Seq
		for s := range h.subs {
			select {
			case s.c <- ev:
			default:
				s.dropped = true
				delete(h.subs, s)
				close(s.c)
			}
		}
		if ev.Terminal && !h.finished {
			h.finished = true
			for s := range h.subs {
				delete(h.subs, s)
				close(s.c)
			}
			if h.onFinish != nil {
				h.onFinish()
			}
		}
	}
}

// closeAll ends every subscription (shutdown); clients resume after the restart.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		delete(h.subs, s)
		close(s.c)
	}
}

// subscribers returns the number of live subscribers.
func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
