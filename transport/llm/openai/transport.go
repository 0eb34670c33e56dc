package openai

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// call is the state of one exchange shared between Complete and the transport: the deadlines
// and the connection in use, so a cancelled context can close it.
type call struct {
	deadline  time.Time
	firstByte time.Duration

	mu      sync.Mutex
	conn    net.Conn
	aborted bool
}

// attach records conn as the call's connection; false when the call was already aborted.
func (c *call) attach(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		return false
	}
	c.conn = conn
	return true
}

// detach forgets the connection before it goes back to the pool.
func (c *call) detach() {
	c.mu.Lock()
	c.conn = nil
	c.mu.Unlock()
}

// abort closes the call's connection, now or as soon as one is attached.
func (c *call) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aborted = true
	if c.conn != nil {
		_ = c.conn.Close()
	}
}

// transport is a fasthttp.RoundTripper for non-streamed requests that knows each request's
// call (by request pointer), so it can apply the first-byte timeout and let a cancelled
// context close the connection. Connections are pooled by the fasthttp.HostClient as usual.
type transport struct {
	calls sync.Map // *fasthttp.Request → *call
}

// errStale marks a pooled connection the server had closed before the request was read; the
// request is safe to send again on a fresh connection.
var errStale = errors.New("stale pooled connection")

// RoundTrip writes req and reads resp on one connection of hc.
func (t *transport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	cl := &call{}
	if v, ok := t.calls.Load(req); ok {
		cl = v.(*call)
	}
	var wait time.Duration
	if !cl.deadline.IsZero() {
		if wait = time.Until(cl.deadline); wait <= 0 {
			return false, fasthttp.ErrTimeout
		}
	}
	cc, err := hc.AcquireConn(wait, req.ConnectionClose())
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	reused := !cc.LastUseTime().IsZero()
	if !cl.attach(conn) {
		hc.CloseConn(cc)
		return false, errAborted
	}
	fail := func(err error) (bool, error) {
		cl.detach()
		hc.CloseConn(cc)
		return false, err
	}
	if err := conn.SetWriteDeadline(cl.deadline); err != nil {
		return fail(err)
	}
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		return fail(err)
	}
	first := cl.deadline
	if cl.firstByte > 0 {
		if fb := time.Now().Add(cl.firstByte); first.IsZero() || fb.Before(first) {
			first = fb
		}
	}
	if err := conn.SetReadDeadline(first); err != nil {
		return fail(err)
	}
	br := hc.AcquireReader(conn)
	defer hc.ReleaseReader(br)
	if _, err := br.Peek(1); err != nil {
		switch {
		case reused && errors.Is(err, io.EOF):
			cl.detach()
			hc.CloseConn(cc)
			return true, errStale
		case isTimeout(err) && !first.Equal(cl.deadline):
			return fail(errFirstByte)
		}
		return fail(err)
	}
	if err := conn.SetReadDeadline(cl.deadline); err != nil {
		return fail(err)
	}
	if err := resp.ReadLimitBody(br, hc.MaxResponseBodySize); err != nil {
		return fail(err)
	}
	cl.detach()
	if req.ConnectionClose() || resp.ConnectionClose() {
		hc.CloseConn(cc)
	} else {
		hc.ReleaseConn(cc)
	}
	return false, nil
}

// isTimeout reports whether err is a network or fasthttp timeout.
func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, fasthttp.ErrDialTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isTooLarge reports whether err is the response size cap.
func isTooLarge(err error) bool { return errors.Is(err, fasthttp.ErrBodyTooLarge) }
