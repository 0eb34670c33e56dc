package api

import (
	"bufio"
	"bytes"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// handleStream serves GET /api/llm/stream/{job_id} (SPEC §8.1, §8.5): stored events after the
// resume point, then live events, with ": ping" heartbeats; the response ends after the
// terminal event, when the subscriber falls behind (the client resumes with Last-Event-ID) or
// at shutdown.
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
	stream, err := c.s.deps.Engine.Subscribe(c.p.org.ID, id)
	if err != nil {
		return err
	}
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType("text/event-stream")
	c.ctx.Response.Header.Set("Cache-Control", "no-cache")
	c.ctx.Response.Header.Set("X-Accel-Buffering", "no")
	heartbeat, metrics := c.s.cfg.SSEHeartbeat, c.s.deps.Metrics
	metrics.StreamOpened()
	c.ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer stream.Close()
		metrics.StreamClosed(writeSSE(w, stream, after, heartbeat))
	})
	return nil
}

// writeSSE is the writer loop of one stream. It is the only goroutine touching the socket and
// stops at the first failed flush (the client left). It returns why the stream ended:
// completed, client_gone, or closed (slow subscriber dropped, or shutdown).
func writeSSE(w *bufio.Writer, stream EventStream, after int64, heartbeat time.Duration) string {
	if _, err := w.WriteString("retry: 3000\n\n"); err != nil || w.Flush() != nil {
		return "client_gone"
	}
	done := false
	last, err := stream.Replay(after, func(seq int64, data []byte) error {
		writeFrame(w, seq, data)
		done = done || isTerminal(data)
		if w.Buffered() > 32<<10 {
			return w.Flush()
		}
		return nil
	})
	if err != nil || w.Flush() != nil {
		return "client_gone"
	}
	live := stream.Live()
	if done || live == nil {
		return "completed"
	}
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-live:
			if !ok {
				return "closed"
			}
			if ev.Seq <= last {
				continue
			}
			last = ev.Seq
			writeFrame(w, ev.Seq, ev.Data)
			// Write whatever else is already queued before flushing once.
			for drained := false; !drained && !ev.Terminal; {
				select {
				case more, ok := <-live:
					if !ok {
						_ = w.Flush()
						return "closed"
					}
					if more.Seq > last {
						last = more.Seq
						writeFrame(w, more.Seq, more.Data)
						ev = more
					}
				default:
					drained = true
				}
			}
			if w.Flush() != nil {
				return "client_gone"
			}
			if ev.Terminal {
				return "completed"
			}
			ping.Reset(heartbeat)
		case <-ping.C:
			if _, err := w.WriteString(": ping\n\n"); err != nil || w.Flush() != nil {
				return "client_gone"
			}
		}
	}
}

func writeFrame(w *bufio.Writer, seq int64, data []byte) {
	var num [20]byte
	w.WriteString("id: ")
	w.Write(strconv.AppendInt(num[:0], seq, 10))
	w.WriteString("\ndata: ")
	w.Write(data)
	w.WriteString("\n\n")
}

var terminalPrefixes = [][]byte{
	[]byte(`{"type":"completed"`), []byte(`{"type":"failed"`), []byte(`{"type":"cancelled"`),
}

// isTerminal reports whether an encoded event is a terminal one (its type comes first).
func isTerminal(data []byte) bool {
	for _, p := range terminalPrefixes {
		if bytes.HasPrefix(data, p) {
			return true
		}
	}
	return false
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
