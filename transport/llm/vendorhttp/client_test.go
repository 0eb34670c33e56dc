package vendorhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher/transport/llm"
)

// server is a loopback HTTP server whose handler the test sets, counting connections and
// reporting each closed one.
type server struct {
	*httptest.Server
	mu      sync.Mutex
	opened  int
	handler http.HandlerFunc
	closed  chan struct{}
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{handler: h, closed: make(chan struct{}, 64)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		h := s.handler
		s.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body) // lets net/http notice a client disconnect
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.opened++
		case http.StateClosed, http.StateHijacked:
			s.closed <- struct{}{}
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}

// waitClosed fails the test unless the server sees a connection close within a second.
func (s *server) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(time.Second):
		t.Fatal("the server did not see the connection close")
	}
}

func answer(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"echo":%q}`, r.URL.Path)
}

// stall blocks until the client goes away.
func stall(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// pad sends the status line, then a blank line every 20 ms, never a body end (DeepSeek's
// keep-alive lines under load).
func pad(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	for {
		if _, err := w.Write([]byte("\n")); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func post(t *testing.T, c *Client, ctx context.Context, url string) (*fasthttp.Response, error) {
	t.Helper()
	req, resp := &fasthttp.Request{}, &fasthttp.Response{}
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetBodyString(`{}`)
	return resp, c.Do(ctx, req, resp)
}

func newClient(t *testing.T, cfg Options) *Client {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

// requireKind asserts that err is an *llm.Error of kind want without a status.
func requireKind(t *testing.T, err error, want llm.ErrorKind) *llm.Error {
	t.Helper()
	var e *llm.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, want, e.Kind, "error: %v", err)
	require.Zero(t, e.Status)
	return e
}

func TestDoAnswersAndReusesConnections(t *testing.T) {
	t.Parallel()
	s := newServer(t, answer)
	c := newClient(t, Options{})
	for i := range 3 {
		resp, err := post(t, c, context.Background(), s.URL+fmt.Sprintf("/p%d", i))
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode())
		require.JSONEq(t, fmt.Sprintf(`{"echo":"/p%d"}`, i), string(resp.Body()))
	}
	require.Equal(t, 1, s.connections())
}

func TestDoCancelClosesOnlyItsConnection(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			stall(w, r)
			return
		}
		time.Sleep(300 * time.Millisecond)
		answer(w, r)
	})
	c := newClient(t, Options{})
	slow := make(chan error, 1)
	go func() {
		_, err := post(t, c, context.Background(), s.URL+"/slow")
		slow <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := post(t, c, ctx, s.URL+"/stall")
	requireKind(t, err, llm.KindCancelled)
	require.ErrorIs(t, err, context.Canceled)
	s.waitClosed(t)
	require.NoError(t, <-slow, "the concurrent call must not be affected")

	_, err = post(t, c, context.Background(), s.URL+"/after")
	require.NoError(t, err, "the pool still works after an abort")
}

func TestDoTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        Options
		ctxTimeout time.Duration
		handler    http.HandlerFunc
		wantMsg    string
		wantCtx    bool
	}{
		{name: "total timeout while stalled", cfg: Options{Timeout: 200 * time.Millisecond}, handler: stall, wantMsg: "timed out"},
		{name: "first-byte timeout", cfg: Options{FirstByteTimeout: 150 * time.Millisecond}, handler: stall, wantMsg: "first-byte"},
		{name: "ctx deadline", ctxTimeout: 200 * time.Millisecond, handler: stall, wantMsg: "deadline", wantCtx: true},
		{name: "keep-alive padding lifts the first-byte limit but not the total",
			cfg:     Options{Timeout: 300 * time.Millisecond, FirstByteTimeout: 100 * time.Millisecond},
			handler: pad, wantMsg: "timed out"},
		{name: "keep-alive padding does not outlive a ctx deadline", ctxTimeout: 250 * time.Millisecond,
			handler: pad, wantMsg: "deadline", wantCtx: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, tt.handler)
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			start := time.Now()
			_, err := post(t, newClient(t, tt.cfg), ctx, s.URL)
			require.Less(t, time.Since(start), 2*time.Second)
			e := requireKind(t, err, llm.KindTimeout)
			require.Contains(t, e.Message, tt.wantMsg)
			require.Equal(t, tt.wantCtx, errors.Is(err, context.DeadlineExceeded))
			s.waitClosed(t)
		})
	}
}

func TestDoResponseSizeCap(t *testing.T) {
	t.Parallel()
	size := 500
	var mu sync.Mutex
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write([]byte(strings.Repeat("a", size)))
	})
	c := newClient(t, Options{MaxResponseBytes: 2048})
	resp, err := post(t, c, context.Background(), s.URL)
	require.NoError(t, err)
	require.Len(t, resp.Body(), 500)

	mu.Lock()
	size = 5000
	mu.Unlock()
	_, err = post(t, c, context.Background(), s.URL)
	e := requireKind(t, err, llm.KindServerError)
	require.Contains(t, e.Message, "larger than 2048 bytes")
}

func TestDoRetriesStaleKeepAlive(t *testing.T) {
	t.Parallel()
	s := newServer(t, answer)
	c := newClient(t, Options{})
	_, err := post(t, c, context.Background(), s.URL)
	require.NoError(t, err)
	s.CloseClientConnections() // the pooled connection is now dead
	s.waitClosed(t)
	resp, err := post(t, c, context.Background(), s.URL+"/again")
	require.NoError(t, err, "a stale pooled connection is replaced, not reported")
	require.JSONEq(t, `{"echo":"/again"}`, string(resp.Body()))
	require.Equal(t, 2, s.connections())
}

func TestDoConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = post(t, newClient(t, Options{}), context.Background(), "http://"+addr+"/")
	e := requireKind(t, err, llm.KindServerError)
	require.Contains(t, e.Message, "network error")
}

func TestDoEndedContextSendsNothing(t *testing.T) {
	t.Parallel()
	s := newServer(t, answer)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := post(t, newClient(t, Options{}), ctx, s.URL)
	requireKind(t, err, llm.KindCancelled)
	require.Zero(t, s.connections())
}

func TestClassify(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel2()
	c := newClient(t, Options{MaxResponseBytes: 10})
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want llm.ErrorKind
	}{
		{name: "cancelled ctx wins", ctx: cancelled, err: errors.New("use of closed network connection"), want: llm.KindCancelled},
		{name: "expired ctx", ctx: expired, err: errors.New("closed"), want: llm.KindTimeout},
		{name: "fasthttp timeout", ctx: context.Background(), err: fasthttp.ErrTimeout, want: llm.KindTimeout},
		{name: "dial timeout", ctx: context.Background(), err: fasthttp.ErrDialTimeout, want: llm.KindTimeout},
		{name: "first byte", ctx: context.Background(), err: fmt.Errorf("x: %w", ErrFirstByte), want: llm.KindTimeout},
		{name: "body too large", ctx: context.Background(), err: fasthttp.ErrBodyTooLarge, want: llm.KindServerError},
		{name: "refused", ctx: context.Background(), err: errors.New("dial tcp: connection refused"), want: llm.KindServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := c.classify(tt.ctx, tt.err)
			require.Equal(t, tt.want, e.Kind)
			require.Error(t, e.Err)
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Timeout: -1})
	require.ErrorContains(t, err, "negative")
	c, err := New(Options{})
	require.NoError(t, err)
	require.Equal(t, Options{ConnectTimeout: DefaultConnectTimeout, Timeout: DefaultTimeout,
		MaxResponseBytes: DefaultMaxResponseBytes, MaxConns: DefaultMaxConns}, c.Options())
}
