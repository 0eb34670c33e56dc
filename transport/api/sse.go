package api

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// handleStream serves GET /api/llm/stream/{job_id}: stored events after the
// resume point, then live events, with ": ping" heartbeats; the response ends after the
// terminal event, when the client leaves, or at shutdown. A subscriber that reads slowly is
// never disconnected for it: its stream catches up from the stored log (the engine's
// enricher.EventStream does that) while this writer just writes what Next returns.
//
// The stream takes the connection over from fasthttp (hijack): one goroutine per subscriber
// writes the response head and the frames itself, with a write deadline, and the body ends
// when the connection closes. That spares the pipe, the second goroutine and the buffers a
// streamed fasthttp body holds for its whole life, so an idle subscriber costs little.
func handleStream(c *call) error {
	id, err := pathID(c.ctx, "job_id", "job")
	if err != nil {
		return err
	}
	after, err := resumePoint(c.ctx)
	if err != nil {
		return err
	}
	if err := c.s.visibleJob(c.p.org.ID, id); err != nil {
		return err
	}
	stream, err := c.s.deps.Engine.Subscribe(c.p.org.ID, id, after)
	if err != nil {
		return err
	}
	s, rid := c.s, requestID(c.ctx)
	s.streams.Add(1)
	c.ctx.SetStatusCode(fasthttp.StatusOK) // for the request metrics; the stream writes its own head
	c.ctx.HijackSetNoResponse(true)
	s.deps.Metrics.StreamOpened()
	c.ctx.Hijack(func(conn net.Conn) {
		defer s.streams.Done()
		defer stream.Close()
		w := newSSEWriter(conn, sseWriteTimeout)
		w.raw("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
			"X-Accel-Buffering: no\r\nConnection: close\r\nX-Request-ID: " + rid + "\r\n\r\n")
		reason := writeSSE(w, stream, s.cfg.SSEHeartbeat, s.closing)
		if reason == "error" {
			s.log.Error("event stream ended on a storage error", "job_id", id, "request_id", rid)
		}
		s.deps.Metrics.StreamClosed(reason)
	})
	return nil
}

// sseWriteTimeout bounds each write to a subscriber: one that stops reading for this long is
// disconnected (and resumes with Last-Event-ID) instead of holding its goroutine.
const sseWriteTimeout = 30 * time.Second

// sseFlushBytes is how much the writer buffers while events are ready before it writes.
const sseFlushBytes = 32 << 10

// writeSSE is the writer loop of one stream. It is the only goroutine touching the
// connection: it writes the events Next returns, flushing whenever none is ready at once (or
// sseFlushBytes are buffered), a ": ping" after heartbeat of silence, and stops at the first
// failed write (the client left) or when closing is done (server shutdown). It returns why
// the stream ended: completed, client_gone, shutdown, or error (reading the log failed).
func writeSSE(w *sseWriter, stream enricher.EventStream, heartbeat time.Duration, closing context.Context) string {
	w.raw("retry: 3000\n\n")
	if w.flush() != nil {
		return "client_gone"
	}
	for {
		ev, ok, err := stream.Next(closing, 0)
		if !ok && err == nil { // nothing ready: send what is buffered, then wait
			if w.flush() != nil {
				return "client_gone"
			}
			if ev, ok, err = stream.Next(closing, heartbeat); !ok && err == nil {
				w.raw(": ping\n\n")
				if w.flush() != nil {
					return "client_gone"
				}
				continue
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			if w.flush() != nil {
				return "client_gone"
			}
			return "completed"
		case closing.Err() != nil || enricher.IsKind(err, enricher.KindUnavailable):
			_ = w.flush()
			return "shutdown"
		case err != nil:
			_ = w.flush()
			return "error"
		}
		w.frame(ev.Seq, ev.Data)
		if ev.Terminal {
			if w.flush() != nil {
				return "client_gone"
			}
			return "completed"
		}
		if w.buffered() > sseFlushBytes && w.flush() != nil {
			return "client_gone"
		}
	}
}

// sseWriter collects frames and writes them in one call per flush. Its buffer comes from a
// pool when there is something to send and goes back after the write, so a waiting stream
// holds no buffer. Not safe for concurrent use.
type sseWriter struct {
	w       io.Writer
	timeout time.Duration // per flush, when w has SetWriteDeadline; 0 = none
	buf     *[]byte
}

var sseBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func newSSEWriter(w io.Writer, timeout time.Duration) *sseWriter {
	return &sseWriter{w: w, timeout: timeout}
}

func (w *sseWriter) bytes() *[]byte {
	if w.buf == nil {
		w.buf = sseBufPool.Get().(*[]byte)
	}
	return w.buf
}

func (w *sseWriter) raw(s string) { b := w.bytes(); *b = append(*b, s...) }

func (w *sseWriter) frame(seq int64, data []byte) {
	b := w.bytes()
	*b = append(*b, "id: "...)
	*b = strconv.AppendInt(*b, seq, 10)
	*b = append(*b, "\ndata: "...)
	*b = append(*b, data...)
	*b = append(*b, "\n\n"...)
}

func (w *sseWriter) buffered() int {
	if w.buf == nil {
		return 0
	}
	return len(*w.buf)
}

// flush writes what is buffered and gives the buffer back.
func (w *sseWriter) flush() error {
	if w.buf == nil {
		return nil
	}
	b := w.buf
	w.buf = nil
	defer func() {
		if cap(*b) <= 64<<10 { // keep big replay buffers out of the pool
			*b = (*b)[:0]
			sseBufPool.Put(b)
		}
	}()
	if d, ok := w.w.(interface{ SetWriteDeadline(time.Time) error }); ok && w.timeout > 0 {
		if err := d.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
			return err
		}
	}
	_, err := w.w.Write(*b)
	return err
}

// resumePoint reads Last-Event-ID, else last_event_id; 0 when neither is given.
func resumePoint(ctx *fasthttp.RequestCtx) (int64, error) {
	v := ctx.Request.Header.Peek("Last-Event-ID")
	if len(v) == 0 {
		v = ctx.QueryArgs().Peek("last_event_id")
	}
	if len(v) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		return 0, enricher.Errorf(enricher.KindInvalid, "Last-Event-ID must be a non-negative integer")
	}
	return n, nil
}
