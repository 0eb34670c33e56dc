package actors

import (
	"github.com/entity-enricher/enricher"
)

// Stream is one subscriber's view of a job: stored events first (Replay), then live ones
// (Live). Subscribe-then-replay guarantees no gap and, with the seq check the reader does, no
// duplicate. Close it when done.
type Stream struct {
	e     *Engine
	jobID string
	sub   *Subscription // nil for a finished job
}

// Subscribe opens a stream on job id of org. KindNotFound for unknown jobs (or another
// organization's), KindTooMany at sse_max_subscribers.
func (e *Engine) Subscribe(org, id string) (*Stream, error) {
	if _, err := e.deps.Store.Job(org, id); err != nil {
		return nil, err
	}
	s := &Stream{e: e, jobID: id}
	if v, ok := e.hubs.Load(id); ok {
		sub, _, err := v.(*hub).subscribe()
		if err != nil {
			return nil, err
		}
		s.sub = sub
	}
	return s, nil
}

// Replay calls fn with every stored event with seq > after, up to the point where live events
// take over. It returns the last seq it delivered (after when none).
func (s *Stream) Replay(after int64, fn func(seq int64, data []byte) error) (int64, error) {
	var upTo int64
	if s.sub != nil {
		upTo = s.sub.Since
		if upTo <= after {
			return after, nil
		}
	}
	last := after
	err := s.e.deps.Store.Events(s.jobID, after, upTo, func(seq int64, data []byte) error {
		last = seq
		return fn(seq, data)
	})
	return last, err
}

// Live returns the channel of live events, or nil when the job had finished at Subscribe.
// The channel closes after the terminal event, when the subscriber fell behind (Dropped), or
// at shutdown.
func (s *Stream) Live() <-chan enricher.StreamEvent {
	if s.sub == nil {
		return nil
	}
	return s.sub.C
}

// Dropped reports whether the live channel was closed because the subscriber fell behind.
func (s *Stream) Dropped() bool { return s.sub != nil && s.sub.Dropped() }

// Close ends the subscription.
func (s *Stream) Close() {
	if s.sub != nil {
		s.sub.Close()
	}
}
