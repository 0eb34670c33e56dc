package gemini

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// errFirstByte is returned when no response byte arrived within Config.FirstByteTimeout.
var errFirstByte = errors.New("no first response byte in time")

// call is what ctxTransport knows of one Complete call.
type call struct {
	ctx       context.Context
	deadline  time.Time
	firstByte time.Duration
}

// ctxTransport is a fasthttp.RoundTripper that ties each exchange to the ctx of its call: when
// the ctx ends the connection is closed at once (the server sees it go), so a stalled request
// does not outlive a cancelled call. It also applies the first-byte timeout. Requests it does not
// know (none in practice) go to fasthttp.DefaultTransport. Exchanges are never retried.
type ctxTransport struct {
	calls *sync.Map // *fasthttp.Request → *call
}

// RoundTrip implements fasthttp.RoundTripper.
func (t *ctxTransport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	v, ok := t.calls.Load(req)
	if !ok {
		return fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	}
	cl := v.(*call)
	if err := cl.ctx.Err(); err != nil {
		return false, err
	}
	cc, err := hc.AcquireConn(time.Until(cl.deadline), false)
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	var closedByCtx bool
	var mu sync.Mutex
	stop := context.AfterFunc(cl.ctx, func() {
		mu.Lock()
		closedByCtx = true
		mu.Unlock()
		_ = conn.Close()
	})
	fail := func(err error) (bool, error) {
		stop()
		hc.CloseConn(cc)
		mu.Lock()
		defer mu.Unlock()
		if closedByCtx {
			return false, cl.ctx.Err()
		}
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

	fb := &firstByteConn{Conn: conn, deadline: cl.deadline}
	readDeadline := cl.deadline
	if cl.firstByte > 0 {
		if d := time.Now().Add(cl.firstByte); d.Before(readDeadline) {
			readDeadline, fb.early = d, true
		}
	}
	if err := conn.SetReadDeadline(readDeadline); err != nil {
		return fail(err)
	}
	br := hc.AcquireReader(fb)
	err = resp.ReadLimitBody(br, hc.MaxResponseBodySize)
	hc.ReleaseReader(br)
	if err != nil {
		if fb.early && !fb.got {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, fasthttp.ErrTimeout) {
				err = errFirstByte
			}
		}
		return fail(err)
	}
	if !stop() {
		// ctx ended while the response was complete: the connection may be closed already.
		hc.CloseConn(cc)
		return false, nil
	}
	if resp.ConnectionClose() || conn.SetDeadline(time.Time{}) != nil {
		hc.CloseConn(cc)
	} else {
		hc.ReleaseConn(cc)
	}
	return false, nil
}

// firstByteConn lifts an early (first-byte) read deadline to the call deadline once the first
// byte has arrived. It is used by one goroutine at a time.
type firstByteConn struct {
	net.Conn
	deadline time.Time
	early    bool // the read deadline is the first-byte one
	got      bool // a byte has arrived
}

// Read reads from the connection, lifting the deadline after the first byte.
func (c *firstByteConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.got {
		c.got = true
		if c.early {
			_ = c.Conn.SetReadDeadline(c.deadline)
		}
	}
	return n, err
}
