package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// fakeStream is a hand-written enricher.EventStream: ready events, then (when live is set) a channel;
// a closed channel ends the stream with end (io.EOF when nil).
type fakeStream struct {
	ready  []enricher.StreamEvent
	live   chan enricher.StreamEvent
	end    error
	closed bool
}

func (f *fakeStream) Next(ctx context.Context, wait time.Duration) (enricher.StreamEvent, bool, error) {
	if len(f.ready) > 0 {
		e := f.ready[0]
		f.ready = f.ready[1:]
		return e, true, nil
	}
	if f.live == nil {
		return enricher.StreamEvent{}, false, io.EOF
	}
	var timer <-chan time.Time
	if wait > 0 {
		timer = time.After(wait)
	}
	select {
	case e, ok := <-f.live:
		if !ok {
			if f.end == nil {
				return e, false, io.EOF
			}
			return e, false, f.end
		}
		return e, true, nil
	default:
	}
	if wait <= 0 {
		return enricher.StreamEvent{}, false, nil
	}
	select {
	case e, ok := <-f.live:
		if !ok {
			return e, false, io.EOF
		}
		return e, true, nil
	case <-timer:
		return enricher.StreamEvent{}, false, nil
	case <-ctx.Done():
		return enricher.StreamEvent{}, false, ctx.Err()
	}
}
func (f *fakeStream) Close() { f.closed = true }

func ev(seq int64, typ string) enricher.StreamEvent {
	data := []byte(`{"type":"` + typ + `","seq":` + string(rune('0'+seq)) + `}`)
	return enricher.StreamEvent{Seq: seq, Data: data, Terminal: enricher.TerminalEvent(typ)}
}

func TestWriteSSE(t *testing.T) {
	tests := []struct {
		name   string
		stream func() *fakeStream
		want   string
		reason string
	}{
		{name: "ends after the terminal event", stream: func() *fakeStream {
			return &fakeStream{ready: []enricher.StreamEvent{ev(1, "model_started"), ev(2, "completed"), ev(3, "never")}}
		}, want: "retry: 3000\n\nid: 1\ndata: {\"type\":\"model_started\",\"seq\":1}\n\n" +
			"id: 2\ndata: {\"type\":\"completed\",\"seq\":2}\n\n", reason: "completed"},
		{name: "ready events, then live ones", stream: func() *fakeStream {
			live := make(chan enricher.StreamEvent, 4)
			live <- ev(2, "model_completed")
			live <- ev(3, "completed")
			return &fakeStream{ready: []enricher.StreamEvent{ev(1, "model_started")}, live: live}
		}, want: "retry: 3000\n\nid: 1\ndata: {\"type\":\"model_started\",\"seq\":1}\n\n" +
			"id: 2\ndata: {\"type\":\"model_completed\",\"seq\":2}\n\nid: 3\ndata: {\"type\":\"completed\",\"seq\":3}\n\n",
			reason: "completed"},
		{name: "a finished log without terminal event ends", stream: func() *fakeStream {
			return &fakeStream{ready: []enricher.StreamEvent{ev(1, "model_started")}}
		}, want: "retry: 3000\n\nid: 1\ndata: {\"type\":\"model_started\",\"seq\":1}\n\n", reason: "completed"},
		{name: "shutdown from the engine", stream: func() *fakeStream {
			live := make(chan enricher.StreamEvent, 1)
			live <- ev(1, "model_started")
			close(live)
			return &fakeStream{live: live, end: enricher.Errorf(enricher.KindUnavailable, "server is shutting down")}
		}, want: "retry: 3000\n\nid: 1\ndata: {\"type\":\"model_started\",\"seq\":1}\n\n", reason: "shutdown"},
		{name: "a storage error", stream: func() *fakeStream {
			live := make(chan enricher.StreamEvent)
			close(live)
			return &fakeStream{live: live, end: errors.New("disk")}
		}, want: "retry: 3000\n\n", reason: "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			reason := writeSSE(newSSEWriter(&buf, 0), tt.stream(), time.Hour, context.Background())
			require.Equal(t, tt.want, buf.String())
			require.Equal(t, tt.reason, reason)
		})
	}
}

// TestWriteSSEFlushesWhenIdle checks the writer sends what it has as soon as no event is
// ready, before it waits for more.
func TestWriteSSEFlushesWhenIdle(t *testing.T) {
	live := make(chan enricher.StreamEvent, 2)
	live <- ev(1, "model_started")
	live <- ev(2, "model_completed")
	r, wr := newPipe()
	done := make(chan string)
	go func() {
		done <- writeSSE(newSSEWriter(wr, 0), &fakeStream{live: live}, time.Hour, context.Background())
	}()
	require.Equal(t, "retry: 3000\n\n", string(<-r.c))
	require.Equal(t, "id: 1\ndata: {\"type\":\"model_started\",\"seq\":1}\n\nid: 2\ndata: {\"type\":\"model_completed\",\"seq\":2}\n\n",
		string(<-r.c), "both queued events in one write")
	live <- ev(3, "completed")
	require.Equal(t, "id: 3\ndata: {\"type\":\"completed\",\"seq\":3}\n\n", string(<-r.c))
	require.Equal(t, "completed", <-done)
}

func TestWriteSSEHeartbeat(t *testing.T) {
	live := make(chan enricher.StreamEvent)
	r, wr := newPipe()
	done := make(chan struct{})
	go func() {
		writeSSE(newSSEWriter(wr, 0), &fakeStream{live: live}, 5*time.Millisecond, context.Background())
		close(done)
	}()
	sc := bufio.NewScanner(r)
	pings := 0
	for sc.Scan() && pings < 2 {
		if sc.Text() == ": ping" {
			pings++
		}
	}
	require.Equal(t, 2, pings, "an idle stream carries : ping comments")
	live <- ev(1, "completed")
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			break
		}
	}
	<-done
}

// newPipe returns a synchronous in-memory pipe.
func newPipe() (*pipeReader, *pipeWriter) {
	c := make(chan []byte, 64)
	return &pipeReader{c: c}, &pipeWriter{c: c}
}

type pipeWriter struct{ c chan []byte }

func (p *pipeWriter) Write(b []byte) (int, error) {
	p.c <- append([]byte(nil), b...)
	return len(b), nil
}

type pipeReader struct {
	c   chan []byte
	buf []byte
}

func (p *pipeReader) Read(b []byte) (int, error) {
	if len(p.buf) == 0 {
		p.buf = <-p.c
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func TestErrorStatusMapping(t *testing.T) {
	tests := []struct {
		kind   enricher.Kind
		status int
	}{
		{enricher.KindInvalid, 400}, {enricher.KindUnauthenticated, 401}, {enricher.KindForbidden, 403},
		{enricher.KindNotFound, 404}, {enricher.KindConflict, 409}, {enricher.KindTooLarge, 413},
		{enricher.KindTooMany, 429}, {enricher.KindUnavailable, 503}, {enricher.KindTimeout, 504},
		{enricher.KindInternal, 500},
	}
	for _, tt := range tests {
		require.Equal(t, tt.status, statusOf(tt.kind), tt.kind.String())
	}
}

func TestWriteSSEEndsAtShutdown(t *testing.T) {
	closing, cancel := context.WithCancel(context.Background())
	done := make(chan string)
	var buf bytes.Buffer
	go func() {
		done <- writeSSE(newSSEWriter(&buf, 0), &fakeStream{live: make(chan enricher.StreamEvent)}, time.Hour, closing)
	}()
	cancel()
	require.Equal(t, "shutdown", <-done)
	require.Equal(t, "retry: 3000\n\n", buf.String())
}
