package enricher

import (
	"context"
	"time"
)

// EventStream is one subscriber's view of a job: stored events after its resume point, then
// live ones, in seq order with no gap and no duplicate. A subscriber that falls behind is
// caught up from the stored log; it is never ended for it. Implemented by the engine's
// streams; read by the SSE writer. Used by one goroutine; Close may be called once or more.
type EventStream interface {
	// Next returns the next event, waiting up to wait (0: not at all) for one; ok is false
	// when none came. It returns io.EOF after the terminal event (or once a finished job's
	// log is exhausted), a KindUnavailable error at shutdown, ctx's error when ctx ends, and
	// storage errors. Terminal is set on the terminal event.
	Next(ctx context.Context, wait time.Duration) (ev StreamEvent, ok bool, err error)
	Close()
}
