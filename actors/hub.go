package actors

import (
	"sync"

	"github.com/entity-enricher/enricher"
)

// Event is one persisted event of a job, as sent on the wire.
type Event = enricher.StreamEvent

// hub fans a job's persisted events out to its live subscribers. It is safe for concurrent
// use: the persister publishes, streams subscribe, rejoin and close. Publishing never blocks:
// a subscriber whose buffer is full is switched to catch-up (its channel closed, lagging
// set) and publishing skips it until its Stream rejoins. A lagging
// subscription keeps its place under maxSubs, so rejoining is never refused by the cap.
type hub struct {
	mu        sync.Mutex
	subs      map[*Subscription]struct{}
	last      int64 // highest seq published
	final     int64 // seq of the terminal event, once published
	finished  bool  // the terminal event was published
	shutdown  bool  // closeAll ran: streams end
	maxSubs   int
	bufSize   int
	onFinish  func() // called once, after the terminal event is published
	onCatchUp func() // called (under mu; must not block) each time a subscriber falls behind
}

func newHub(lastSeq int64, maxSubs, bufSize int) *hub {
	return &hub{subs: map[*Subscription]struct{}{}, last: lastSeq, maxSubs: maxSubs, bufSize: bufSize}
}

// Subscription is one subscriber's registration with a hub. Its channel delivers events with
// Seq > since in order; the hub closes it after the terminal event, when the subscriber fell
// behind (lagging), at shutdown, or on close. Only the owning Stream reads it.
type Subscription struct {
	h *hub
	// Guarded by h.mu.
	c       chan Event
	since   int64 // last seq published before the channel was (re)opened
	lagging bool  // the channel was closed because it was full; publishing skips it
}

// joinState says what a Stream should do after its live channel closed.
type joinState int

const (
	joinLive     joinState = iota // a new live channel; catch up from the log to since first
	joinFinished                  // the job ended: read the log to its end (final is the terminal seq)
	joinShutdown                  // the server is stopping: end the stream
	joinClosed                    // the subscription was closed by its owner
)

var errTooManySubscribers = enricher.Errorf(enricher.KindTooMany, "too many subscribers on this job")

// subscribe registers a subscriber. It returns nil and the terminal seq when the job already
// finished (the caller serves the log alone), and errTooManySubscribers at the cap.
func (h *hub) subscribe() (*Subscription, int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.finished || h.shutdown {
		return nil, h.final, nil
	}
	if len(h.subs) >= h.maxSubs {
		return nil, 0, errTooManySubscribers
	}
	s := &Subscription{h: h, c: make(chan Event, h.bufSize), since: h.last}
	h.subs[s] = struct{}{}
	return s, 0, nil
}

// channel returns the subscription's current live channel and the seq it starts after.
func (s *Subscription) channel() (<-chan Event, int64) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.c, s.since
}

// rejoin is called by the owning Stream once its live channel is closed and drained. A
// lagging subscription gets a new channel (it kept its place, so the cap does not apply);
// otherwise it reports that the job finished, the server is stopping, or the subscription
// was closed.
func (s *Subscription) rejoin() (c <-chan Event, since int64, final int64, st joinState) {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.shutdown:
		return nil, 0, 0, joinShutdown
	case h.finished:
		return nil, 0, h.final, joinFinished
	}
	if _, ok := h.subs[s]; !ok || !s.lagging {
		return nil, 0, 0, joinClosed
	}
	s.c, s.since, s.lagging = make(chan Event, h.bufSize), h.last, false
	return s.c, s.since, 0, joinLive
}

// close ends the subscription and frees its place. It is idempotent.
func (s *Subscription) close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.remove(s)
}

// remove unregisters s, closing its channel unless it is already closed. Caller holds h.mu.
func (h *hub) remove(s *Subscription) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if !s.lagging {
		close(s.c)
	}
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
			if s.lagging {
				continue
			}
			select {
			case s.c <- ev:
			default:
				s.lagging = true
				close(s.c)
				if h.onCatchUp != nil {
					h.onCatchUp()
				}
			}
		}
		if ev.Terminal && !h.finished {
			h.finished, h.final = true, ev.Seq
			for s := range h.subs {
				h.remove(s)
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
	h.shutdown = true
	for s := range h.subs {
		h.remove(s)
	}
}

// subscribers returns the number of registered subscribers, lagging ones included.
func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
