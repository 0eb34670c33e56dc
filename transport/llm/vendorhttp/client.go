// Package vendorhttp is the HTTP exchange shared by the LLM vendor adapters (anthropic, openai,
// gemini): one tuned fasthttp client per provider that sends a non-streamed request and reads the
// whole response within the call's limits.
//
// The limits are a connect timeout, a time-to-first-byte timeout, a total timeout (or the
// context's deadline, when sooner) and a response size cap. The first-byte limit ends at the
// first byte: DeepSeek-style keep-alive blank lines therefore lift it, but they never extend the
// total deadline, which is a connection deadline set before anything is written. A context that
// ends mid-exchange closes that exchange's connection at once (the server sees the disconnect)
// and never touches the pool's other connections. A keep-alive connection the server had closed
// before our request is retried once on a fresh connection; nothing else is retried (retries are
// the provider actor's policy).
package vendorhttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher/transport/llm"
)

// The Options defaults.
const (
	DefaultConnectTimeout   = 10 * time.Second
	DefaultTimeout          = 120 * time.Second
	DefaultMaxResponseBytes = 8 << 20
	DefaultMaxConns         = 64
	idleConnDuration        = 30 * time.Second
)

// Options holds the limits of a Client. Zero fields take the defaults; negative ones are errors.
type Options struct {
	// ConnectTimeout bounds dialling a new connection (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the first response byte after the request was
	// written. 0: no separate limit, only Timeout applies.
	FirstByteTimeout time.Duration
	// Timeout bounds a whole call, waiting for a connection to the last byte (default
	// DefaultTimeout). A sooner ctx deadline wins.
	Timeout time.Duration
	// MaxResponseBytes caps the response body (default DefaultMaxResponseBytes).
	MaxResponseBytes int
	// MaxConns caps the open connections to the host (default DefaultMaxConns). A call waits
	// for a free one up to its deadline; that wait does not watch ctx.
	MaxConns int
}

// BatchMaxResponseBytes caps an answer of a vendor's batch API, which may carry a whole
// batch's results (an output file, an operation with its inlined responses): 512 MiB, read
// whole, once per vendor batch.
const BatchMaxResponseBytes = 512 << 20

// ForBatches returns c for a client of a vendor's batch API: MaxResponseBytes raised to
// BatchMaxResponseBytes (a larger one is kept); the rest unchanged.
func (c Options) ForBatches() Options {
	c.MaxResponseBytes = max(c.MaxResponseBytes, BatchMaxResponseBytes)
	return c
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Options) WithDefaults() Options {
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	return c
}

// Client sends requests to one vendor host. It is safe for concurrent use and reuses
// keep-alive connections; it needs no Close (fasthttp closes idle connections after a while).
type Client struct {
	cfg Options
	hc  *fasthttp.Client
}

// New returns a Client for cfg (after WithDefaults); it fails when a limit is negative.
func New(cfg Options) (*Client, error) {
	if cfg.ConnectTimeout < 0 || cfg.FirstByteTimeout < 0 || cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 || cfg.MaxConns < 0 {
		return nil, errors.New("timeouts and limits must not be negative")
	}
	cfg = cfg.WithDefaults()
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &Client{cfg: cfg, hc: &fasthttp.Client{
		Dial:                     func(addr string) (net.Conn, error) { return dialer.Dial("tcp", addr) },
		Transport:                transport{},
		RetryIfErr:               retryStale,
		MaxConnsPerHost:          cfg.MaxConns,
		MaxResponseBodySize:      cfg.MaxResponseBytes,
		MaxIdleConnDuration:      idleConnDuration,
		MaxConnWaitTimeout:       cfg.Timeout,
		NoDefaultUserAgentHeader: true,
	}}, nil
}

// Options returns the client's limits, defaults applied.
func (c *Client) Options() Options { return c.cfg }

// Do sends req and reads resp, which the caller owns before and after (Do keeps no reference).
// nil means a complete HTTP response of any status. Every failure is an *llm.Error without a
// Status:
//   - ctx cancelled: cancelled; ctx deadline passed: timeout. Both wrap ctx.Err();
//   - no first byte within FirstByteTimeout, or the call past Timeout: timeout;
//   - a body over MaxResponseBytes: server_error;
//   - anything else (refused, reset, malformed HTTP): server_error with the network error.
func (c *Client) Do(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	if err := ctx.Err(); err != nil {
		return ctxError(err)
	}
	deadline := time.Now().Add(c.cfg.Timeout)
	ctxBound := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxBound = d, true
	}
	req.SetUserValue(callKey{}, &call{ctx: ctx, deadline: deadline, firstByte: c.cfg.FirstByteTimeout})
	defer req.SetUserValue(callKey{}, nil)
	req.SetTimeout(time.Until(deadline))
	err := c.hc.Do(req, resp)
	if err == nil {
		return nil
	}
	if ctxBound && ctx.Err() == nil && !time.Now().Before(deadline) {
		// The connection deadline is ctx's and can fire just before ctx's own timer; ctx is
		// about to end, so wait for it and report the ctx deadline.
		<-ctx.Done()
	}
	return c.classify(ctx, err)
}

// classify maps a failed exchange to an *llm.Error (see Do).
func (c *Client) classify(ctx context.Context, err error) *llm.Error {
	if cerr := ctx.Err(); cerr != nil {
		return ctxError(cerr)
	}
	switch {
	case errors.Is(err, ErrFirstByte):
		return &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf(
			"no response in time: no first byte within the first-byte timeout (%s)", c.cfg.FirstByteTimeout), Err: err}
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return &llm.Error{Kind: llm.KindServerError, Message: fmt.Sprintf(
			"response body larger than %d bytes", c.cfg.MaxResponseBytes), Err: err}
	case isTimeout(err):
		return &llm.Error{Kind: llm.KindTimeout, Message: "no response in time: request timed out", Err: err}
	}
	return &llm.Error{Kind: llm.KindServerError, Message: "network error: " + err.Error(), Err: err}
}

// ctxError maps the error of an ended ctx.
func ctxError(err error) *llm.Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &llm.Error{Kind: llm.KindTimeout, Message: "no response in time: context deadline exceeded", Err: err}
	}
	return &llm.Error{Kind: llm.KindCancelled, Message: "request cancelled", Err: err}
}

// isTimeout reports whether err is a network or fasthttp timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
