package api

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// fakeStream is a hand-written EventStream: stored events, then a live channel.
type fakeStream struct {
	stored []enricher.StreamEvent
	live   chan enricher.StreamEvent
	closed bool
}

func (f *fakeStream) Replay(after int64, fn func(int64, []byte) error) (int64, error) {
	last := after
	for _, e := range f.stored {
		if e.Seq > after {
			if err := fn(e.Seq, e.Data); err != nil {
				return last, err
			}
			last = e.Seq
		}
	}
	return last, nil
}
func (f *fakeStream) Live() <-chan enricher.StreamEvent {
	if f.live == nil {
		return nil
	}
	return f.live
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
		after  int64
		want   string
	}{
		{name: "finished job replays and ends", after: 1, stream: func() *fakeStream {
			return &fakeStream{stored: []enricher.StreamEvent{ev(1, "model_started"), ev(2, "completed")}}
		}, want: "retry: 3000\n\nid: 2\ndata: {\"type\":\"completed\",\"seq\":2}\n\n"},
		{name: "live events skip what replay sent, end at terminal", stream: func() *fakeStream {
			live := make(chan enricher.StreamEvent, 4)
			live <- ev(1, "model_started") // also in the log: skipped
			live <- ev(2, "model_completed")
			live <- ev(3, "completed")
			live <- ev(4, "never")
			return &fakeStream{stored: []enricher.StreamEvent{ev(1, "model_started")}, live: live}
		}, want: "retry: 3000\n\nid: 1\ndata: {\"type\":\"model_started\",\"seq\":1}\n\n" +
			"id: 2\ndata: {\"type\":\"model_completed\",\"seq\":2}\n\nid: 3\ndata: {\"type\":\"completed\",\"seq\":3}\n\n"},
		{name: "dropped subscriber ends the response", stream: func() *fakeStream {
			live := make(chan enricher.StreamEvent, 1)
			live <- ev(1, "model_started")
			close(live)
			return &fakeStream{live: live}
		}, want: "retry: 3000\n\nid: 1\ndata: {\"type\":\"model_started\",\"seq\":1}\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			writeSSE(newSSEWriter(&buf, 0), tt.stream(), tt.after, time.Hour, nil)
			require.Equal(t, tt.want, buf.String())
		})
	}
}

func TestWriteSSEHeartbeat(t *testing.T) {
	live := make(chan enricher.StreamEvent)
	r, wr := newPipe()
	done := make(chan struct{})
	go func() {
		writeSSE(newSSEWriter(wr, 0), &fakeStream{live: live}, 0, 5*time.Millisecond, nil)
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
	closing := make(chan struct{})
	done := make(chan string)
	var buf bytes.Buffer
	go func() {
		done <- writeSSE(newSSEWriter(&buf, 0), &fakeStream{live: make(chan enricher.StreamEvent)}, 0, time.Hour, closing)
	}()
	close(closing)
	require.Equal(t, "closed", <-done)
	require.Equal(t, "retry: 3000\n\n", buf.String())
}
