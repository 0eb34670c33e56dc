package vendorhttp

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrFirstByte is the cause (inside the *llm.Error) when the server sent nothing within
// Options.FirstByteTimeout after the request was written.
var ErrFirstByte = errors.New("no response byte within the first-byte timeout")

// errStaleConn marks a reused keep-alive connection that the server had closed before our
// request: nothing was received, so sending again on a fresh connection is safe.
var errStaleConn = errors.New("keep-alive connection closed by the server")

// callKey is the fasthttp.Request user-value key under which Do stores its *call.
type callKey struct{}

// call is what the transport needs to know about one Do: its context and limits.
type call struct {
	ctx       context.Context
	deadline  time.Time     // end of the whole call; never zero
	firstByte time.Duration // 0: no separate limit
}

// transport is a fasthttp.RoundTripper that ties a request to its call's context: when the
// context ends, the connection carrying the request is closed, so a blocked write or read
// returns at once and the server sees the disconnect. It applies the call's deadline to the
// connection before writing (so no trickle of bytes can extend it) and the first-byte timeout
// as an earlier read deadline, lifted once the first byte arrives. A connection goes back to
// the pool only when the exchange completed and the context did not fire.
//
// Requests without a *call (none: Do always sets one) take fasthttp's default transport.
type transport struct{}

// RoundTrip implements fasthttp.RoundTripper. retry is true only for errStaleConn.
func (transport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	c, _ := req.UserValue(callKey{}).(*call)
	if c == nil {
		return fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	}
	if err := c.ctx.Err(); err != nil {
		return false, err
	}
	timeout := time.Until(c.deadline)
	if timeout <= 0 {
		return false, fasthttp.ErrTimeout
	}
	cc, err := hc.AcquireConn(timeout, req.ConnectionClose())
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	reused := !cc.LastUseTime().IsZero()
	stop := context.AfterFunc(c.ctx, func() { _ = conn.Close() })
	finish := func(keep bool) {
		if stop() && keep && conn.SetDeadline(time.Time{}) == nil {
			hc.ReleaseConn(cc)
		} else {
			hc.CloseConn(cc)
		}
	}

	if err := conn.SetDeadline(c.deadline); err != nil {
		finish(false)
		return false, err
	}
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		finish(false)
		if reused && c.ctx.Err() == nil && isClosed(err) {
			return true, errStaleConn
		}
		return false, err
	}

	firstByteSet := false
	if c.firstByte > 0 {
		if fb := time.Now().Add(c.firstByte); fb.Before(c.deadline) {
			firstByteSet = conn.SetReadDeadline(fb) == nil
		}
	}
	br := hc.AcquireReader(conn)
	if _, err := br.Peek(1); err != nil {
		hc.ReleaseReader(br)
		finish(false)
		switch {
		case c.ctx.Err() != nil:
			return false, err
		case firstByteSet && isTimeout(err):
			return false, ErrFirstByte
		case reused && isClosed(err):
			return true, errStaleConn
		}
		return false, err
	}
	if firstByteSet {
		if err := conn.SetReadDeadline(c.deadline); err != nil {
			hc.ReleaseReader(br)
			finish(false)
			return false, err
		}
	}
	err = resp.ReadLimitBody(br, hc.MaxResponseBodySize)
	hc.ReleaseReader(br)
	if err != nil {
		finish(false)
		return false, err
	}
	finish(!req.ConnectionClose() && !resp.ConnectionClose())
	return false, nil
}

// retryStale is the client's RetryIfErr: one more try, on a fresh connection, after
// errStaleConn; nothing else is retried here (retries are the caller's policy).
func retryStale(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	return false, attempts < 2 && errors.Is(err, errStaleConn)
}

// isClosed reports whether err says the peer closed or reset the connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}
