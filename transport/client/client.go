// Package client is a Go client for the Entity Enricher REST and SSE API.
//
// A Client is safe for concurrent use by several goroutines; it holds no per-request state.
// Every method takes a context that bounds the whole exchange, answers with typed values that
// mirror the wire JSON (reusing the domain types of the root package where they are the wire
// types), and turns every non-2xx answer into an *Error carrying the server's `detail`.
// Stream follows a job's Server-Sent Events and resumes with Last-Event-ID when a connection
// drops before the terminal event.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one server with one credential. Build it with New; it is immutable afterwards
// and safe for concurrent use.
type Client struct {
	base       string
	http       *http.Client
	header     string // credential header name, empty for none
	credential string // its value
	userAgent  string
	reconnects int           // stream reconnect attempts without progress
	maxDelay   time.Duration // cap of the stream reconnect delay
}

// Option configures a Client in New.
type Option func(*Client)

// WithAPIKey authenticates every request with the header `X-API-Key: key`.
func WithAPIKey(key string) Option {
	return func(c *Client) { c.header, c.credential = "X-API-Key", key }
}

// WithBearer authenticates every request with `Authorization: Bearer token`; token is an access
// token from Login or an API key.
func WithBearer(token string) Option {
	return func(c *Client) { c.header, c.credential = "Authorization", "Bearer "+token }
}

// WithHTTPClient makes the client send its requests through hc. A Timeout set on hc also
// bounds SSE streams, so streaming callers should leave it zero and use contexts instead.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithReconnect bounds Stream's automatic resumption: at most attempts reconnections in a row
// that deliver no event (default 10), each waiting the server's `retry:` delay doubled per
// failed attempt and capped at maxDelay (default 30 s).
func WithReconnect(attempts int, maxDelay time.Duration) Option {
	return func(c *Client) { c.reconnects, c.maxDelay = attempts, maxDelay }
}

// New returns a client for the server at baseURL (scheme, host and optional path prefix, e.g.
// "http://localhost:8080"). Without WithHTTPClient it uses a fresh http.Client without timeout.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		base: strings.TrimRight(baseURL, "/"), http: &http.Client{},
		userAgent: "enricher-go-client", reconnects: 10, maxDelay: 30 * time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is a non-2xx answer of the server. Detail is the body's `detail` (or the raw body when
// it is not the error shape); Errors lists the individual problems of a validation failure;
// JobID is set on a 504 from a blocking endpoint; RetryAfter is the Retry-After header (429, 503).
type Error struct {
	Status     int
	Detail     string
	Errors     []string
	JobID      string
	RetryAfter time.Duration
}

// Error returns "status: detail".
func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// decodeError builds the *Error of a non-2xx response.
func decodeError(res *http.Response) *Error {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	e := &Error{Status: res.StatusCode}
	var body struct {
		Detail any      `json:"detail"`
		Errors []string `json:"errors"`
		JobID  string   `json:"job_id"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Detail != nil {
		e.Detail, e.Errors, e.JobID = fmt.Sprint(body.Detail), body.Errors, body.JobID
	} else {
		e.Detail = strings.TrimSpace(string(raw))
	}
	if e.Detail == "" {
		e.Detail = http.StatusText(res.StatusCode)
	}
	if s, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After"))); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// request is one call: method, path (with query), JSON body (nil for none) or a raw body of
// contentType, and extra headers.
type request struct {
	method      string
	path        string
	query       url.Values
	body        any
	raw         io.Reader
	contentType string
	headers     map[string]string
}

// newRequest builds the *http.Request of r with the credential and common headers.
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var rd io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", r.method, r.path, err)
		}
		rd = bytes.NewReader(b)
	}
	if r.raw != nil {
		rd = r.raw
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.raw != nil {
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.header != "" {
		req.Header.Set(c.header, c.credential)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	for k, v := range r.headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return req, nil
}

// do sends r and decodes a 2xx JSON answer into out (unless out is nil). A non-2xx answer is
// an *Error.
func (c *Client) do(ctx context.Context, r request, out any) error {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return decodeError(res)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, res.Body)
		return err
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s: %w", r.method, r.path, err)
	}
	return nil
}
